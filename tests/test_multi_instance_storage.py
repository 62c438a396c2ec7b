"""Lease queries for several instances (issue 9), on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from storage import SourceLease, open_store

T0 = datetime(2026, 11, 2, 17, 0, tzinfo=UTC)
LEASE = timedelta(seconds=90)


@pytest.fixture
async def store(db_url):
    async with open_store(db_url) as s:
        yield s


async def test_only_the_holder_renews_and_a_released_lease_cannot_be_renewed(store):
    assert await store.acquire_source_lease("openai", owner="a", now=T0, until=T0 + LEASE)
    assert await store.renew_source_lease("openai", owner="a", until=T0 + 2 * LEASE)
    assert not await store.renew_source_lease("openai", owner="b", until=T0 + 3 * LEASE)
    # the renewal counts: b cannot take it where a's first lease would have ended
    at = T0 + LEASE + timedelta(seconds=1)
    assert not await store.acquire_source_lease("openai", owner="b", now=at, until=at + LEASE)
    assert await store.release_source_lease("openai", owner="a")
    assert not await store.renew_source_lease("openai", owner="a", until=T0 + 3 * LEASE)
    assert not await store.renew_source_lease("never-leased", owner="a", until=T0 + LEASE)


async def test_live_leases_name_their_holders(store):
    await store.acquire_source_lease("openai", owner="host-a:12:ab", now=T0, until=T0 + LEASE)
    await store.acquire_source_lease("anthropic", owner="host-b:7:cd", now=T0, until=T0 + LEASE)
    await store.acquire_source_lease("netflix", owner="host-a:12:ab", now=T0, until=T0 + LEASE)
    await store.release_source_lease("netflix", owner="host-a:12:ab")
    assert await store.source_leases(now=T0) == [
        SourceLease("anthropic", "host-b:7:cd", T0 + LEASE),
        SourceLease("openai", "host-a:12:ab", T0 + LEASE),
    ]
    assert await store.source_leases(now=T0 + LEASE) == []  # expired ones are not held


async def test_a_lease_row_does_not_make_a_source_look_polled(store):
    """The lease creates the source's state row; the poller must still see it as never
    polled (due at once, baseline not done)."""
    await store.acquire_source_lease("openai", owner="a", now=T0, until=T0 + LEASE)
    state = await store.source_state("openai")
    assert state is not None
    assert state.last_attempt is None and not state.baseline_done and state.failure_count == 0


async def test_renewals_racing_a_takeover_leave_one_holder(db_url):
    async with open_store(db_url) as one, open_store(db_url, upgrade=False) as two:
        await one.acquire_source_lease("hf", owner="a", now=T0, until=T0 + LEASE)
        late = T0 + LEASE + timedelta(seconds=1)  # a's lease ran out; b takes over...
        results = await asyncio.gather(
            two.acquire_source_lease("hf", owner="b", now=late, until=late + LEASE),
            one.renew_source_lease("hf", owner="a", until=late + LEASE),  # ...as a renews
        )
        (held,) = await one.source_leases(now=late)
    # Either b took it (and a's renewal failed) or a renewed first and b was refused.
    assert results in ([True, False], [False, True])
    assert held.owner == ("b" if results[0] else "a")


# -- shares of a Discord bot's global limit (bot/rate_share.py) --------------------------

SHARE = timedelta(seconds=30)


async def test_rate_shares_count_the_live_senders_of_one_bucket(store):
    assert await store.share_rate("bot1", owner="a", now=T0, until=T0 + SHARE) == 1
    assert await store.share_rate("bot1", owner="b", now=T0, until=T0 + SHARE) == 2
    assert await store.share_rate("bot2", owner="a", now=T0, until=T0 + SHARE) == 1  # another bot
    # a renewal is one share, not two
    at = T0 + timedelta(seconds=10)
    assert await store.share_rate("bot1", owner="a", now=at, until=at + SHARE) == 2
    # b stopped renewing: once its share ran out it no longer counts, nor is it kept
    at = T0 + SHARE + timedelta(seconds=1)
    assert await store.share_rate("bot1", owner="a", now=at, until=at + SHARE) == 1
    assert await store.share_rate("bot1", owner="b", now=at, until=at + SHARE) == 2
    await store.leave_rate_share("bot1", owner="b")
    assert await store.share_rate("bot1", owner="a", now=at, until=at + SHARE) == 1
    await store.leave_rate_share("bot1", owner="nobody")  # nothing to give up: no error


async def test_senders_renewing_at_once_count_each_other(db_url):
    """Processes starting together (each its own connection) take turns: the last to
    renew counts all three, none counts only itself."""
    async with open_store(db_url) as a, open_store(db_url) as b, open_store(db_url) as c:
        counts = await asyncio.gather(
            *(
                s.share_rate("bot", owner=n, now=T0, until=T0 + SHARE)
                for s, n in ((a, "a"), (b, "b"), (c, "c"))
            )
        )
        assert sorted(counts) == [1, 2, 3]
