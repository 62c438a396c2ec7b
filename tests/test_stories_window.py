"""The clustering window StoryQueries keeps between polls, on SQLite and PostgreSQL:
what another instance stores is seen, a rolled-back poll leaves nothing behind, and the
window follows clocks that go back a moment."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from bot.enrich.news import score_story
from bot.models import Story
from storage import open_store

NOW = datetime(2026, 11, 28, 17, 0, tzinfo=UTC)
TITLES = {
    "Deadline": "SAG-AFTRA Reaches Tentative Deal With Studios On New TV/Theatrical Contract",
    "Variety": "SAG-AFTRA, AMPTP Reach Tentative Agreement on New Contract",
    "TheWrap": "SAG-AFTRA Reaches Tentative Agreement With AMPTP, Averting Second Strike",
    "Reuters": "Netflix layoffs hit animation division",
}


def story(outlet: str, guid: str, *, at: datetime = NOW) -> Story:
    return score_story(
        Story(
            source=outlet.lower(),
            guid=guid,
            title=TITLES[outlet],
            url=f"https://{outlet.lower()}.example/{guid}",
            outlet=outlet,
            published=at,
        )
    )


@pytest.fixture
async def two_stores(db_url):
    """Two Stores on one database: two instances of Marquee sharing it."""
    async with open_store(db_url) as first, open_store(db_url) as second:
        yield first, second


async def test_what_another_instance_stored_is_clustered_with(two_stores):
    first, second = two_stores
    [new] = await first.apply_stories("deadline", [story("Deadline", "d1")], at=NOW, baseline=False)
    lead = new.story.id
    later = NOW + timedelta(minutes=5)
    [joined] = await second.apply_stories(
        "variety", [story("Variety", "v1", at=later)], at=later, baseline=False
    )
    assert joined.story.id == lead and joined.story.cluster_size == 2
    # The first instance's window predates the second's write: it must not count on it.
    last = NOW + timedelta(minutes=9)
    [update] = await first.apply_stories(
        "thewrap", [story("TheWrap", "w1", at=last)], at=last, baseline=False
    )
    assert update.kind == "updated" and update.story.id == lead
    assert update.story.cluster_size == 3
    assert update.story.cluster_outlets == ("Deadline", "Variety", "TheWrap")


async def test_a_rolled_back_poll_leaves_nothing_in_the_window(db_url):
    async with open_store(db_url) as store:
        await store.apply_stories("deadline", [story("Deadline", "d1")], at=NOW, baseline=False)

        def broken_router(events):
            raise RuntimeError("router bug")

        later = NOW + timedelta(minutes=5)
        with pytest.raises(RuntimeError):
            await store.apply_stories(
                "variety",
                [story("Variety", "v1", at=later)],
                at=later,
                baseline=False,
                route=broken_router,
            )
        [update] = await store.apply_stories(
            "variety", [story("Variety", "v1", at=later)], at=later, baseline=False
        )
        assert update.kind == "updated"
        assert update.story.cluster_size == 2
        assert update.story.cluster_outlets == ("Deadline", "Variety")


async def test_the_window_follows_a_clock_that_goes_back(db_url):
    async with open_store(db_url) as store:
        # First seen 71 hours before NOW: in the window of a poll at NOW, not of one
        # two hours later; polls running side by side read the clock in any order.
        old = NOW - timedelta(hours=71)
        await store.apply_stories(
            "deadline", [story("Deadline", "d1", at=old)], at=old, baseline=False
        )
        later = NOW + timedelta(hours=2)
        await store.apply_stories(
            "reuters", [story("Reuters", "r1", at=later)], at=later, baseline=False
        )
        # d1 left the window of that poll; back at NOW it is in it again
        [update] = await store.apply_stories(
            "thewrap", [story("TheWrap", "w1", at=NOW)], at=NOW, baseline=False
        )
        assert update.kind == "updated" and update.story.story.guid == "d1"
        assert update.story.cluster_outlets == ("Deadline", "TheWrap")


async def test_instances_writing_at_once_take_distinct_ids(two_stores):
    """Story and cluster ids are taken before the rows are written (a sequence on
    PostgreSQL, the largest id plus one under SQLite's write lock): two instances
    storing at the same moment never collide, and every story points at a cluster that
    exists and is led by one of its stories."""
    first, second = two_stores

    def batch(outlet: str, start: int) -> list[Story]:
        return [
            Story(
                source=outlet.lower(),
                guid=f"{outlet}-{n}",
                title=f"{outlet} story number {n} about topic {n % 7}",
                url=f"https://{outlet.lower()}.example/{n}",
                outlet=outlet,
                published=NOW,
            )
            for n in range(start, start + 30)
        ]

    for round_ in range(3):
        await asyncio.gather(
            first.apply_stories("a", batch("Alpha", 30 * round_), at=NOW, baseline=False),
            second.apply_stories("b", batch("Beta", 30 * round_), at=NOW, baseline=False),
        )
    leads = await first.stories(days=2, limit=1000, now=NOW)
    members = [m for lead in leads for m in await first.cluster_members(lead.cluster_id)]
    assert len(members) == 180
    assert len({m.id for m in members}) == 180
    for lead in leads:
        assert lead.cluster_id > 0
        group = await first.cluster_members(lead.cluster_id)
        assert group[0].id == lead.id  # the lead is a member, listed first
        assert lead.cluster_size == len(group)
