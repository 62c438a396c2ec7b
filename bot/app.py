"""The process lifecycle: one ``async with`` stack that owns every connection.

Nothing opens a connection at import time (STYLE.md, habit 7). ``open_app`` opens the
database (applying migrations), the shared HTTP client and the sources; ``run``
adds the platforms, the poll scheduler, the delivery worker and the digest scheduler,
and tears everything down in reverse order on exit or signal.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import signal
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from bot.config import Config
from bot.delivery import Delivery
from bot.enrich import EnrichSettings
from bot.enrich.rates import DEFAULT_RATES
from bot.http import USER_AGENT, HttpClient, HttpSettings
from bot.models import Subscription
from bot.pipeline import Backoff, Pipeline
from bot.platforms.base import Platform
from bot.platforms.console import ConsolePlatform
from bot.platforms.wiring import handler_settings
from bot.sources import Source, make_source
from handlers import HandlerSettings
from storage import Router, Store, open_store

__all__ = ["CONSOLE_CHANNEL", "App", "open_app", "run"]

log = logging.getLogger(__name__)

CONSOLE_CHANNEL = "console:main"


@dataclass
class App:
    """What a command needs: config, store, HTTP client, sources and the pipeline."""

    config: Config
    store: Store
    http: HttpClient
    sources: dict[str, Source]
    pipeline: Pipeline
    platforms: dict[str, Platform] = field(default_factory=dict)
    router: Router | None = None
    handler_settings: HandlerSettings | None = None

    async def refresh_router(self) -> None:
        """Rebuild the matcher from the current subscriptions (once per poll cycle)."""
        from bot.matching import build_router

        self.router = build_router(await self.subscriptions())

    def select(self, names: Sequence[str] | None = None) -> list[Source]:
        """The enabled sources, or exactly the named ones (enabled or not)."""
        if names:
            return [self.sources[self.config.source(n).name] for n in names]
        return [s for s in self.sources.values() if s.config.enabled]

    async def subscriptions(self) -> list[Subscription]:
        return await self.store.subscriptions(include_paused=False)

    async def ensure_console_subscription(self) -> None:
        """With no platform configured, alerts go to the console: give the console one
        subscription (AI roles and relevant news) unless it has some already."""
        if await self.store.subscriptions(CONSOLE_CHANNEL):
            return
        minimum = self.config.alerts.console_min_salary or None
        await self.store.add_subscription(
            Subscription(
                id=0,
                channel=CONSOLE_CHANNEL,
                kind="all",
                min_salary_usd=minimum,
                ai_only=True,
                min_score=0.3,
                created_by="marquee",
            )
        )


def http_settings(config: Config) -> HttpSettings:
    h = config.http
    return HttpSettings(
        connect_timeout=h.connect_timeout,
        read_timeout=h.read_timeout,
        total_timeout=h.total_timeout,
        max_body_bytes=h.max_body_bytes,
        per_host_concurrency=h.per_host_concurrency,
        per_host_spacing=h.per_host_spacing,
        user_agent=h.user_agent or USER_AGENT,
    )


def enrich_settings(config: Config) -> EnrichSettings:
    rates = {**DEFAULT_RATES, **config.enrich.rates}
    return EnrichSettings(
        rates=rates,
        ai_threshold=config.enrich.ai_threshold,
        hours_per_year=config.enrich.hours_per_year,
    )


@asynccontextmanager
async def open_app(config: Config, *, upgrade: bool = True) -> AsyncIterator[App]:
    """Open the store and the HTTP client; close both on exit."""
    async with AsyncExitStack() as stack:
        store = await stack.enter_async_context(open_store(config.database.url, upgrade=upgrade))
        http = await stack.enter_async_context(HttpClient(http_settings(config)))
        sources = {cfg.name: make_source(cfg) for cfg in config.sources}
        backoff = Backoff(
            config.polling.backoff_base, config.polling.backoff_max, config.polling.disable_after
        )
        pipeline = Pipeline(store, http, enrich=enrich_settings(config), backoff=backoff)
        app = App(config, store, http, sources, pipeline)
        pipeline.router_source = lambda: app.router
        yield app


async def poll_cycle(
    app: App, names: Sequence[str] | None = None, *, backfill: bool = False, force: bool = True
):
    """Refresh the subscriptions' router, then poll the sources concurrently."""
    await app.refresh_router()
    return await app.pipeline.poll_many(
        app.select(names),
        backfill=backfill,
        force=force,
        concurrency=app.config.polling.concurrency,
    )


