"""One poll of one source: fetch → parse → enrich → diff and store → route to the outbox.

The pipeline does not care how a source parses its API, how enrichment scores a
posting or how storage keeps it (STYLE.md, habit 1): it passes records between stages
and records the outcome on the source. A poll never dies on one bad source: a
:class:`SourceError` is recorded (last error, failure count, next attempt with
exponential backoff and jitter) and the other sources go on. Anything else is a bug
and propagates.

A source failing for ``disable_after`` (from its first failure since it last worked, so
also one that never worked) is disabled: the channels whose subscriptions name its
company get a notice in the outbox, once per failure streak; it is then only tried at
the longest backoff, and the first success enables it again and tells them so.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from bot.cpu import CpuPool
from bot.enrich import EnrichSettings
from bot.enrich.news import finish_fetched
from bot.errors import RateLimited, SourceError
from bot.finish import Finish, listing_hash
from bot.http import HttpClient
from bot.models import OutboxEntry, Posting, PostingEvent, SourceState, StoryEvent
from bot.sources import NEWS_KINDS, Source
from bot.sources.base import Fetched, PollContext
from handlers.args import shorten
from handlers.companies import company_key
from handlers.reply import Item, Reply, reply_to_json
from storage import Router, Store

__all__ = [
    "Backoff",
    "Pipeline",
    "PollSummary",
    "disabled_notice",
    "listing_hash",
    "poll_spread",
    "recovered_notice",
    "spread_kinds",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential backoff with jitter for a failing source."""

    base: float = 60.0
    maximum: float = 6 * 3600.0
    disable_after: float = 2 * 86400.0

    def delay(
        self, failures: int, *, retry_after: float | None = None, rng: random.Random | None = None
    ) -> float:
        rng = rng or random
        step = min(self.maximum, self.base * 2 ** max(0, failures - 1))
        delay = step * (0.75 + rng.random() * 0.5)  # ±25 %: failing sources don't sync up
        if retry_after is not None:
            delay = max(delay, min(retry_after, self.maximum))
        return delay


@dataclass(slots=True)
class PollSummary:
    """What one poll of one source did, for ``marquee poll --once`` and logs."""

    source: str
    kind: str
    fetched: int = 0
    new: int = 0
    updated: int = 0
    closed: int = 0
    details: int = 0
    baseline: bool = False
    not_modified: bool = False
    skipped: str | None = None
    error: str | None = None
    warnings: tuple[str, ...] = ()
    queued: int = 0
    seconds: float = 0.0
    #: what :meth:`Pipeline.poll` changed; :meth:`Pipeline.poll_many` empties it (the
    #: events are in the outbox by then) so a cycle does not hold every posting at once
    events: list[PostingEvent | StoryEvent] = field(default_factory=list, repr=False)

    def to_json(self) -> dict[str, object]:
        return {
            "source": self.source,
            "kind": self.kind,
            "fetched": self.fetched,
            "new": self.new,
            "updated": self.updated,
            "closed": self.closed,
            "details_fetched": self.details,
            "baseline": self.baseline,
            "not_modified": self.not_modified,
            "skipped": self.skipped,
            "error": self.error,
            "warnings": list(self.warnings),
            "seconds": round(self.seconds, 3),
        }


def _utcnow() -> datetime:
    return datetime.now(UTC)


