"""A PostgreSQL database of the bench's own: created fresh, dropped after.

The server is the local one the tests use (``postgresql://postgres@127.0.0.1:5432``,
trust auth; ``MARQUEE_BENCH_PG`` overrides). When it cannot be reached the PostgreSQL
figures are skipped with the reason, and the SQLite ones still run.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator

__all__ = ["PG_SERVER", "fresh_database", "reachable"]

PG_SERVER = os.environ.get("MARQUEE_BENCH_PG", "postgresql://postgres@127.0.0.1:5432")


async def reachable() -> str | None:
    """``None`` when the server answers, else why not (for the skip note)."""
    import asyncpg

    try:
        conn = await asyncpg.connect(f"{PG_SERVER}/postgres", timeout=5)
    except (OSError, asyncpg.PostgresError, TimeoutError) as err:
        where = PG_SERVER.rsplit("@", 1)[-1]
        return f"PostgreSQL at {where} unreachable ({type(err).__name__}: {err})"
    await conn.close()
    return None


@contextlib.asynccontextmanager
async def fresh_database(name: str) -> AsyncIterator[str]:
    """Create database ``name`` (dropping a leftover), yield its SQLAlchemy URL, drop it."""
    import asyncpg

    admin = await asyncpg.connect(f"{PG_SERVER}/postgres", timeout=10)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"')
        url = PG_SERVER.replace("postgresql://", "postgresql+asyncpg://", 1)
        yield f"{url}/{name}"
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
