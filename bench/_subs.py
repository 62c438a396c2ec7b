"""Subscriptions for the scenarios: a realistic mix, written in bulk.

Writing thousands one ``add_subscription`` transaction at a time would make setting up
take longer than what is measured, so they are inserted as one multi-row statement into
the same table, with the same column values ``Store.add_subscription`` writes.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import fields
from datetime import UTC, datetime

from sqlalchemy import insert

from bot.models import Subscription
from storage import Store
from storage.schema import subscriptions

__all__ = ["insert_subscriptions", "mixed_subscriptions"]

_KEYWORDS = ("machine learning", "research", "llm", "computer vision", "speech", "recommendations")
_EXCLUDE = ("intern", "contract", "manager")


def mixed_subscriptions(
    count: int, companies: Sequence[str], *, seed: int = 11
) -> list[Subscription]:
    """``count`` subscriptions as channels set them up: about three per channel; jobs,
    all or news; most name a company or three they follow, the rest ask for AI roles
    above a pay floor anywhere; some add keywords, exclusions or remote; instant most of
    the time (digest-only ones get no instant alerts)."""
    rng = random.Random(seed)
    now = datetime(2026, 11, 1, tzinfo=UTC)
    out = []
    channels = max(1, count // 3)
    for _ in range(count):
        kind = rng.choices(("jobs", "all", "news"), weights=(6, 3, 1))[0]
        follows = rng.random() < 0.8
        picked = tuple(c.lower() for c in rng.sample(list(companies), k=rng.randrange(1, 4)))
        floor = rng.randrange(150, 300) if follows else rng.randrange(350, 550)
        out.append(
            Subscription(
                id=0,
                channel=f"discord:{1_200_000_000_000_000_000 + rng.randrange(channels)}",
                kind=kind,
                companies=picked if follows else (),
                min_salary_usd=float(floor * 1000) if not follows or rng.random() < 0.4 else None,
                keywords=(rng.choice(_KEYWORDS),) if rng.random() < 0.2 else (),
                exclude=(rng.choice(_EXCLUDE),) if rng.random() < 0.1 else (),
                remote=True if rng.random() < 0.1 else None,
                topics=("strike", "ai") if kind != "jobs" and rng.random() < 0.5 else (),
                min_score=0.3 if kind != "jobs" else 0.0,
                ai_only=rng.random() < 0.9 or not follows,
                mode=rng.choices(("instant", "both", "digest"), weights=(7, 2, 1))[0],
                created_by="bench",
                created_at=now,
            )
        )
    return out


def _row(sub: Subscription) -> dict[str, object]:
    row: dict[str, object] = {}
    for f in fields(sub):
        if f.name == "id":
            continue
        value = getattr(sub, f.name)
        row[f.name] = list(value) if isinstance(value, tuple) else value
    row["days"] = [int(d) for d in sub.days]
    row["active"] = True
    return row


async def insert_subscriptions(store: Store, subs: Sequence[Subscription]) -> None:
    """Insert ``subs`` (their ids are ignored) in a few multi-row statements."""
    rows = [_row(s) for s in subs]
    async with store._engine.begin() as conn:
        for start in range(0, len(rows), 500):
            await conn.execute(insert(subscriptions), rows[start : start + 500])
