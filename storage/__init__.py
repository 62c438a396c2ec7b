"""Marquee's storage: schema, migrations and every query, on SQLite or PostgreSQL.

::

    async with open_store("sqlite+aiosqlite:///marquee.db") as store:
        events = await store.apply_postings(source, fresh, at=now, baseline=False, route=match)

Database failures surface as :class:`bot.errors.StorageError`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from storage._base import Router
from storage._engine import create_engine
from storage._errors import translate
from storage._installations import SlackInstallation
from storage._leases import SourceLease
from storage._listings import SalaryStats
from storage._migrate import upgrade, upgrade_engine
from storage.store import Store

__all__ = [
    "Router",
    "SalaryStats",
    "SlackInstallation",
    "SourceLease",
    "Store",
    "open_store",
    "upgrade",
]


@asynccontextmanager
async def open_store(url: str, *, upgrade: bool = True) -> AsyncIterator[Store]:
    """Open the database at ``url`` (migrating it to the newest schema unless told not
    to) and close it on exit."""
    engine = create_engine(url)
    try:
        if upgrade:
            try:
                await upgrade_engine(engine)
            except Exception as err:
                wrapped = translate(err)
                if wrapped is None:
                    raise
                raise wrapped from err
        yield Store(engine)
    finally:
        await engine.dispose()
