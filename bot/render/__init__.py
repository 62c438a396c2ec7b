"""Renderers: a neutral Reply to each platform's payload, inside its limits."""
