"""The process lifecycle: one ``async with`` stack that owns every connection.

Nothing opens a connection at import time (STYLE.md, habit 7). ``open_app`` opens the
database (applying migrations), the shared HTTP client and the sources; ``run``
adds the platforms, the poller, the delivery worker and the digest scheduler, and
tears everything down in reverse order on exit or signal.

Several instances share one PostgreSQL database with no coordinator of their own
(issue 9), and ``marquee run --role`` splits the work between processes:

==========  =================================================================
``all``     everything below, in one process (the default; the only sensible
            choice on SQLite)
``poller``  scheduled polls: each source by one instance at a time, under a lease
            in the database (:mod:`bot.poller`); alerts go into the outbox
``worker``  delivery (outbox claims skip rows another worker holds) and daily
            digests (claimed once per subscription and day), with sending-only
            platform clients: Discord over REST without a gateway session, Slack's
            Web API without a server
``discord`` the Discord front end: gateway session(s) answering slash commands,
            ``[discord] shard_ids`` of ``shard_count`` when sharded
``slack``   the Slack front end: the HTTP endpoint (or Socket Mode) answering
            commands, and the OAuth install pages
==========  =================================================================

Front ends do not deliver: alerts and digests reach every platform through the
workers, so a deployment with front ends needs at least one ``worker`` (or ``all``).
Every process serves ``/healthz`` and ``/metrics`` on ``[health] port`` when set
(``--health-port``), and the Slack front end on its own port too.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import random
import signal
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from bot.config import Config
from bot.cpu import CpuPool, default_workers, tune_malloc
from bot.delivery import Delivery
from bot.enrich import EnrichSettings
from bot.enrich.rates import DEFAULT_RATES
from bot.errors import ConfigError, StorageError
from bot.health import HealthServer, Metrics
from bot.http import USER_AGENT, HttpClient, HttpSettings
from bot.models import OutboxRow, Subscription
from bot.pipeline import Backoff, Pipeline, PollSummary
from bot.platforms.base import Platform
from bot.platforms.console import ConsolePlatform
from bot.platforms.wiring import handler_settings
from bot.poller import Poller, PollerSettings
from bot.sources import Source, make_source
from handlers import HandlerSettings
from storage import Router, Store, open_store

if TYPE_CHECKING:  # imports discord.py, which a process without Discord never loads
    from bot.rate_share import RateShare

__all__ = ["CONSOLE_CHANNEL", "ROLES", "App", "health_report", "instance_id", "open_app", "run"]

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
    #: the worker processes parsing and enriching postings (bot/cpu.py)
    cpu: CpuPool | None = None
    platforms: dict[str, Platform] = field(default_factory=dict)
    router: Router | None = None
    handler_settings: HandlerSettings | None = None
    metrics: Metrics = field(default_factory=Metrics)
    #: the process's /healthz report (``marquee run``), also served by Slack's endpoint
    health: Callable[[], Awaitable[dict[str, Any]]] | None = None
    #: this process's share of the Discord bot's global limit (bot/rate_share.py)
    rate_share: RateShare | None = None

    async def refresh_router(self) -> Router:
        """Rebuild the matcher from the current subscriptions (once per poll cycle)."""
        from bot.matching import build_router

        self.router = build_router(await self.subscriptions())
        return self.router

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
    """Open the store, the HTTP client and the worker pool; close them on exit."""
    tune_malloc()  # before the store and the pool start their threads
    # A poll allocates millions of short-lived containers (parsed records, tokens, SQL
    # rows) beside long-lived ones (the clustering window): at the default threshold
    # (700) the cyclic GC ran ~620 times in the feeds bench, ~0.9 s of the event loop's
    # 5.4 s CPU; at 20,000, ~40 times, 0.2 s. Reference counting frees nearly all of
    # it anyway; only cycles wait a little longer.
    gc.set_threshold(20_000, *gc.get_threshold()[1:])
    async with AsyncExitStack() as stack:
        workers = config.enrich.workers
        cpu = await stack.enter_async_context(
            CpuPool(default_workers() if workers is None else workers)
        )
        store = await stack.enter_async_context(open_store(config.database.url, upgrade=upgrade))
        http = await stack.enter_async_context(HttpClient(http_settings(config)))
        sources = {cfg.name: make_source(cfg) for cfg in config.sources}
        backoff = Backoff(
            config.polling.backoff_base, config.polling.backoff_max, config.polling.disable_after
        )
        pipeline = Pipeline(store, http, enrich=enrich_settings(config), backoff=backoff, cpu=cpu)
        app = App(config, store, http, sources, pipeline, cpu=cpu)
        pipeline.router_source = lambda: app.router
        yield app


async def poll_cycle(
    app: App, names: Sequence[str] | None = None, *, backfill: bool = False, force: bool = True
):
    """Refresh the subscriptions' router, then poll the sources concurrently (no leases:
    for one instance alone, such as the demo and the benchmarks)."""
    await app.refresh_router()
    return await app.pipeline.poll_many(
        app.select(names),
        backfill=backfill,
        force=force,
        concurrency=app.config.polling.concurrency,
    )


ROLES = ("all", "poller", "worker", "discord", "slack")


@dataclass(frozen=True, slots=True)
class _Parts:
    """What a role runs in this process (issue 9, item 2)."""

    poll: bool  # scheduled polls under source leases
    deliver: bool  # the outbox and the digests, with a sending client per platform
    discord: bool  # the Discord front end: a gateway session answering commands
    slack: bool  # the Slack front end: HTTP endpoint (or Socket Mode) answering commands


def _parts(config: Config, role: str) -> _Parts:
    if role not in ROLES:
        raise ConfigError("--role", f"expected one of {', '.join(ROLES)}, got {role!r}")
    if role == "discord" and not config.discord_enabled:
        raise ConfigError("--role", "discord needs DISCORD_TOKEN in the environment")
    if role == "slack" and not config.slack_enabled:
        raise ConfigError(
            "--role",
            "slack needs SLACK_BOT_TOKEN with SLACK_SIGNING_SECRET or SLACK_APP_TOKEN, "
            "or [slack] client_id with SLACK_CLIENT_SECRET and SLACK_SIGNING_SECRET",
        )
    every = role == "all"
    return _Parts(
        poll=every or role == "poller",
        deliver=every or role == "worker",
        discord=(every or role == "discord") and config.discord_enabled,
        slack=(every or role == "slack") and config.slack_enabled,
    )


async def poll_now(
    app: App, names: Sequence[str] | None = None, *, backfill: bool = False
) -> list[PollSummary]:
    """``marquee poll --once``: every selected source at once, each under its lease, so
    a manual poll beside running pollers leaves them the sources they are polling."""
    poller = Poller(
        app.store,
        app.pipeline,
        app.select,
        owner=instance_id(),
        settings=_poller_settings(app.config),
        refresh_router=app.refresh_router,
    )
    return await poller.poll_now(app.select(names), backfill=backfill)


def _poller_settings(config: Config) -> PollerSettings:
    return PollerSettings(
        lease=config.polling.lease,
        check_every=config.polling.check_every,
        jitter=config.polling.jitter,
        concurrency=config.polling.concurrency,
    )


def instance_id() -> str:
    """This process among the instances: host, pid and a random part (pids repeat
    across restarts and containers)."""
    return f"{socket.gethostname()[:40]}:{os.getpid()}:{random.getrandbits(24):06x}"


async def run(
    config: Config,
    *,
    role: str = "all",
    health_port: int | None = None,
    shard_ids: Sequence[int] | None = None,
) -> None:
    """``marquee run``: the parts of Marquee ``role`` names (``all``: everything), until
    SIGINT/SIGTERM. ``health_port`` overrides ``[health] port`` and ``shard_ids``
    ``[discord] shard_ids`` (one config file for every shard range)."""
    from apscheduler.schedulers.asyncio import AsyncIOScheduler

    if shard_ids is not None:
        if config.discord.shard_count is None:
            raise ConfigError("--shard-ids", "needs [discord] shard_count in the config")
        bad = [i for i in shard_ids if not 0 <= i < config.discord.shard_count]
        if bad:
            raise ConfigError(
                "--shard-ids",
                f"shard {bad[0]} does not exist with shard_count = {config.discord.shard_count}",
            )
        config = replace(config, discord=replace(config.discord, shard_ids=tuple(shard_ids)))
    parts = _parts(config, role)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)

    instance = instance_id()
    metrics = Metrics()
    started = time.monotonic()
    async with AsyncExitStack() as stack:
        app = await stack.enter_async_context(open_app(config))
        app.metrics = metrics
        scheduler = AsyncIOScheduler(timezone=UTC)
        stack.callback(lambda: scheduler.shutdown(wait=False) if scheduler.running else None)
        delivery = Delivery(
            app.store,
            {},
            worker=instance,
            on_delivered=_DeliveryMetrics(metrics),
            keep=timedelta(seconds=config.alerts.keep) if config.alerts.keep else None,
        )
        digests = None
        if parts.deliver:
            from bot.digests import DigestScheduler

            def digest_queued() -> None:
                metrics.inc("marquee_alerts_queued_total", kind="digest")
                delivery.wakeup.set()

            digests = DigestScheduler(
                app.store,
                scheduler=scheduler,
                settings=handler_settings(config),
                grace=config.digest.grace,
                on_queued=digest_queued,
            )
        # commands that change subscriptions reschedule that channel's digests at once
        # (in a front-end-only process the workers' periodic sweep picks them up)
        app.handler_settings = handler_settings(
            config, on_subscriptions_changed=digests.notify if digests else None
        )
        poller: Poller | None = None
        if parts.poll:
            poller = Poller(
                app.store,
                app.pipeline,
                app.select,
                owner=instance,
                settings=_poller_settings(config),
                refresh_router=app.refresh_router,
                on_polled=lambda s: (
                    delivery.wakeup.set() if s.new or s.updated or s.closed else None
                ),
                metrics=metrics,
            )

        async def report() -> dict[str, Any]:
            return await health_report(
                app, role=role, instance=instance, started=started, poller=poller
            )

        app.health = report
        metrics.gauge(
            "marquee_outbox_backlog", "Alerts waiting to be delivered", app.store.outbox_backlog
        )
        metrics.gauge("marquee_up", "1 while this process runs", lambda: 1)
        port = health_port if health_port is not None else config.health.port
        if port is not None:
            await stack.enter_async_context(HealthServer(config.health.host, port, report, metrics))

        platforms = await _open_platforms(app, stack, parts)
        app.platforms = platforms
        senders = {name: p for name, p in platforms.items() if parts.deliver}
        delivery.platforms = senders
        if "console" in senders:
            await app.ensure_console_subscription()
        if digests is not None:
            await digests.start()
            stack.push_async_callback(digests.shutdown)
        scheduler.start()
        tasks = []
        discord_sender = senders.get("discord")
        if discord_sender is not None:
            # Processes delivering with one bot token split its global limit. Entered
            # after the platforms, so given up (on the stack's way out) once what is
            # being delivered has gone.
            from bot.platforms.discord import DiscordPlatform
            from bot.rate_share import RateShare

            if isinstance(discord_sender, DiscordPlatform):
                app.rate_share = RateShare(app.store, discord_sender, owner=instance)
                await stack.enter_async_context(app.rate_share)
        if parts.deliver and senders:
            tasks.append(asyncio.create_task(delivery.run_forever(stop), name="delivery"))
        if poller is not None:
            tasks.append(asyncio.create_task(poller.run_forever(stop), name="poller"))
        log.info(
            "marquee running as %s (%s): %d sources%s, platforms: %s",
            role,
            instance,
            len(app.select()),
            "" if parts.poll else " (not polled here)",
            ", ".join(platforms) or "none",
        )
        await stop.wait()
        log.info("stopping")
        for t in tasks:
            await t


class _DeliveryMetrics:
    """Counts what the delivery worker sends and how long alerts waited for it."""

    def __init__(self, metrics: Metrics, clock: Callable[[], datetime] = lambda: datetime.now(UTC)):
        self.metrics = metrics
        self._clock = clock
        metrics.counter("marquee_alerts_sent_total", "Alerts the platforms accepted, by platform")
        metrics.counter(
            "marquee_delivery_retries_total",
            "Delivery attempts put back in the outbox for later, by platform",
        )
        metrics.histogram(
            "marquee_delivery_latency_seconds",
            "From queueing an alert to the platform accepting it",
        )

    def __call__(self, row: OutboxRow, outcome: str) -> None:
        platform = row.entry.channel.partition(":")[0]
        if outcome == "sent":
            self.metrics.inc("marquee_alerts_sent_total", platform=platform)
            if row.created_at is not None:
                waited = (self._clock() - row.created_at).total_seconds()
                self.metrics.observe(
                    "marquee_delivery_latency_seconds", max(0.0, waited), platform=platform
                )
        elif outcome == "waits":
            self.metrics.inc("marquee_delivery_retries_total", platform=platform)


async def health_report(
    app: App,
    *,
    role: str,
    instance: str,
    started: float,
    poller: Poller | None = None,
) -> dict[str, Any]:
    """``/healthz``: the database, the live source leases (who polls what), the outbox
    backlog and the platforms of this process. ``ok`` is false when the database does
    not answer or a platform this process runs is down."""
    now = datetime.now(UTC)
    report: dict[str, Any] = {
        "ok": True,
        "role": role,
        "instance": instance,
        "uptime_seconds": round(time.monotonic() - started, 1),
    }
    try:
        backlog = await app.store.outbox_backlog()
        leases = await app.store.source_leases(now=now)
    except StorageError as err:
        report["ok"] = False
        report["database"] = {"ok": False, "engine": app.store.dialect, "error": str(err)}
    else:
        report["database"] = {"ok": True, "engine": app.store.dialect}
        report["outbox_backlog"] = backlog
        report["leases"] = [
            {
                "source": lease.name,
                "owner": lease.owner,
                "until": lease.until.isoformat(),
                "mine": lease.owner == instance,
            }
            for lease in leases
        ]
    if poller is not None:
        report["polls_running"] = poller.busy()
    platforms: dict[str, Any] = {}
    for name, platform in app.platforms.items():
        ready = getattr(platform, "ready", True)
        platforms[name] = {"ok": bool(ready)}
        if not ready:
            report["ok"] = False
        share = app.rate_share
        if share is not None and share.platform is platform:
            platforms[name]["senders"] = share.senders
            platforms[name]["global_rate"] = round(share.platform.global_pace, 2)
    report["platforms"] = platforms
    return report


async def _open_platforms(app: App, stack: AsyncExitStack, parts: _Parts) -> dict[str, Platform]:
    """The platforms this role needs: a front end answers commands; a worker needs
    only sending clients (Discord over REST, Slack's Web API) and takes no shard."""
    config = app.config
    platforms: dict[str, Platform] = {}
    if config.discord_enabled and (parts.discord or parts.deliver):
        from bot.platforms.wiring import open_discord

        platforms["discord"] = await open_discord(app, stack, gateway=parts.discord)
    if config.slack_enabled and (parts.slack or parts.deliver):
        from bot.platforms.wiring import open_slack

        platforms["slack"] = await open_slack(app, stack, serve=parts.slack)
    if not platforms and parts.deliver:
        platforms["console"] = ConsolePlatform(colour=config.alerts.console_colour)
    return platforms
