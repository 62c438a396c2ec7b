"""Polling leases (issue 9): which instance polls a source right now, and until when;
and rate shares: which instances send with one Discord bot token.

A lease lives on the source's ``source_state`` row (``lease_owner``, ``lease_until``).
Taking it (:meth:`SourceQueries.acquire_source_lease`) is one atomic upsert whose
``WHERE`` admits only a free, expired or already-owned lease, so on PostgreSQL and on
SQLite exactly one of several instances wins. The holder renews it while its poll
runs; an instance that dies stops renewing, the lease runs out and the next instance
that finds the source due takes it over.

A rate share (``rate_shares``) is renewed the same way by each process sending with a
bot token; the live ones say how many share its global limit (bot/rate_share.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, func, select, update

from storage._base import StoreBase
from storage.schema import rate_shares, source_state

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

    async def share_rate(self, bucket: str, *, owner: str, now: datetime, until: datetime) -> int:
        """Record that ``owner`` sends under ``bucket`` until ``until``, forget the shares
        that ran out, and return how many are live (``owner`` included)."""
        stmt = self._insert(rate_shares).values(bucket=bucket, owner=owner, until=until)
        stmt = stmt.on_conflict_do_update(
            index_elements=[rate_shares.c.bucket, rate_shares.c.owner], set_={"until": until}
        )
        mine = rate_shares.c.bucket == bucket
        live = select(func.count()).where(mine, rate_shares.c.until > now)
        async with self._engine.begin() as conn:
            if self.dialect == "postgresql":
                # Renewals of one bucket take turns (SQLite's writes always do): processes
                # starting together would each count only itself, the others' rows not
                # yet committed. Rows of this bucket only, so no two renewals wait on
                # each other's rows in opposite orders.
                await conn.execute(select(func.pg_advisory_xact_lock(func.hashtext(bucket))))
            await conn.execute(stmt)
            await conn.execute(delete(rate_shares).where(mine, rate_shares.c.until <= now))
            return int(await conn.scalar(live) or 0)

    async def leave_rate_share(self, bucket: str, *, owner: str) -> None:
        """``owner`` no longer sends under ``bucket`` (it stops)."""
        stmt = delete(rate_shares).where(
            rate_shares.c.bucket == bucket, rate_shares.c.owner == owner
        )
        async with self._engine.begin() as conn:
            await conn.execute(stmt)
