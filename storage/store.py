"""The Store: every query Marquee runs, one mixin per subject, over one async engine.

Every public coroutine of the Store (the story queries included) turns a database
failure into :class:`bot.errors.StorageError`; see ``storage/_errors.py``.
"""

from __future__ import annotations

import inspect

from storage._errors import storage_errors
from storage._installations import InstallationQueries
from storage._leases import LeaseQueries
from storage._listings import ListingQueries
from storage._outbox import MetaQueries, OutboxQueries
from storage._postings import PostingQueries
from storage._sources import SourceQueries
from storage._subscriptions import SubscriptionQueries
from storage.stories import StoryQueries

__all__ = ["Store"]


class Store(
    SourceQueries,
    PostingQueries,
    ListingQueries,
    StoryQueries,
    SubscriptionQueries,
    OutboxQueries,
    MetaQueries,
    LeaseQueries,
    InstallationQueries,
):
    """Marquee's database: SQLite (aiosqlite) or PostgreSQL (asyncpg).

    Build it with :func:`storage.open_store`. ``_engine`` is the
    :class:`~sqlalchemy.ext.asyncio.AsyncEngine` (write transactions), ``_reader`` the
    same pool for read-only ones, ``dialect`` is ``"sqlite"`` or ``"postgresql"``.
    """


# The boundary, applied once here so no query method can forget it.
for _name, _member in inspect.getmembers(Store, inspect.iscoroutinefunction):
    if not _name.startswith("_"):
        setattr(Store, _name, storage_errors(_member))
del _name, _member
