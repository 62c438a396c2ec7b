"""What every source kind implements, and what the pipeline gives it.

A source turns one configured board or feed into records. It knows its API's URLs,
paging and field names, and nothing about storage, enrichment or delivery.

Two phases, so details cost requests only for new or changed postings::

    fetched = await source.fetch(ctx)            # the listing: cheap, every poll
    detailed = await source.details(ctx, some)   # per-posting detail: only what changed
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, TypeVar, runtime_checkable

from bot.enrich.news import finish_stories
from bot.finish import Finish, finish_listing
from bot.models import Posting, Story

if TYPE_CHECKING:
    # Only for annotations: a worker process that parses a source's bytes (bot.cpu)
    # then imports neither the HTTP client nor aiohttp (~16 MB of its memory).
    from bot.cpu import CpuPool
    from bot.enrich.cluster import Prepared
    from bot.http import HttpClient, Response, Validator

T = TypeVar("T")

__all__ = ["Fetched", "PollContext", "Source", "SourceConfig"]


@dataclass(frozen=True, slots=True)
class SourceConfig:
    """One ``[[sources]]`` table, validated.

    ``options`` holds the kind-specific keys (``board``, ``site``, ``tenant``,
    ``domain``, ``url``, ``query`` ...), already checked against the kind's
    ``required_options``.
    """

    name: str
    kind: str
    company: str = ""
    base_url: str | None = None
    interval: float = 900.0  # seconds between polls
    enabled: bool = True
    options: Mapping[str, Any] = field(default_factory=dict)

    def option(self, key: str, default: Any = None) -> Any:
        return self.options.get(key, default)


@dataclass(frozen=True, slots=True)
class Fetched:
    """The result of one listing fetch.

    ``not_modified`` means the server (304) or the body hash says nothing changed since
    the last successful poll: the pipeline then treats the listing as identical to the
    previous one without parsing it. ``warnings`` are recoverable problems (a
    malformed entry skipped, a feed with a bad date) recorded on the source.
    """

    postings: tuple[Posting, ...] = ()
    stories: tuple[Story, ...] = ()
    not_modified: bool = False
    warnings: tuple[str, ...] = ()
    #: each posting's listing hash, or each story's content hash, when the worker that
    #: parsed them computed it (:meth:`PollContext.parse_listing`,
    #: :meth:`PollContext.parse_stories`); ``None``: the pipeline computes them
    hashes: tuple[str, ...] | None = None
    #: each story's headline prepared for clustering, and the stories scored, when the
    #: worker that parsed them did it (:meth:`PollContext.parse_stories`); ``None``: the
    #: pipeline does both
    prepared: tuple[Prepared, ...] | None = None


@dataclass(slots=True)
class PollContext:
    """What a source may use during one poll: the shared client and its own validators.

    ``validators`` is this source's conditional-GET memory; the pipeline persists it
    only after a successful poll, so a failed poll never hides changes.
    """

    http: HttpClient
    validators: MutableMapping[str, Validator] = field(default_factory=dict)
    #: the app's worker processes for CPU-heavy parsing (None: a thread of this process)
    cpu: CpuPool | None = None
    #: how the pipeline wants postings finished where they are parsed (bot.finish),
    #: asked for when the first page is parsed (None: the pipeline does it all itself)
    finishing: Callable[[], Awaitable[Finish]] | None = None

    async def parse(self, fn: Callable[..., T], /, *args: Any) -> T:
        """``fn(*args)`` off the event loop: decoding and HTML-to-text of a page or a
        batch of details is CPU work (STYLE.md, habit 6). ``fn`` and its arguments
        cross to a worker process, so they must pickle: a source's own method and the
        response's bytes, not the response."""
        if self.cpu is None:
            return await asyncio.to_thread(fn, *args)
        return await self.cpu.run(fn, *args)

    async def parse_listing(
        self,
        fn: Callable[..., T],
        /,
        *args: Any,
        complete: Callable[[Posting], bool] | None = None,
    ) -> T:
        """:meth:`parse` for a page of a board's listing: ``fn`` returns a dataclass with
        ``postings`` and ``hashes`` (:class:`Fetched`, or a page of its own). In the same
        hand-over the worker hashes the postings and enriches those that changed since
        the last poll and need no detail request: all of them, or those ``complete``
        (a module-level function, to pickle) accepts. See bot.finish."""
        if self.finishing is None:
            return await self.parse(fn, *args)
        return await self.parse(finish_listing, await self.finishing(), complete, fn, *args)

    async def parse_stories(self, fn: Callable[..., T], /, *args: Any) -> T:
        """:meth:`parse` for a news document: ``fn`` returns a :class:`Fetched` with
        ``stories``, which the same hand-over scores, prepares for clustering and hashes
        (:func:`bot.enrich.news.finish_stories`)."""
        return await self.parse(finish_stories, fn, *args)

    async def finish(self) -> Finish | None:
        """What finishes a posting where its detail is parsed, if the pipeline asks."""
        return None if self.finishing is None else await self.finishing()

    def asked_last_time(
        self, url: str, *, params: Mapping[str, str | int] | None = None, payload: Any = None
    ) -> bool:
        """Whether the last successful poll asked for this page conditionally (its
        validator is kept): a paged listing whose pages are unchanged so far goes on
        only as far as that poll went."""
        return self.http.validator_key(url, params=params, payload=payload) in self.validators

    def forget(
        self, url: str, *, params: Mapping[str, str | int] | None = None, payload: Any = None
    ) -> bool:
        """Drop this page's validator (a listing that got shorter); whether it had one."""
        key = self.http.validator_key(url, params=params, payload=payload)
        return self.validators.pop(key, None) is not None

    async def get(
        self,
        url: str,
        *,
        params: Mapping[str, str | int] | None = None,
        headers: Mapping[str, str] | None = None,
        conditional: bool = False,
    ) -> Response:
        return await self.http.get(
            url, params=params, headers=headers, validators=self.validators if conditional else None
        )

    async def post_json(
        self,
        url: str,
        payload: Any,
        *,
        headers: Mapping[str, str] | None = None,
        conditional: bool = False,
    ) -> Response:
        return await self.http.post_json(
            url, payload, headers=headers, validators=self.validators if conditional else None
        )


@runtime_checkable
class Source(Protocol):
    """A configured source. Implementations live in ``bot/sources/<kind>.py``."""

    kind: ClassVar[str]
    #: options a ``[[sources]]`` table of this kind must have, e.g. ``("board",)``
    required_options: ClassVar[tuple[str, ...]]
    #: the public API host, replaced by ``base_url`` (EU Lever, proxies, tests)
    default_base_url: ClassVar[str]

    config: SourceConfig

    async def fetch(self, ctx: PollContext) -> Fetched:
        """Fetch and parse the listing. Raise :class:`bot.errors.SourceError` on failure."""
        ...

    async def details(self, ctx: PollContext, postings: Sequence[Posting]) -> list[Posting]:
        """Return ``postings`` completed with what only a detail request gives
        (description, pay). Sources whose listing is complete return them unchanged.
        A failed detail keeps the listing's version of that posting and does not fail
        the others."""
        ...