async def run(config: Config, *, role: str = "all") -> None:
    """``marquee run``: poll on schedule, deliver, post digests and serve the platforms
    until SIGINT/SIGTERM."""
    from apscheduler.schedulers.asyncio import AsyncIOScheduler

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)

    async with AsyncExitStack() as stack:
        app = await stack.enter_async_context(open_app(config))
        scheduler = AsyncIOScheduler(timezone=UTC)
        stack.callback(lambda: scheduler.shutdown(wait=False) if scheduler.running else None)
        delivery = Delivery(app.store, {}, worker=f"marquee-{random.getrandbits(32):08x}")
        digests = None
        if role in ("all", "worker"):
            from bot.digests import DigestScheduler

            digests = DigestScheduler(
                app.store,
                scheduler=scheduler,
                settings=handler_settings(config),
                grace=config.digest.grace,
                on_queued=delivery.wakeup.set,
            )
        # commands that change subscriptions reschedule that channel's digests at once
        app.handler_settings = handler_settings(
            config, on_subscriptions_changed=digests.notify if digests else None
        )
        platforms = await _open_platforms(app, stack, role)
        app.platforms = delivery.platforms = platforms
        if "console" in platforms:
            await app.ensure_console_subscription()
        if role in ("all", "poller"):
            _schedule_polls(app, scheduler, delivery)
        if digests is not None:
            await digests.start()
            stack.push_async_callback(digests.shutdown)
        scheduler.start()
        tasks = []
        if role in ("all", "worker") and platforms:
            tasks.append(asyncio.create_task(delivery.run_forever(stop)))
        log.info(
            "marquee running: %d sources, platforms: %s",
            len(app.select()),
            ", ".join(platforms) or "none",
        )
        await stop.wait()
        log.info("stopping")
        for t in tasks:
            await t


def _schedule_polls(app: App, scheduler, delivery: Delivery) -> None:
    """One interval job per source, with jitter, starting staggered."""
    polling = app.config.polling
    now = datetime.now(UTC)

    async def poll_job(name: str) -> None:
        src = app.sources[name]
        await app.refresh_router()
        summary = await app.pipeline.poll(src, force=False)
        if summary.new or summary.updated or summary.closed:
            delivery.wakeup.set()

    for i, src in enumerate(app.select()):
        interval = src.config.interval
        scheduler.add_job(
            poll_job,
            "interval",
            args=[src.config.name],
            seconds=interval,
            jitter=interval * polling.jitter,
            id=f"poll:{src.config.name}",
            next_run_time=now + timedelta(seconds=min(30.0, i * 0.5)),
            max_instances=1,
            coalesce=True,
            misfire_grace_time=int(interval),
        )


async def _open_platforms(app: App, stack: AsyncExitStack, role: str) -> dict[str, Platform]:
    config = app.config
    platforms: dict[str, Platform] = {}
    if config.discord_enabled and role in ("all", "worker", "discord"):
        from bot.platforms.wiring import open_discord

        platforms["discord"] = await open_discord(app, stack)
    if config.slack_enabled and role in ("all", "worker", "slack"):
        from bot.platforms.wiring import open_slack

        platforms["slack"] = await open_slack(app, stack)
    if not platforms:
        platforms["console"] = ConsolePlatform(colour=config.alerts.console_colour)
    return platforms
