"""Scenarios 1 and 2: a cold poll of many boards, its ceiling, and an unchanged re-poll.

**Cold ingest**: every prepared board (mixed kinds, realistic 3-8 KB descriptions, pay
text in a third) is polled once with ``--backfill`` through the real lifecycle
(``open_app`` + ``poll_cycle``): fetch over HTTP from the local replay server, parse,
details where the kind needs them, salary, AI classification, the diff and store on
SQLite, matching against 1,000 subscriptions and the outbox, all in one transaction
per source. Reported: postings per second (wall), CPU seconds, peak RSS.

**Ceiling**: the same bytes, read from the prepared file, through ``json.loads`` and
the salary parser on each posting's description only: what any tool must at least do.

**Unchanged re-poll**: the same boards again, nothing changed (ETag 304s where the
board sends one, the body hash elsewhere). Its CPU against the cold cycle's.
"""

from __future__ import annotations

import json
import logging
import mmap
import time
from pathlib import Path
from typing import Any

from bench._data import BoardSet, prepare_boards
from bench._measure import (
    Figure,
    Metric,
    children_cpu,
    peak_rss_mb,
    process_cpu,
    process_peak_rss_mb,
    run_child,
    serve,
    usage,
)

__all__ = ["METRICS", "ceiling_child", "ingest_child", "run"]

SUBSCRIPTIONS = 1000

METRICS = {
    "rate": Metric("cold", "pipeline", "postings/s"),
    "ceiling": Metric("cold", "ceiling (json + salary)", "postings/s"),
    "ratio": Metric("cold", "pipeline ÷ ceiling", "×", ">= 0.5"),
    "cpu": Metric("cold", "CPU", "s", "", "event loop process + worker processes"),
    "cpu_workers": Metric("cold", "CPU of the worker processes", "s"),
    "wall": Metric("cold", "wall", "s"),
    "rss": Metric(
        "cold",
        "peak RSS",
        "MB",
        "< 200",
        "ru_maxrss of the event loop process + VmHWM of each worker process",
    ),
    "rss_workers": Metric("cold", "peak RSS of the worker processes", "MB"),
    # Which process bounds the cycle: the one busy nearly all of the wall.
    "busy_main": Metric("cold", "event loop's process busy", "%", "", "its CPU ÷ wall"),
    "busy_workers": Metric("cold", "worker busy", "%", "", "the workers' CPU ÷ (wall × workers)"),
    "queued": Metric("cold", "alerts queued", "rows"),
    "repoll_cpu": Metric("repoll", "CPU", "s"),
    "repoll_wall": Metric("repoll", "wall", "s"),
    "repoll_share": Metric("repoll", "CPU ÷ cold CPU", "%", "< 5"),
}


def _config(boards: BoardSet, server: str, db: Path) -> Any:
    from bot.config import parse_config

    sources = [{**s, "base_url": server} for s in boards.sources]
    return parse_config(
        {
            "database": {"url": f"sqlite+aiosqlite:///{db}"},
            # Every board is on the one local server; in the field each kind is its own
            # host, so the per-host limits are raised to what eight sources polled at
            # once would get from eight hosts (politeness is not what is measured).
            "http": {"per_host_spacing": 0, "per_host_concurrency": 32},
            "sources": sources,
        },
        env={},
    )


