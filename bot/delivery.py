"""The delivery worker: outbox rows → rendered alerts → platforms.

A row is marked sent only after the platform accepted the message, so a crash between
sending and marking may resend; the idempotency key (stable per row) lets Discord
drop the duplicate. Updates and closures edit the original alert when its message
reference is known, else they are sent as new messages. A permanent platform error
pauses the channel's subscriptions with the reason; a transient one retries with
backoff.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta

from bot.errors import PermanentDeliveryError, TransientDeliveryError
from bot.models import OutboxRow, PostingEvent, StoryEvent
from bot.platforms.base import Platform, split_channel
from handlers.alerts import posting_alert, story_alert
from handlers.reply import Reply
from storage import Store

__all__ = ["Delivery", "idempotency_key"]

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 12


def idempotency_key(row: OutboxRow) -> str:
    """Stable for one outbox row and at most 25 characters (Discord's nonce limit)."""
    return f"mq{row.id}"[:25]


def _utcnow() -> datetime:
    return datetime.now(UTC)


class Delivery:
    """Drains the outbox into the configured platforms."""

    def __init__(
        self,
        store: Store,
        platforms: Mapping[str, Platform],
        *,
        worker: str = "local",
        batch: int = 50,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self.store = store
        self.platforms = dict(platforms)
        self.worker = worker
        self.batch = batch
        self._clock = clock
        self.wakeup = asyncio.Event()

    async def run_once(self) -> int:
        """Deliver every row due now; returns how many were sent."""
        sent = 0
        while True:
            rows = await self.store.claim_due(
                now=self._clock(),
                limit=self.batch,
                worker=self.worker,
                platforms=tuple(self.platforms),
            )
            if not rows:
                return sent
            for row in rows:
                sent += await self._deliver(row)

    async def run_forever(self, stop: asyncio.Event, *, idle: float = 5.0) -> None:
        """Deliver until ``stop`` is set; wakes early when ``wakeup`` is set."""
        while not stop.is_set():
            try:
                await self.run_once()
            except Exception:  # a storage outage must not kill the worker
                log.exception("delivery cycle failed; retrying")
            self.wakeup.clear()
            waiters = [
                asyncio.ensure_future(stop.wait()),
                asyncio.ensure_future(self.wakeup.wait()),
            ]
            await asyncio.wait(waiters, timeout=idle, return_when=asyncio.FIRST_COMPLETED)
            for w in waiters:
                w.cancel()

    async def _deliver(self, row: OutboxRow) -> int:
        entry = row.entry
        platform_name, channel_id = split_channel(entry.channel)
        platform = self.platforms.get(platform_name)
        if platform is None:
            await self.store.mark_retry(
                row.id,
                error=f"platform {platform_name} not running",
                retry_at=self._clock() + timedelta(minutes=5),
            )
            return 0
        reply, edit_ref = await self._reply(row)
        if entry.event in ("updated", "closed") and edit_ref is None:
            # Nothing to edit: this channel was never alerted about the item (it was in a
            # source's baseline, or matched no subscription then). An edit of an alert
            # nobody saw would be noise, so the row is settled without a message.
            await self.store.mark_sent(row.id, at=self._clock(), message_ref=None)
            return 0
        if reply is None:
            await self.store.mark_failed(row.id, error="the item no longer exists")
            return 0
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
            await self._retry(row, str(err), err.retry_after)
            return 0
        except PermanentDeliveryError as err:
            await self.store.mark_failed(row.id, error=str(err))
            paused = await self.store.pause_channel(entry.channel, str(err))
            log.warning(
                "delivery to %s failed for good (%s); paused %d subscription(s)",
                entry.channel,
                err,
                paused,
            )
            return 0
        await self.store.mark_sent(row.id, at=self._clock(), message_ref=ref)
        return 1

    async def _retry(self, row: OutboxRow, error: str, retry_after: float | None) -> None:
        if row.attempts + 1 >= MAX_ATTEMPTS:
            await self.store.mark_failed(
                row.id, error=f"gave up after {row.attempts + 1} attempts: {error}"
            )
            return
        delay = min(3600.0, 5.0 * 2**row.attempts)
        if retry_after is not None:
            delay = max(delay, retry_after)
        await self.store.mark_retry(
            row.id, error=error, retry_at=self._clock() + timedelta(seconds=delay)
        )

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
