"""Daily digests on schedule: one per subscription per local day, through the outbox.

Each digest subscription gets an APScheduler 3 cron job at its ``digest_time`` on its
``days`` in its own ``ZoneInfo`` time zone. Whatever fires it (the cron job, the
periodic sweep, the catch-up at start-up), the run asks the same question: what is the
latest scheduled instant at or before now, and was that local day's digest claimed?
The claim (``store.claim_digest``) and the outbox entry are written in one transaction,
so there is exactly one digest per subscription and local day, across DST changes (the
cron trigger fires twice on a fall-back day's doubled 01:30; the second run finds the
day claimed), several instances and restarts.

After downtime a digest whose time passed less than ``grace`` ago (default 6 h) goes
out late, once; an older one is skipped with a log line. The periodic sweep (default
every 5 min) also picks up subscriptions made elsewhere (another instance, ``marquee
chat`` in another process) and removes jobs of ones that are gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Literal
from zoneinfo import ZoneInfo

from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from bot.errors import StorageError
from bot.models import OutboxEntry, Subscription
from handlers.digest import build_digest, last_occurrence, previous_occurrence
from handlers.reply import reply_to_json
from handlers.settings import HandlerSettings

if TYPE_CHECKING:
    from storage import Store

__all__ = ["DigestOutcome", "DigestScheduler", "cron_trigger", "digest_key"]

log = logging.getLogger(__name__)

_CRON_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_JOB_PREFIX = "marquee-digest:"
_SWEEP_JOB = "marquee-digest-sweep"

Status = Literal["sent", "empty", "already", "skipped", "not_due"]


@dataclass(frozen=True, slots=True)
class DigestOutcome:
    """What one run did for one subscription: ``sent`` (queued), ``empty`` (claimed,
    nothing to say), ``already`` (claimed before), ``skipped`` (missed beyond grace),
    ``not_due`` (no scheduled time since the subscription began)."""

    subscription_id: int
    status: Status
    local_date: date | None = None
    scheduled_for: datetime | None = None
    late_by: timedelta = timedelta(0)


def digest_key(sub: Subscription, local_date: date) -> str:
    """The outbox key of a subscription's digest of one local day."""
    return f"{sub.channel}|digest:{sub.id}|{local_date.isoformat()}"


def cron_trigger(sub: Subscription) -> CronTrigger:
    """The APScheduler trigger for ``sub``'s digest time, days and time zone."""
    hour, minute = (int(part) for part in sub.digest_time.split(":"))
    days = ",".join(_CRON_DAYS[d - 1] for d in sorted(set(sub.days)) if 1 <= d <= 7)
    return CronTrigger(
        day_of_week=days or "*", hour=hour, minute=minute, second=0, timezone=ZoneInfo(sub.tz)
    )


def _wants_digest(sub: Subscription) -> bool:
    return sub.mode in ("digest", "both") and not sub.paused_reason and bool(sub.days)


