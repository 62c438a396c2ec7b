"""Storage: migrations, time zones, errors, source state, subscriptions and meta.

Every test runs on SQLite and on PostgreSQL (the ``db_url`` fixture).
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.engine import make_url

from bot.errors import StorageError
from bot.http import Validator
from bot.models import Subscription
from storage import Store, open_store, upgrade
from storage._engine import create_engine
from storage._migrate import MIGRATIONS_DIR, include_object_for
from storage.schema import metadata

T0 = datetime(2026, 11, 2, 17, 0, tzinfo=UTC)
# the newest migration in storage/migrations/versions
HEAD_REVISION = ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()
TABLES = {
    "source_state",
    "postings",
    "stories",
    "story_clusters",
    "subscriptions",
    "outbox",
    "digests_sent",
    "meta",
}


@pytest.fixture
async def store(db_url):
    async with open_store(db_url) as s:
        yield s


def _drift(connection) -> list:
    context = MigrationContext.configure(
        connection,
        opts={"compare_type": True, "include_object": include_object_for(connection.dialect.name)},
    )
    return compare_metadata(context, metadata)


# -- migrations -----------------------------------------------------------------------


async def test_migrations_apply_from_empty_and_are_idempotent(db_url, tmp_path, monkeypatch):
    # The package finds its migrations from its own location, not the working directory.
    monkeypatch.chdir(tmp_path)
    assert await upgrade(db_url) == HEAD_REVISION
    assert await upgrade(db_url) == HEAD_REVISION
    engine = create_engine(db_url)
    try:
        async with engine.connect() as conn:
            names = set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
            assert TABLES | {"alembic_version"} <= names
            assert (
                await conn.scalar(text("SELECT version_num FROM alembic_version")) == HEAD_REVISION
            )
    finally:
        await engine.dispose()
    # open_store migrates too (already at head: nothing to do) and works
    async with open_store(db_url) as s:
        await s.set_meta("k", "v")
        assert await s.get_meta("k") == "v"


# SQLite cannot reflect the index on lower(source): Alembic says so and skips it.
@pytest.mark.filterwarnings("ignore:.*expression-based index:UserWarning")
@pytest.mark.filterwarnings("ignore:.*expression-based index")
async def test_migrated_schema_matches_schema_module(db_url):
    await upgrade(db_url)
    engine = create_engine(db_url)
    try:
        async with engine.begin() as conn:
            assert await conn.run_sync(_drift) == []
            # ...and the comparison does notice a difference.
            await conn.execute(text("DROP INDEX ix_outbox_item"))
            drift = await conn.run_sync(_drift)
            assert [d[0] for d in drift] == ["add_index"]
            assert drift[0][1].name == "ix_outbox_item"
    finally:
        await engine.dispose()


async def test_concurrent_start_ups_migrate_once(db_url):
    revisions = await asyncio.gather(*(upgrade(db_url) for _ in range(3)))
    assert revisions == [HEAD_REVISION] * 3


async def test_a_start_up_waits_out_a_migration_longer_than_the_busy_timeout(sqlite_url, caplog):
    """Another process holds the SQLite file's write lock (migrating it, on a loaded
    machine) for longer than the busy timeout: a start-up waits for it instead of
    failing with "database is locked"."""
    caplog.set_level(logging.INFO, logger="storage._migrate")
    path = make_url(sqlite_url).database
    locker = sqlite3.connect(path, isolation_level=None)
    locker.execute("PRAGMA journal_mode=WAL")
    locker.execute("BEGIN IMMEDIATE")
    try:
        start = asyncio.create_task(upgrade(sqlite_url))
        deadline = time.monotonic() + 30
        while "the database is locked" not in caplog.text:  # one busy timeout ran out
            assert not start.done(), start.exception()
            assert time.monotonic() < deadline, "the start-up never met the lock"
            await asyncio.sleep(0.05)
        locker.execute("ROLLBACK")  # the other process is done
        assert await start == HEAD_REVISION
    finally:
        locker.close()


async def test_sqlite_runs_in_wal_mode_with_busy_timeout_and_foreign_keys(sqlite_url):
    async with open_store(sqlite_url) as s:
        assert s.dialect == "sqlite"
        async with s._engine.connect() as conn:
            assert (await conn.exec_driver_sql("PRAGMA journal_mode")).scalar() == "wal"
            assert (await conn.exec_driver_sql("PRAGMA busy_timeout")).scalar() == 5000
            assert (await conn.exec_driver_sql("PRAGMA foreign_keys")).scalar() == 1
            # a poll's commits are checkpointed in bulk (storage/_engine.py)
            assert (await conn.exec_driver_sql("PRAGMA wal_autocheckpoint")).scalar() == 10_000


async def test_sqlite_plans_read_one_board_through_its_index(sqlite_url):
    # Without statistics SQLite would read "source = ? AND status = 'open'" through the
    # index that starts with status: half the table for every poll.
    async with open_store(sqlite_url) as s, s._engine.connect() as conn:
        plans = {
            sql: " ".join(
                row[-1] for row in await conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}")
            )
            for sql in (
                "SELECT external_id, listing_hash FROM postings"
                " WHERE source = 'x' AND status = 'open' AND listing_hash IS NOT NULL",
                "SELECT id FROM postings WHERE status = 'open' AND ai_is = 1"
                " AND (company_key IN ('netflix') OR lower(source) IN ('netflix'))",
                "SELECT id FROM postings WHERE status = 'open' AND ai_is = 1"
                " ORDER BY top_usd DESC NULLS LAST, first_seen DESC, id DESC LIMIT 10",
            )
        }
    known, company, ranked = plans.values()
    # (migration 0007's index narrows to the open ones; before it, the unique one)
    assert "ix_postings_source_state_sqlite (source=? AND status=?)" in known
    assert "ix_postings_company_rank_sqlite" in company and "ix_postings_source_key" in company
    assert "ix_postings_rank_sqlite" in ranked and "TEMP B-TREE" not in ranked


async def test_open_store_without_upgrade_leaves_an_empty_database_empty(db_url):
    async with open_store(db_url, upgrade=False) as s:
        assert isinstance(s, Store)
        assert s.dialect in ("sqlite", "postgresql")
        async with s._engine.connect() as conn:
            names = await conn.run_sync(lambda c: inspect(c).get_table_names())
        assert names == []


# -- time -----------------------------------------------------------------------------


async def test_datetimes_come_back_aware_utc_whatever_zone_went_in(store):
    la = ZoneInfo("America/Los_Angeles")
    at = datetime(2026, 3, 8, 1, 30, tzinfo=la)  # the night US clocks spring forward
    retry = datetime(2026, 3, 8, 3, 30, tzinfo=la)
    state = await store.poll_failed("netflix", at=at, error="HTTP 503", next_attempt=retry)
    assert state.last_attempt == at
    assert state.last_attempt.tzinfo == UTC
    assert state.last_attempt.hour == 9  # 01:30 PST is 09:30 UTC
    assert state.next_attempt - state.last_attempt == timedelta(hours=1)  # DST skipped one
    stored = await store.source_state("netflix")
    assert stored.last_attempt == at
    assert stored.last_attempt.tzinfo == UTC
    assert stored.next_attempt.utcoffset() == timedelta(0)


async def test_a_naive_datetime_is_a_bug_not_a_storage_error(store):
    with pytest.raises(Exception) as info:
        await store.poll_failed(
            "netflix", at=datetime(2026, 1, 1, 12, 0), error="x", next_attempt=None
        )
    assert not isinstance(info.value, StorageError)
    assert "naive datetime" in str(info.value)
    assert await store.source_state("netflix") is None


# -- errors ---------------------------------------------------------------------------


async def test_unreachable_postgresql_is_a_storage_error():
    # Port 1 on the loopback refuses at once: the database is down.
    url = "postgresql+asyncpg://postgres@127.0.0.1:1/marquee"
    with pytest.raises(StorageError):
        await upgrade(url)
    with pytest.raises(StorageError):
        async with open_store(url):
            pass


async def test_locked_sqlite_is_a_storage_error_and_readers_do_not_wait(sqlite_url, tmp_path):
    async with open_store(sqlite_url) as setup:
        await setup.set_meta("commands", "old")
        await setup.add_subscription(Subscription(id=0, channel="discord:1", created_at=T0))
    store = Store(create_engine(sqlite_url, busy_timeout_ms=50))
    # Another process (a poller) is in the middle of a write transaction.
    blocker = sqlite3.connect(tmp_path / "marquee.db", isolation_level=None)
    try:
        blocker.execute("BEGIN IMMEDIATE")
        blocker.execute("UPDATE meta SET value = 'uncommitted'")
        with pytest.raises(StorageError, match="locked"):
            await store.set_meta("commands", "abc")
        # WAL: reads go on, and see the last committed state
        assert await store.get_meta("commands") == "old"
        assert len(await store.subscriptions()) == 1
        blocker.execute("ROLLBACK")
        await store.set_meta("commands", "abc")
        assert await store.get_meta("commands") == "abc"
    finally:
        blocker.close()
        await store._engine.dispose()


# -- sources --------------------------------------------------------------------------


async def test_source_failures_count_up_and_a_success_resets_them(store):
    assert await store.source_state("anthropic") is None
    first = await store.poll_failed(
        "anthropic",
        at=T0,
        error="HTTP 500 (https://boards-api.example/v1/boards/anthropic)",
        next_attempt=T0 + timedelta(minutes=2),
    )
    assert first.failure_count == 1
    second = await store.poll_failed(
        "anthropic",
        at=T0 + timedelta(minutes=2),
        error="timed out",
        next_attempt=T0 + timedelta(minutes=6),
    )
    assert (second.failure_count, second.last_error) == (2, "timed out")
    assert second.last_success is None

    validators = {
        "https://boards-api.example/v1/boards/anthropic/jobs": Validator(
            etag='W/"5f1e"', last_modified="Mon, 02 Nov 2026 16:00:00 GMT"
        ),
        "https://boards-api.example/v1/boards/anthropic/jobs?page=2": Validator(digest="ab" * 16),
    }
    at = T0 + timedelta(minutes=6)
    await store.poll_succeeded(
        "anthropic",
        at=at,
        validators=validators,
        listing_hash="h1",
        item_count=212,
        warnings=["posting 4012 has no title; skipped"],
        next_attempt=at + timedelta(minutes=15),
    )
    state = await store.source_state("anthropic")
    assert (state.failure_count, state.last_error) == (0, None)
    assert state.last_success == at
    assert state.last_attempt == at
    assert state.item_count == 212
    assert state.next_attempt == at + timedelta(minutes=15)
    assert (await store.source_state_and_validators("anthropic"))[1] == validators
    assert await store.listing_hash("anthropic") == "h1"
    assert await store.source_warnings("anthropic") == ["posting 4012 has no title; skipped"]

    # A 304 poll passes no listing hash: the stored one stays.
    await store.poll_succeeded(
        "anthropic", at=at + timedelta(minutes=15), validators=validators, item_count=212
    )
    assert await store.listing_hash("anthropic") == "h1"
    assert await store.source_warnings("anthropic") == []


async def test_a_long_error_is_kept_short(store):
    state = await store.poll_failed("x", at=T0, error="<html>" + "A" * 50_000, next_attempt=None)
    assert len(state.last_error) == 2000


async def test_disabling_and_listing_sources(store):
    await store.poll_failed("workday-disney", at=T0, error="HTTP 404", next_attempt=None)
    await store.set_source_disabled("workday-disney", "failing for 2 days: HTTP 404")
    await store.set_source_disabled("lever-spotify", None)
    states = await store.source_states()
    assert [s.name for s in states] == ["lever-spotify", "workday-disney"]
    assert states[1].disabled_reason == "failing for 2 days: HTTP 404"
    assert states[1].failure_count == 1  # disabling keeps the health record
    await store.set_source_disabled("workday-disney", None)
    assert (await store.source_state("workday-disney")).disabled_reason is None
    assert await store.source_state_and_validators("never-polled") == (None, {})


async def test_source_leases_expire_and_are_taken_over(store):
    lease = timedelta(seconds=90)
    assert await store.acquire_source_lease("openai", owner="a", now=T0, until=T0 + lease)
    assert not await store.acquire_source_lease("openai", owner="b", now=T0, until=T0 + lease)
    later = T0 + timedelta(seconds=60)
    assert await store.acquire_source_lease("openai", owner="a", now=later, until=later + lease)
    # a's renewed lease runs to T0+150s; at T0+120s it is still a's
    at = T0 + timedelta(seconds=120)
    assert not await store.acquire_source_lease("openai", owner="b", now=at, until=at + lease)
    at = T0 + timedelta(seconds=151)
    assert await store.acquire_source_lease("openai", owner="b", now=at, until=at + lease)
    assert not await store.release_source_lease("openai", owner="a")
    assert await store.release_source_lease("openai", owner="b")
    assert await store.acquire_source_lease("openai", owner="a", now=at, until=at + lease)


async def test_concurrent_lease_attempts_have_one_winner(db_url):
    async with open_store(db_url) as one, open_store(db_url, upgrade=False) as two:
        until = T0 + timedelta(minutes=1)
        results = await asyncio.gather(
            *(
                s.acquire_source_lease("hf", owner=f"w{i}", now=T0, until=until)
                for i, s in enumerate([one, two] * 4)
            )
        )
    assert results.count(True) == 1


# -- subscriptions --------------------------------------------------------------------


def _sub(channel: str = "discord:1093", **kw) -> Subscription:
    base = Subscription(
        id=0,
        channel=channel,
        kind="jobs",
        companies=("netflix", "openai"),
        min_salary_usd=250_000.0,
        keywords=("machine learning", "llm"),
        exclude=("intern",),
        remote=True,
        topics=(),
        min_score=0.0,
        ai_only=True,
        mode="both",
        digest_time="08:30",
        tz="America/Los_Angeles",
        days=(1, 2, 3, 4, 5),
        send_empty_digest=False,
        created_by="discord:user:5512",
        created_at=T0,
    )
    return replace(base, **kw)


async def test_subscriptions_round_trip_every_field(store):
    given = _sub(id=999)
    saved = await store.add_subscription(given)
    assert saved.id != 999 and saved.id > 0
    assert saved == replace(given, id=saved.id)
    (loaded,) = await store.subscriptions("discord:1093")
    assert loaded == saved
    assert isinstance(loaded.companies, tuple) and isinstance(loaded.days, tuple)
    assert loaded.created_at.tzinfo == UTC

    news = await store.add_subscription(
        Subscription(
            id=0,
            channel="slack:C024BE91L",
            kind="news",
            topics=("strike",),
            min_score=0.6,
            created_at=None,
            remote=None,
        )
    )
    assert news.created_at is not None and news.created_at.tzinfo == UTC
    assert (await store.subscription(news.id)) == news
    assert [s.id for s in await store.subscriptions()] == [saved.id, news.id]


async def test_unsubscribing_pausing_and_resuming(store):
    a = await store.add_subscription(_sub())
    b = await store.add_subscription(_sub(kind="news", companies=()))
    other = await store.add_subscription(_sub("slack:C1"))

    assert not await store.remove_subscription("slack:C1", a.id)  # not that channel's
    assert await store.remove_subscription("discord:1093", a.id)
    assert not await store.remove_subscription("discord:1093", a.id)  # already gone
    assert [s.id for s in await store.subscriptions("discord:1093")] == [b.id]
    assert await store.subscription(a.id) is None

    assert await store.pause_channel("discord:1093", "Missing Access (50001)") == 1
    assert await store.subscriptions("discord:1093", include_paused=False) == []
    (paused,) = await store.subscriptions("discord:1093")
    assert paused.paused_reason == "Missing Access (50001)"
    assert await store.resume_channel("discord:1093") == 1
    assert await store.resume_channel("discord:1093") == 0
    assert (await store.subscriptions("discord:1093", include_paused=False))[0].id == b.id

    await store.add_subscription(_sub())
    assert await store.remove_all_subscriptions("discord:1093") == 2
    assert await store.subscriptions("discord:1093") == []
    assert [s.id for s in await store.subscriptions()] == [other.id]


async def test_hostile_text_is_stored_as_data(store):
    nasty = "Robert'); DROP TABLE subscriptions;-- @everyone <script>alert(1)</script> 🎬 %_\\"
    saved = await store.add_subscription(_sub(keywords=(nasty,), created_by=nasty))
    (loaded,) = await store.subscriptions()
    assert loaded.keywords == (nasty,) and loaded.created_by == nasty and loaded.id == saved.id
    # NUL and lone surrogates cannot be stored by PostgreSQL or encoded by either driver
    # in text columns (they are cleaned); JSON escapes them, so lists keep them as given.
    odd = await store.add_subscription(
        _sub("slack:C\x00", keywords=("a\x00b", "\ud800"), created_by="u\x00\udfff")
    )
    (stored,) = await store.subscriptions("slack:C")
    assert (stored.id, stored.keywords, stored.created_by) == (odd.id, ("a\x00b", "\ud800"), "u?")
    assert await store.remove_subscription("slack:C\x00", odd.id)


# -- meta -----------------------------------------------------------------------------


async def test_meta_values_are_replaced(store):
    assert await store.get_meta("commands:discord") is None
    await store.set_meta("commands:discord", "sha256:1")
    await store.set_meta("commands:discord", "sha256:2")
    assert await store.get_meta("commands:discord") == "sha256:2"
