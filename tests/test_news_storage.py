"""StoryQueries on SQLite and PostgreSQL: upsert, clustering, events, outbox, queries."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from bot.enrich.news import score_story
from bot.models import OutboxEntry, Story
from storage import open_store

NOW = datetime(2026, 11, 28, 17, 0, tzinfo=UTC)


@pytest.fixture
async def store(db_url):
    async with open_store(db_url) as s:
        yield s


def story(source, guid, title, outlet, *, minutes=0, summary="", url=None) -> Story:
    return score_story(
        Story(
            source=source,
            guid=guid,
            title=title,
            url=url or f"https://{outlet.lower().replace(' ', '')}.example/{guid}",
            outlet=outlet,
            published=NOW - timedelta(minutes=minutes),
            summary=summary,
        )
    )


DEADLINE = story(
    "deadline",
    "d1",
    "SAG-AFTRA Reaches Tentative Deal With Studios On New TV/Theatrical Contract, "
    "Including AI Guardrails",
    "Deadline",
    minutes=120,
    summary="Consent and compensation rules for digital replicas.",
)
VARIETY = story(
    "variety",
    "v1",
    "SAG-AFTRA, AMPTP Reach Tentative Agreement on New Contract With Digital Replica Protections",
    "Variety",
    minutes=90,
)
WRAP = story(
    "thewrap",
    "w1",
    "SAG-AFTRA Reaches Tentative Agreement With AMPTP, Averting Second Actors Strike",
    "TheWrap",
    minutes=60,
)
GAMES = story(
    "variety",
    "v2",
    "SAG-AFTRA Reaches Tentative Deal With Video Game Companies",
    "Variety",
    minutes=30,
)


def route_all(events):
    for e in events:
        suffix = f"|{','.join(e.changes)}|{e.story.cluster_size}" if e.kind == "updated" else ""
        yield OutboxEntry(
            channel="console:news",
            item_kind="story",
            event=e.kind,
            dedupe_key=f"console:news|story:{e.story.id}|{e.kind}{suffix}",
            item_id=e.story.id,
        )


async def test_baseline_is_silent_but_stored(store):
    events = await store.apply_stories("deadline", [DEADLINE], at=NOW, baseline=True)
    assert events == []
    rows = await store.stories(now=NOW)
    assert [r.story.guid for r in rows] == ["d1"]
    assert rows[0].story.topics["strike"] > 0.5
    assert rows[0].cluster_size == 1 and rows[0].cluster_outlets == ("Deadline",)


async def test_first_outlet_alerts_later_ones_update_the_lead(store):
    first = await store.apply_stories("deadline", [DEADLINE], at=NOW, baseline=False)
    assert [(e.kind, e.story.story.guid) for e in first] == [("new", "d1")]
    lead_id = first[0].story.id

    second = await store.apply_stories(
        "variety", [VARIETY, GAMES], at=NOW + timedelta(minutes=5), baseline=False, route=route_all
    )
    kinds = sorted((e.kind, e.story.story.guid, e.changes) for e in second)
    # the video-game deal is another event: its own alert; Variety's paraphrase joins
    assert kinds == [("new", "v2", ()), ("updated", "d1", ("also_covered_by",))]
    update = next(e for e in second if e.kind == "updated")
    assert update.story.id == lead_id
    assert update.story.cluster_size == 2
    assert update.story.cluster_outlets == ("Deadline", "Variety")

    third = await store.apply_stories(
        "thewrap", [WRAP], at=NOW + timedelta(minutes=9), baseline=False
    )
    assert [(e.kind, e.story.story.guid, e.story.cluster_size) for e in third] == [
        ("updated", "d1", 3)
    ]
    members = await store.cluster_members(update.story.cluster_id)
    assert [m.story.guid for m in members] == ["d1", "v1", "w1"]

    # listing shows cluster leads only, newest first
    listed = await store.stories(now=NOW + timedelta(minutes=10))
    assert [s.story.guid for s in listed] == ["v2", "d1"]
    assert listed[1].cluster_outlets == ("Deadline", "Variety", "TheWrap")


async def test_same_outlet_in_another_feed_is_not_another_outlet(store):
    await store.apply_stories("deadline", [DEADLINE], at=NOW, baseline=False)
    again = replace(DEADLINE, source="deadline-ai")  # Deadline's AI tag feed, same article
    events = await store.apply_stories("deadline-ai", [again], at=NOW, baseline=False)
    assert events == []
    lead = (await store.stories(now=NOW))[0]
    assert lead.cluster_size == 2 and lead.cluster_outlets == ("Deadline",)


async def test_content_change_is_an_update_and_unchanged_is_quiet(store):
    await store.apply_stories("deadline", [DEADLINE], at=NOW, baseline=False)
    same = await store.apply_stories(
        "deadline", [DEADLINE], at=NOW + timedelta(minutes=1), baseline=False
    )
    assert same == []
    edited = replace(DEADLINE, title=DEADLINE.title + " (Updated)")
    events = await store.apply_stories(
        "deadline", [edited, edited], at=NOW + timedelta(minutes=2), baseline=False
    )
    assert [(e.kind, e.changes) for e in events] == [("updated", ("content",))]
    assert events[0].story.story.title.endswith("(Updated)")


async def test_a_lone_surrogate_is_stored_as_data_and_hashed_alike(store):
    """A JSON Feed escape like "\\ud800" gives a string no UTF-8 codec encodes: the
    story is stored (the character replaced), and polled again it is unchanged."""
    odd = replace(DEADLINE, guid="odd", title="Guild \ud800 vote", summary="\udfff talks")
    (new,) = await store.apply_stories("deadline", [odd], at=NOW, baseline=False)
    assert new.kind == "new" and new.story.story.title == "Guild ? vote"
    again = await store.apply_stories(
        "deadline", [odd], at=NOW + timedelta(minutes=1), baseline=False
    )
    assert again == []
    other = replace(odd, title="Guild \udbff vote")  # another surrogate: other content
    changed = await store.apply_stories(
        "deadline", [other], at=NOW + timedelta(minutes=2), baseline=False
    )
    assert [e.kind for e in changed] == ["updated"]


async def test_hashes_made_ahead_are_stored_and_compared(store):
    """Content hashes a worker made (bot.enrich.news.finish_stories) are stored as given,
    and the next poll's are compared with them; of two entries with one guid the first
    wins, with its own hash."""
    retold = replace(DEADLINE, title="Another headline")  # the same guid
    await store.apply_stories(
        "deadline", [DEADLINE, retold], at=NOW, baseline=False, hashes=["h-first", "h-second"]
    )
    same = await store.apply_stories(
        "deadline", [DEADLINE], at=NOW + timedelta(minutes=1), baseline=False, hashes=["h-first"]
    )
    assert same == []
    changed = await store.apply_stories(
        "deadline", [DEADLINE], at=NOW + timedelta(minutes=2), baseline=False, hashes=["h-2"]
    )
    assert [(e.kind, e.story.story.title) for e in changed] == [("updated", DEADLINE.title)]


async def test_route_queues_once_in_the_same_transaction(store):
    await store.apply_stories("deadline", [DEADLINE], at=NOW, baseline=False, route=route_all)
    # the same poll replayed (a crash before the source state was saved) queues nothing new
    await store.apply_stories("deadline", [DEADLINE], at=NOW, baseline=False, route=route_all)
    assert await store.outbox_backlog() == 1


async def test_one_feed_covering_one_event_twice_alerts_once(store):
    gn = [
        replace(story("gn", "g1", WRAP.title, "TheWrap", minutes=60)),
        replace(story("gn", "g2", VARIETY.title, "Variety", minutes=50)),
    ]
    events = await store.apply_stories("gn", gn, at=NOW, baseline=False)
    assert [(e.kind, e.story.story.guid) for e in events] == [("new", "g1")]


async def test_topic_and_query_filters(store):
    other = story("deadline", "d9", "'Wicked: For Good' Crosses $400M Worldwide", "Deadline")
    await store.apply_stories("deadline", [DEADLINE, other], at=NOW, baseline=False)
    assert [s.story.guid for s in await store.stories(topic="strike", now=NOW)] == ["d1"]
    assert [s.story.guid for s in await store.stories(topic="ai", min_score=0.5, now=NOW)] == ["d1"]
    assert [s.story.guid for s in await store.stories(query="wicked", now=NOW)] == ["d9"]
    assert len(await store.stories(now=NOW, limit=1, offset=1)) == 1
    assert await store.stories(days=1, now=NOW + timedelta(days=3)) == []
    one = await store.story((await store.stories(query="wicked", now=NOW))[0].id)
    assert one is not None and one.story.title.startswith("'Wicked")
    assert await store.story(999_999) is None
