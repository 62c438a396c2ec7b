"""Scenario 3: news feeds, Marquee against the ``reader`` library.

200 local feeds of 100 entries (about 24 MB: RSS 2.0 with HTML descriptions, a fifth
Atom, one in 25 with the undefined HTML entities that strict XML parsers refuse and
feedparser reads) are ingested twice, each into its own fresh SQLite database:

- **Marquee**: the ``feed`` sources through the real lifecycle (``open_app`` +
  ``poll_cycle``): polite fetch, parse, relevance scoring, ``apply_stories`` with
  clustering.
- **reader** (lemon24/reader, the peer): ``add_feed`` for each, then ``update_feeds()``.

Both fetch over HTTP from the same local replay server. Reported: entries per second
(wall) of each and the ratio; Marquee's CPU and peak memory include its worker process
(bot.cpu, where the feeds are parsed). Nothing lost: for every feed, Marquee must have stored
at least as many entries as feedparser (the reference parser) reads from its bytes.
"""

from __future__ import annotations

import json
import logging
import mmap
import time
from pathlib import Path
from typing import Any

from bench._data import FeedSet, prepare_feeds
from bench._measure import (
    Figure,
    Metric,
    peak_rss_mb,
    process_cpu,
    process_peak_rss_mb,
    run_child,
    serve,
    usage,
)

__all__ = ["METRICS", "marquee_child", "reader_child", "run"]

METRICS = {
    "marquee": Metric("feeds", "Marquee", "entries/s"),
    "reader": Metric("feeds", "reader", "entries/s"),
    "ratio": Metric("feeds", "Marquee ÷ reader", "×", ">= 10"),
    "marquee_cpu": Metric("feeds", "Marquee CPU", "s"),
    "reader_cpu": Metric("feeds", "reader CPU", "s"),
    "marquee_rss": Metric("feeds", "Marquee peak RSS", "MB"),
    # Which of Marquee's processes bounds the run: the one busy nearly all of the wall.
    "busy_main": Metric("feeds", "Marquee's event loop process busy", "%", "", "its CPU ÷ wall"),
    "busy_workers": Metric(
        "feeds", "Marquee's worker busy", "%", "", "the workers' CPU ÷ (wall × workers)"
    ),
    "lost": Metric("feeds", "feeds with entries lost", "feeds", "== 0", "against feedparser"),
}


def _feeds(params: dict[str, Any]) -> FeedSet:
    return prepare_feeds(params["feeds"], params["entries"])


async def marquee_child(params: dict[str, Any]) -> dict[str, Any]:
    """Ingest every feed with Marquee's feed sources; count stories per feed."""
    from sqlalchemy import func, select

    from bot.app import open_app, poll_cycle
    from bot.config import parse_config
    from storage.schema import stories

    logging.basicConfig(level=logging.ERROR)
    feeds = _feeds(params)
    server = params["server"]
    sources = [
        {"name": f"feed-{n}", "kind": "feed", "url": f"{server}{path}"}
        for n, path in enumerate(feeds.paths)
    ]
    config = parse_config(
        {
            "database": {"url": f"sqlite+aiosqlite:///{params['db']}"},
            "http": {"per_host_spacing": 0, "per_host_concurrency": 32},
            "sources": sources,
        },
        env={},
    )
    async with open_app(config) as app:
        # The worker processes parsing the feeds (bot.cpu) count as Marquee's: their CPU
        # and peak memory are added to this process's.
        def workers_cpu() -> dict[int, float]:
            return {pid: process_cpu(pid) for pid in (app.cpu.pids() if app.cpu else ())}

        start, workers_start = usage(), workers_cpu()
        summaries = await poll_cycle(app)
        spent, workers_end = usage().since(start), workers_cpu()
        workers = sum(cpu - workers_start.get(pid, 0.0) for pid, cpu in workers_end.items())
        rss_workers = sum(process_peak_rss_mb(pid) for pid in workers_end)
        errors = [f"{s.source}: {s.error}" for s in summaries if s.error]
        async with app.store._engine.connect() as conn:
            rows = await conn.execute(
                select(stories.c.source, func.count()).group_by(stories.c.source)
            )
            per_source = {source: count for source, count in rows}
    per_feed = {path: per_source.get(f"feed-{n}", 0) for n, path in enumerate(feeds.paths)}
    return {
        "entries": sum(per_feed.values()),
        "per_feed": per_feed,
        "errors": errors[:5],
        "cpu": spent.cpu + workers,
        "cpu_main": spent.cpu,
        "cpu_workers": workers,
        "workers": len(workers_end),
        "wall": spent.wall,
        "rss_mb": peak_rss_mb() + rss_workers,
    }


