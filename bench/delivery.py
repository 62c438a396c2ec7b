"""Scenario 6: 2,000 queued alerts delivered to a Discord that enforces its limits.

40 new postings are routed to the same 50 channels, which queues 2,000 alerts in the
order the router writes them (each posting to every channel). The delivery worker
(``bot.delivery.Delivery.run_once``) sends them through the Discord adapter (discord.py)
to the local fake Discord of :mod:`bench._discord`, running in its own process and
enforcing 50 requests a second overall and 5 messages per channel per 5 seconds.

The allowed rate is the lesser of the two: 50/s here (50 channels × 1/s). Reported: the
achieved rate (accepted messages over the time from the first to the last) as a
fraction of the allowed rate, and the requests the fake refused with a 429 — each one
a limit Marquee could have known (the per-channel one is announced in the headers of
every answer; the global one is documented).
"""

from __future__ import annotations

import json
import logging
import time
import urllib.request
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from bench._measure import Figure, Metric, run_child, serve, usage

__all__ = ["METRICS", "delivery_child", "run"]

GLOBAL_RATE = 50.0
PER_CHANNEL_RATE = 5 / 5.0

METRICS = {
    "rate": Metric("delivery", "achieved rate", "msg/s"),
    "share": Metric("delivery", "achieved ÷ allowed rate", "%", ">= 90"),
    "rejected": Metric("delivery", "requests refused (429)", "requests", "== 0"),
    "wall": Metric("delivery", "time to drain the queue", "s"),
}


async def delivery_child(params: dict[str, Any]) -> dict[str, Any]:
    """Queue the alerts, connect to the fake Discord, drain the outbox once."""
    from bot.delivery import Delivery
    from bot.models import ListingFilter, OutboxEntry, Posting
    from bot.platforms.discord import DiscordPlatform, DiscordSettings
    from handlers import COMMANDS, dispatch
    from storage import open_store

    logging.basicConfig(level=logging.ERROR)
    info = params["discord"]
    channels = info["channels"][: params["channels"]]
    at = datetime.now(UTC)
    async with open_store(f"sqlite+aiosqlite:///{params['db']}") as store:
        postings = [
            Posting(
                source="bench-delivery",
                external_id=str(n),
                company="Northwind Pictures",
                title=f"Machine Learning Engineer {n}, Generative Video",
                url=f"https://job-boards.greenhouse.io/northwind/jobs/{4_000_000 + n}",
                location="Los Angeles, CA",
                description="Train and ship generative video models with PyTorch.",
            )
            for n in range(params["postings"])
        ]
        await store.apply_postings("bench-delivery", postings, at=at, baseline=True)
        stored = await store.listings(ListingFilter(ai_only=False), limit=len(postings))
        entries = [
            OutboxEntry(
                channel=f"discord:{cid}",
                item_kind="posting",
                event="new",
                dedupe_key=f"discord:{cid}|posting:{row.id}|new",
                item_id=row.id,
            )
            for row in sorted(stored, key=lambda r: r.id)
            for cid in channels
        ]
        queued = await store.enqueue(entries, at=at)
        settings = DiscordSettings(
            token=info["token"],
            api_base=info["api_base"],
            gateway_url=info["gateway_url"],
            guild_ready_timeout=0.05,
            sync_commands=False,
        )
        platform = DiscordPlatform(settings, commands=COMMANDS, dispatch=partial(dispatch, store))
        async with platform:
            delivery = Delivery(store, {"discord": platform}, worker="bench")
            start = usage()
            sent = await delivery.run_once()
            spent = usage().since(start)
            backlog = await store.outbox_backlog()
    return {
        "queued": queued,
        "sent": sent,
        "backlog": backlog,
        "wall": spent.wall,
        "cpu": spent.cpu,
    }


def _stats(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=10) as resp:  # the local fake
        return json.loads(resp.read())


def run(
    quick: bool, repeat: int, workdir: Path, log: Any, budget: float | None = None
) -> list[Figure]:
    """``repeat`` drains, each against a fresh fake Discord and a fresh database (fewer
    when ``budget`` seconds are spent after a run)."""
    postings, channels = (8, 50) if quick else (40, 50)
    allowed = min(GLOBAL_RATE, channels * PER_CHANNEL_RATE)
    figures = {k: Figure(m) for k, m in METRICS.items()}
    begun = time.perf_counter()
    for i in range(repeat):
        if i and budget is not None and time.perf_counter() - begun > budget:
            log(f"  stopping after {i} runs: the {budget:.0f}s budget is spent")
            break
        db = workdir / f"delivery-{i}.db"
        with serve("bench._discord", str(channels)) as (announced, _proc):
            info = json.loads(announced)
            result = run_child(
                "delivery",
                {"discord": info, "db": str(db), "postings": postings, "channels": channels},
            )
            stats = _stats(info["stats"])
        span = (stats["last"] or 0) - (stats["first"] or 0)
        rate = (stats["accepted"] - 1) / span if span > 0 else 0.0
        rejected = stats["rejected_global"] + stats["rejected_channel"]
        figures["rate"].values.append(rate)
        figures["share"].values.append(100 * rate / allowed)
        figures["rejected"].values.append(rejected)
        figures["wall"].values.append(result["wall"])
        log(
            f"  run {i + 1}: {result['sent']:,}/{result['queued']:,} sent in "
            f"{result['wall']:.1f}s, {rate:.1f} msg/s of {allowed:.0f} allowed; 429s: "
            f"{stats['rejected_global']} global, {stats['rejected_channel']} per channel; "
            f"left in the outbox: {result['backlog']}"
        )
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
    return list(figures.values())
