"""The built-in sources: real boards and feeds that matter for AI jobs and strike news
in entertainment and tech. Used when the config file defines no ``[[sources]]`` (or
sets ``include_default_sources = true``).

Board identifiers were checked against public references; see the issue notes for the
evidence. A board that moves or closes shows up as an error in ``marquee sources``
without affecting the others.
"""

from __future__ import annotations

from typing import Any

from bot.sources.feed_defaults import DEFAULT_NEWS_SOURCES

__all__ = ["DEFAULT_BOARDS", "DEFAULT_SOURCES"]

DEFAULT_BOARDS: tuple[dict[str, Any], ...] = (
    {
        "name": "netflix",
        "kind": "eightfold",
        "company": "Netflix",
        "host": "explore.jobs.netflix.net",
        "domain": "netflix.com",
    },
    {"name": "openai", "kind": "ashby", "company": "OpenAI", "board": "openai"},
    {"name": "anthropic", "kind": "greenhouse", "company": "Anthropic", "board": "anthropic"},
    {"name": "spotify", "kind": "lever", "company": "Spotify", "site": "spotify"},
    {
        "name": "disney",
        "kind": "workday",
        "company": "Disney",
        "host": "disney.wd5.myworkdayjobs.com",
        "tenant": "disney",
        "site": "disneycareer",
    },
    {
        "name": "nvidia",
        "kind": "workday",
        "company": "NVIDIA",
        "host": "nvidia.wd5.myworkdayjobs.com",
        "tenant": "nvidia",
        "site": "NVIDIAExternalCareerSite",
    },
    {
        "name": "huggingface",
        "kind": "workable",
        "company": "Hugging Face",
        "account": "huggingface",
    },
    {
        "name": "nbcuniversal",
        "kind": "smartrecruiters",
        "company": "NBCUniversal",
        "company_id": "NBCUniversal3",
    },
)

DEFAULT_SOURCES: tuple[dict[str, Any], ...] = DEFAULT_BOARDS + tuple(DEFAULT_NEWS_SOURCES)
