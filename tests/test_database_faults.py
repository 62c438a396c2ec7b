"""Promise 6 of issue 7: the database holds.

SQLite runs in WAL mode with a busy timeout. A locked SQLite file (another connection
holding the write lock past the busy timeout) and a PostgreSQL that went away (a TCP
proxy in front of it is cut) fail the poll and delivery cycles cleanly: a warning naming
the database error, nothing half-written, and the next cycle does the work. Connections
killed by the server (``pg_terminate_backend``) are replaced without an error. An alert
sent while the database blinks is marked sent once it is back, not sent again.
"""

from __future__ import annotations

import asyncio
import io
import logging
import sqlite3
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from bot.app import App, open_app
from bot.config import parse_config
from bot.delivery import Delivery
from bot.errors import StorageError
from bot.health import Metrics
from bot.models import Subscription
from bot.platforms.console import ConsolePlatform
from bot.platforms.discord import rate_key
from bot.poller import Poller, PollerSettings
from bot.rate_share import RateShare
from storage import open_store
from storage._engine import BUSY_TIMEOUT_MS, create_engine
from tests.conftest import PG_DSN
from tests.fakes.boards_greenhouse import FakeGreenhouse, job, pay_range
from tests.fakes.discord_server import FakeDiscord
from tests.fakes.http import FakeHTTPServer
from tests.test_discord_pacing import platform_for
from tests.test_fault_storms import alert, slack_platform

NEW_TITLE = "Machine Learning Engineer, Dubbing"


def _config(db_url: str, base_url: str) -> Any:
    return parse_config(
        {
            "database": {"url": db_url},
            "http": {"per_host_spacing": 0},
            "sources": [
                {"name": "acme", "kind": "greenhouse", "board": "acme", "base_url": base_url}
            ],
        },
        env={},
    )


def _poller(app: App) -> Poller:
    return Poller(
        app.store,
        app.pipeline,
        app.select,
        owner="test-instance",
        settings=PollerSettings(lease=30.0, check_every=0.1, jitter=0.0),
        refresh_router=app.refresh_router,
        metrics=Metrics(),
    )


async def _until(predicate: Callable[[], Any], within: float, what: str) -> None:
    """Poll a condition with a deadline."""
    deadline = time.monotonic() + within
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {within} s in vain for {what}")
        await asyncio.sleep(0.05)


@asynccontextmanager
async def _running(app: App, console: io.StringIO) -> AsyncIterator[Delivery]:
    """The poller and the delivery worker of ``marquee run``, in this process."""
    stop = asyncio.Event()
    delivery = Delivery(app.store, {"console": ConsolePlatform(console, colour=False)})
    tasks = [
        asyncio.create_task(_poller(app).run_forever(stop)),
        asyncio.create_task(delivery.run_forever(stop, idle=0.2)),
    ]
    try:
        yield delivery
    finally:
        stop.set()
        await asyncio.wait(tasks, timeout=30)
        for task in tasks:
            assert task.done() and task.exception() is None  # nothing escaped a cycle


async def _rewind(app: App) -> None:
    """The source's interval has passed (it is due at the poller's next look)."""
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import update

    from storage.schema import source_state

    async with app.store._engine.begin() as conn:
        await conn.execute(
            update(source_state).values(last_attempt=datetime.now(UTC) - timedelta(hours=1))
        )


# -- SQLite -----------------------------------------------------------------------------


async def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(sqlite_url):
    async with open_store_app(sqlite_url):
        pass
    path = make_url(sqlite_url).database
    assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    engine = create_engine(sqlite_url)
    try:
        async with engine.connect() as conn:
            timeout = (await conn.exec_driver_sql("PRAGMA busy_timeout")).scalar()
            sync = (await conn.exec_driver_sql("PRAGMA synchronous")).scalar()
    finally:
        await engine.dispose()
    assert timeout == BUSY_TIMEOUT_MS == 5000
    assert sync == 1  # NORMAL: durable against a killed process in WAL mode


