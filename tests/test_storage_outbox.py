"""Storage: the outbox (dedupe, claims, leases, per-channel order, concurrent workers)
and digest claims. SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta

import pytest

from bot.models import OutboxEntry
from storage import open_store
from storage.schema import clean_text

T0 = datetime(2026, 11, 2, 17, 0, tzinfo=UTC)


@pytest.fixture
async def store(db_url):
    async with open_store(db_url) as s:
        yield s


def alert(channel: str, posting_id: int, event: str = "new") -> OutboxEntry:
    return OutboxEntry(
        channel=channel,
        item_kind="posting",
        event=event,
        dedupe_key=f"{channel}|posting:{posting_id}|{event}",
        item_id=posting_id,
        subscription_id=7,
    )


def ids(rows) -> list[int]:
    return [row.id for row in rows]


async def test_the_same_key_is_queued_once(store):
    entry = alert("discord:1093", 41)
    assert await store.enqueue([entry], at=T0) == 1
    assert await store.enqueue([entry], at=T0) == 0
    assert await store.enqueue([entry, alert("discord:1093", 42), entry], at=T0) == 1
    assert await store.outbox_backlog() == 2
    rows = await store.claim_due(now=T0)
    assert [r.entry for r in rows] == [entry, alert("discord:1093", 42)]


async def test_a_large_batch_with_shared_payloads_and_hostile_text(store):
    # More rows than one multi-row statement holds, a payload object shared by many
    # rows (as matching queues them), and text no engine can store as is.
    shared = {"changes": ["salary"]}
    entries = [
        OutboxEntry(
            channel=f"discord:{i % 7}\x00",
            item_kind="posting",
            event="updated",
            dedupe_key=f"discord:{i % 7}|posting:{i}|updated|\ud800",
            item_id=i,
            subscription_id=i % 3,
            payload=shared if i % 2 else {"changes": [f"title {i}"]},
        )
        for i in range(1203)
    ]
    assert await store.enqueue(entries, at=T0) == 1203
    assert await store.enqueue([*entries[::2], alert("discord:9", 1)], at=T0) == 1
    rows = await store.claim_due(now=T0, limit=2000)
    assert len(rows) == 1204
    for row, entry in zip(rows, entries, strict=False):
        assert row.entry.channel == clean_text(entry.channel) == entry.channel[:-1]
        assert row.entry.dedupe_key == clean_text(entry.dedupe_key)
        assert (row.entry.item_id, row.entry.subscription_id) == (
            entry.item_id,
            entry.subscription_id,
        )
        assert row.entry.payload == entry.payload
        assert row.created_at == row.next_attempt_at == T0
        assert row.created_at.tzinfo is not None


async def test_payloads_and_fields_round_trip(store):
    entry = OutboxEntry(
        channel="slack:C024BE91L",
        item_kind="digest",
        event="digest",
        dedupe_key="slack:C024BE91L|digest:3|2026-11-02",
        subscription_id=3,
        payload={"title": "Your digest", "items": [{"title": "ML <b>Eng</b> & co", "pay": 1.5e5}]},
    )
    await store.enqueue([entry], at=T0)
    (row,) = await store.claim_due(now=T0, worker="w1")
    assert row.entry == entry
    assert (row.status, row.attempts) == ("pending", 1)
    assert row.created_at == row.next_attempt_at == T0
    assert row.created_at.tzinfo == UTC
    assert await store.outbox_row(row.id) == row


async def test_claims_are_oldest_first_due_only_and_leased(store):
    await store.enqueue([alert("discord:1", 1)], at=T0)
    await store.enqueue([alert("discord:2", 2)], at=T0 + timedelta(seconds=1))
    await store.enqueue([alert("discord:3", 3)], at=T0 + timedelta(minutes=5))  # not due yet
    first = await store.claim_due(now=T0 + timedelta(seconds=2), worker="a", lease_seconds=60)
    assert [r.entry.item_id for r in first] == [1, 2]
    # leased: nobody else gets them...
    assert await store.claim_due(now=T0 + timedelta(seconds=30), worker="b") == []
    # ...until the lease runs out (worker a died), then they come back, one attempt more
    again = await store.claim_due(
        now=T0 + timedelta(seconds=63), worker="b", limit=1, lease_seconds=600
    )
    assert [(r.entry.item_id, r.attempts) for r in again] == [(1, 2)]
    later = await store.claim_due(now=T0 + timedelta(minutes=6), worker="b")
    assert [r.entry.item_id for r in later] == [2, 3]


async def test_sent_rows_stay_sent_and_give_their_message_ref(store):
    await store.enqueue([alert("discord:1", 41), alert("discord:1", 41, "updated")], at=T0)
    new, update = await store.claim_due(now=T0)
    assert await store.message_ref_for("discord:1", "posting", 41) is None
    await store.mark_sent(new.id, at=T0 + timedelta(seconds=1), message_ref="1304917423")
    assert await store.message_ref_for("discord:1", "posting", 41) == "1304917423"
    assert await store.message_ref_for("discord:2", "posting", 41) is None
    assert await store.message_ref_for("discord:1", "story", 41) is None
    await store.mark_sent(update.id, at=T0 + timedelta(seconds=2), message_ref="1304917423")
    assert await store.outbox_backlog() == 0
    assert await store.claim_due(now=T0 + timedelta(days=1)) == []
    sent = await store.outbox_row(new.id)
    assert (sent.status, sent.message_ref, sent.last_error) == ("sent", "1304917423", None)


async def test_a_stale_workers_late_answer_does_not_undo_a_delivery(store):
    """Worker A stalls past its lease, B claims the row and sends it; A's late transient
    error (or failure) must not put the row back, or it would go out again."""
    await store.enqueue([alert("discord:1", 7), alert("discord:2", 8)], at=T0)
    a_rows = await store.claim_due(now=T0, worker="A", lease_seconds=10)
    later = T0 + timedelta(seconds=11)
    b_rows = await store.claim_due(now=later, worker="B", lease_seconds=10)
    assert ids(a_rows) == ids(b_rows)
    first, second = b_rows
    await store.mark_sent(first.id, at=later, message_ref="m1")  # B delivered both
    await store.mark_sent(second.id, at=later, message_ref="m2")
    await store.mark_retry(first.id, error="timeout", retry_at=later)  # A, late
    await store.mark_failed(second.id, error="Missing Access")
    for row_id, ref in ((first.id, "m1"), (second.id, "m2")):
        row = await store.outbox_row(row_id)
        assert row is not None and (row.status, row.message_ref) == ("sent", ref)
    assert await store.claim_due(now=later + timedelta(minutes=5), worker="C") == []


async def test_retries_wait_and_failures_stop(store):
    await store.enqueue([alert("discord:1", 1), alert("slack:C1", 2)], at=T0)
    retry, fail = await store.claim_due(now=T0)
    await store.mark_retry(retry.id, error="HTTP 503", retry_at=T0 + timedelta(seconds=30))
    await store.mark_failed(fail.id, error="channel_not_found")
    assert await store.claim_due(now=T0 + timedelta(seconds=29)) == []
    (back,) = await store.claim_due(now=T0 + timedelta(seconds=30))
    assert (back.id, back.attempts, back.last_error) == (retry.id, 2, "HTTP 503")
    failed = await store.outbox_row(fail.id)
    assert (failed.status, failed.last_error) == ("failed", "channel_not_found")
    assert await store.outbox_backlog() == 1


async def test_a_channel_keeps_its_order(store):
    await store.enqueue(
        [alert("discord:A", 1), alert("discord:A", 1, "updated"), alert("discord:B", 2)], at=T0
    )
    (a1,) = await store.claim_due(now=T0, limit=1)
    assert (a1.entry.channel, a1.entry.event) == ("discord:A", "new")
    # while A's first row is out, its next one is not handed to anybody; B's is
    (b,) = await store.claim_due(now=T0, limit=5)
    assert b.entry.channel == "discord:B"
    await store.mark_sent(b.id, at=T0, message_ref="b")

    # A's first row waits for a retry: its later row must wait too
    await store.mark_retry(a1.id, error="429", retry_at=T0 + timedelta(seconds=10))
    await store.enqueue([alert("discord:C", 3)], at=T0)
    assert [r.entry.channel for r in await store.claim_due(now=T0 + timedelta(seconds=1))] == [
        "discord:C"
    ]
    # once due, A's rows come in order
    rows = await store.claim_due(now=T0 + timedelta(seconds=10))
    assert [(r.entry.channel, r.entry.event) for r in rows] == [
        ("discord:A", "new"),
        ("discord:A", "updated"),
    ]
    # a failed row does not hold its channel up for ever
    await store.mark_failed(rows[0].id, error="Missing Access")
    await store.mark_retry(rows[1].id, error="timeout", retry_at=T0 + timedelta(seconds=11))
    (last,) = await store.claim_due(now=T0 + timedelta(seconds=11))
    assert last.id == rows[1].id


async def test_claims_by_platform(store):
    await store.enqueue(
        [alert("discord:1", 1), alert("slack:C1", 2), alert("console:main", 3)], at=T0
    )
    assert [r.entry.channel for r in await store.claim_due(now=T0, platforms={"slack"})] == [
        "slack:C1"
    ]
    assert await store.claim_due(now=T0, platforms=()) == []
    rows = await store.claim_due(now=T0, platforms=["discord", "console"])
    assert [r.entry.channel for r in rows] == ["discord:1", "console:main"]


async def test_concurrent_workers_deliver_each_row_once_in_channel_order(db_url):
    channels = [f"discord:{n}" for n in range(12)]
    entries = [alert(ch, i) for i in range(10) for ch in channels]
    async with open_store(db_url) as s1, open_store(db_url, upgrade=False) as s2:
        assert await s1.enqueue(entries, at=T0) == len(entries)
        delivered: list[tuple[str, int, str]] = []

        async def worker(store, name: str) -> None:
            idle = 0
            while idle < 3:
                rows = await store.claim_due(now=T0, worker=name, limit=7, lease_seconds=600)
                idle = 0 if rows else idle + 1
                for row in rows:
                    delivered.append((row.entry.channel, row.entry.item_id, name))
                    await store.mark_sent(row.id, at=T0, message_ref=f"m{row.id}")
                await asyncio.sleep(0)  # let the other worker in

        await asyncio.gather(worker(s1, "a"), worker(s2, "b"), worker(s1, "c"))
        assert await s1.outbox_backlog() == 0

    assert len(delivered) == len(entries)
    assert len({(ch, item) for ch, item, _ in delivered}) == len(entries)  # none twice
    for ch in channels:
        assert [item for c, item, _ in delivered if c == ch] == list(range(10))
    assert len({name for *_, name in delivered}) > 1  # the work was shared


async def test_concurrent_claims_never_hand_out_a_row_twice(db_url):
    entries = [alert(f"slack:C{n}", n) for n in range(60)]
    async with open_store(db_url) as s1, open_store(db_url, upgrade=False) as s2:
        await s1.enqueue(entries, at=T0)
        batches = await asyncio.gather(
            *(s.claim_due(now=T0, worker=f"w{i}", limit=9) for i, s in enumerate([s1, s2] * 4))
        )
    claimed = [row.id for batch in batches for row in batch]
    assert len(claimed) == len(set(claimed)) == 60


async def test_a_digest_is_claimed_once_per_local_day(store):
    day = date(2026, 11, 1)  # the day US clocks fall back: 01:30 happens twice
    entry = OutboxEntry(
        channel="discord:1093",
        item_kind="digest",
        event="digest",
        dedupe_key="discord:1093|digest:5|2026-11-01",
        subscription_id=5,
        payload={"title": "Daily digest"},
    )
    results = await asyncio.gather(
        *(store.claim_digest(5, day, at=T0, entry=entry) for _ in range(8))
    )
    assert results.count(True) == 1
    assert await store.digest_sent(5, day)
    assert not await store.digest_sent(5, date(2026, 11, 2))
    assert not await store.digest_sent(6, day)
    assert await store.outbox_backlog() == 1
    assert await store.claim_digest(5, date(2026, 11, 2), at=T0)
    assert await store.claim_digest(6, day, at=T0)
    assert not await store.claim_digest(6, day, at=T0 + timedelta(hours=1))


async def test_digest_claims_across_processes(db_url):
    async with open_store(db_url) as s1, open_store(db_url, upgrade=False) as s2:
        day = date(2026, 3, 8)
        results = await asyncio.gather(*(s.claim_digest(9, day, at=T0) for s in [s1, s2] * 5))
    assert results.count(True) == 1


async def test_a_worker_renews_only_the_claims_it_holds(store):
    await store.enqueue([alert("discord:1", 1), alert("discord:2", 2)], at=T0)
    rows = await store.claim_due(now=T0, worker="a", lease_seconds=30)
    ids = [row.id for row in rows]
    assert await store.renew_claims(ids, worker="b", until=T0 + timedelta(minutes=5)) == 0
    assert await store.renew_claims(ids, worker="a", until=T0 + timedelta(minutes=5)) == 2
    # past the first lease, still a's
    assert await store.claim_due(now=T0 + timedelta(seconds=45), worker="b") == []
    await store.mark_sent(ids[0], at=T0, message_ref="m")
    assert await store.renew_claims(ids, worker="a", until=T0 + timedelta(minutes=9)) == 1
    assert await store.renew_claims([], worker="a", until=T0) == 0
