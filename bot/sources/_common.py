"""Helpers every job-board source shares: option reading, text cleaning, and the
bounded, failure-isolated fetching of per-posting details."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Awaitable, Callable, Sequence

from bot.errors import ConfigError, RateLimited, SourceError
from bot.models import Posting
from bot.sources.base import PollContext, SourceConfig

__all__ = ["DETAIL_CONCURRENCY", "clean", "company_from_name", "fetch_details", "required_option"]

log = logging.getLogger(__name__)

#: detail requests in flight at once for one source (its host's own limit also applies)
DETAIL_CONCURRENCY = 4


def clean(value: object) -> str:
    """A one-line string with runs of whitespace collapsed (titles keep stray spaces)."""
    return " ".join(value.split()) if isinstance(value, str) else ""


def required_option(config: SourceConfig, key: str) -> str:
    """A required string option, stripped, or a ConfigError naming ``sources.NAME.KEY``."""
    value = config.option(key)
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"sources.{config.name}.{key}", "required: a non-empty string")
    return value.strip()


def company_from_name(name: str) -> str:
    """ "hugging-face" -> "Hugging Face": a readable default when no company is set."""
    words = [w for w in re.split(r"[-_.\s]+", name) if w]
    return " ".join(w[:1].upper() + w[1:] for w in words) or name


async def fetch_details(
    ctx: PollContext,
    postings: Sequence[Posting],
    detail: Callable[[PollContext, Posting], Awaitable[Posting]],
    *,
    label: str,
    concurrency: int = DETAIL_CONCURRENCY,
) -> list[Posting]:
    """Complete each posting with ``detail``, ``concurrency`` at a time, in order.

    A failed detail keeps the listing's version of that posting and fails no other; a
    429 stops asking the host for more this poll (the rest keep their listing version).
    """
    limiter = asyncio.Semaphore(concurrency)
    stop = asyncio.Event()

    async def one(posting: Posting) -> Posting:
        async with limiter:
            if stop.is_set():
                return posting
            try:
                return await detail(ctx, posting)
            except RateLimited as err:
                stop.set()
                log.warning("%s: detail rate limited, later ones skipped: %s", label, err)
            except SourceError as err:
                log.warning("%s: detail for %s failed: %s", label, posting.external_id, err)
            return posting

    async with asyncio.TaskGroup() as group:
        tasks = [group.create_task(one(p)) for p in postings]
    return [t.result() for t in tasks]