class DigestScheduler:
    """Schedules, catches up and sends every subscription's daily digest.

    Pass the process's ``scheduler`` to share it (it is then neither started nor shut
    down here); without one, an own :class:`AsyncIOScheduler` is made and run.
    ``clock`` (default: ``settings.clock``) is what "now" means for deciding which
    day a run is for; ``on_queued`` is called after a digest entered the outbox.
    """

    def __init__(
        self,
        store: Store,
        *,
        scheduler: AsyncIOScheduler | None = None,
        settings: HandlerSettings | None = None,
        grace: float | timedelta | None = None,
        clock: Callable[[], datetime] | None = None,
        on_queued: Callable[[], object] | None = None,
        sweep_interval: float = 300.0,
    ) -> None:
        self.store = store
        self.settings = settings or HandlerSettings()
        if grace is None:
            grace = self.settings.digest_grace
        self.grace = grace if isinstance(grace, timedelta) else timedelta(seconds=grace)
        self._clock = clock or self.settings.now
        self._on_queued = on_queued
        self._sweep_interval = sweep_interval
        self._own = scheduler is None
        self.scheduler = scheduler or AsyncIOScheduler(timezone=UTC)
        self._subs: dict[int, Subscription] = {}
        self._locks: dict[int, asyncio.Lock] = {}
        self._skip_logged: set[tuple[int, date]] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    # -- lifecycle ------------------------------------------------------------------

    def now(self) -> datetime:
        now = self._clock()
        return now if now.tzinfo else now.replace(tzinfo=UTC)

    async def start(self) -> None:
        """Load the subscriptions, schedule their jobs, send digests missed within the
        grace period, and start the periodic sweep."""
        await self.refresh()
        await self.run_due(self.now())
        self.scheduler.add_job(
            self._sweep,
            IntervalTrigger(seconds=self._sweep_interval),
            id=_SWEEP_JOB,
            replace_existing=True,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=None,
        )
        if self._own and not self.scheduler.running:
            self.scheduler.start()

    async def shutdown(self) -> None:
        """Remove this scheduler's jobs (and stop the scheduler if it is ours)."""
        for task in list(self._tasks):
            task.cancel()
        for sub_id in list(self._subs):
            self.unschedule(sub_id)
        self._remove_job(_SWEEP_JOB)
        if self._own and self.scheduler.running:
            self.scheduler.shutdown(wait=False)

    # -- the subscription set ------------------------------------------------------

    @staticmethod
    def job_id(subscription_id: int) -> str:
        """The APScheduler job id of a subscription's digest."""
        return f"{_JOB_PREFIX}{subscription_id}"

    def reschedule(self, subscription: Subscription) -> None:
        """(Re)schedule one subscription after it changed; unschedules it when it no
        longer wants a digest (paused, instant-only)."""
        if not _wants_digest(subscription):
            self.unschedule(subscription.id)
            return
        try:
            trigger = cron_trigger(subscription)
        except (ValueError, KeyError) as err:
            log.error("subscription %s: cannot schedule its digest: %s", subscription.id, err)
            self.unschedule(subscription.id)
            return
        self._subs[subscription.id] = subscription
        self.scheduler.add_job(
            self._fire,
            trigger,
            args=(subscription.id,),
            id=self.job_id(subscription.id),
            name=f"digest {subscription.id} {subscription.channel}",
            replace_existing=True,
            coalesce=True,
            max_instances=1,
            misfire_grace_time=max(1, int(self.grace.total_seconds())),
        )

    def unschedule(self, subscription_id: int) -> None:
        """Forget a subscription's digest job (it was removed or paused)."""
        self._subs.pop(subscription_id, None)
        self._remove_job(self.job_id(subscription_id))

    def _remove_job(self, job_id: str) -> None:
        with contextlib.suppress(JobLookupError):
            self.scheduler.remove_job(job_id)

    async def refresh(self) -> None:
        """Bring the jobs in line with the stored subscriptions."""
        current = {s.id: s for s in await self.store.subscriptions(include_paused=False)}
        for sub_id in set(self._subs) - set(current):
            self.unschedule(sub_id)
        for sub_id, sub in current.items():
            if self._subs.get(sub_id) != sub:
                self.reschedule(sub)

    def notify(self, channel: str | None = None) -> None:
        """Subscriptions changed (a command's hook): refresh soon, without blocking it."""
        task = asyncio.get_running_loop().create_task(self._refresh_quietly())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _refresh_quietly(self) -> None:
        try:
            await self.refresh()
        except StorageError as err:
            log.warning("digest schedule refresh failed (the sweep retries): %s", err)

    # -- running -------------------------------------------------------------------

    async def _sweep(self) -> None:
        try:
            await self.refresh()
            await self.run_due(self.now())
        except StorageError as err:
            log.warning("digest sweep failed, retrying at the next one: %s", err)

    async def _fire(self, subscription_id: int) -> None:
        sub = self._subs.get(subscription_id)
        if sub is None:
            return
        try:
            await self.run_subscription(sub, self.now())
        except StorageError as err:
            # The claim was not written, so the sweep tries again within the grace period.
            log.warning("digest %s failed, the sweep retries: %s", subscription_id, err)

    async def run_due(self, now: datetime) -> list[DigestOutcome]:
        """Send every scheduled digest whose time has come (late within the grace
        period); skip, with a log line, those missed for longer."""
        outcomes = []
        for sub in sorted(self._subs.values(), key=lambda s: s.id):
            outcomes.append(await self.run_subscription(sub, now))
        return outcomes

    async def run_subscription(self, sub: Subscription, now: datetime) -> DigestOutcome:
        """Send ``sub``'s latest due digest unless its day was claimed already."""
        lock = self._locks.setdefault(sub.id, asyncio.Lock())
        async with lock:
            return await self._run(sub, now)

    async def _run(self, sub: Subscription, now: datetime) -> DigestOutcome:
        if not _wants_digest(sub):
            return DigestOutcome(sub.id, "not_due")
        due = last_occurrence(sub, now)
        created = sub.created_at
        if created is not None and created.tzinfo is None:
            created = created.replace(tzinfo=UTC)
        if due is None or (created is not None and due[1] < created):
            return DigestOutcome(sub.id, "not_due")
        local_date, when = due
        late = now - when
        if await self.store.digest_sent(sub.id, local_date):
            return DigestOutcome(sub.id, "already", local_date, when, late)
        if late > self.grace:
            if (sub.id, local_date) not in self._skip_logged:
                self._skip_logged.add((sub.id, local_date))
                log.warning(
                    "digest of subscription %s (%s) for %s was due at %s, %s ago: more than "
                    "the %s grace period, skipped",
                    sub.id,
                    sub.channel,
                    local_date,
                    when.isoformat(),
                    _span(late),
                    _span(self.grace),
                )
            return DigestOutcome(sub.id, "skipped", local_date, when, late)
        start = max(previous_occurrence(sub, local_date), when - timedelta(days=7))
        reply = await build_digest(self.store, sub, start, when, settings=self.settings)
        entry = None
        if reply is not None:
            entry = OutboxEntry(
                channel=sub.channel,
                item_kind="digest",
                event="digest",
                dedupe_key=digest_key(sub, local_date),
                subscription_id=sub.id,
                payload=reply_to_json(reply),
            )
        if not await self.store.claim_digest(sub.id, local_date, at=now, entry=entry):
            return DigestOutcome(sub.id, "already", local_date, when, late)
        if entry is None:
            log.info("digest of subscription %s for %s: nothing new, not sent", sub.id, local_date)
            return DigestOutcome(sub.id, "empty", local_date, when, late)
        log.info(
            "digest of subscription %s for %s queued for %s%s",
            sub.id,
            local_date,
            sub.channel,
            f" ({_span(late)} late)" if late > timedelta(minutes=1) else "",
        )
        if self._on_queued is not None:
            self._on_queued()
        return DigestOutcome(sub.id, "sent", local_date, when, late)


def _span(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    if minutes < 120:
        return f"{minutes} min"
    return f"{minutes / 60:.1f} h"
