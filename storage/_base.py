"""What every group of queries shares: the engine, the dialect, and the outbox insert.

The Store is assembled from one mixin per subject (sources, postings, stories,
subscriptions, outbox); each reaches the database through the attributes defined here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar

from sqlalchemy import Table
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.models import OutboxEntry, PostingEvent, StoryEvent
from storage._engine import one_writer, reader
from storage.schema import outbox

__all__ = ["Router", "StoreBase", "chunks", "utcnow"]

Router = Callable[[Sequence[PostingEvent | StoryEvent]], Iterable[OutboxEntry]]
"""Turns a poll's events into outbox entries (matching); runs inside the poll's transaction."""

T = TypeVar("T")

# Rows per IN (...) list or multi-row statement: far below SQLite's and asyncpg's
# parameter limits (32766 / 32767) even for wide rows.
CHUNK = 500


def utcnow() -> datetime:
    return datetime.now(UTC)


def chunks(items: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class StoreBase:
    """The engine and helpers; see :class:`storage.store.Store` for the public API."""

    _engine: AsyncEngine
    _reader: AsyncEngine
    dialect: Literal["sqlite", "postgresql"]

    def __init__(self, engine: AsyncEngine) -> None:
        name = engine.dialect.name
        if name not in ("sqlite", "postgresql"):
            raise ValueError(f"unsupported database dialect {name!r}")
        # Write transactions (BEGIN IMMEDIATE on SQLite, one at a time in this process);
        # see storage/_engine.py.
        self._engine = one_writer(engine) if name == "sqlite" else engine
        # The same pool, for transactions that only read.
        self._reader = reader(engine)
        self.dialect = name  # type: ignore[assignment]

    def _insert(self, table: Table) -> Any:
        """``INSERT`` with this dialect's ``on_conflict_do_nothing/do_update``."""
        return pg_insert(table) if self.dialect == "postgresql" else sqlite_insert(table)

    async def _enqueue_in(
        self, conn: AsyncConnection, entries: Iterable[OutboxEntry], *, at: datetime
    ) -> int:
        """Queue ``entries`` inside ``conn``'s transaction; duplicates of a queued
        ``dedupe_key`` are skipped. Returns how many were newly queued."""
        rows = [
            {
                "dedupe_key": entry.dedupe_key,
                "channel": entry.channel,
                "item_kind": entry.item_kind,
                "item_id": entry.item_id,
                "event": entry.event,
                "subscription_id": entry.subscription_id,
                "payload": dict(entry.payload) if entry.payload is not None else None,
                "status": "pending",
                "attempts": 0,
                "next_attempt_at": at,
                "created_at": at,
            }
            for entry in entries
        ]
        queued = 0
        for batch in chunks(rows):
            stmt = (
                self._insert(outbox)
                .on_conflict_do_nothing(index_elements=[outbox.c.dedupe_key])
                .returning(outbox.c.id)
            )
            result = await conn.execute(stmt, list(batch))
            queued += len(result.all())
        return queued

    async def _route_in(
        self,
        conn: AsyncConnection,
        events: Sequence[PostingEvent | StoryEvent],
        route: Router | None,
        *,
        at: datetime,
    ) -> int:
        """Run ``route`` on a poll's events and queue its entries in the same transaction,
        so an event is recorded if and only if its alerts are queued."""
        if route is None or not events:
            return 0
        return await self._enqueue_in(conn, route(events), at=at)
