"""Promise 3 of issue 7: a source's faults stay with that source.

Real sources, the real polite client and the real Store (SQLite and PostgreSQL) against
local servers that misbehave: no answer, resets, 5xx, 429, redirect loops, oversized and
endless bodies, a gzip bomb, truncated JSON, an HTML page, a refused connection, and a
server that drips one byte a second. Each fault is recorded on its source as a clear
error with a backoff, nothing of the failed poll is written, and the sources polled
beside it finish on time. A source failing for ``[polling] disable_after`` is disabled
(also one that never worked); the channels whose subscriptions name its company are
told once, and again when it works again; ``/sources`` shows it to every channel.
"""

from __future__ import annotations

import asyncio
import functools
import time
import zlib
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp import web
from sqlalchemy import select

from bot.delivery import Delivery
from bot.enrich import EnrichSettings
from bot.http import HttpClient, HttpSettings
from bot.matching import build_router
from bot.models import Subscription
from bot.pipeline import Backoff, Pipeline
from bot.sources import SourceConfig, make_source
from handlers import Caller, Context, HandlerSettings, dispatch
from handlers.reply import reply_from_json
from storage import Store, open_store
from storage.schema import outbox
from tests.fakes.boards_greenhouse import FakeGreenhouse
from tests.fakes.discord_server import CHANNEL_ID, OTHER_CHANNEL_ID
from tests.fakes.http import FakeHTTPServer, Fault
from tests.test_fault_storms import discord_platform

T0 = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
CAP = 256 * 1024
JOBS = "/v1/boards/acme/jobs"


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw: float) -> None:
        self.now += timedelta(**kw)


@pytest.fixture
async def store(db_url) -> AsyncIterator[Store]:
    """Both engines: for what the database does (failure streaks, disabling)."""
    async with open_store(db_url) as s:
        yield s


@pytest.fixture
async def sqlite_store(sqlite_url) -> AsyncIterator[Store]:
    """One engine: for what the network does."""
    async with open_store(sqlite_url) as s:
        yield s


@pytest.fixture
async def http() -> AsyncIterator[HttpClient]:
    settings = HttpSettings(
        connect_timeout=1, read_timeout=1.5, total_timeout=2.5, max_body_bytes=CAP, max_redirects=5
    )
    async with HttpClient(settings) as client:
        yield client


def source(name: str, base_url: str, company: str = "Acme Studios", board: str = "acme") -> Any:
    return make_source(
        SourceConfig(
            name=name,
            kind="greenhouse",
            company=company,
            base_url=base_url,
            options={"board": board},
        )
    )


def pipeline(store: Store, http: HttpClient, clock: Clock, **backoff: float) -> Pipeline:
    return Pipeline(store, http, enrich=EnrichSettings(), backoff=Backoff(**backoff), clock=clock)


