"""The outbox (every alert before delivery), digest records, and small key/value meta.

Delivery claims due rows with a lease: a worker that dies mid-send leaves its rows to
be claimed again when the lease runs out. Claims keep each channel's order: a row is
not handed out while an earlier pending row of its channel is claimed or waiting for a
retry, so an edit never overtakes the message it edits.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import replace
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, func, literal, literal_column, not_, or_, select, text, update

from bot.models import OutboxEntry, OutboxRow
from storage._base import StoreBase, utcnow
from storage.schema import digests_sent, meta, outbox, postings

__all__ = ["MetaQueries", "OutboxQueries"]

_MAX_ERROR = 2000

# Inline, not a bound parameter: the partial indexes on pending rows (storage/schema.py)
# are only used when the query states their condition literally.
_PENDING = literal_column("'pending'")

# Claims on PostgreSQL take turns (one short transaction each) so two instances cannot
# split one channel's rows between them; SKIP LOCKED still steps over rows a concurrent
# mark_sent is updating. "Mrqo".
_PG_CLAIM_LOCK = 0x4D72716F


def _row(row: Any) -> OutboxRow:
    entry = OutboxEntry(
        channel=row.channel,
        item_kind=row.item_kind,
        event=row.event,
        dedupe_key=row.dedupe_key,
        item_id=row.item_id,
        subscription_id=row.subscription_id,
        payload=row.payload,
    )
    return OutboxRow(
        id=row.id,
        entry=entry,
        status=row.status,
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        created_at=row.created_at,
        message_ref=row.message_ref,
        last_error=row.last_error,
    )


class OutboxQueries(StoreBase):
    async def enqueue(self, entries: Iterable[OutboxEntry], *, at: datetime | None = None) -> int:
        """Queue alerts, due at ``at`` (now); returns how many were new (duplicates of a
        queued ``dedupe_key`` are ignored)."""
        at = at or utcnow()
        async with self._engine.begin() as conn:
            return await self._enqueue_in(conn, entries, at=at)

    async def claim_due(
        self,
        *,
        now: datetime,
        limit: int = 50,
        worker: str = "local",
        lease_seconds: float = 60,
        platforms: Collection[str] | None = None,
    ) -> list[OutboxRow]:
        """Claim up to ``limit`` due rows for ``worker`` for ``lease_seconds``, oldest
        first, keeping each channel's order. ``platforms`` limits the channels
        (``"discord"``, ``"slack"``, ...)."""
        if platforms is not None and not platforms:
            return []
        earlier = outbox.alias("earlier")
        blocked = (
            select(literal(1))
            .where(
                earlier.c.channel == outbox.c.channel,
                earlier.c.status == _PENDING,
                earlier.c.id < outbox.c.id,
                or_(earlier.c.next_attempt_at > now, earlier.c.claimed_until > now),
            )
            .exists()
        )
        stmt = (
            select(outbox)
            .where(
                outbox.c.status == _PENDING,
                outbox.c.next_attempt_at <= now,
                or_(outbox.c.claimed_until.is_(None), outbox.c.claimed_until <= now),
                ~blocked,
            )
            .order_by(outbox.c.id)
            .limit(max(0, int(limit)))
        )
        if platforms is not None:
            stmt = stmt.where(
                or_(*(outbox.c.channel.startswith(f"{p}:", autoescape=True) for p in platforms))
            )
        if self.dialect == "postgresql":
            stmt = stmt.with_for_update(skip_locked=True, of=outbox)
        until = now + timedelta(seconds=lease_seconds)
        async with self._engine.begin() as conn:
            if self.dialect == "postgresql":
                await conn.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_CLAIM_LOCK}
                )
            rows = (await conn.execute(stmt)).all()
            if not rows:
                return []
            await conn.execute(
                update(outbox)
                .where(outbox.c.id.in_([row.id for row in rows]))
                .values(claimed_by=worker, claimed_until=until, attempts=outbox.c.attempts + 1)
            )
        return [replace(_row(row), attempts=row.attempts + 1) for row in rows]

    async def renew_claims(self, row_ids: Collection[int], *, worker: str, until: datetime) -> int:
        """Extend ``worker``'s claim on pending rows to ``until`` (a heartbeat while it
        delivers them, so the lease can be short and a dead worker's rows come back
        soon); returns how many it still held."""
        if not row_ids:
            return 0
        stmt = (
            update(outbox)
            .where(
                outbox.c.id.in_(sorted(row_ids)),
                outbox.c.claimed_by == worker,
                outbox.c.status == "pending",
            )
            .values(claimed_until=until)
        )
        async with self._engine.begin() as conn:
            return (await conn.execute(stmt)).rowcount

    async def mark_sent(self, row_id: int, *, at: datetime, message_ref: str | None) -> None:
        """The platform accepted the alert: never send it again."""
        await self._finish(
            row_id,
            status="sent",
            sent_at=at,
            message_ref=message_ref,
            last_error=None,
        )

    async def mark_retry(self, row_id: int, *, error: str, retry_at: datetime) -> None:
        """The attempt failed for now: hand the row out again at ``retry_at``."""
        await self._finish(
            row_id, status="pending", next_attempt_at=retry_at, last_error=str(error)[:_MAX_ERROR]
        )

    async def mark_failed(self, row_id: int, *, error: str) -> None:
        """The alert can never be delivered as is: stop trying."""
        await self._finish(row_id, status="failed", last_error=str(error)[:_MAX_ERROR])

    async def _finish(self, row_id: int, **values: Any) -> None:
        # Only a pending row: a worker whose claim ran out (stalled past its lease) may
        # answer after another worker sent the row, and its late retry or failure must
        # not undo that (the row would go out again). Its own late "sent" of a row now
        # claimed elsewhere still counts: the platform has it.
        stmt = (
            update(outbox)
            .where(outbox.c.id == row_id, outbox.c.status == _PENDING)
            .values(claimed_by=None, claimed_until=None, **values)
        )
        async with self._engine.begin() as conn:
            await conn.execute(stmt)

    async def outbox_row(self, row_id: int) -> OutboxRow | None:
        """One outbox row by id."""
        async with self._reader.connect() as conn:
            row = (await conn.execute(select(outbox).where(outbox.c.id == row_id))).first()
        return _row(row) if row is not None else None

    async def message_ref_for(self, channel: str, item_kind: str, item_id: int) -> str | None:
        """The platform reference of the 'new' alert sent for an item in ``channel``."""
        stmt = (
            select(outbox.c.message_ref)
            .where(
                outbox.c.item_kind == item_kind,
                outbox.c.item_id == item_id,
                outbox.c.channel == channel,
                outbox.c.event == "new",
                outbox.c.status == "sent",
                outbox.c.message_ref.is_not(None),
            )
            .order_by(outbox.c.id)
            .limit(1)
        )
        async with self._reader.connect() as conn:
            return await conn.scalar(stmt)

    async def outbox_backlog(self) -> int:
        """How many alerts wait for delivery (pending, due or not)."""
        stmt = select(func.count()).select_from(outbox).where(outbox.c.status == _PENDING)
        async with self._reader.connect() as conn:
            return int(await conn.scalar(stmt) or 0)

    async def purge_outbox(self, *, before: datetime) -> int:
        """Delete settled alerts (sent, or failed for good) queued before ``before``;
        returns how many. The "new" alert of a posting still open is kept whatever its
        age: it is the message a pay change or the closing edits."""
        still_edited = and_(
            outbox.c.item_kind == "posting",
            outbox.c.event == "new",
            outbox.c.item_id.in_(select(postings.c.id).where(postings.c.status == "open")),
        )
        stmt = delete(outbox).where(
            outbox.c.status.in_(("sent", "failed")),
            outbox.c.created_at < before,
            not_(still_edited),
        )
        async with self._engine.begin() as conn:
            result = await conn.execute(stmt)
        return int(result.rowcount or 0)

    # -- digests ----------------------------------------------------------------------

    async def claim_digest(
        self,
        subscription_id: int,
        local_date: date,
        *,
        at: datetime,
        entry: OutboxEntry | None = None,
    ) -> bool:
        """Record that the digest of ``local_date`` goes out; ``True`` only for the first
        caller. ``entry``, if given, is queued in the same transaction as the claim."""
        stmt = (
            self._insert(digests_sent)
            .values(subscription_id=subscription_id, local_date=local_date, sent_at=at)
            .on_conflict_do_nothing(
                index_elements=[digests_sent.c.subscription_id, digests_sent.c.local_date]
            )
            .returning(digests_sent.c.subscription_id)
        )
        async with self._engine.begin() as conn:
            claimed = (await conn.execute(stmt)).first() is not None
            if claimed and entry is not None:
                await self._enqueue_in(conn, [entry], at=at)
        return claimed

    async def digest_sent(self, subscription_id: int, local_date: date) -> bool:
        """Whether the digest of ``local_date`` was claimed already."""
        stmt = select(digests_sent.c.sent_at).where(
            digests_sent.c.subscription_id == subscription_id,
            digests_sent.c.local_date == local_date,
        )
        async with self._reader.connect() as conn:
            return (await conn.execute(stmt)).first() is not None


class MetaQueries(StoreBase):
    async def get_meta(self, key: str) -> str | None:
        """A small stored value (e.g. the hash of the registered commands)."""
        async with self._reader.connect() as conn:
            return await conn.scalar(select(meta.c.value).where(meta.c.key == key))

    async def set_meta(self, key: str, value: str) -> None:
        """Store ``value`` under ``key``, replacing any previous one."""
        stmt = self._insert(meta).values(key=key, value=value)
        stmt = stmt.on_conflict_do_update(index_elements=[meta.c.key], set_={"value": value})
        async with self._engine.begin() as conn:
            await conn.execute(stmt)
