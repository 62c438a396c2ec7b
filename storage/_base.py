"""What every group of queries shares: the engine, the dialect, and the outbox insert.

The Store is assembled from one mixin per subject (sources, postings, stories,
subscriptions, outbox); each reaches the database through the attributes defined here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Literal, TypeVar

from sqlalchemy import ColumnElement, Dialect, Table, TableClause, column, func, select, table
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.models import OutboxEntry, PostingEvent, StoryEvent
from storage._engine import one_writer, reader
from storage.schema import CleanString, clean_text, outbox

__all__ = [
    "BoundInsert",
    "Router",
    "StoreBase",
    "bound_insert",
    "chunks",
    "column_binder",
    "utcnow",
]

Router = Callable[[Sequence[PostingEvent | StoryEvent]], Iterable[OutboxEntry]]
"""Turns a poll's events into outbox entries (matching); runs inside the poll's transaction."""

T = TypeVar("T")

# Rows per IN (...) list or multi-row statement: far below SQLite's and asyncpg's
# parameter limits (32766 / 32767) even for wide rows.
CHUNK = 500


# The outbox row as :meth:`StoreBase._enqueue_in` writes it, through a table without
# types: the values are bound already (see there).
_OUTBOX_COLUMNS = (
    "dedupe_key",
    "channel",
    "item_kind",
    "item_id",
    "event",
    "subscription_id",
    "payload",
    "status",
    "attempts",
    "next_attempt_at",
    "created_at",
)
_PG_OUTBOX_INSERT = (
    pg_insert(table("outbox", *(column(name) for name in _OUTBOX_COLUMNS)))
    .on_conflict_do_nothing(index_elements=["dedupe_key"])
    .returning(column("id"))
)


@dataclass(frozen=True, slots=True)
class BoundInsert:
    """An ``INSERT`` compiled once for one dialect, in its own SQL and parameter style,
    and how a row's values become the driver's tuple for it.

    For the statements that write many rows a poll (postings, outbox): the rows go to
    the driver's ``executemany`` as they are, where SQLAlchemy would build and process
    each row's parameters again (~13 % of the event loop's samples in a cold poll of
    100 boards, py-spy --gil: most of its time in SQLAlchemy).
    ``bind`` runs each value through its column's own type, as SQLAlchemy would.
    """

    sql: str
    columns: tuple[str, ...]
    binders: tuple[Callable[[Any], Any] | None, ...]

    def bind(
        self, rows: Iterable[Mapping[str, Any]], same: Mapping[str, Any] | None = None
    ) -> list[tuple[Any, ...]]:
        """The driver's parameters for ``rows``; ``same`` holds the values every row
        shares (bound once), each row the others."""
        fixed = {}
        for name, value in (same or {}).items():
            bind = self.binders[self.columns.index(name)]
            fixed[name] = value if bind is None or value is None else bind(value)
        plan = [
            (name, fixed.get(name, _VARIES), bind)
            for name, bind in zip(self.columns, self.binders, strict=True)
        ]
        return [
            tuple(
                [
                    given
                    if given is not _VARIES
                    else value
                    if (value := row[name]) is None or bind is None
                    else bind(value)
                    for name, given, bind in plan
                ]
            )
            for row in rows
        ]


_VARIES = object()


def bound_insert(
    dialect: Dialect,
    target: Table,
    columns: Sequence[str],
    conflict: Callable[[Any, TableClause], Any],
) -> BoundInsert:
    """``INSERT INTO target (columns...)`` with the ``ON CONFLICT`` clause ``conflict``
    adds (given the dialect's insert and the typeless table), for ``dialect``."""
    row = table(target.name, *(column(name) for name in columns))
    insert = pg_insert if dialect.name == "postgresql" else sqlite_insert
    compiled = conflict(insert(row), row).compile(dialect=dialect, column_keys=list(columns))
    if tuple(compiled.positiontup or ()) != tuple(columns):
        raise RuntimeError(f"unexpected parameter order {compiled.positiontup}")
    return BoundInsert(
        str(compiled), tuple(columns), tuple(_binder(target.c[name], dialect) for name in columns)
    )


def _binder(col: ColumnElement[Any], dialect: Dialect) -> Callable[[Any], Any] | None:
    """``col``'s bind processing on ``dialect`` for a value that is not None (the
    cleaned strings without their type's indirection: the most common by far)."""
    if (
        isinstance(col.type, CleanString)
        and col.type.dialect_impl(dialect).impl_instance.bind_processor(dialect) is None
    ):
        return _clean
    return col.type.dialect_impl(dialect).bind_processor(dialect)


def _clean(value: Any) -> Any:
    return clean_text(value) if isinstance(value, str) else value


def column_binder(col: ColumnElement[Any], dialect: Dialect) -> Callable[[Any], Any]:
    """What ``col``'s type makes of a value before the driver gets it on ``dialect``."""
    process = col.type.dialect_impl(dialect).bind_processor(dialect)
    return process if process is not None else (lambda value: value)


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
    # The company list as ListingQueries.company_names last read it: (epoch, when, names).
    # The epoch moves once a write transaction that rewrote source_companies has ended.
    _company_names: tuple[int, float, tuple[str, ...]] | None = None
    _company_epoch = 0
    _company_rewrites = 0  # source_companies rewritten (PostingQueries._refresh_companies)

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
        dialect = engine.dialect
        self._outbox_sql = bound_insert(
            dialect,
            outbox,
            _OUTBOX_COLUMNS,
            lambda insert, _row: insert.on_conflict_do_nothing(index_elements=["dedupe_key"]),
        ).sql
        self._outbox_time = column_binder(outbox.c.created_at, dialect)
        self._outbox_json = column_binder(outbox.c.payload, dialect)

    @contextmanager
    def _rewriting_companies(self) -> Iterator[None]:
        """Around a write transaction that may rewrite source_companies: when it did,
        the epoch of the company list moves once the transaction has ended, so neither
        the list read before it nor one read during it is used again."""
        before = self._company_rewrites
        try:
            yield
        finally:
            if self._company_rewrites != before:
                self._company_epoch += 1

    def _insert(self, table: Table) -> Any:
        """``INSERT`` with this dialect's ``on_conflict_do_nothing/do_update``."""
        return pg_insert(table) if self.dialect == "postgresql" else sqlite_insert(table)

    async def _enqueue_in(
        self, conn: AsyncConnection, entries: Iterable[OutboxEntry], *, at: datetime
    ) -> int:
        """Queue ``entries`` inside ``conn``'s transaction; duplicates of a queued
        ``dedupe_key`` are skipped. Returns how many were newly queued."""
        # A cold poll queues ~3.5 alerts a posting: bound through the table's types, each
        # row cost ~35 us (two timestamps and five cleaned strings processed per row, the
        # parameters built per row). Values are prepared here instead, the timestamp and
        # each distinct payload once through the column's own type, and the rows go to
        # the driver as tuples of one statement compiled once (~6 us a row).
        when = self._outbox_time(at)
        to_json = self._outbox_json
        payloads: dict[int, Any] = {}
        rows = []
        for entry in entries:
            payload = entry.payload
            if payload is not None:
                key = id(payload)
                if key not in payloads:
                    payloads[key] = to_json(dict(payload))
                payload = payloads[key]
            rows.append(
                (
                    clean_text(entry.dedupe_key),
                    clean_text(entry.channel),
                    clean_text(entry.item_kind),
                    entry.item_id,
                    clean_text(entry.event),
                    entry.subscription_id,
                    payload,
                    "pending",
                    0,
                    when,
                    when,
                )
            )
        if not rows:
            return 0
        if self.dialect == "sqlite":
            # sqlite3 sums the rows each execution inserted (a skipped duplicate is 0).
            result = await conn.exec_driver_sql(self._outbox_sql, rows)
            return int(result.rowcount)
        # asyncpg's executemany reports no count: one multi-row statement per chunk,
        # the inserted rows' ids returned and counted.
        queued = 0
        for batch in chunks(rows):
            result = await conn.execute(
                _PG_OUTBOX_INSERT,
                [dict(zip(_OUTBOX_COLUMNS, row, strict=True)) for row in batch],
            )
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
        events = await self._with_alerted(conn, events)
        return await self._enqueue_in(conn, route(events), at=at)

    async def _with_alerted(
        self, conn: AsyncConnection, events: Sequence[PostingEvent | StoryEvent]
    ) -> Sequence[PostingEvent | StoryEvent]:
        """``events`` with each posting update and closure naming the channels that hold
        (or are about to get) the posting's alert: a channel whose subscription matched
        when the posting was new may match no longer (a pay cut below its minimum, then
        a closure), and its alert must still show the posting closed."""
        edits = {e.posting.id for e in events if _is_edit(e)}
        if not edits:
            return events
        alerted: dict[int, dict[str, int | None]] = {}
        for batch in chunks(sorted(edits)):
            rows = await conn.execute(
                select(outbox.c.item_id, outbox.c.channel, func.min(outbox.c.subscription_id))
                .where(
                    outbox.c.item_kind == "posting",
                    outbox.c.item_id.in_(batch),
                    outbox.c.event == "new",
                    outbox.c.status.in_(("sent", "pending")),
                )
                .group_by(outbox.c.item_id, outbox.c.channel)
            )
            for item_id, channel, subscription_id in rows:
                alerted.setdefault(item_id, {})[channel] = subscription_id
        return [
            replace(e, alerted=tuple(sorted(alerted[e.posting.id].items())))
            if _is_edit(e) and e.posting.id in alerted
            else e
            for e in events
        ]


def _is_edit(event: PostingEvent | StoryEvent) -> bool:
    """A posting update or closure: it edits the alerts sent about the posting."""
    return isinstance(event, PostingEvent) and event.kind in ("updated", "closed")