@functools.cache
def _bomb(decoded_size: int) -> bytes:
    """A gzip body of ``decoded_size`` zero bytes, made a megabyte at a time."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    zeros = b"\0" * (1 << 20)
    parts = [packer.compress(zeros) for _ in range(decoded_size >> 20)]
    return b"".join([*parts, packer.flush()])


async def _silent(request: web.Request) -> web.StreamResponse:
    await asyncio.Event().wait()  # never answers (cancelled when the client gives up)
    raise AssertionError


async def _reset(request: web.Request) -> web.StreamResponse:
    assert request.transport is not None
    request.transport.close()  # every time: a single reset is retried by the transport
    return web.Response(status=500)


async def _loop(request: web.Request) -> web.StreamResponse:
    return web.Response(status=302, headers={"Location": request.path_qs})


async def _endless(request: web.Request) -> web.StreamResponse:
    resp = web.StreamResponse(headers={"Content-Type": "application/json"})
    await resp.prepare(request)
    resp.enable_chunked_encoding()
    while True:
        await resp.write(b'{"jobs": [' + b" " * 65536)


FAULTS: dict[str, tuple[Callable[[FakeHTTPServer], None], str]] = {
    "no answer": (lambda s: s.route("GET", JOBS, _silent), "timed out"),
    "reset": (lambda s: s.route("GET", JOBS, _reset), "disconnected"),
    "HTTP 500": (lambda s: s.fail(JOBS, Fault.http(500, b"<h1>oops</h1>")), "HTTP 500"),
    "HTTP 502": (lambda s: s.fail(JOBS, Fault.http(502)), "HTTP 502"),
    "redirect loop": (lambda s: s.route("GET", JOBS, _loop), "too many redirects"),
    "oversized": (lambda s: s.fail(JOBS, Fault.oversized(CAP + 1)), f"over {CAP} bytes"),
    "endless": (lambda s: s.route("GET", JOBS, _endless), f"over {CAP} bytes"),
    "gzip bomb": (
        lambda s: s.body(JOBS, _bomb(256 << 20), headers={"Content-Encoding": "gzip"}),
        f"over {CAP} bytes",
    ),
    "truncated": (lambda s: s.fail(JOBS, Fault.truncated(b'{"jobs": [{"id": 1}]}')), "JSON"),
    "html": (
        lambda s: s.body(
            JOBS, b"<html><body>Just a moment...</body></html>", content_type="text/html"
        ),
        "JSON",
    ),
}


@pytest.mark.parametrize("fault", list(FAULTS))
async def test_a_fault_is_recorded_on_its_source_with_a_backoff(sqlite_store, http, fault):
    make, expected = FAULTS[fault]
    clock = Clock()
    async with FakeHTTPServer() as server:
        board = FakeGreenhouse(server, "acme")
        src = source("acme-gh", server.url)
        p = pipeline(sqlite_store, http, clock, base=60, maximum=3600)
        await p.poll(src)  # a healthy baseline first
        board.jobs.append(dict(board.jobs[0], id=4099, title="Machine Learning Engineer, Voice"))
        before = await sqlite_store.known_listing_hashes("acme-gh")
        make(server)
        started = time.monotonic()
        summary = await p.poll(src)
        took = time.monotonic() - started
    assert summary.error, summary
    assert expected in summary.error
    assert "http://127.0.0.1" in summary.error  # which URL, without its query string
    assert took < 2.5 + 1.5  # bounded by [http] total_timeout
    state = await sqlite_store.source_state("acme-gh")
    assert state is not None and state.last_error == summary.error
    assert state.failure_count == 1 and state.failing_since == T0
    assert state.next_attempt is not None and state.next_attempt >= T0 + timedelta(seconds=45)
    # nothing of the failed poll was written; the next poll is not due yet
    assert await sqlite_store.known_listing_hashes("acme-gh") == before
    assert (await p.poll(src, force=False)).skipped


async def test_a_refused_connection_and_a_429_back_off_as_asked(sqlite_store, http):
    clock = Clock()
    p = pipeline(sqlite_store, http, clock, base=60, maximum=3600)
    async with FakeHTTPServer() as server:
        closed = server.url
    summary = await p.poll(source("gone", closed))
    assert summary.error and ("connect" in summary.error or "refused" in summary.error.lower())
    async with FakeHTTPServer() as server:
        FakeGreenhouse(server, "acme")
        server.fail(JOBS, Fault.retry_after(429, "1800"))
        summary = await p.poll(source("busy", server.url))
    assert summary.error == f"HTTP 429 ({server.url}{JOBS})"
    state = await sqlite_store.source_state("busy")
    assert state is not None and state.next_attempt is not None
    assert state.next_attempt >= T0 + timedelta(seconds=1800)  # Retry-After beats backoff


async def test_a_drip_does_not_hold_up_the_sources_beside_it(sqlite_store, http):
    """One server drips a byte a second; three healthy boards on another host are polled
    at the same time and finish long before the drip is cut off at total_timeout."""
    clock = Clock()
    p = pipeline(sqlite_store, http, clock)
    async with FakeHTTPServer() as slow, FakeHTTPServer() as fine:
        slow.fail(JOBS, Fault.drip(1.0, b'{"jobs": [' + b" " * 100))
        FakeGreenhouse(slow, "acme")
        for board in ("north", "south", "east"):
            FakeGreenhouse(fine, board)
        sources = [source("drip", slow.url)] + [
            source(b, fine.url, company=b.title(), board=b) for b in ("north", "south", "east")
        ]
        done_at: dict[str, float] = {}
        started = time.monotonic()

        async def poll(src: Any) -> Any:
            summary = await p.poll(src)
            done_at[src.config.name] = time.monotonic() - started
            return summary

        summaries = await asyncio.gather(*(poll(s) for s in sources))
    by_name = {s.source: s for s in summaries}
    drip = by_name.pop("drip")
    assert drip.error and "no complete answer within 2.5s" in drip.error
    assert 2.5 <= done_at["drip"] < 2.5 + 1.5
    for name, summary in by_name.items():
        assert summary.error is None and summary.baseline and summary.fetched == 6
        assert done_at[name] < 1.5, done_at  # finished while the drip still dripped


async def test_the_gzip_bomb_is_cut_off_without_filling_memory(sqlite_store, http):
    import tracemalloc

    clock = Clock()
    p = pipeline(sqlite_store, http, clock)
    async with FakeHTTPServer() as server:
        server.body(JOBS, _bomb(256 << 20), headers={"Content-Encoding": "gzip"})  # 256 MB
        tracemalloc.start()
        try:
            summary = await p.poll(source("bomb", server.url))
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert summary.error and f"over {CAP} bytes" in summary.error
    assert peak < 96 * 1024 * 1024  # a decompressed chunk or two, never the whole bomb


# -- disabling, notices, recovery ------------------------------------------------------


async def _subscribe(store: Store) -> dict[str, Subscription]:
    subs = {
        "named": Subscription(id=0, channel=f"discord:{CHANNEL_ID}", companies=("acme studios",)),
        "digest": Subscription(
            id=0, channel="slack:T0MARQUEE/C0JOBS", companies=("acme studios",), mode="digest"
        ),
        "anything": Subscription(id=0, channel=f"discord:{OTHER_CHANNEL_ID}"),
        "other": Subscription(id=0, channel="slack:T0MARQUEE/C0NEWS", companies=("globex",)),
        "paused": Subscription(
            id=0,
            channel="slack:T0MARQUEE/C0GONE",
            companies=("acme studios",),
            paused_reason="is_archived: the channel is archived",
        ),
    }
    return {k: await store.add_subscription(v) for k, v in subs.items()}


async def _notices(store: Store) -> list[tuple[str, str, str]]:
    """(channel, title, text) of every notice in the outbox, oldest first."""
    async with store._reader.connect() as conn:  # the test reads the table as it is
        rows = (await conn.execute(select(outbox).order_by(outbox.c.id))).mappings().all()
    out = []
    for row in rows:
        if row["item_kind"] == "notice":
            reply = reply_from_json(dict(row["payload"]))
            out.append((row["channel"], reply.title, reply.text))
    return out


async def test_a_source_that_never_worked_is_disabled_after_two_days_and_told_once(store, http):
    clock = Clock()
    await _subscribe(store)
    p = pipeline(store, http, clock, base=60, maximum=6 * 3600)  # disable_after: 2 days
    async with FakeHTTPServer() as server:
        board = FakeGreenhouse(server, "acme")

        async def down(request: web.Request) -> web.Response:
            return web.Response(status=500, text="upstream exploded")

        server.route("GET", JOBS, down)
        src = source("acme-gh", server.url)
        for hours in (0, 12, 24, 47):
            clock.now = T0 + timedelta(hours=hours)
            summary = await p.poll(src)
            assert summary.error == f"HTTP 500 ({server.url}{JOBS})"
            state = await store.source_state("acme-gh")
            assert state is not None and state.disabled_reason is None
        assert await _notices(store) == []

        clock.now = T0 + timedelta(days=2)
        await p.poll(src)
        state = await store.source_state("acme-gh")
        assert state is not None and state.disabled_reason is not None
        assert state.disabled_reason.startswith("failing since 2026-11-28 12:00 UTC: HTTP 500")
        assert state.next_attempt == clock.now + timedelta(hours=6)  # probed now and then
        notices = await _notices(store)
        # the two channels naming Acme Studios (a digest-only one too), not the paused
        # one, nor those about any company or another company
        assert sorted(c for c, _, _ in notices) == [
            f"discord:{CHANNEL_ID}",
            "slack:T0MARQUEE/C0JOBS",
        ]
        assert all(t == "Marquee stopped polling Acme Studios" for _, t, _ in notices)
        assert "since 2026-11-28 12:00 UTC" in notices[0][2]

        # /sources shows it to everyone, in any channel
        ctx = Context("slack", "slack:T0MARQUEE/C0NEWS", Caller("U2"))
        reply = await dispatch(store, "sources", {}, ctx, settings=HandlerSettings(clock=clock))
        assert "acme-gh: disabled: failing since 2026-11-28 12:00 UTC" in reply.text

        # skipped until its probe is due; the probe fails: no second notice
        clock.advance(hours=1)
        assert (await p.poll(src, force=False)).skipped.startswith("disabled: failing since")
        clock.advance(hours=6)
        assert (await p.poll(src, force=False)).error
        assert len(await _notices(store)) == 2

        # it works again: enabled, and the same channels are told
        server.route("GET", JOBS, board._handle)
        clock.advance(hours=6)
        summary = await p.poll(src, force=False)
        assert summary.error is None and summary.baseline
        state = await store.source_state("acme-gh")
        assert state is not None and state.disabled_reason is None and state.failing_since is None
        notices = await _notices(store)
        assert len(notices) == 4
        assert sorted(c for c, t, _ in notices if t == "Acme Studios is back") == [
            f"discord:{CHANNEL_ID}",
            "slack:T0MARQUEE/C0JOBS",
        ]


async def test_the_failure_streak_counts_from_the_first_failure_not_the_last_success(store, http):
    clock = Clock()
    await _subscribe(store)
    p = pipeline(store, http, clock, base=60, maximum=6 * 3600, disable_after=3600)
    async with FakeHTTPServer() as server:
        FakeGreenhouse(server, "acme")
        src = source("acme-gh", server.url)
        await p.poll(src)  # works at T0
        server.fail(JOBS, *[Fault.http(503)] * 3)
        clock.advance(hours=5)  # fails from T0+5h: not disabled at once
        await p.poll(src)
        state = await store.source_state("acme-gh")
        assert state is not None and state.failing_since == T0 + timedelta(hours=5)
        assert state.disabled_reason is None
        clock.advance(minutes=59)
        await p.poll(src)
        assert (await store.source_state("acme-gh")).disabled_reason is None  # type: ignore[union-attr]
        clock.advance(minutes=1)  # an hour of failing ([polling] disable_after = 1h)
        await p.poll(src)
        state = await store.source_state("acme-gh")
        assert state is not None and state.disabled_reason is not None
        assert "failing since 2026-11-28 17:00 UTC: HTTP 503" in state.disabled_reason


async def test_a_notice_reaches_the_channel_through_delivery(sqlite_store, http):
    clock = Clock()
    await _subscribe(sqlite_store)
    p = pipeline(sqlite_store, http, clock, disable_after=0)
    async with FakeHTTPServer() as server:
        server.fail(JOBS, Fault.http(500, b"<b>@everyone</b> gone"))
        await p.poll(source("acme-gh", server.url))
    async with discord_platform() as (fake, platform):
        await Delivery(sqlite_store, {"discord": platform}, clock=clock).run_once()
        (message,) = fake.channel_messages(CHANNEL_ID)
        assert "Marquee stopped polling Acme Studios" in str(message)
        assert fake.channel_messages(OTHER_CHANNEL_ID) == []
    # leaving discord_platform checked the message against Discord's limits and pings


async def test_healthy_polls_route_their_events_while_another_source_fails(sqlite_store, http):
    """One failing board among good ones: the others' new postings reach the outbox."""
    clock = Clock()
    subs = await _subscribe(sqlite_store)
    p = pipeline(sqlite_store, http, clock)
    router = build_router([subs["anything"]])
    async with FakeHTTPServer() as server, FakeHTTPServer() as broken:
        good = FakeGreenhouse(server, "acme")
        FakeGreenhouse(broken, "acme")
        broken.route("GET", JOBS, _reset)
        sources = [source("good", server.url), source("bad", broken.url, company="Bad Co")]
        await p.poll_many(sources)
        good.jobs.append(dict(good.jobs[0], id=4321, title="Staff Machine Learning Engineer"))
        results = {
            s.source: s for s in await asyncio.gather(*(p.poll(s, route=router) for s in sources))
        }
    assert results["good"].new == 1 and results["good"].error is None
    assert results["bad"].error
    assert await sqlite_store.outbox_backlog() == 1
