"""Scenario 5: ``/ailistings`` with filters over 200,000 stored postings.

200,000 postings (300 companies, about a third AI roles, pay on 60 %, realistic 2-6 KB
plain-text descriptions) are stored through ``Store.apply_postings``; then a mix of
``/ailistings`` calls — no filter, a company, a pay floor, query words, remote, later
pages, and combinations — goes through ``handlers.dispatch`` (argument validation,
company resolution, the count and the page queries) and is rendered for Discord
(``bot.render.discord``) and for Slack (``bot.render.slack``). Reported: p50 and p95 of
the time per call, dispatch plus each renderer. On SQLite and on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench._measure import Figure, Metric, percentile, run_child, usage

__all__ = ["METRICS", "commands_child", "run"]

METRICS = {
    "sqlite_discord": Metric("commands", "SQLite p95, /ailistings + Discord render", "ms", "< 25"),
    "sqlite_slack": Metric("commands", "SQLite p95, /ailistings + Slack render", "ms", "< 25"),
    "sqlite_p50": Metric("commands", "SQLite p50, /ailistings + Discord render", "ms"),
    "pg_discord": Metric("commands", "PostgreSQL p95, /ailistings + Discord render", "ms", "< 25"),
    "pg_slack": Metric("commands", "PostgreSQL p95, /ailistings + Slack render", "ms", "< 25"),
    "pg_p50": Metric("commands", "PostgreSQL p50, /ailistings + Discord render", "ms"),
    # Not in the mix above: a word no description holds is read against every one of
    # them (bench/README.md), the slow case of the query filter.
    "sqlite_rare": Metric("commands", "SQLite, a query word nothing holds", "ms"),
    "pg_rare": Metric("commands", "PostgreSQL, a query word nothing holds", "ms"),
    "load": Metric("commands", "storing the postings (SQLite)", "postings/s"),
}

PER_SOURCE = 2000
# A query word that no title, company or description of the bench holds.
RARE_WORD = "zebrafish"


def _pool(rng: random.Random, size: int) -> list[str]:
    """Plain-text descriptions as sources store them (HTML already turned into text)."""
    from bench._text import make_role
    from bot.text import html_to_text

    return [html_to_text(make_role(rng, i, "the studio").html) for i in range(size)]


def _postings(count: int, seed: int = 21) -> list[Any]:
    from bench._text import AI_TITLES, OTHER_TITLES, PLACES, company_names
    from bot.models import AIMatch, Posting, Salary

    rng = random.Random(seed)
    companies = company_names(300, rng)
    pool = _pool(rng, 400)
    start = datetime(2026, 10, 1, tzinfo=UTC)
    out = []
    for i in range(count):
        company = companies[i % len(companies)]
        ai = rng.random() < 0.35
        title = rng.choice(AI_TITLES if ai else OTHER_TITLES)
        place = rng.choice(PLACES)
        salary = None
        if rng.random() < 0.6:
            low = rng.randrange(90, 400 if ai else 220) * 1000
            high = low + rng.randrange(20, 200) * 1000
            salary = Salary(low, high, "USD", "year", "base", f"${low:,} - ${high:,}", low, high)
        reasons = ("title: machine learning (+0.6)",) if ai else ()
        source = f"bench-{i // PER_SOURCE:03d}"
        out.append(
            Posting(
                source=source,
                external_id=str(4_000_000_000 + i),
                company=company,
                title=title,
                url=f"https://boards.example.com/{source}/jobs/{i}",
                location="Remote - US" if rng.random() < 0.2 else place.label,
                remote=rng.random() < 0.2,
                department="Machine Learning" if ai else "Engineering",
                description=f"{title} at {company}\n\n{rng.choice(pool)}",
                posted_at=start + timedelta(minutes=i),
                salary=salary,
                ai=AIMatch(ai, 0.6 if ai else 0.05, reasons),
            )
        )
    return out


def _queries(rng: random.Random, companies: list[str], count: int) -> list[dict[str, object]]:
    """The filters people use, in a fixed random order."""
    shapes: list[dict[str, object]] = [
        {},
        {"page": 3},
        {"company": "__company__"},
        {"min_salary": "250k"},
        {"query": "machine learning"},
        {"company": "__company__", "min_salary": "200k"},
        {"remote": True, "min_salary": "300k"},
        {"query": "pytorch", "min_salary": "$180,000"},
    ]
    out = []
    for i in range(count):
        args = dict(shapes[i % len(shapes)])
        if args.get("company") == "__company__":
            args["company"] = rng.choice(companies).lower()
        out.append(args)
    rng.shuffle(out)
    return out


async def _measure(url: str, n: int, calls: int, rounds: int, budget: float) -> dict[str, Any]:
    from bot.render.discord import render as render_discord
    from bot.render.slack import render as render_slack
    from handlers import Caller, Context, HandlerSettings, dispatch
    from storage import open_store

    postings = _postings(n)
    at = datetime.now(UTC)
    async with open_store(url) as store:
        start = usage()
        for first in range(0, n, PER_SOURCE):
            chunk = postings[first : first + PER_SOURCE]
            await store.apply_postings(chunk[0].source, chunk, at=at, baseline=True)
        loaded = usage().since(start)
        if store.dialect == "postgresql":
            # Planner statistics and the visibility map, as autovacuum would have them by
            # the time a table holds 200,000 postings (a bulk load outruns it; since
            # PostgreSQL 13 inserts alone start its vacuum): index-only scans then read no
            # table pages. VACUUM cannot run inside a transaction.
            async with store._engine.connect() as conn:
                conn = await conn.execution_options(isolation_level="AUTOCOMMIT")
                await conn.exec_driver_sql("VACUUM ANALYZE postings")
        companies = sorted({p.company for p in postings})
        del postings
        ctx = Context("discord", "discord:1300000000000000001", Caller("1300000000000000002"))
        settings = HandlerSettings()
        rng = random.Random(5)
        discord_ms: list[float] = []
        slack_ms: list[float] = []
        errors: list[str] = []
        by_shape: dict[str, list[float]] = {}
        began = time.perf_counter()
        # A few warm-up calls (pool, caches), then rounds of ``calls`` calls while the
        # budget lasts (at least one round).
        queries = _queries(rng, companies, 8 + calls * rounds)
        for n_call, args in enumerate(queries):
            measured = n_call - 8
            if measured > 0 and measured % calls == 0 and time.perf_counter() - began > budget:
                break
            t0 = time.perf_counter()
            reply = await dispatch(store, "ailistings", args, ctx, settings=settings)
            t1 = time.perf_counter()
            render_discord(reply)
            t2 = time.perf_counter()
            render_slack(reply)
            t3 = time.perf_counter()
            if reply.severity == "error":
                errors.append(f"{args}: {reply.text}")
            if measured >= 0:
                discord_ms.append((t2 - t0) * 1000)
                slack_ms.append((t1 - t0 + t3 - t2) * 1000)
                shape = ",".join(sorted(args)) or "no filter"
                by_shape.setdefault(shape, []).append((t2 - t0) * 1000)
        rare_ms = []
        rare = {"query": RARE_WORD}
        for _ in range(3):
            t0 = time.perf_counter()
            reply = await dispatch(store, "ailistings", rare, ctx, settings=settings)
            rare_ms.append((time.perf_counter() - t0) * 1000)
            if reply.items:
                errors.append(f"{RARE_WORD!r} was found: the rare word must match nothing")
    return {
        "discord_ms": discord_ms,
        "slack_ms": slack_ms,
        "errors": errors[:5],
        "by_shape": {k: round(percentile(v, 0.5), 1) for k, v in by_shape.items()},
        "rare_ms": percentile(rare_ms, 0.5),
        "load_wall": loaded.wall,
        "postings": n,
    }


async def commands_child(params: dict[str, Any]) -> dict[str, Any]:
    """Store the postings on one engine and time ``calls`` commands."""
    logging.basicConfig(level=logging.ERROR)
    args = (params["postings"], params["calls"], params["rounds"], params["budget"])
    if params["engine"] == "sqlite":
        return await _measure(f"sqlite+aiosqlite:///{params['db']}", *args)
    from bench._pg import fresh_database

    async with fresh_database(f"marquee_bench_commands_{os.getpid()}") as url:
        return await _measure(url, *args)


def run(
    quick: bool, repeat: int, workdir: Path, log: Any, budget: float | None = None
) -> list[Figure]:
    """Per engine: one store of the postings, then ``repeat`` rounds of calls over it
    (fewer when ``budget`` seconds of calls are spent after a round)."""
    from bench._pg import reachable

    # Eight filter shapes, five calls each per round.
    n, calls = (20_000, 40) if quick else (200_000, 40)
    figures = {k: Figure(m) for k, m in METRICS.items()}
    why_not = asyncio.run(reachable())
    for engine in ("sqlite", "pg"):
        if engine == "pg" and why_not:
            for key in ("pg_discord", "pg_slack", "pg_p50", "pg_rare"):
                figures[key].skipped = why_not
            log(f"  PostgreSQL skipped: {why_not}")
            continue
        db = workdir / "commands.db"
        # Storing 200,000 postings takes longer than the calls: one store per engine,
        # and the repeats are rounds of calls over it.
        result = run_child(
            "commands",
            {
                "engine": engine,
                "db": str(db),
                "postings": n,
                "calls": calls,
                "rounds": repeat,
                "budget": budget if budget is not None else float("inf"),
            },
        )
        if result["errors"]:
            raise RuntimeError(f"/ailistings answered errors: {result['errors']}")
        prefix = "sqlite" if engine == "sqlite" else "pg"
        done = len(result["discord_ms"]) // calls
        for r in range(done):
            d = result["discord_ms"][r * calls : (r + 1) * calls]
            s = result["slack_ms"][r * calls : (r + 1) * calls]
            figures[f"{prefix}_discord"].values.append(percentile(d, 0.95))
            figures[f"{prefix}_slack"].values.append(percentile(s, 0.95))
            figures[f"{prefix}_p50"].values.append(percentile(d, 0.5))
        figures[f"{prefix}_rare"].values.append(result["rare_ms"])
        if engine == "sqlite":
            figures["load"].values.append(result["postings"] / result["load_wall"])
        log(
            f"  {engine}: {n:,} postings stored in {result['load_wall']:.1f}s; {done} rounds "
            f"of {calls} calls; p95 Discord {percentile(result['discord_ms'], 0.95):.1f} ms, "
            f"Slack {percentile(result['slack_ms'], 0.95):.1f} ms, "
            f"max {max(result['discord_ms']):.1f} ms"
        )
        log(f"    median ms by filters: {result['by_shape']}")
        log(f"    {RARE_WORD!r}, a word nothing holds: {result['rare_ms']:.0f} ms")
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
    return list(figures.values())