class Pipeline:
    """Polls sources into the store. One instance per process, shared by all sources."""

    def __init__(
        self,
        store: Store,
        http: HttpClient,
        *,
        enrich: EnrichSettings,
        backoff: Backoff | None = None,
        router_source: Callable[[], Router | None] | None = None,
        clock: Callable[[], datetime] = _utcnow,
        cpu: CpuPool | None = None,
    ) -> None:
        self.store = store
        self.http = http
        self.enrich = enrich
        #: worker processes for parsing and enrichment (None: parsing in a thread,
        #: enrichment inline)
        self.cpu = cpu
        self.backoff = backoff or Backoff()
        #: where the current router comes from (the app rebuilds it each cycle)
        self.router_source: Callable[[], Router | None] = router_source or (lambda: None)
        self._clock = clock

    async def poll(
        self,
        source: Source,
        *,
        backfill: bool = False,
        force: bool = True,
        route: Router | None = None,
    ) -> PollSummary:
        """Poll one source once. ``force=False`` respects its backoff and disabling."""
        cfg = source.config
        summary = PollSummary(cfg.name, cfg.kind)
        started = time.perf_counter()
        now = self._clock()
        # State and conditional-GET memory in one query (most polls find nothing new,
        # so their statements are most of what they cost: bench/README.md, re-poll).
        state, validators = await self.store.source_state_and_validators(cfg.name)
        # A disabled source is still tried now and then (at the longest backoff), so its
        # recovery is noticed; a forced poll tries it at once.
        if not force and state is not None and state.next_attempt and state.next_attempt > now:
            summary.skipped = (
                f"disabled: {state.disabled_reason}"
                if state.disabled_reason
                else f"backing off until {state.next_attempt:%Y-%m-%d %H:%M} UTC"
            )
            return summary
        baseline = not backfill and not (state and state.baseline_done)
        summary.baseline = baseline
        route = route if route is not None else self.router_source()
        news = cfg.kind in NEWS_KINDS
        finishing = _Finishing(self.store, cfg.name, _company(source), self.enrich)
        ctx = PollContext(
            self.http, validators, cpu=self.cpu, finishing=None if news else finishing
        )
        try:
            fetched = await source.fetch(ctx)
            summary.warnings = fetched.warnings
            if fetched.not_modified:
                summary.not_modified = True
                # the listing's state and the poll's success in one transaction
                events = await self.store.poll_not_modified(
                    cfg.name,
                    at=now,
                    validators=ctx.validators,
                    item_count=state.item_count if state else 0,
                    warnings=summary.warnings,
                    route=route,
                )
            elif news:
                events = await self._stories(source, fetched, now, baseline, route)
                count = summary.fetched = len(fetched.stories)
            else:
                events = await self._postings(
                    source, ctx, finishing, fetched, now, baseline, route, summary
                )
                count = summary.fetched = len(fetched.postings)
        except SourceError as err:
            summary.error = str(err)
            summary.seconds = time.perf_counter() - started
            await self._failed(source, err, now, state)
            return summary
        if not summary.not_modified:
            await self.store.poll_succeeded(
                cfg.name,
                at=now,
                validators=ctx.validators,
                item_count=count,
                warnings=summary.warnings,
            )
        if state is not None and state.disabled_reason:
            await self._recovered(source, state, now)
        for event in events:
            if event.kind == "new":
                summary.new += 1
            elif event.kind == "updated":
                summary.updated += 1
            elif event.kind == "closed":
                summary.closed += 1
        summary.events = list(events)
        summary.seconds = time.perf_counter() - started
        log.info(
            "polled %s: %d fetched, %d new, %d updated, %d closed%s",
            cfg.name,
            summary.fetched,
            summary.new,
            summary.updated,
            summary.closed,
            " (baseline)" if baseline else "",
        )
        return summary

    async def _postings(
        self,
        source: Source,
        ctx: PollContext,
        finishing: _Finishing,
        fetched: Fetched,
        now: datetime,
        baseline: bool,
        route: Router | None,
        summary: PollSummary,
    ) -> list[PostingEvent]:
        name = source.config.name
        finish = await finishing()
        known = finish.known
        hashes: dict[str, str] = {}
        changed: list[Posting] = []
        unchanged: list[str] = []
        given = fetched.hashes or (None,) * len(fetched.postings)
        seen: set[str] = set()
        for posting, h in zip(fetched.postings, given, strict=True):
            if posting.external_id in seen:
                continue  # a board listing the same job twice: the first is kept
            seen.add(posting.external_id)
            h = h or listing_hash(posting)
            if known.get(posting.external_id) == h:
                unchanged.append(posting.external_id)
            else:
                hashes[posting.external_id] = h
                changed.append(posting)
        if changed:
            summary.details = len(changed)
            changed = await source.details(ctx, changed)
        # What was not finished where it was parsed (bot.finish): a board that gives no
        # hand-over the chance, a detail that failed and left the listing's version.
        # Finished the same way, off the loop (a worker process, else a thread).
        todo = [i for i, p in enumerate(changed) if p.ai is None]
        if todo:
            rest = await ctx.parse(finish.postings, [changed[i] for i in todo])
            for i, posting in zip(todo, rest, strict=True):
                changed[i] = posting
        return await self.store.apply_postings(
            name,
            changed,
            unchanged=unchanged,
            listing_hashes=hashes,
            at=now,
            baseline=baseline,
            route=route,
        )

    async def _stories(
        self,
        source: Source,
        fetched: Fetched,
        now: datetime,
        baseline: bool,
        route: Router | None,
    ) -> list[StoryEvent]:
        if fetched.prepared is None and fetched.stories:
            # A source that did not parse through PollContext.parse_stories: its stories
            # are scored, prepared for clustering and hashed here, in one hand-over too.
            if self.cpu is not None:
                fetched = await self.cpu.run(finish_fetched, fetched)
            else:
                fetched = finish_fetched(fetched)
        return await self.store.apply_stories(
            source.config.name,
            fetched.stories,
            at=now,
            baseline=baseline,
            route=route,
            prepared=fetched.prepared,
            hashes=fetched.hashes,
        )

    async def _failed(
        self, source: Source, err: SourceError, now: datetime, state: SourceState | None
    ) -> None:
        name = source.config.name
        failures = (state.failure_count if state else 0) + 1
        retry_after = err.retry_after if isinstance(err, RateLimited) else None
        disabled = bool(state and state.disabled_reason)
        disabling = not disabled and _failing_for(state, now) >= self.backoff.disable_after
        if disabled or disabling:
            delay = self.backoff.maximum  # a disabled source is only probed now and then
        else:
            delay = self.backoff.delay(failures, retry_after=retry_after)
        new_state = await self.store.poll_failed(
            name, at=now, error=str(err), next_attempt=now + timedelta(seconds=delay)
        )
        log.warning(
            "source %s failed (%d in a row, next try in %.0fs): %s",
            name,
            new_state.failure_count,
            delay,
            err,
        )
        if disabling:
            since = new_state.failing_since or now
            reason = f"failing since {since:%Y-%m-%d %H:%M} UTC: {err}"
            # Notices first, keyed by the failure streak: a crash before the source is
            # marked disabled repeats both at the next failure, and still tells once.
            await self._tell(source, since, disabled_notice(source, since, str(err)))
            await self.store.set_source_disabled(name, reason)
            log.error("source %s disabled: %s", name, reason)

    async def _recovered(self, source: Source, state: SourceState, now: datetime) -> None:
        """A disabled source worked again: enable it and tell the channels told before."""
        since = state.failing_since or state.last_success or now
        await self._tell(source, since, recovered_notice(source, since, now))
        await self.store.set_source_disabled(source.config.name, None)
        log.warning("source %s works again; enabled", source.config.name)

    async def _tell(self, source: Source, since: datetime, notice: tuple[str, Reply]) -> None:
        """Queue ``notice`` for every channel with a live subscription naming the
        source's company, once per failure streak (``since``)."""
        event, reply = notice
        keys = {company_key(source.config.company), company_key(source.config.name)} - {""}
        channels = sorted(
            {
                sub.channel
                for sub in await self.store.subscriptions(include_paused=False)
                if keys & {company_key(c) for c in sub.companies}
            }
        )
        payload = reply_to_json(reply)
        streak = f"{since:%Y%m%dT%H%M%S}"
        entries = [
            OutboxEntry(
                channel=channel,
                item_kind="notice",
                event="notice",
                dedupe_key=f"{channel}|source:{source.config.name}|{event}|{streak}",
                payload=payload,
            )
            for channel in channels
        ]
        if entries:
            await self.store.enqueue(entries, at=self._clock())

    async def poll_many(
        self,
        sources: Sequence[Source],
        *,
        backfill: bool = False,
        force: bool = True,
        concurrency: int = 8,
    ) -> list[PollSummary]:
        """Poll several sources concurrently, their kinds spread over the cycle (see
        :func:`spread_kinds`); one failing never affects the others."""
        limit = asyncio.Semaphore(concurrency)
        route = self.router_source()

        async def one(src: Source) -> PollSummary:
            async with limit:
                summary = await self.poll(src, backfill=backfill, force=force, route=route)
            # The events are in the outbox now; holding every source's postings (with
            # their descriptions) until the whole cycle ends cost ~9 KB a posting: 1 GB
            # of peak RSS for 100,000 postings (``python -m bench``, cold ingest).
            summary.events = []
            return summary

        return await poll_spread(sources, one)