@asynccontextmanager
async def open_store_app(db_url: str, base_url: str = "http://127.0.0.1:9") -> AsyncIterator[App]:
    async with open_app(_config(db_url, base_url)) as app:
        yield app


async def test_a_locked_sqlite_fails_the_cycles_cleanly_and_the_next_ones_retry(sqlite_url, caplog):
    caplog.set_level(logging.WARNING)
    console = io.StringIO()
    async with FakeHTTPServer() as server:
        board = FakeGreenhouse(server, "acme")
        async with open_store_app(sqlite_url, server.url) as app:
            await app.store.add_subscription(Subscription(id=0, channel="console:main"))
            await app.pipeline.poll(app.sources["acme"])  # the baseline
            board.jobs.append(job(4099, NEW_TITLE, pay=[pay_range(250_000, 350_000)]))
            await _rewind(app)
            # another process holds the write lock past the busy timeout
            locker = sqlite3.connect(make_url(sqlite_url).database, isolation_level=None)
            locker.execute("BEGIN IMMEDIATE")
            try:
                async with _running(app, console):
                    await _until(
                        lambda: (
                            "poll of acme not done (database)" in caplog.text
                            and "delivery cycle failed, retrying" in caplog.text
                        ),
                        within=30,
                        what="both cycles to fail on the lock",
                    )
                    assert NEW_TITLE not in console.getvalue()
                    locker.execute("ROLLBACK")
                    await _until(lambda: NEW_TITLE in console.getvalue(), 30, "the alert")
            finally:
                locker.close()
            state = await app.store.source_state("acme")
    assert "database is locked" in caplog.text
    assert console.getvalue().count(NEW_TITLE) == 1
    assert state is not None and state.failure_count == 0  # not the board's fault
    assert "Traceback" not in caplog.text


async def test_an_alert_sent_while_the_database_blinks_is_not_sent_twice(sqlite_url):
    """Slack has the message, then marking it sent meets a locked database: marking is
    retried once the lock is gone, so the alert is not posted again."""
    async with open_store_app(sqlite_url) as app:
        store = app.store
        await store.add_subscription(Subscription(id=0, channel="slack:T0MARQUEE/C0JOBS"))
        await store.enqueue([alert("slack:T0MARQUEE/C0JOBS", 1)])
        path = make_url(sqlite_url).database
        async with slack_platform() as (fake, platform):
            locker = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
            original = fake._api

            async def lock_after_post(request):  # type: ignore[no-untyped-def]
                response = await original(request)
                if request.path.endswith("chat.postMessage"):
                    locker.execute("BEGIN IMMEDIATE")  # as Slack answers, the file locks
                    asyncio.get_running_loop().call_later(
                        BUSY_TIMEOUT_MS / 1000 + 1, locker.execute, "ROLLBACK"
                    )
                return response

            fake.http.route("POST", "/api/chat.postMessage", lock_after_post)
            delivery = Delivery(store, {"slack": platform}, worker="w")
            try:
                assert await delivery.run_once() == 1
            finally:
                with suppress(sqlite3.Error):
                    locker.execute("ROLLBACK")
                locker.close()
            assert fake.attempts("chat.postMessage") == 1
            row = await store.outbox_row(1)
            assert row is not None and row.status == "sent"
            assert await delivery.run_once() == 0


# -- PostgreSQL --------------------------------------------------------------------------


