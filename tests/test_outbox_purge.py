"""The outbox does not grow for ever: settled alerts are deleted after ``[alerts] keep``,
except the "new" alert of a posting still open (the message its pay change or closing
edits). On SQLite and PostgreSQL, through the real delivery worker and console platform."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.delivery import PURGE_EVERY, Delivery
from bot.models import ListingFilter, OutboxEntry
from storage import open_store
from tests.test_storage_postings import job

T0 = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def entry(kind: str, item_id: int | None, event: str, n: int) -> OutboxEntry:
    return OutboxEntry(
        channel=f"discord:{n}",  # a channel each: none waits behind another
        item_kind=kind,  # type: ignore[arg-type]
        event=event,
        dedupe_key=f"discord:{n}|{kind}:{item_id}|{event}|{n}",
        item_id=item_id,
    )


@pytest.fixture
async def store(db_url):
    async with open_store(db_url) as s:
        yield s


async def _settle(store, row_id: int, status: str, at: datetime) -> None:
    if status == "sent":
        await store.mark_sent(row_id, at=at, message_ref=f"m{row_id}")
    elif status == "failed":
        await store.mark_failed(row_id, error="Missing Access")


async def test_settled_alerts_go_after_keep_but_an_open_postings_alert_stays(store):
    await store.apply_postings("netflix", [job("open"), job("gone")], at=T0, baseline=True)
    ids = {p.posting.external_id: p.id for p in await store.listings(ListingFilter(ai_only=False))}
    # "gone" closes after two polls without it
    for hours in (1, 2):
        await store.apply_postings(
            "netflix", [job("open")], at=T0 + timedelta(hours=hours), baseline=False
        )
    assert {p.posting.external_id for p in await store.listings(ListingFilter(ai_only=False))} == {
        "open"
    }

    old = [
        ("posting", ids["open"], "new", "sent"),  # kept: the message edits go to
        ("posting", ids["open"], "updated", "sent"),
        ("posting", ids["gone"], "new", "sent"),
        ("story", 7, "new", "failed"),
        ("digest", None, "digest", "sent"),
        ("notice", None, "notice", "pending"),  # never settled: never deleted
    ]
    status_of = {}
    for n, (kind, item_id, event, status) in enumerate(old):
        queued = entry(kind, item_id, event, n)
        status_of[queued.dedupe_key] = status
        await store.enqueue([queued], at=T0)
    young = entry("posting", ids["open"], "updated", 99)  # sent, but too young to go
    status_of[young.dedupe_key] = "sent"
    await store.enqueue([young], at=T0 + timedelta(days=80))
    rows = await store.claim_due(
        now=T0 + timedelta(days=81), limit=100, lease_seconds=0, worker="t"
    )
    assert len(rows) == len(status_of)
    for row in rows:
        await _settle(store, row.id, status_of[row.entry.dedupe_key], T0 + timedelta(days=81))

    removed = await store.purge_outbox(before=T0 + timedelta(days=1))
    assert removed == 4
    left = {
        r.entry.dedupe_key
        for r in await store.claim_due(
            now=T0 + timedelta(days=400), limit=100, lease_seconds=0, worker="t2"
        )
    }
    assert left == {"discord:5|notice:None|notice|5"}  # only the pending one is due again
    assert await store.message_ref_for("discord:0", "posting", ids["open"]) is not None
    assert await store.message_ref_for("discord:2", "posting", ids["gone"]) is None
    assert await store.purge_outbox(before=T0 + timedelta(days=1)) == 0


async def test_the_worker_purges_once_an_hour_and_not_with_keep_off(store):
    await store.enqueue([entry("digest", None, "digest", 1)], at=T0)
    (row,) = await store.claim_due(now=T0, limit=10, lease_seconds=0, worker="t")
    await store.mark_sent(row.id, at=T0, message_ref="m1")

    clock = Clock(T0 + timedelta(days=100))
    off = Delivery(store, {}, clock=clock, keep=None)
    assert await off.purge_if_due() == 0
    delivery = Delivery(store, {}, clock=clock, keep=timedelta(days=90))
    assert await delivery.purge_if_due() == 1

    await store.enqueue([entry("digest", None, "digest", 2)], at=T0)
    (row,) = await store.claim_due(now=clock.now, limit=10, lease_seconds=0, worker="t")
    await store.mark_sent(row.id, at=T0, message_ref="m2")
    clock.now += PURGE_EVERY / 2
    assert await delivery.purge_if_due() == 0  # not due yet
    clock.now += PURGE_EVERY
    assert await delivery.purge_if_due() == 1
