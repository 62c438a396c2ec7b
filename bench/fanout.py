"""Scenario 4: one new posting that 10,000 subscriptions want, into the outbox.

10,000 channels each have one instant subscription that matches the posting: a third
follow its company, a third want AI roles above $250k anywhere, a third a keyword in its
text. The figure is the time of the ``apply_postings`` call that stores the posting,
routes its event through the subscriptions' router and writes the 10,000 outbox rows in
the same transaction (building the router from the subscriptions, once per poll cycle,
is reported beside it). On SQLite and on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import logging
import os
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench._measure import Figure, Metric, run_child, usage

__all__ = ["METRICS", "fanout_child", "run"]

SUBSCRIBERS = 10_000

METRICS = {
    "sqlite": Metric("fanout", "SQLite: posting to 10k outbox rows", "s", "< 1"),
    "pg": Metric("fanout", "PostgreSQL: posting to 10k outbox rows", "s", "< 1"),
    "router": Metric("fanout", "router build, 10k subscriptions", "s"),
}


def _subscriptions(count: int) -> list[Any]:
    from bot.models import Subscription

    now = datetime(2026, 11, 1, tzinfo=UTC)
    out = []
    for i in range(count):
        base = Subscription(
            id=0,
            channel=f"discord:{1_300_000_000_000_000_000 + i}",
            kind="jobs",
            created_by="bench",
            created_at=now,
        )
        if i % 3 == 0:
            base = replace(base, companies=("northwind pictures",))
        elif i % 3 == 1:
            base = replace(base, kind="all", min_salary_usd=250_000.0)
        else:
            base = replace(base, keywords=("machine learning",), exclude=("intern",))
        out.append(base)
    return out


def _posting(source: str) -> Any:
    import random

    from bench._text import make_role
    from bot.enrich import EnrichSettings, enrich_posting
    from bot.models import Posting, Salary
    from bot.text import html_to_text

    role = make_role(random.Random(4), 0, "Northwind Pictures")
    posting = Posting(
        source=source,
        external_id="4011122008",
        company="Northwind Pictures",
        title="Senior Machine Learning Engineer, Generative Video",
        url="https://job-boards.greenhouse.io/northwind/jobs/4011122008",
        location="Los Angeles, CA",
        department="Machine Learning",
        description=html_to_text(role.html),
        pay=Salary(300_000, 405_000, "USD", text="greenhouse pay_input_ranges"),
    )
    return enrich_posting(posting, EnrichSettings())


async def _one(url: str) -> dict[str, Any]:
    from sqlalchemy import func, select

    from bench._subs import insert_subscriptions
    from bot.matching import build_router
    from storage import open_store
    from storage.schema import outbox

    source = "greenhouse-northwind"
    async with open_store(url) as store:
        await insert_subscriptions(store, _subscriptions(SUBSCRIBERS))
        subs = await store.subscriptions(include_paused=False)
        start = usage()
        router = build_router(subs)
        built = usage().since(start)
        at = datetime.now(UTC)
        await store.apply_postings(source, [], at=at, baseline=True)  # the source's baseline
        posting = _posting(source)
        start = usage()
        events = await store.apply_postings(source, [posting], at=at, baseline=False, route=router)
        spent = usage().since(start)
        async with store._engine.connect() as conn:
            queued = await conn.scalar(select(func.count()).select_from(outbox))
    return {
        "events": len(events),
        "queued": queued,
        "wall": spent.wall,
        "cpu": spent.cpu,
        "router_wall": built.wall,
    }


async def fanout_child(params: dict[str, Any]) -> dict[str, Any]:
    """One measurement on the engine ``params['engine']``."""
    logging.basicConfig(level=logging.ERROR)
    if params["engine"] == "sqlite":
        return await _one(f"sqlite+aiosqlite:///{params['db']}")
    from bench._pg import fresh_database

    async with fresh_database(f"marquee_bench_fanout_{os.getpid()}") as url:
        return await _one(url)


def run(
    quick: bool, repeat: int, workdir: Path, log: Any, budget: float | None = None
) -> list[Figure]:
    """``repeat`` measurements on SQLite, then on PostgreSQL if it is reachable."""
    from bench._pg import reachable

    figures = {k: Figure(m) for k, m in METRICS.items()}
    why_not = asyncio.run(reachable())
    for engine in ("sqlite", "pg"):
        if engine == "pg" and why_not:
            figures["pg"].skipped = why_not
            log(f"  PostgreSQL skipped: {why_not}")
            continue
        for i in range(repeat):
            db = workdir / f"fanout-{i}.db"
            result = run_child("fanout", {"engine": engine, "db": str(db)})
            if result["queued"] != SUBSCRIBERS or result["events"] != 1:
                raise RuntimeError(
                    f"fan-out queued {result['queued']} rows, expected {SUBSCRIBERS}"
                )
            figures[engine].values.append(result["wall"])
            if engine == "sqlite":
                figures["router"].values.append(result["router_wall"])
            log(
                f"  {engine} run {i + 1}: {result['queued']:,} rows in {result['wall']:.3f}s "
                f"(router built in {result['router_wall']:.3f}s)"
            )
            for suffix in ("", "-wal", "-shm"):
                Path(f"{db}{suffix}").unlink(missing_ok=True)
    return list(figures.values())