async def ingest_child(params: dict[str, Any]) -> dict[str, Any]:
    """Cold cycle then unchanged re-poll, in this (fresh) process."""
    from sqlalchemy import func, select

    from bench._subs import insert_subscriptions, mixed_subscriptions
    from bot.app import open_app, poll_cycle
    from storage.schema import outbox, postings

    logging.basicConfig(level=logging.ERROR)
    boards = prepare_boards(params["boards"], params["per_board"])
    config = _config(boards, params["server"], Path(params["db"]))
    async with open_app(config) as app:
        companies = [s["company"] for s in boards.sources]
        await insert_subscriptions(app.store, mixed_subscriptions(SUBSCRIPTIONS, companies))
        rss_before = peak_rss_mb()

        # The worker processes parsing and enriching (bot.cpu) count as the pipeline's:
        # their CPU over each span and their peak memory, added to this process's.
        def workers_cpu() -> dict[int, float]:
            return {pid: process_cpu(pid) for pid in (app.cpu.pids() if app.cpu else ())}

        start, workers_start = usage(), workers_cpu()
        cold = await poll_cycle(app, backfill=True)
        spent, workers_end = usage().since(start), workers_cpu()
        cold_workers = sum(cpu - workers_start.get(pid, 0.0) for pid, cpu in workers_end.items())
        rss_main = peak_rss_mb()
        rss_workers = [process_peak_rss_mb(pid) for pid in workers_end]
        rss = rss_main + sum(rss_workers)

        errors = [f"{s.source}: {s.error}" for s in cold if s.error]
        fetched = sum(s.fetched for s in cold)
        new = sum(s.new for s in cold)
        async with app.store._engine.connect() as conn:
            stored = await conn.scalar(select(func.count()).select_from(postings))
            queued = await conn.scalar(select(func.count()).select_from(outbox))
        del cold

        start, workers_start = usage(), workers_cpu()
        again = await poll_cycle(app)
        respent, workers_end = usage().since(start), workers_cpu()
        repoll_workers = sum(cpu - workers_start.get(pid, 0.0) for pid, cpu in workers_end.items())
        changed = sum(s.new + s.updated + s.closed for s in again)
        unmodified = sum(1 for s in again if s.not_modified)
        errors += [f"{s.source} (re-poll): {s.error}" for s in again if s.error]
    return {
        "postings": boards.postings,
        "fetched": fetched,
        "new": new,
        "stored": stored,
        "queued": queued,
        "errors": errors[:10],
        "error_count": len(errors),
        "cpu": spent.cpu + cold_workers,
        "cpu_main": spent.cpu,
        "cpu_workers": cold_workers,
        "wall": spent.wall,
        "rss_mb": rss,
        "rss_main_mb": rss_main,
        "rss_workers_mb": rss_workers,
        "rss_before_mb": rss_before,
        # every worker's CPU, read from the kernel once they exited (a check of the above)
        "workers_cpu_exited": children_cpu(),
        "repoll_cpu": respent.cpu + repoll_workers,
        "repoll_cpu_workers": repoll_workers,
        "repoll_wall": respent.wall,
        "repoll_changed": changed,
        "repoll_not_modified": unmodified,
        "sources": len(boards.sources),
    }


def _descriptions(kind: str, role: str, doc: Any) -> list[str]:
    """The description text of each posting a body carries (none for listing pages of
    kinds whose description is in a detail document)."""
    if kind == "greenhouse":
        return [j.get("content") or "" for j in doc["jobs"]]
    if kind == "lever":
        return [
            " ".join(
                [p.get("description") or ""]
                + [x.get("content") or "" for x in p.get("lists") or ()]
                + [p.get("additional") or ""]
            )
            for p in doc
        ]
    if kind == "ashby":
        return [j.get("descriptionHtml") or "" for j in doc["jobs"]]
    if kind == "workable":
        seen: dict[str, str] = {}
        for row in doc["jobs"]:
            seen.setdefault(row["shortcode"], row.get("description") or "")
        return list(seen.values())
    if role != "detail":
        return []
    if kind == "workday":
        return [doc["jobPostingInfo"].get("jobDescription") or ""]
    if kind == "smartrecruiters":
        sections = doc["jobAd"]["sections"].values()
        return [" ".join(s.get("text") or "" for s in sections)]
    if kind == "eightfold":
        return [doc.get("job_description") or ""]
    raise ValueError(kind)


def ceiling_child(params: dict[str, Any]) -> dict[str, Any]:
    """The same bytes through ``json.loads`` and the salary parser, nothing else."""
    from bot.enrich.salary import parse_salary

    boards = prepare_boards(params["boards"], params["per_board"])
    index = json.loads((boards.directory / "index.json").read_text())
    with (boards.directory / "bodies.bin").open("rb") as handle:
        data = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
        routes = list(index["routes"].values())
        postings = salaries = 0
        start = usage()
        for r in routes:
            doc = json.loads(data[r["offset"] : r["offset"] + r["length"]])
            for text in _descriptions(r["kind"], r["role"], doc):
                postings += 1
                if parse_salary(text) is not None:
                    salaries += 1
        spent = usage().since(start)
    return {"postings": postings, "salaries": salaries, "cpu": spent.cpu, "wall": spent.wall}


