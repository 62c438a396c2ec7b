"""The clustering window StoryQueries keeps between polls, on SQLite and PostgreSQL:
what another instance stores is seen, a rolled-back poll leaves nothing behind, and the
window follows clocks that go back a moment."""

from __future__ import annotations

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
