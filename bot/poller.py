"""Scheduled polling shared by several instances (issue 9): each source polled once per
interval, by one instance at a time, with no coordinator but the database.

Every ``check_every`` seconds each instance reads the sources' stored state and picks
those that are due: never polled, or last attempted at least ``interval`` (plus a
jitter that every instance computes alike) ago, and not backing off after failures nor
disabled. For each due source it takes the source's lease in the database
(:meth:`storage.Store.acquire_source_lease`, one atomic statement: at most one
instance wins), checks again under the lease that nobody polled it meanwhile, polls,
and releases the lease. While the poll runs the lease is renewed every third of its
length; an instance that dies stops renewing, and once the lease runs out the next
instance that finds the source due takes it over. A poll whose renewal fails (the lease
was lost, e.g. to a database outage longer than the lease) is cancelled rather than
risk two instances polling at once.

On SQLite the same code runs with one instance, which always wins its leases.

``marquee poll --once`` goes through :meth:`Poller.poll_now`: each source at once,
whatever its interval, but under its lease like any other poll, so a manual poll beside
running pollers never polls a source they are polling (it reports it as left to them).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bot.errors import StorageError
from bot.health import Metrics
from bot.models import OutboxEntry, PostingEvent, SourceState, StoryEvent
from bot.pipeline import Pipeline, PollSummary, poll_spread
from bot.sources import Source
from storage import Router, Store

__all__ = ["Poller", "PollerSettings", "due_at"]

log = logging.getLogger(__name__)


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class PollerSettings:
    """``lease``: seconds a poll holds its source without renewing; ``check_every``:
    seconds between looks for due sources; ``jitter``: fraction of the interval added
    to each wait; ``concurrency``: polls at once in this instance."""

    lease: float = 120.0
    check_every: float = 15.0
    jitter: float = 0.1
    concurrency: int = 8


def _jitter_fraction(name: str, last: datetime) -> float:
    """A fraction in [0, 1) that every instance derives alike for this source and poll,
    so they agree when it is due (and failing sources do not poll in step)."""
    digest = hashlib.sha256(f"{name}|{last.isoformat()}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def due_at(state: SourceState | None, interval: float, jitter: float = 0.0) -> datetime | None:
    """When a source is next due: ``None`` means now (never polled). A disabled source
    is only probed, at its next attempt (the longest backoff); one backing off is due
    when both its interval and its backoff passed."""
    if state is None or state.last_attempt is None:
        return None
    if state.disabled_reason:
        return state.next_attempt or datetime.max.replace(tzinfo=UTC)
    wait = interval * (1 + jitter * _jitter_fraction(state.name, state.last_attempt))
    due = state.last_attempt + timedelta(seconds=wait)
    if state.next_attempt is not None and state.next_attempt > due:
        due = state.next_attempt
    return due


def _is_due(state: SourceState | None, interval: float, jitter: float, now: datetime) -> bool:
    due = due_at(state, interval, jitter)
    return due is None or due <= now


class _Counting:
    """A router that counts the outbox entries it produced (alerts queued)."""

    def __init__(self, route: Router | None) -> None:
        self.route = route
        self.count = 0

    def __call__(self, events: Sequence[PostingEvent | StoryEvent]) -> Iterable[OutboxEntry]:
        if self.route is None:
            return []
        entries = list(self.route(events))
        self.count += len(entries)
        return entries


class Poller:
    """Polls the due sources of ``sources()`` under database leases; see the module."""

    def __init__(
        self,
        store: Store,
        pipeline: Pipeline,
        sources: Callable[[], Sequence[Source]],
        *,
        owner: str,
        settings: PollerSettings,
        refresh_router: Callable[[], Awaitable[Router | None]],
        on_polled: Callable[[PollSummary], object] | None = None,
        metrics: Metrics | None = None,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self.store = store
        self.pipeline = pipeline
        self.sources = sources
        self.owner = owner
        self.settings = settings
        self._refresh_router = refresh_router
        self._on_polled = on_polled
        self.metrics = metrics or Metrics()
        self._clock = clock
        self._limit = asyncio.Semaphore(settings.concurrency)
        self._running: dict[str, asyncio.Task[PollSummary | None]] = {}
        # A poll that failed with a bug wrote no state: without this it would be due
        # again at the next look, hammering the board every few seconds.
        self._not_before: dict[str, datetime] = {}
        for name, help_text in (
            ("marquee_polls_total", "Polls of a source, by source and outcome"),
            ("marquee_poll_errors_total", "Polls that failed, by source"),
            ("marquee_poll_checks_total", "Looks for due sources by this instance"),
            ("marquee_poll_skips_total", "Due sources left to another instance, by reason"),
            ("marquee_alerts_queued_total", "Alerts put in the outbox, by kind"),
        ):
            self.metrics.counter(name, help_text)
        self.metrics.gauge("marquee_polls_running", "Polls running in this instance", self.busy)

    def busy(self) -> int:
        """How many polls this instance runs right now."""
        return len(self._running)

    async def check(self) -> list[asyncio.Task[PollSummary | None]]:
        """Look once: start a poll of every due source not already polling here.
        Returns the started tasks (tests await them)."""
        now = self._clock()
        states = {s.name: s for s in await self.store.source_states()}
        self.metrics.inc("marquee_poll_checks_total")
        due = [
            src
            for src in self.sources()
            if src.config.name not in self._running
            and self._not_before.get(src.config.name, now) <= now
            and _is_due(states.get(src.config.name), src.config.interval, self.settings.jitter, now)
        ]
        if not due:
            return []
        route = await self._refresh_router()
        started = []
        for src in due:
            if src.config.name in self._running:
                continue  # a concurrent look started it while the router was rebuilt
            task = asyncio.create_task(self._poll(src, route), name=f"poll:{src.config.name}")
            self._running[src.config.name] = task
            task.add_done_callback(lambda _t, n=src.config.name: self._running.pop(n, None))
            started.append(task)
        return started

    async def poll_now(
        self, sources: Sequence[Source], *, backfill: bool = False
    ) -> list[PollSummary]:
        """Poll ``sources`` at once (``marquee poll --once``), without waiting for their
        interval or backoff, each under its lease: a source another instance holds is
        left to it and reported as skipped. Storage errors propagate."""
        route = await self._refresh_router()

        async def one(src: Source) -> PollSummary:
            async with self._limit:
                summary = await self._poll_leased(src, route, backfill=backfill, at_once=True)
            if summary is None:
                held = "left to another instance, which holds its lease"
                return PollSummary(src.config.name, src.config.kind, skipped=held)
            summary.events = []  # in the outbox now (see Pipeline.poll_many)
            return summary

        return await poll_spread(sources, one)

    async def run_forever(self, stop: asyncio.Event) -> None:
        """Check every ``check_every`` seconds until ``stop``; then cancel what runs
        (a cancelled poll writes nothing half-way: its transaction rolls back) and give
        the leases back."""
        try:
            while not stop.is_set():
                try:
                    await self.check()
                except StorageError as err:
                    log.warning("could not look for due sources (retrying): %s", err)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self.settings.check_every)
        finally:
            await self.cancel()

    async def cancel(self) -> None:
        """Stop the polls in progress (their ``finally`` releases the leases)."""
        tasks = list(self._running.values())
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks, timeout=10)

    async def _poll(self, src: Source, route: Router | None) -> PollSummary | None:
        name = src.config.name
        try:
            async with self._limit:
                return await self._poll_leased(src, route)
        except StorageError as err:
            log.warning("poll of %s not done (database): %s", name, err)
            self.metrics.inc("marquee_poll_errors_total", source=name)
            return None
        except Exception:  # a bug in one poll must not stop the others
            log.exception("poll of %s failed", name)
            self.metrics.inc("marquee_poll_errors_total", source=name)
            self._not_before[name] = self._clock() + timedelta(seconds=src.config.interval)
            return None

    async def _poll_leased(
        self, src: Source, route: Router | None, *, backfill: bool = False, at_once: bool = False
    ) -> PollSummary | None:
        """Poll ``src`` under its lease; None when another instance holds it, polled it
        meanwhile, or took the lease over. ``at_once``: whatever its interval and backoff."""
        name = src.config.name
        lease = timedelta(seconds=self.settings.lease)
        now = self._clock()
        if not await self.store.acquire_source_lease(
            name, owner=self.owner, now=now, until=now + lease
        ):
            self.metrics.inc("marquee_poll_skips_total", reason="leased")
            return None
        try:
            # Under the lease: another instance may have polled it since we looked.
            if not at_once:
                state = await self.store.source_state(name)
                if not _is_due(state, src.config.interval, self.settings.jitter, self._clock()):
                    self.metrics.inc("marquee_poll_skips_total", reason="polled")
                    return None
            counting = _Counting(route)
            poll = asyncio.ensure_future(
                self.pipeline.poll(src, backfill=backfill, force=at_once, route=counting)
            )
            lost = asyncio.Event()
            keeper = asyncio.ensure_future(self._keep(name, poll, lost))
            try:
                summary = await poll
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if lost.is_set() and task is not None and not task.cancelling():
                    self.metrics.inc("marquee_poll_skips_total", reason="lease_lost")
                    return None
                raise
            finally:
                keeper.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await keeper
                if not poll.done():
                    poll.cancel()
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await poll
        finally:
            with contextlib.suppress(StorageError):
                await asyncio.shield(self.store.release_source_lease(name, owner=self.owner))
        self._count(summary, counting.count)
        if self._on_polled is not None:
            self._on_polled(summary)
        return summary

    async def _keep(
        self, name: str, poll: asyncio.Future[PollSummary], lost: asyncio.Event
    ) -> None:
        """Renew the lease every third of its length while ``poll`` runs; cancel the
        poll if the lease is lost."""
        lease = timedelta(seconds=self.settings.lease)
        while not poll.done():
            await asyncio.sleep(self.settings.lease / 3)  # a heartbeat, not a wait for work
            try:
                kept = await self.store.renew_source_lease(
                    name, owner=self.owner, until=self._clock() + lease
                )
            except StorageError as err:
                log.warning("could not renew the lease on %s: %s", name, err)
                continue  # the lease may still be live; the next beat tries again
            if not kept:
                log.error("lost the lease on %s to another instance; stopping this poll", name)
                lost.set()
                poll.cancel()
                return

    def _count(self, summary: PollSummary, queued: int) -> None:
        name = summary.source
        if summary.skipped:
            outcome = "skipped"
        elif summary.error:
            outcome = "error"
            self.metrics.inc("marquee_poll_errors_total", source=name)
        elif summary.not_modified:
            outcome = "not_modified"
        else:
            outcome = "ok"
        self.metrics.inc("marquee_polls_total", source=name, outcome=outcome)
        if queued and not summary.error:
            self.metrics.inc("marquee_alerts_queued_total", queued, kind="event")
