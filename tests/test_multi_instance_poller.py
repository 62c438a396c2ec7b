"""The lease-based poller in-process (issue 9): two pollers with different owners share
one store, as two instances would, on SQLite and on PostgreSQL.

Polls are counted at a local Greenhouse board. The process-level test with three real
instances is tests/test_multi_instance.py; these pin the rules one by one.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from bot.app import open_app
from bot.config import parse_config
from bot.health import Metrics
from bot.models import SourceState
from bot.poller import Poller, PollerSettings, due_at
from storage.schema import source_state
from tests.fakes.boards_greenhouse import FakeGreenhouse
from tests.fakes.http import FakeHTTPServer

T0 = datetime(2026, 11, 2, 17, 0, tzinfo=UTC)


def _config(db_url: str, base_url: str, names=("acme",)):
    return parse_config(
        {
            "database": {"url": db_url},
            "http": {"per_host_spacing": 0, "read_timeout": 20, "total_timeout": 30},
            "sources": [
                {
                    "name": name,
                    "kind": "greenhouse",
                    "board": name,
                    "base_url": base_url,
                    "interval": "60s",
                }
                for name in names
            ],
        },
        env={},
    )


def _poller(
    app, owner: str, *, lease: float = 30.0, metrics: Metrics | None = None, clock=None
) -> Poller:
    return Poller(
        app.store,
        app.pipeline,
        app.select,
        owner=owner,
        settings=PollerSettings(lease=lease, check_every=0.1, jitter=0.1),
        refresh_router=app.refresh_router,
        metrics=metrics or Metrics(),
        **({"clock": clock} if clock else {}),
    )


async def _rewind(app, name: str) -> None:
    """An interval passed since the source's last attempt."""
    async with app.store._engine.begin() as conn:
        await conn.execute(
            update(source_state)
            .where(source_state.c.name == name)
            .values(last_attempt=datetime.now(UTC) - timedelta(minutes=5))
        )


# -- when a source is due ---------------------------------------------------------------


def test_due_at_never_polled_is_now_and_a_success_waits_the_interval_plus_jitter():
    assert due_at(None, 900) is None
    assert due_at(SourceState("acme"), 900) is None
    done = SourceState("acme", last_attempt=T0, last_success=T0)
    assert due_at(done, 900) == T0 + timedelta(seconds=900)
    jittered = due_at(done, 900, jitter=0.1)
    assert T0 + timedelta(seconds=900) <= jittered < T0 + timedelta(seconds=990)
    # every instance computes the same jitter for the same poll...
    assert due_at(done, 900, jitter=0.1) == jittered
    # ...and it differs between sources, so they do not poll in step
    spread = {due_at(SourceState(f"s{i}", last_attempt=T0), 900, 0.1) for i in range(20)}
    assert len(spread) > 15


def test_due_at_respects_backoff_and_disabling():
    failing = SourceState(
        "acme", last_attempt=T0, failure_count=3, next_attempt=T0 + timedelta(hours=2)
    )
    assert due_at(failing, 900) == T0 + timedelta(hours=2)
    short_backoff = SourceState("acme", last_attempt=T0, next_attempt=T0 + timedelta(seconds=60))
    assert due_at(short_backoff, 900) == T0 + timedelta(seconds=900)
    disabled = SourceState("acme", last_attempt=T0, disabled_reason="failing for 2 days")
    assert due_at(disabled, 900).year == 9999


# -- two instances ----------------------------------------------------------------------


async def test_two_instances_checking_at_once_poll_each_source_once(db_url):
    async with FakeHTTPServer() as server:
        boards = [FakeGreenhouse(server, name) for name in ("acme", "beta", "gamma")]
        config = _config(db_url, server.url, names=("acme", "beta", "gamma"))
        async with open_app(config) as app:
            one, two = _poller(app, "host-a:1:aa"), _poller(app, "host-b:2:bb")
            for _ in range(3):
                started = await asyncio.gather(one.check(), two.check())
                await asyncio.gather(*(t for tasks in started for t in tasks))
            assert [len(server.requests_to(b.path)) for b in boards] == [1, 1, 1]
            skips = one.metrics.total("marquee_poll_skips_total") + two.metrics.total(
                "marquee_poll_skips_total"
            )
            polls = one.metrics.total("marquee_polls_total") + two.metrics.total(
                "marquee_polls_total"
            )
            assert polls == 3 and skips <= 3
            # leases are given back after each poll
            assert await app.store.source_leases(now=datetime.now(UTC)) == []

            # an interval later, once more each
            for board in boards:
                await _rewind(app, board.board)
            started = await asyncio.gather(one.check(), two.check(), one.check())
            await asyncio.gather(*(t for tasks in started for t in tasks))
            assert [len(server.requests_to(b.path)) for b in boards] == [2, 2, 2]


