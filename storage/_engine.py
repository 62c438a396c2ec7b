"""Creating the async engine, with the per-engine settings Marquee relies on.

SQLite (aiosqlite): WAL so readers never wait for the poller's writes, a busy timeout so
a second writer waits instead of failing at once, foreign keys on. SQLAlchemy emits
``BEGIN`` itself (the driver's legacy transaction control is off): a transaction that
writes starts with ``BEGIN IMMEDIATE``, taking the write lock up front, because a
read-then-write transaction that upgrades its lock late fails with "database is locked"
without waiting for the busy timeout. Read-only queries run on :func:`reader` and start a
plain deferred ``BEGIN``, so they never queue behind a writer.

Within one process, SQLite write transactions also take turns on an asyncio lock
(:func:`one_writer`): with several sources polled at once, writers queued in SQLite's
busy handler gave up after the busy timeout ("database is locked") once a poll's
transactions added up to more than that, failing the whole poll cycle (measured with
``python -m bench``: 500 boards, eight at a time). Queued on the lock they wait their
turn without a deadline and without the busy handler's sleep-and-retry; the busy
timeout still governs other processes sharing the file.

PostgreSQL (asyncpg): a pinged pool, so a connection lost while idle is replaced.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

__all__ = ["BUSY_TIMEOUT_MS", "WAL_AUTOCHECKPOINT_PAGES", "create_engine", "one_writer", "reader"]

BUSY_TIMEOUT_MS = 5000

# Prepared statements the sqlite3 module keeps per connection (its default is 128).
# Multi-row inserts and IN lists of every length are distinct statements, the large ones
# hundreds of KB each, so with the default a poller's memory grew with every board it
# stored: peak RSS of a cold poll of 500 boards x 40 postings (``python -m bench`` data)
# 185 -> 127 MB at 16, at the same CPU time.
STATEMENT_CACHE = 16

# Pages the write-ahead log grows to before a commit copies them into the database file
# (SQLite's default is 1,000, 4 MB). A poll's commit writes every page it touched to
# the log, and the outbox's indexes on dedupe key and channel take each alert at a
# scattered place, so a cold poll's commits are hundreds of pages each and the default
# checkpointed every few commits, copying the same hot pages into the database again
# and fsyncing. At 10,000 pages (a log of up to 40 MB on disk) a page is copied once
# per checkpoint however many commits changed it: 30,000 postings with 3.5 alerts each
# through apply_postings, back to back on a loaded machine, 3.93 / 3.93 -> 3.71 /
# 3.46 s of CPU (system time 1.21-1.33 -> 1.04 s).
WAL_AUTOCHECKPOINT_PAGES = 10_000

# Execution option naming a read-only transaction (see the module docstring).
_READ_ONLY = "marquee_read_only"


def create_engine(
    url: str, *, busy_timeout_ms: int = BUSY_TIMEOUT_MS, **kwargs: Any
) -> AsyncEngine:
    """An :class:`AsyncEngine` for ``url`` (``sqlite+aiosqlite://`` or ``postgresql+asyncpg://``)."""
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if parsed.get_driver_name() != "aiosqlite":
            parsed = parsed.set(drivername="sqlite+aiosqlite")
        connect_args = dict(kwargs.pop("connect_args", None) or {})
        connect_args.setdefault("cached_statements", STATEMENT_CACHE)
        engine = create_async_engine(parsed, connect_args=connect_args, **kwargs)
        _configure_sqlite(engine, busy_timeout_ms)
        return engine
    if backend == "postgresql":
        if parsed.get_driver_name() != "asyncpg":
            parsed = parsed.set(drivername="postgresql+asyncpg")
        kwargs.setdefault("pool_pre_ping", True)
        return create_async_engine(parsed, **kwargs)
    raise ValueError(
        f"unsupported database URL scheme {parsed.drivername!r} (sqlite or postgresql)"
    )


def reader(engine: AsyncEngine) -> AsyncEngine:
    """The same engine (same pool), marked so its transactions only read."""
    return engine.execution_options(**{_READ_ONLY: True})


class _OneWriter:
    """An :class:`AsyncEngine` whose ``begin()`` transactions run one at a time in this
    process; everything else is the engine's own."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._wrapped = engine
        self._turn = asyncio.Lock()

    @asynccontextmanager
    async def begin(self) -> AsyncIterator[Any]:
        async with self._turn, self._wrapped.begin() as conn:
            yield conn

    def __getattr__(self, name: str) -> Any:
        return getattr(self._wrapped, name)


def one_writer(engine: AsyncEngine) -> AsyncEngine:
    """``engine`` with its write transactions (``begin()``) taking turns in this process."""
    return _OneWriter(engine)  # type: ignore[return-value]


def _configure_sqlite(engine: AsyncEngine, busy_timeout_ms: int) -> None:
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # SQLAlchemy's documented recipe: let it emit BEGIN (see _on_begin).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
            cursor.execute("PRAGMA foreign_keys=ON")
            # Durable against a killed process in WAL mode; only an OS crash or power
            # loss can drop the last commits. Saves an fsync per transaction.
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute(f"PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT_PAGES}")
        finally:
            cursor.close()

    @event.listens_for(sync_engine, "begin")
    def _on_begin(conn: Connection) -> None:
        if conn.get_execution_options().get(_READ_ONLY):
            conn.exec_driver_sql("BEGIN")
        else:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