def reader_child(params: dict[str, Any]) -> dict[str, Any]:
    """Ingest every feed with ``reader`` (its defaults: one worker, its own parser)."""
    from reader import make_reader

    feeds = _feeds(params)
    server = params["server"]
    rdr = make_reader(params["db"])
    try:
        for path in feeds.paths:
            rdr.add_feed(f"{server}{path}")
        start = usage()
        rdr.update_feeds()
        spent = usage().since(start)
        total = rdr.get_entry_counts().total
        errors = [
            f"{f.url}: {f.last_exception.type_name}: {f.last_exception.value_str[:160]}"
            for f in rdr.get_feeds()
            if f.last_exception
        ]
    finally:
        rdr.close()
    return {
        "entries": total,
        "errors": errors[:5],
        "cpu": spent.cpu,
        "wall": spent.wall,
        "rss_mb": peak_rss_mb(),
    }


def feedparser_counts(feeds: FeedSet) -> dict[str, int]:
    """Entries feedparser reads from each feed's bytes (cached beside the feeds)."""
    cache = feeds.directory / "feedparser.json"
    if cache.exists():
        return json.loads(cache.read_text())
    import feedparser

    index = json.loads((feeds.directory / "index.json").read_text())
    counts = {}
    with (feeds.directory / "bodies.bin").open("rb") as handle:
        data = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        for key, r in index["routes"].items():
            path = key.split()[1]
            parsed = feedparser.parse(data[r["offset"] : r["offset"] + r["length"]])
            counts[path] = len(parsed.entries)
    cache.write_text(json.dumps(counts))
    return counts


def run(
    quick: bool, repeat: int, workdir: Path, log: Any, budget: float | None = None
) -> list[Figure]:
    """Prepare the feeds; then Marquee and reader, ``repeat`` times each (fewer when
    ``budget`` seconds are spent after a run)."""
    n, per = (20, 100) if quick else (200, 100)
    feeds = prepare_feeds(n, per)
    log(f"  {n} feeds × {per} entries, {feeds.bytes / 1e6:.1f} MB; checking with feedparser …")
    expected = feedparser_counts(feeds)
    figures = {k: Figure(m) for k, m in METRICS.items()}
    params = {"feeds": n, "entries": per}
    begun = time.perf_counter()
    with serve("bench._server", str(feeds.directory)) as (url, _proc):
        for i in range(repeat):
            if i and budget is not None and time.perf_counter() - begun > budget:
                log(f"  stopping after {i} runs: the {budget:.0f}s budget is spent")
                break
            mdb, rdb = workdir / f"feeds-marquee-{i}.db", workdir / f"feeds-reader-{i}.sqlite"
            ours = run_child("feeds-marquee", {**params, "server": url, "db": str(mdb)})
            peer = run_child("feeds-reader", {**params, "server": url, "db": str(rdb)})
            lost = [p for p, want in expected.items() if ours["per_feed"].get(p, 0) < want]
            if ours["errors"]:
                log(f"  Marquee source errors: {ours['errors']}")
            if peer["errors"]:
                log(f"  reader feed errors: {peer['errors']}")
            ours_rate = ours["entries"] / ours["wall"]
            peer_rate = peer["entries"] / peer["wall"]
            figures["marquee"].values.append(ours_rate)
            figures["reader"].values.append(peer_rate)
            figures["ratio"].values.append(ours_rate / peer_rate)
            figures["marquee_cpu"].values.append(ours["cpu"])
            figures["reader_cpu"].values.append(peer["cpu"])
            figures["marquee_rss"].values.append(ours["rss_mb"])
            figures["busy_main"].values.append(100 * ours["cpu_main"] / ours["wall"])
            figures["busy_workers"].values.append(
                100 * ours["cpu_workers"] / (ours["wall"] * max(1, ours["workers"]))
            )
            figures["lost"].values.append(len(lost))
            log(
                f"  run {i + 1}: Marquee {ours['entries']:,} entries at {ours_rate:,.0f}/s, "
                f"reader {peer['entries']:,} at {peer_rate:,.0f}/s "
                f"(×{ours_rate / peer_rate:.1f}); Marquee CPU {ours['cpu_main']:.1f} s in the "
                f"event loop's process + {ours['cpu_workers']:.1f} s in the workers; "
                f"feeds short of feedparser: {lost or 'none'}"
            )
            for path in (mdb, rdb):
                for suffix in ("", "-wal", "-shm"):
                    Path(f"{path}{suffix}").unlink(missing_ok=True)
    return list(figures.values())