def _hold(server: FakeHTTPServer, board: FakeGreenhouse) -> asyncio.Event:
    """Make the board answer only once the returned event is set (a slow board)."""
    release = asyncio.Event()

    async def slow(request):
        await release.wait()
        return await board._handle(request)

    server.route("GET", board.path, slow)
    return release


async def _lease_until(app, name: str):
    async with app.store._engine.connect() as conn:
        return await conn.scalar(
            select(source_state.c.lease_until).where(source_state.c.name == name)
        )


async def _eventually(check, within: float = 5.0):
    """Poll a condition with a deadline."""
    deadline = asyncio.get_running_loop().time() + within
    while not (result := await check()):
        assert asyncio.get_running_loop().time() < deadline, "condition never held"
        await asyncio.sleep(0.02)
    return result


async def test_a_long_poll_renews_its_lease(db_url):
    async with FakeHTTPServer() as server:
        board = FakeGreenhouse(server, "acme")
        release = _hold(server, board)
        async with open_app(_config(db_url, server.url)) as app:
            (poll,) = await _poller(app, "slow:1:aa", lease=0.6).check()
            first = await _eventually(lambda: _lease_until(app, "acme"))
            # renewed while the board keeps the poll waiting
            await _eventually(lambda: _later(app, first))
            # past the end of the lease as first taken, another instance finds it held
            later = first + timedelta(seconds=0.1)
            other = _poller(app, "other:2:bb", clock=lambda: later)
            assert await _results(other.check()) == [None]
            assert other.metrics.value("marquee_poll_skips_total", reason="leased") == 1
            release.set()
            assert (await poll).error is None
            assert len(server.requests_to(board.path)) == 1
            assert await _lease_until(app, "acme") is None  # released


async def _later(app, than) -> bool:
    return (await _lease_until(app, "acme") or than) > than


async def test_a_dead_instances_lease_is_taken_over_when_it_runs_out(db_url):
    async with FakeHTTPServer() as server:
        board = FakeGreenhouse(server, "acme")
        async with open_app(_config(db_url, server.url)) as app:
            # An instance took the lease for 30 s and died without polling.
            now = datetime.now(UTC)
            assert await app.store.acquire_source_lease(
                "acme", owner="dead:3:cc", now=now, until=now + timedelta(seconds=30)
            )
            assert await _results(_poller(app, "b:2:bb", clock=lambda: now).check()) == [None]
            assert server.requests_to(board.path) == []
            after = now + timedelta(seconds=31)
            (poll,) = await _poller(app, "b:2:bb", clock=lambda: after).check()
            assert (await poll).error is None
            assert len(server.requests_to(board.path)) == 1


async def test_a_poll_whose_lease_was_taken_stops(db_url):
    async with FakeHTTPServer() as server:
        board = FakeGreenhouse(server, "acme")
        release = _hold(server, board)
        async with open_app(_config(db_url, server.url)) as app:
            metrics = Metrics()
            (poll,) = await _poller(app, "a:1:aa", lease=0.6, metrics=metrics).check()
            await _eventually(_now(lambda: server.requests_to(board.path)))
            # Another instance took the source over (the lease ran out while this one
            # could not reach the database, say).
            async with app.store._engine.begin() as conn:
                await conn.execute(
                    update(source_state)
                    .where(source_state.c.name == "acme")
                    .values(lease_owner="b:2:bb")
                )
            assert await asyncio.wait_for(poll, 5) is None
            release.set()
            assert metrics.value("marquee_poll_skips_total", reason="lease_lost") == 1
            state = await app.store.source_state("acme")
            assert state.last_attempt is None  # the stopped poll wrote nothing


async def _results(started) -> list:
    """Run one look to its end: the polls it started, and what each returned."""
    return [await task for task in await started]


def _now(check):
    async def predicate():
        return check()

    return predicate


@pytest.mark.parametrize("role", ["discord", "slack"])
async def test_a_front_end_role_needs_its_platform(role, tmp_path):
    from bot.app import run
    from bot.errors import ConfigError

    config = _config(f"sqlite+aiosqlite:///{tmp_path / 'm.db'}", "http://127.0.0.1:9")
    with pytest.raises(ConfigError) as caught:
        await run(config, role=role)
    assert caught.value.key == "--role" and role in str(caught.value)