async def poll_spread(
    sources: Sequence[Source], poll_one: Callable[[Source], Awaitable[PollSummary]]
) -> list[PollSummary]:
    """``poll_one`` of each source concurrently, started in :func:`spread_kinds` order
    and reported in the given one (``poll_many`` and ``marquee poll --once``)."""
    order = spread_kinds(sources)
    done = dict(zip(map(id, order), await asyncio.gather(*map(poll_one, order)), strict=True))
    return [done[id(src)] for src in sources]


def spread_kinds(sources: Sequence[Source]) -> list[Source]:
    """``sources`` reordered so each kind is spread evenly over the list, each kind's
    own order kept: the i-th of a kind's n sources goes at about (i + ½) / n.

    A cycle polls a few sources at a time in this order. Configurations list sources
    kind by kind, and the kinds differ: most of a kind share one host (its per-host
    limit), and Workday, SmartRecruiters and Eightfold need a request per posting, so
    the event loop's HTTP is their cost, while a listing of descriptions is mostly the
    parse worker's. Polled kind by kind, the cold cycle of bench/ ran the worker ~93 %
    busy for its first 28 s and ~50 % for the last 15 s (the detail kinds, main-bound):
    2,400 postings/s; spread, both processes stay busy throughout: 2,580 (issue 8)."""
    groups: dict[str, list[Source]] = {}
    for src in sources:
        groups.setdefault(src.config.kind, []).append(src)
    placed = [
        ((i + 0.5) / len(group), rank, src)
        for rank, group in enumerate(groups.values())
        for i, src in enumerate(group)
    ]
    placed.sort(key=lambda item: item[:2])
    return [src for _, _, src in placed]