def run(
    quick: bool, repeat: int, workdir: Path, log: Any, budget: float | None = None
) -> list[Figure]:
    """Prepare the boards, then cold + re-poll and the ceiling ``repeat`` times (fewer
    when ``budget`` seconds are spent after a run)."""
    boards_n, per_board = (14, 50) if quick else (500, 200)
    log(f"preparing {boards_n} boards × {per_board} postings …")
    boards = prepare_boards(boards_n, per_board)
    log(f"  {boards.postings:,} postings, {boards.bytes / 1e6:,.0f} MB in {boards.directory}")
    figures = {k: Figure(m) for k, m in METRICS.items()}
    params = {"boards": boards_n, "per_board": per_board}
    begun = time.perf_counter()
    with serve("bench._server", str(boards.directory)) as (url, _proc):
        for i in range(repeat):
            if i and budget is not None and time.perf_counter() - begun > budget:
                log(f"  stopping after {i} runs: the {budget:.0f}s budget is spent")
                break
            db = workdir / f"ingest-{i}.db"
            result = run_child("ingest", {**params, "server": url, "db": str(db)})
            stats = _stats(url)
            ceiling = run_child("ceiling", params)
            if result["error_count"] or stats["missed"]:
                raise RuntimeError(
                    f"cold ingest had {result['error_count']} source errors "
                    f"({result['errors']}) and {stats['missed']} unknown requests "
                    f"({stats['miss_examples']})"
                )
            if result["stored"] != boards.postings or ceiling["postings"] != boards.postings:
                raise RuntimeError(
                    f"stored {result['stored']} postings and the ceiling read "
                    f"{ceiling['postings']}, expected {boards.postings}"
                )
            rate = result["postings"] / result["wall"]
            ceiling_rate = ceiling["postings"] / ceiling["wall"]
            figures["rate"].values.append(rate)
            figures["ceiling"].values.append(ceiling_rate)
            figures["ratio"].values.append(rate / ceiling_rate)
            figures["cpu"].values.append(result["cpu"])
            figures["wall"].values.append(result["wall"])
            figures["rss"].values.append(result["rss_mb"])
            figures["cpu_workers"].values.append(result["cpu_workers"])
            figures["rss_workers"].values.append(sum(result["rss_workers_mb"]))
            figures["busy_main"].values.append(100 * result["cpu_main"] / result["wall"])
            workers = max(1, len(result["rss_workers_mb"]))
            figures["busy_workers"].values.append(
                100 * result["cpu_workers"] / (result["wall"] * workers)
            )
            figures["queued"].values.append(result["queued"])
            figures["repoll_cpu"].values.append(result["repoll_cpu"])
            figures["repoll_wall"].values.append(result["repoll_wall"])
            figures["repoll_share"].values.append(100 * result["repoll_cpu"] / result["cpu"])
            log(
                f"  run {i + 1}: {rate:,.0f} postings/s (ceiling {ceiling_rate:,.0f}), "
                f"CPU {result['cpu']:.1f}s ({result['cpu_workers']:.1f}s in "
                f"{len(result['rss_workers_mb'])} workers), RSS {result['rss_mb']:.0f} MB "
                f"({result['rss_main_mb']:.0f} + {sum(result['rss_workers_mb']):.0f} in workers), "
                f"{result['queued']:,} alerts; re-poll CPU {result['repoll_cpu']:.2f}s "
                f"({result['repoll_not_modified']}/{result['sources']} not modified, "
                f"{result['repoll_changed']} changes)"
            )
            db.unlink(missing_ok=True)
            for suffix in ("-wal", "-shm"):
                Path(f"{db}{suffix}").unlink(missing_ok=True)
    return list(figures.values())


def _stats(url: str) -> dict[str, Any]:
    import urllib.request

    with urllib.request.urlopen(f"{url}/_bench/stats", timeout=10) as resp:  # local server
        stats = json.loads(resp.read())
    with urllib.request.urlopen(f"{url}/_bench/reset", timeout=10):
        pass
    return stats
