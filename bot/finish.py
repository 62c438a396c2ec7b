"""Finishing a board's postings where they are parsed: one hand-over, not three.

A cold poll of a board whose listing carries the descriptions used to cross between
the event loop and a worker process (bot.cpu) twice: the worker parsed the page and
sent every posting back; the loop hashed each against the stored listing hashes and
sent the changed ones over again to be enriched. Each crossing pickles 3–8 KB of
description a posting, and the loop's share (unpickling twice, hashing, pickling, and
copying the results in) was a sixth of its work in a cold cycle (bench/README.md,
cold ingest). So the pipeline gives the source a :class:`Finish` (through
``PollContext.finishing``), and the worker that parses a page also hashes its postings
and enriches those that changed; the postings cross back once, finished.

A posting is finished (``ai`` set) only when nothing a source fetches later changes
it: a source says which of its listing's postings are complete (``complete``), and the
details it fetches for the others are finished where they are parsed (bot.sources._common).
What is left unfinished (a failed detail keeps the listing's version) the pipeline
enriches itself, so the outcome is the same either way.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from bot.enrich import EnrichSettings, enrichment
from bot.models import Posting

__all__ = ["Finish", "finish_listing", "listing_hash"]

R = TypeVar("R")

# json.dumps with options builds an encoder per call (same output, ~1 us a posting more)
_EXTRA = json.JSONEncoder(sort_keys=True, default=str)


def listing_hash(posting: Posting) -> str:
    """A fingerprint of what the listing shows about a posting: when it changes, the
    posting's detail is fetched again and its enrichment redone."""
    pay = posting.pay
    parts = [
        posting.title,
        posting.location,
        posting.url,
        posting.department,
        str(posting.remote),
        posting.description,
        json.dumps([pay.min, pay.max, pay.currency, pay.period, pay.kind, pay.text]) if pay else "",
        _EXTRA.encode(dict(posting.extra)),
    ]
    # "surrogatepass": half a surrogate pair (a JSON escape like "\ud800") is text too
    return hashlib.sha256("\x1f".join(parts).encode("utf-8", "surrogatepass")).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class Finish:
    """What a worker needs to finish a source's postings: the listing hashes stored
    last time (external id → hash), the company to fill in, and how to enrich."""

    company: str
    settings: EnrichSettings
    known: Mapping[str, str] = field(default_factory=dict)

    def posting(self, posting: Posting) -> Posting:
        """``posting`` with its company filled in, enriched."""
        salary, ai = enrichment(posting, self.settings)  # reads no company
        return replace(posting, company=posting.company or self.company, salary=salary, ai=ai)

    def postings(self, postings: Sequence[Posting]) -> list[Posting]:
        """:meth:`posting` of each, in order: one hand-over for a batch."""
        return [self.posting(p) for p in postings]


def finish_listing(
    finish: Finish,
    complete: Callable[[Posting], bool] | None,
    parse: Callable[..., R],
    *args: Any,
) -> R:
    """``parse(*args)`` (a source's page: a dataclass with ``postings`` and ``hashes``)
    with each posting's listing hash, and each changed posting that ``complete`` says
    needs nothing more (all, when it is ``None``) enriched. Runs in a worker process."""
    page = parse(*args)
    postings: Sequence[Posting] = page.postings  # type: ignore[attr-defined]
    if not postings:
        return page
    known = finish.known
    hashes = tuple(listing_hash(p) for p in postings)
    finished = tuple(
        finish.posting(p)
        if known.get(p.external_id) != h and (complete is None or complete(p))
        else p
        for p, h in zip(postings, hashes, strict=True)
    )
    return dataclasses.replace(page, postings=finished, hashes=hashes)  # type: ignore[type-var]