class _Finishing:
    """A poll's :class:`Finish`, made when a worker first needs it (a board found
    unchanged never does) and then kept: the listing hashes stored for the source are
    read once, by the first page parsed or else by :meth:`Pipeline._postings`."""

    def __init__(self, store: Store, source: str, company: str, settings: EnrichSettings) -> None:
        self._store = store
        self._source = source
        self._company = company
        self._settings = settings
        self._finish: Finish | None = None

    async def __call__(self) -> Finish:
        if self._finish is None:
            known = await self._store.known_listing_hashes(self._source)
            self._finish = Finish(self._company, self._settings, known)
        return self._finish


def _failing_for(state: SourceState | None, now: datetime) -> float:
    """Seconds since the first failure of the streak ``now``'s failure continues (0 for
    a first failure). A streak older than ``failing_since`` began at the last success."""
    if state is None or not state.failure_count:
        return 0.0
    since = state.failing_since or state.last_success
    return (now - since).total_seconds() if since is not None else 0.0


def _company(source: Source) -> str:
    return source.config.company or source.config.name


def disabled_notice(source: Source, since: datetime, error: str) -> tuple[str, Reply]:
    """What a channel following the source's company is told when it is disabled."""
    company = _company(source)
    return "disabled", Reply(
        title=f"Marquee stopped polling {company}",
        text=(
            f"The source {source.config.name} has failed since {since:%Y-%m-%d %H:%M} UTC, "
            f"so it is disabled: new postings from {company} are not alerted until it "
            "works again, and this channel is told when it does. /sources shows its state."
        ),
        items=(Item(title="Last error", text=shorten(" ".join(error.split()), 300)),),
        severity="warning",
    )


def recovered_notice(source: Source, since: datetime, now: datetime) -> tuple[str, Reply]:
    """What the same channels are told when it works again."""
    company = _company(source)
    return "recovered", Reply(
        title=f"{company} is back",
        text=(
            f"The source {source.config.name} works again (it had failed since "
            f"{since:%Y-%m-%d %H:%M} UTC): alerts for {company} resume."
        ),
        severity="info",
    )
