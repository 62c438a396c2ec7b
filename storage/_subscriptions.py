"""Channel subscriptions (table ``subscriptions``).

Unsubscribing marks a row inactive instead of deleting it, so outbox rows and digest
records keep pointing at a real subscription; inactive rows are never returned.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from sqlalchemy import select, true, update

from bot.models import Subscription
from storage._base import StoreBase, utcnow
from storage.schema import subscriptions

__all__ = ["SubscriptionQueries"]


def _values(sub: Subscription) -> dict[str, Any]:
    return {
        "channel": sub.channel,
        "kind": sub.kind,
        "companies": list(sub.companies),
        "min_salary_usd": sub.min_salary_usd,
        "keywords": list(sub.keywords),
        "exclude": list(sub.exclude),
        "remote": sub.remote,
        "topics": list(sub.topics),
        "min_score": sub.min_score,
        "ai_only": sub.ai_only,
        "mode": sub.mode,
        "digest_time": sub.digest_time,
        "tz": sub.tz,
        "days": [int(day) for day in sub.days],
        "send_empty_digest": sub.send_empty_digest,
        "created_by": sub.created_by,
        "created_at": sub.created_at,
        "paused_reason": sub.paused_reason,
    }


def _subscription(row: Any) -> Subscription:
    return Subscription(
        id=row.id,
        channel=row.channel,
        kind=row.kind,
        companies=tuple(row.companies or ()),
        min_salary_usd=row.min_salary_usd,
        keywords=tuple(row.keywords or ()),
        exclude=tuple(row.exclude or ()),
        remote=row.remote,
        topics=tuple(row.topics or ()),
        min_score=row.min_score,
        ai_only=bool(row.ai_only),
        mode=row.mode,
        digest_time=row.digest_time,
        tz=row.tz,
        days=tuple(row.days) if row.days is not None else (),
        send_empty_digest=bool(row.send_empty_digest),
        created_by=row.created_by,
        created_at=row.created_at,
        paused_reason=row.paused_reason,
    )


class SubscriptionQueries(StoreBase):
    async def add_subscription(self, sub: Subscription) -> Subscription:
        """Store ``sub`` (its ``id`` is ignored) and return it with the id it got."""
        if sub.created_at is None:
            sub = replace(sub, created_at=utcnow())
        stmt = subscriptions.insert().values(**_values(sub), active=True)
        async with self._engine.begin() as conn:
            new_id = (await conn.execute(stmt.returning(subscriptions.c.id))).scalar_one()
        return replace(sub, id=new_id)

    async def subscription(self, subscription_id: int) -> Subscription | None:
        """One active subscription by id."""
        stmt = select(subscriptions).where(
            subscriptions.c.id == subscription_id, subscriptions.c.active == true()
        )
        async with self._reader.connect() as conn:
            row = (await conn.execute(stmt)).first()
        return _subscription(row) if row is not None else None

    async def subscriptions(
        self, channel: str | None = None, *, include_paused: bool = True
    ) -> list[Subscription]:
        """Active subscriptions, of one channel or all, oldest first."""
        stmt = select(subscriptions).where(subscriptions.c.active == true())
        if channel is not None:
            stmt = stmt.where(subscriptions.c.channel == channel)
        if not include_paused:
            stmt = stmt.where(subscriptions.c.paused_reason.is_(None))
        async with self._reader.connect() as conn:
            rows = await conn.execute(stmt.order_by(subscriptions.c.id))
            return [_subscription(row) for row in rows]

    async def remove_subscription(self, channel: str, subscription_id: int) -> bool:
        """Unsubscribe one of ``channel``'s subscriptions; ``False`` if it has no such id."""
        stmt = (
            update(subscriptions)
            .where(
                subscriptions.c.id == subscription_id,
                subscriptions.c.channel == channel,
                subscriptions.c.active == true(),
            )
            .values(active=False)
        )
        async with self._engine.begin() as conn:
            return (await conn.execute(stmt)).rowcount > 0

    async def remove_all_subscriptions(self, channel: str) -> int:
        """Unsubscribe everything in ``channel``; returns how many."""
        stmt = (
            update(subscriptions)
            .where(subscriptions.c.channel == channel, subscriptions.c.active == true())
            .values(active=False)
        )
        async with self._engine.begin() as conn:
            return (await conn.execute(stmt)).rowcount

    async def pause_channel(self, channel: str, reason: str) -> int:
        """Pause every active subscription of ``channel`` (a platform refused it for good)."""
        stmt = (
            update(subscriptions)
            .where(subscriptions.c.channel == channel, subscriptions.c.active == true())
            .values(paused_reason=reason)
        )
        async with self._engine.begin() as conn:
            return (await conn.execute(stmt)).rowcount

    async def resume_channel(self, channel: str) -> int:
        """Resume ``channel``'s paused subscriptions; returns how many."""
        stmt = (
            update(subscriptions)
            .where(
                subscriptions.c.channel == channel,
                subscriptions.c.active == true(),
                subscriptions.c.paused_reason.is_not(None),
            )
            .values(paused_reason=None)
        )
        async with self._engine.begin() as conn:
            return (await conn.execute(stmt)).rowcount
