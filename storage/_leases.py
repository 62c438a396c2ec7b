"""Polling leases (issue 9): which instance polls a source right now, and until when.

A lease lives on the source's ``source_state`` row (``lease_owner``, ``lease_until``).
Taking it (:meth:`SourceQueries.acquire_source_lease`) is one atomic upsert whose
``WHERE`` admits only a free, expired or already-owned lease, so on PostgreSQL and on
SQLite exactly one of several instances wins. The holder renews it while its poll
runs; an instance that dies stops renewing, the lease runs out and the next instance
that finds the source due takes it over.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update

from storage._base import StoreBase
from storage.schema import source_state

__all__ = ["LeaseQueries", "SourceLease"]


@dataclass(frozen=True, slots=True)
class SourceLease:
    """A live lease: ``owner`` polls source ``name`` until ``until`` unless it renews."""

    name: str
    owner: str
    until: datetime


class LeaseQueries(StoreBase):
    async def renew_source_lease(self, name: str, *, owner: str, until: datetime) -> bool:
        """Extend ``owner``'s lease on ``name`` to ``until``; ``False`` when ``owner`` no
        longer holds it (it ran out and another instance took it, or it was released)."""
        stmt = (
            update(source_state)
            .where(source_state.c.name == name, source_state.c.lease_owner == owner)
            .values(lease_until=until)
        )
        async with self._engine.begin() as conn:
            return (await conn.execute(stmt)).rowcount > 0

    async def source_leases(self, *, now: datetime) -> list[SourceLease]:
        """The leases live at ``now``, by source name (for ``/healthz``)."""
        stmt = (
            select(source_state.c.name, source_state.c.lease_owner, source_state.c.lease_until)
            .where(source_state.c.lease_owner.is_not(None), source_state.c.lease_until > now)
            .order_by(source_state.c.name)
        )
        async with self._reader.connect() as conn:
            rows = await conn.execute(stmt)
            return [SourceLease(row.name, row.lease_owner, row.lease_until) for row in rows]
