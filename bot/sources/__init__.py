"""Source kinds: one module per kind, found by name.

``make_source(config)`` builds the source for a validated :class:`SourceConfig`.
Modules are imported on first use, so a deployment that polls only feeds never
imports the job-board code, and a broken kind fails only its own sources.
"""

from __future__ import annotations

import importlib
from functools import cache

from bot.errors import ConfigError
from bot.sources.base import Fetched, PollContext, Source, SourceConfig

__all__ = [
    "JOB_KINDS",
    "KINDS",
    "NEWS_KINDS",
    "Fetched",
    "PollContext",
    "Source",
    "SourceConfig",
    "make_source",
    "source_class",
]

JOB_KINDS = (
    "greenhouse",
    "lever",
    "ashby",
    "workday",
    "smartrecruiters",
    "workable",
    "eightfold",
)
NEWS_KINDS = ("feed", "googlenews")
KINDS = JOB_KINDS + NEWS_KINDS


@cache
def source_class(kind: str) -> type[Source]:
    """The class implementing ``kind`` (its module is ``bot.sources.<kind>``)."""
    if kind not in KINDS:
        raise KeyError(kind)
    module = importlib.import_module(f"bot.sources.{kind}")
    for value in vars(module).values():
        if isinstance(value, type) and getattr(value, "kind", None) == kind:
            return value
    raise LookupError(f"bot.sources.{kind} defines no class with kind = {kind!r}")


def make_source(config: SourceConfig) -> Source:
    """Build the source for ``config``; raise :class:`ConfigError` for a bad kind."""
    try:
        cls = source_class(config.kind)
    except KeyError as err:
        raise ConfigError(
            f"sources.{config.name}.kind",
            f"unknown kind {config.kind!r}; expected one of {', '.join(KINDS)}",
        ) from err
    return cls(config)  # type: ignore[call-arg]
