"""Helpers every job-board source shares: option reading, text cleaning, and the
bounded, failure-isolated fetching of per-posting details."""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

from bot.errors import ConfigError, ParseError, RateLimited, SourceError, safe_url
from bot.models import Posting
from bot.sources.base import PollContext, SourceConfig

if TYPE_CHECKING:
    from bot.finish import Finish
    from bot.http import Response

__all__ = [
    "DETAIL_BATCH",
    "DETAIL_CONCURRENCY",
    "clean",
    "company_from_name",
    "fetch_details",
    "forget_pages",
    "json_body",
    "page_json",
    "required_option",
    "unchanged_pages",
]

log = logging.getLogger(__name__)

#: detail requests in flight at once for one source (its host's own limit also applies)
DETAIL_CONCURRENCY = 4
#: details parsed in one hand-over to a worker process (bot.cpu): fewer hand-overs,
#: against the bodies held meanwhile (~10 KB each)
DETAIL_BATCH = 50


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
    request: Callable[[PollContext, Posting], Awaitable[Response | None]],
    parse: Callable[[Posting, bytes, str], Posting],
    *,
    label: str,
    concurrency: int = DETAIL_CONCURRENCY,
    batch: int = DETAIL_BATCH,
) -> list[Posting]:
    """Complete each posting with its detail, ``concurrency`` requests at a time, in order.

    ``request`` asks for one posting's detail (``None``: nothing to ask); ``parse`` reads
    the body into the completed posting. Parsing is CPU work, done off the loop a batch
    at a time (:meth:`PollContext.parse`), so ``parse`` must pickle (a source's method).
    A failed detail (request or parse) keeps the listing's version of that posting and
    fails no other; a 429 stops asking the host for more this poll (the rest keep their
    listing version).
    """
    limiter = asyncio.Semaphore(concurrency)
    stop = asyncio.Event()

    async def one(posting: Posting) -> tuple[bytes, str] | None:
        async with limiter:
            if stop.is_set():
                return None
            try:
                response = await request(ctx, posting)
            except RateLimited as err:
                stop.set()
                log.warning("%s: detail rate limited, later ones skipped: %s", label, err)
                return None
            except SourceError as err:
                log.warning("%s: detail for %s failed: %s", label, posting.external_id, err)
                return None
            return None if response is None else (response.content, response.url)

    out: list[Posting] = []
    for start in range(0, len(postings), batch):
        chunk = postings[start : start + batch]
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(one(p)) for p in chunk]
        bodies = [t.result() for t in tasks]
        jobs = [(p, *body) for p, body in zip(chunk, bodies, strict=True) if body is not None]
        finish = await ctx.finish() if jobs else None
        parsed = iter(await ctx.parse(_parse_details, parse, jobs, finish) if jobs else ())
        for posting, body in zip(chunk, bodies, strict=True):
            if body is None:
                out.append(posting)
                continue
            result = next(parsed)
            if isinstance(result, str):
                log.warning("%s: detail for %s failed: %s", label, posting.external_id, result)
                out.append(posting)
            else:
                out.append(result)
    return out


async def unchanged_pages(
    ctx: PollContext,
    ask: Callable[[int], Awaitable[Response]],
    asked_before: Callable[[int], bool],
    *,
    step: int,
    max_pages: int,
    answers: dict[int, Response],
) -> bool:
    """Whether a paged listing is the one the last successful poll read, found without
    decoding a page: the pages are asked (conditionally) from offset 0, ``step`` apart,
    as far as that poll went (``asked_before(offset)``: it kept the page's validator),
    and the first changed one ends the look. The answers are kept in ``answers``
    (offset → response) for the full read that follows a change, so no page is asked
    twice in a poll.

    Decoding an unchanged board's pages only to learn where it ends was ~11 % of an
    unchanged re-poll's CPU (Workday, SmartRecruiters, Eightfold: bench/README.md,
    re-poll). A listing the last poll paged some other way (a server that returned more
    than a page, validators a shorter board left behind) has validators this walk does
    not visit: it is read in full, as before.
    """
    known = len(ctx.validators)
    offset = visited = 0
    for _ in range(max_pages):
        response = answers[offset] = await ask(offset)
        visited += 1
        if not response.not_modified:
            return False
        offset += step
        if not asked_before(offset):
            break
    return visited == known


async def page_json(
    answers: dict[int, Response],
    offset: int,
    ask: Callable[[int], Awaitable[Response]],
    ask_plainly: Callable[[int], Awaitable[Response]],
) -> tuple[Any, bool]:
    """A page of a paged listing, decoded, and whether it is unchanged: the answer
    :func:`unchanged_pages` kept for ``offset``, else ``ask(offset)`` (conditionally)
    now. A 304 without a body is asked once more with ``ask_plainly``: paging needs the
    page itself, and it counts as unchanged."""
    response = answers.pop(offset, None) or await ask(offset)
    if response.not_modified and not response.content:
        return (await ask_plainly(offset)).json(), True
    return response.json(), response.not_modified


def forget_pages(forget: Callable[[int], bool], end: int, step: int) -> None:
    """Drop the validators of the pages at or after offset ``end``, where the listing
    ends now (``forget(offset)`` says whether there was one): a page that comes back
    must not look unchanged against a memory from before it went."""
    offset = -(-end // step) * step  # the first page boundary at or after the end
    while forget(offset):
        offset += step


def _parse_details(
    parse: Callable[[Posting, bytes, str], Posting],
    jobs: Sequence[tuple[Posting, bytes, str]],
    finish: Finish | None = None,
) -> list[Posting | str]:
    """Each detail parsed (and finished, with ``finish``: the posting is complete now,
    so it is enriched in the same hand-over), or the message of the SourceError that
    stopped it."""
    out: list[Posting | str] = []
    for posting, body, url in jobs:
        try:
            detailed = parse(posting, body, url)
        except SourceError as err:
            out.append(str(err))
        else:
            out.append(detailed if finish is None else finish.posting(detailed))
    return out


def json_body(body: bytes, url: str) -> Any:
    """A response body decoded as JSON, or a :class:`ParseError` naming the URL (as
    ``Response.json`` does, for parsing done from the bytes in a worker process)."""
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError) as err:
        snippet = body[:80].decode("utf-8", "replace")
        where = safe_url(url)
        raise ParseError(f"invalid JSON from {where}: {err}; body starts {snippet!r}") from err
