"""The delivery worker: outbox rows → rendered alerts → platforms.

A row is marked sent only after the platform accepted the message, so a crash between
sending and marking may resend; the idempotency key (stable per row) lets Discord
drop the duplicate. Updates and closures edit the original alert when its message
reference is known, else they are sent as new messages. A permanent platform error
pauses the channel's subscriptions with the reason; a transient one retries with
backoff (capped, so delivery resumes soon after an outage) until the alert is older than
``give_up_after``.

Claims are short leases renewed while the worker holds them (a heartbeat), so the rows
of a worker killed mid-send are handed out again within ``lease`` seconds, not minutes.
Channels are delivered side by side (a slow channel, waiting out its own rate limit,
holds up no other), each channel's rows one after another in order: once a row of a
channel fails for now, its later claimed rows go back unsent, to follow it, and the
claim query hands out no row of a channel while an earlier one is held or waits.
How many sends a platform takes at once is its adapter's to say
(``concurrent_sends``: ``None`` for no limit but the batch; one when it does not say,
so a platform whose limits span channels is never sent to side by side unasked).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Literal

from bot.errors import PermanentDeliveryError, StorageError, TransientDeliveryError
from bot.models import OutboxRow, PostingEvent, StoryEvent
from bot.platforms.base import Platform, split_channel
from handlers.alerts import posting_alert, story_alert
from handlers.reply import Reply
from storage import Store

__all__ = ["Delivery", "idempotency_key"]

log = logging.getLogger(__name__)

#: A transient failure is retried until the alert is this old (an outage of hours
#: delays alerts; only one of days loses them).
GIVE_UP_AFTER = timedelta(days=2)
#: The longest wait between two attempts: after an outage, delivery resumes within it.
MAX_RETRY_DELAY = 900.0

_Outcome = Literal["sent", "settled", "waits"]
#: Seconds a claim lasts unless renewed; renewed every third of it while delivering.
LEASE = 10.0
#: Pauses between attempts to mark a sent alert so, when the database fails.
MARK_SENT_RETRIES = (0.5, 2.0)
#: Settled alerts (sent, or failed for good) are kept this long, then deleted: the
#: outbox would otherwise grow for ever. The "new" alert of a posting still open stays.
KEEP = timedelta(days=90)
#: How often a worker deletes them.
PURGE_EVERY = timedelta(hours=1)


def idempotency_key(row: OutboxRow) -> str:
    """Stable for one outbox row and at most 25 characters (Discord's nonce limit)."""
    return f"mq{row.id}"[:25]


def _utcnow() -> datetime:
    return datetime.now(UTC)


class _Run:
    """The state of one :meth:`Delivery.run_once`: claimed rows, lanes, outcome."""

    def __init__(self, stop: asyncio.Event | None) -> None:
        self.stop = stop
        self.held: set[int] = set()  # claimed and not yet done: the heartbeat renews them
        self.queues: dict[str, collections.deque[OutboxRow]] = {}
        self.lanes: dict[str, asyncio.Task[None]] = {}
        self.progress = asyncio.Event()  # a row was done, or a lane ended
        self.slots: dict[str, asyncio.Semaphore | None] = {}  # sends at once, by platform
        self.sent = 0
        self.errors: list[Exception] = []

    @property
    def stopping(self) -> bool:
        return self.stop is not None and self.stop.is_set()

    def slot(
        self, platform: str, platforms: Mapping[str, Platform]
    ) -> contextlib.AbstractAsyncContextManager[object]:
        """A place among the sends ``platform`` takes at once."""
        if platform not in self.slots:
            limit = getattr(platforms.get(platform), "concurrent_sends", 1)
            self.slots[platform] = None if limit is None else asyncio.Semaphore(max(1, limit))
        semaphore = self.slots[platform]
        return semaphore if semaphore is not None else contextlib.nullcontext()

    @property
    def halted(self) -> bool:
        """No more claims: the worker is stopping, or a lane failed."""
        return self.stopping or bool(self.errors)


class Delivery:
    """Drains the outbox into the configured platforms. ``on_delivered(row, outcome)``,
    if given, hears of every attempt (``sent``, ``settled`` or ``waits``): metrics.
    ``batch`` is how many claimed rows it holds at most, so also how many channels it
    sends to at once."""

    def __init__(
        self,
        store: Store,
        platforms: Mapping[str, Platform],
        *,
        worker: str = "local",
        batch: int = 50,
        clock: Callable[[], datetime] = _utcnow,
        lease: float = LEASE,
        give_up_after: timedelta = GIVE_UP_AFTER,
        on_delivered: Callable[[OutboxRow, str], object] | None = None,
        keep: timedelta | None = KEEP,
    ) -> None:
        self.store = store
        self.platforms = dict(platforms)
        self.worker = worker
        self.batch = batch
        # Claim again once this many rows are done: often enough that a channel freed
        # (its rate limit reset) soon finds its next row, seldom enough for the database.
        self._top_up = max(1, batch // 10)
        self.lease = lease
        self.give_up_after = give_up_after
        self._clock = clock
        self._on_delivered = on_delivered
        self.wakeup = asyncio.Event()
        # settled alerts older than this are deleted (None: kept for ever), once an hour
        self.keep = keep
        self._purged_at: datetime | None = None

    async def run_once(self, stop: asyncio.Event | None = None) -> int:
        """Deliver every row due now; returns how many were sent. Once ``stop`` is set
        the alerts being sent are finished and the rest are handed back at once (for the
        next worker, or the next start), so a backlog never holds up a shutdown.

        Channels are delivered side by side, each in its own lane that sends its rows
        in order (a platform's per-channel limit then holds up only that channel), and
        the claim is topped up while lanes run, so a slow channel never idles the rest.
        """
        run = _Run(stop)
        heartbeat = asyncio.create_task(self._renew(run.held))
        try:
            may_find = True  # whether a claim could find rows not yet seen
            while True:
                run.progress.clear()  # before the claim: what happens during it counts
                if not run.halted and may_find and self.batch - len(run.held) >= self._top_up:
                    want = self.batch - len(run.held)
                    rows = await self.store.claim_due(
                        now=self._clock(),
                        limit=want,
                        worker=self.worker,
                        lease_seconds=self.lease,
                        platforms=tuple(self.platforms),
                    )
                    # Fewer than asked: the rest are due later or wait behind rows held
                    # here, so claiming again is worth it only after one of those is done.
                    may_find = len(rows) == want
                    for row in rows:
                        self._queue(run, row)
                    if may_find:
                        continue
                if not run.lanes:
                    break
                await run.progress.wait()
                may_find = True
        finally:
            # Only when this run is cancelled itself (a stop lets the lanes end): their
            # sends are abandoned, and a cancellation of this run still propagates.
            lanes = list(run.lanes.values())
            for lane in lanes:
                lane.cancel()
            await asyncio.gather(*lanes, return_exceptions=True)
            heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heartbeat
        if run.errors:
            raise run.errors[0]
        return run.sent

    def _queue(self, run: _Run, row: OutboxRow) -> None:
        """Add a claimed row to its channel's lane, starting the lane if none runs. A
        row this run already holds (its claim ran out while it waited in a lane, and a
        top-up claimed it again) is not queued twice."""
        if row.id in run.held:
            return
        channel = row.entry.channel
        run.held.add(row.id)
        queue = run.queues.get(channel)
        if queue is None:
            queue = run.queues[channel] = collections.deque()
            run.lanes[channel] = asyncio.create_task(self._lane(run, channel, queue))
        queue.append(row)

    async def _lane(self, run: _Run, channel: str, queue: collections.deque[OutboxRow]) -> None:
        """Deliver one channel's rows in order. Once one fails for now, the later ones go
        back unsent, to follow it."""
        waiting = False  # an earlier row of this channel waits for a retry
        try:
            while queue:
                row = queue.popleft()
                try:
                    if run.errors:
                        continue  # the claim runs out; no database work after a failure
                    if run.stopping:
                        await self._hand_back(row, "not sent before the worker stopped")
                    elif waiting:
                        await self._follow(row)
                    else:
                        async with run.slot(split_channel(channel)[0], self.platforms):
                            outcome = await self._guarded(row)
                        if self._on_delivered is not None:
                            self._on_delivered(row, outcome)
                        run.sent += outcome == "sent"
                        waiting = outcome == "waits"
                # the database's errors (_guarded takes the rest): they end the run,
                # after the other lanes' sends
                except Exception as err:
                    run.errors.append(err)
                finally:
                    run.held.discard(row.id)
                    run.progress.set()
        finally:
            # No await between the last look at the queue and this: a row claimed from
            # now on starts a new lane.
            del run.queues[channel], run.lanes[channel]
            run.progress.set()

    async def _renew(self, held: set[int]) -> None:
        """Keep this worker's claim on the rows it still holds while it delivers."""
        while True:
            await asyncio.sleep(self.lease / 3)  # a heartbeat, not a wait for work
            if not held:
                continue
            try:
                await self.store.renew_claims(
                    set(held),
                    worker=self.worker,
                    until=self._clock() + timedelta(seconds=self.lease),
                )
            except StorageError as err:
                log.warning("could not renew the claim on %d alert(s): %s", len(held), err)

    async def _follow(self, row: OutboxRow) -> None:
        """Hand a row back unsent: an earlier row of its channel waits for a retry, and
        the claim query keeps it back until that one went out."""
        await self._hand_back(row, "waiting for an earlier alert to this channel")

    async def _hand_back(self, row: OutboxRow, why: str) -> None:
        """Release a claimed row unsent, due at once (its last error, if any, stays)."""
        await self.store.mark_retry(row.id, error=row.last_error or why, retry_at=self._clock())

    async def run_forever(self, stop: asyncio.Event, *, idle: float = 5.0) -> None:
        """Deliver until ``stop`` is set; wakes early when ``wakeup`` is set."""
        while not stop.is_set():
            try:
                await self.run_once(stop)
                await self.purge_if_due()
            except StorageError as err:  # the database is away: the next cycle retries
                log.warning("delivery cycle failed, retrying: %s", err)
            except Exception:  # a bug in one cycle must not kill the worker
                log.exception("delivery cycle failed; retrying")
            self.wakeup.clear()
            waiters = [
                asyncio.ensure_future(stop.wait()),
                asyncio.ensure_future(self.wakeup.wait()),
            ]
            await asyncio.wait(waiters, timeout=idle, return_when=asyncio.FIRST_COMPLETED)
            for w in waiters:
                w.cancel()

    async def purge_if_due(self) -> int:
        """Delete settled alerts older than ``keep``, at most once per
        ``PURGE_EVERY``; returns how many went."""
        now = self._clock()
        if self.keep is None or (
            self._purged_at is not None and now - self._purged_at < PURGE_EVERY
        ):
            return 0
        removed = await self.store.purge_outbox(before=now - self.keep)
        self._purged_at = now
        if removed:
            log.info("outbox: deleted %d settled alerts older than %s", removed, self.keep)
        return removed

    async def _guarded(self, row: OutboxRow) -> _Outcome:
        """:meth:`_deliver`, with an error it did not expect (a bug rendering one alert,
        an exception a platform's client let through) retried with backoff like a
        transient one, and given up by age: before, it ended every run at that row, so
        the row was never settled and the rest of the claimed batch waited behind it.
        The database's errors still end the run (nothing more can be recorded)."""
        try:
            return await self._deliver(row)
        except StorageError:
            raise
        except Exception as err:
            log.exception("delivering alert %s to %s failed", row.id, row.entry.channel)
            error = f"unexpected error: {type(err).__name__}: {err}"
            return "waits" if await self._retry(row, error, None) else "settled"

    async def _deliver(self, row: OutboxRow) -> _Outcome:
        """Send (or edit) one row: ``sent``, ``settled`` (done without a message, or
        failed for good) or ``waits`` (back in the outbox for a retry)."""
        entry = row.entry
        platform_name, channel_id = split_channel(entry.channel)
        platform = self.platforms.get(platform_name)
        if platform is None:
            await self.store.mark_retry(
                row.id,
                error=f"platform {platform_name} not running",
                retry_at=self._clock() + timedelta(minutes=5),
            )
            return "waits"
        reply, edit_ref = await self._reply(row)
        if entry.event in ("updated", "closed") and edit_ref is None:
            # Nothing to edit: this channel was never alerted about the item (it was in a
            # source's baseline, or matched no subscription then). An edit of an alert
            # nobody saw would be noise, so the row is settled without a message.
            await self.store.mark_sent(row.id, at=self._clock(), message_ref=None)
            return "settled"
        if reply is None:
            await self.store.mark_failed(row.id, error="the item no longer exists")
            return "settled"
        try:
            ref = None
            if edit_ref is not None:
                try:
                    await platform.edit(channel_id, edit_ref, reply)
                    ref = edit_ref
                except PermanentDeliveryError as err:
                    # The original alert was deleted (or can no longer be edited): post the
                    # update as a new message. If the channel itself is gone, that send
                    # fails permanently too and pauses the channel below.
                    log.info(
                        "could not edit alert %s in %s (%s); posting anew",
                        edit_ref,
                        entry.channel,
                        err,
                    )
            if ref is None:
                ref = await platform.send(channel_id, reply, idempotency_key=idempotency_key(row))
        except TransientDeliveryError as err:
            return "waits" if await self._retry(row, str(err), err.retry_after) else "settled"
        except PermanentDeliveryError as err:
            await self.store.mark_failed(row.id, error=str(err))
            paused = await self.store.pause_channel(entry.channel, str(err))
            log.warning(
                "delivery to %s failed for good (%s); paused %d subscription(s)",
                entry.channel,
                err,
                paused,
            )
            return "settled"
        await self._mark_sent(row, ref)
        return "sent"

    async def _mark_sent(self, row: OutboxRow, ref: str | None) -> None:
        """Record that the platform has the alert, trying a few times: if this fails the
        alert goes out again once the claim runs out (Discord drops the repeat by its
        nonce; Slack would show it twice)."""
        for pause in MARK_SENT_RETRIES:
            try:
                await self.store.mark_sent(row.id, at=self._clock(), message_ref=ref)
                return
            except StorageError as err:
                log.warning(
                    "alert %s was sent but could not be marked so (%s); trying again", row.id, err
                )
                await asyncio.sleep(pause)  # the database's moment, not a wait for work
        await self.store.mark_sent(row.id, at=self._clock(), message_ref=ref)

    async def _retry(self, row: OutboxRow, error: str, retry_after: float | None) -> bool:
        """Back to the outbox with backoff (``True``), or failed when it is too old."""
        now = self._clock()
        created = row.created_at
        if created is not None and created.tzinfo is None:
            created = created.replace(tzinfo=UTC)
        if created is not None and now - created > self.give_up_after:
            await self.store.mark_failed(
                row.id, error=f"gave up after {row.attempts} attempts over {now - created}: {error}"
            )
            return False
        # row.attempts counts this one (the claim added it): 5 s, 10 s, 20 s, ... 15 min
        delay = min(MAX_RETRY_DELAY, 5.0 * 2 ** max(0, min(row.attempts - 1, 20)))
        if retry_after is not None:
            delay = max(delay, min(retry_after, MAX_RETRY_DELAY))
        await self.store.mark_retry(row.id, error=error, retry_at=now + timedelta(seconds=delay))
        return True

    async def _reply(self, row: OutboxRow) -> tuple[Reply | None, str | None]:
        """The reply for a row, and the message to edit instead of posting (if any)."""
        entry = row.entry
        edit_ref = None
        if entry.event in ("updated", "closed") and entry.item_id is not None:
            edit_ref = await self.store.message_ref_for(
                entry.channel, entry.item_kind, entry.item_id
            )
        if entry.item_kind == "posting" and entry.item_id is not None:
            stored = await self.store.posting(entry.item_id)
            if stored is None:
                return None, None
            changes = tuple(str(c) for c in (entry.payload or {}).get("changes", ()))  # type: ignore[union-attr]
            event = PostingEvent(entry.event, stored, changes)  # type: ignore[arg-type]
            return posting_alert(stored, event), edit_ref
        if entry.item_kind == "story" and entry.item_id is not None:
            stored_story = await self.store.story(entry.item_id)
            if stored_story is None:
                return None, None
            story_event = StoryEvent("updated" if entry.event == "updated" else "new", stored_story)
            return story_alert(stored_story, story_event), edit_ref
        if entry.payload is not None:
            from handlers.reply import reply_from_json

            return reply_from_json(dict(entry.payload)), None
        return None, None