class _Proxy:
    """A TCP proxy in front of PostgreSQL that can be cut (connections closed, new ones
    refused) and restored on the same port."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(
            self._handle, "127.0.0.1", self.port, reuse_address=True
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def cut(self) -> None:
        assert self._server is not None
        self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        self._writers |= {writer, up_writer}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with suppress(OSError, asyncio.CancelledError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.transport.abort()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self._writers -= {writer, up_writer}


@pytest.mark.postgres
async def test_a_postgresql_gone_away_fails_the_cycles_cleanly_and_they_resume(pg_url, caplog):
    caplog.set_level(logging.WARNING)
    url = make_url(pg_url)
    proxy = _Proxy(url.host or "127.0.0.1", url.port or 5432)
    await proxy.start()
    proxied = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    console = io.StringIO()
    async with FakeHTTPServer() as server:
        board = FakeGreenhouse(server, "acme")
        async with open_store_app(proxied, server.url) as app:
            await app.store.add_subscription(Subscription(id=0, channel="console:main"))
            await app.pipeline.poll(app.sources["acme"])
            async with _running(app, console):
                await proxy.cut()
                board.jobs.append(job(4099, NEW_TITLE, pay=[pay_range(250_000, 350_000)]))
                await _until(
                    lambda: (
                        "could not look for due sources" in caplog.text
                        and "delivery cycle failed, retrying" in caplog.text
                    ),
                    within=30,
                    what="both cycles to fail while the database is away",
                )
                with pytest.raises(StorageError):
                    await app.store.source_states()
                await proxy.start()  # back, on the same address
                await _rewind(app)
                await _until(lambda: NEW_TITLE in console.getvalue(), 30, "the alert")
            await proxy.cut()
    assert console.getvalue().count(NEW_TITLE) == 1
    assert "database error" in caplog.text
    assert "Traceback" not in caplog.text


@pytest.mark.postgres
async def test_postgresql_connections_killed_by_the_server_are_replaced(pg_url):
    console = io.StringIO()
    async with FakeHTTPServer() as server:
        board = FakeGreenhouse(server, "acme")
        async with open_store_app(pg_url, server.url) as app:
            store = app.store
            await store.add_subscription(Subscription(id=0, channel="console:main"))
            await app.pipeline.poll(app.sources["acme"])
            # every pooled connection is killed by an administrator
            killed = await _terminate(make_url(pg_url).database or "")
            assert killed >= 1
            board.jobs.append(job(4099, NEW_TITLE, pay=[pay_range(250_000, 350_000)]))
            await app.refresh_router()
            summary = await app.pipeline.poll(app.sources["acme"])
            assert summary.error is None and summary.new == 1
            await _terminate(make_url(pg_url).database or "")
            delivery = Delivery(store, {"console": ConsolePlatform(console, colour=False)})
            assert await delivery.run_once() == 1
            await _terminate(make_url(pg_url).database or "")
            assert (await store.source_state("acme")).failure_count == 0  # type: ignore[union-attr]
    assert console.getvalue().count(NEW_TITLE) == 1


async def _terminate(database: str) -> int:
    """``pg_terminate_backend`` on every connection to ``database`` but this one."""
    admin = await asyncpg.connect(PG_DSN)
    try:
        return len(
            await admin.fetch(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = $1 AND pid <> pg_backend_pid()",
                database,
            )
        )
    finally:
        await admin.close()


@pytest.mark.postgres
async def test_a_discord_rate_share_that_cannot_be_renewed_slows_to_a_trickle(pg_url, caplog):
    """While its share cannot be renewed, the other senders stop counting this process
    and take all of the bot's global limit between them: once the share has run out it
    sends at most one request a second, and goes back to its share when the database
    is back (bot/rate_share.py)."""
    caplog.set_level(logging.WARNING)
    url = make_url(pg_url)
    proxy = _Proxy(url.host or "127.0.0.1", url.port or 5432)
    await proxy.start()
    proxied = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    async with FakeDiscord() as fake, open_store(proxied) as store:
        bucket, now = rate_key(fake.token), datetime.now(UTC)
        await store.share_rate(bucket, owner="other", now=now, until=now + timedelta(hours=1))
        async with platform_for(fake, global_rate=48, gateway=False) as platform:
            try:
                share = RateShare(store, platform, owner="me", interval=0.05, ttl=0.5)
                async with share:
                    assert platform.global_pace == 24
                    await proxy.cut()
                    await _until(lambda: platform.global_pace <= 1, 10, "the trickle")
                    await proxy.start()  # back, on the same address
                    await _until(lambda: platform.global_pace == 24, 10, "the share again")
            finally:
                platform.share_global_rate(1)  # the process's bucket, for the next test
            await proxy.cut()
    assert "Discord rate share not renewed (sending at most 1.0/s)" in caplog.text
    assert "Traceback" not in caplog.text
