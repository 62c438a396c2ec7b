"""Applying the Alembic migrations, from code, at start-up and for ``marquee db upgrade``.

The migrations ship inside the package (``storage/migrations``), so they are found from
this file's location, never from the working directory, and no ``alembic.ini`` is read.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import NullPool

from storage._engine import create_engine
from storage._errors import storage_errors

__all__ = ["MIGRATIONS_DIR", "include_object_for", "upgrade", "upgrade_engine"]

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

log = logging.getLogger(__name__)

# Several instances starting at once on one PostgreSQL (issue 9) take turns: the first
# migrates, the others then find the schema at head. Any constant works; this is "Marq".
_PG_LOCK_KEY = 0x4D617271
# On SQLite they take turns on the file's write lock, each waiting the busy timeout (5 s)
# at a time: a migration on a loaded machine can take longer than that, so the others go
# on waiting this long in all.
_SQLITE_MIGRATION_WAIT = 120.0


@storage_errors
async def upgrade(url: str) -> str | None:
    """Bring the database at ``url`` to the newest schema; returns the revision it is at."""
    engine = create_engine(url, poolclass=NullPool)
    try:
        return await upgrade_engine(engine)
    finally:
        await engine.dispose()


async def upgrade_engine(engine: AsyncEngine) -> str | None:
    """Migrate through an existing engine (an in-memory SQLite lives only in its engine)."""
    deadline = time.monotonic() + _SQLITE_MIGRATION_WAIT
    while True:
        try:
            async with engine.begin() as conn:
                if conn.dialect.name == "postgresql":
                    await conn.execute(
                        text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY}
                    )
                return await conn.run_sync(_upgrade)
        except OperationalError as err:
            locked = engine.dialect.name == "sqlite" and "database is locked" in str(err)
            if not locked or time.monotonic() > deadline:
                raise
            log.info("the database is locked (another process migrating it?): waiting")
            await asyncio.sleep(0.1)  # the busy timeout did the waiting; this is a breath


def _upgrade(connection: Connection) -> str | None:
    config = Config()
    # configparser would read a "%" in the install path as interpolation
    config.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    config.attributes["connection"] = connection
    command.upgrade(config, "head")
    return MigrationContext.configure(connection).get_current_revision()


def include_object_for(dialect: str) -> Callable[..., bool]:
    """Alembic ``include_object`` hook: skip the other engine's per-engine indexes
    (marked ``info["dialect"]`` in storage/schema.py) when comparing with a database."""

    def include_object(obj: Any, name: Any, kind: str, reflected: bool, compare_to: Any) -> bool:
        only = None if reflected else getattr(obj, "info", {}).get("dialect")
        return only is None or only == dialect

    return include_object
