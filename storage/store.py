"""The Store: every query Marquee runs, one mixin per subject, over one async engine.

Every public coroutine of the Store (the story queries included) turns a database
failure into :class:`bot.errors.StorageError`; see ``storage/_errors.py``.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable, Mapping
from datetime import datetime

from bot.http import Validator
from bot.models import PostingEvent
from storage._base import Router
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

    async def poll_not_modified(
        self,
        name: str,
        *,
        at: datetime,
        validators: Mapping[str, Validator],
        item_count: int,
        warnings: Iterable[str] = (),
        route: Router | None = None,
    ) -> list[PostingEvent]:
        """Record a successful poll whose listing is the previous one (304 or the same
        body), and :meth:`poll_succeeded` with it, in one transaction: what the last
        listing showed is still there, what it lacked is missing once more.

        Most polls of a board find it unchanged; two transactions for each cost as much
        CPU as the request itself (bench/README.md, "Unchanged re-poll").
        """
        with self._rewriting_companies():  # when postings close
            async with self._engine.begin() as conn:
                events = await self._apply_not_modified(conn, name, at=at)
                await self._route_in(conn, events, route, at=at)
                await self._poll_succeeded_in(
                    conn,
                    name,
                    at=at,
                    validators=validators,
                    listing_hash=None,
                    item_count=item_count,
                    warnings=warnings,
                    next_attempt=None,
                )
        return events


# The boundary, applied once here so no query method can forget it.
for _name, _member in inspect.getmembers(Store, inspect.iscoroutinefunction):
    if not _name.startswith("_"):
        setattr(Store, _name, storage_errors(_member))
del _name, _member
