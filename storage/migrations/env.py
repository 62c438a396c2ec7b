"""Alembic environment for Marquee, used two ways.

At run time :func:`storage.upgrade` hands over an open connection in
``config.attributes["connection"]`` (no ``alembic.ini``, no URL parsing here). For
writing a new migration by hand, ``alembic -c storage/alembic.ini revision
--autogenerate -m "..."`` connects to ``MARQUEE_DATABASE_URL`` (default: a SQLite file
in the current directory) and compares it with :data:`storage.schema.metadata`.
"""

from __future__ import annotations

import asyncio
import os

from alembic import context
from sqlalchemy.engine import Connection

from storage._migrate import include_object_for
from storage.schema import metadata

config = context.config


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        include_object=include_object_for(connection.dialect.name),
        # SQLite alters tables by copying them; batch mode lets one migration serve both.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_standalone() -> None:
    from storage._engine import create_engine

    url = config.get_main_option("sqlalchemy.url") or os.environ.get(
        "MARQUEE_DATABASE_URL", "sqlite+aiosqlite:///marquee.db"
    )
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(_run)
    finally:
        await engine.dispose()


if context.is_offline_mode():
    raise SystemExit("Marquee migrations run online only (marquee db upgrade)")

_connection = config.attributes.get("connection")
if _connection is not None:
    _run(_connection)
else:
    asyncio.run(_run_standalone())
