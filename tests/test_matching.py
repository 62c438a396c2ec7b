"""Matching a poll's events against a realistic mix of subscriptions."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import timedelta

import pytest

from bot.matching import build_router, dedupe_key
from bot.models import PostingEvent, StoredStory, Story, StoryEvent
from storage import open_store
from tests.test_handlers_fixtures import (
    ANTHROPIC,
    DISNEY,
    HUGGING,
    NETFLIX,
    NOW,
    posting,
    stored,
    sub,
    usd,
)

PM, MLE, MODELER = (stored(p, i) for i, p in enumerate(NETFLIX, start=1))
RESEARCH, INFERENCE = (stored(p, i) for i, p in enumerate(ANTHROPIC, start=10))
DISNEY_MLE, HOSTILE = (stored(p, i) for i, p in enumerate(DISNEY, start=20))
HF = stored(HUGGING[0], 30)


def new(*items):
    return [PostingEvent("new", s) for s in items]


def routed(subs, events):
    return list(build_router(subs)(events))


def pairs(entries):
    return sorted((e.channel, e.item_id) for e in entries)


def test_realistic_mix_one_entry_per_channel_and_event():
    subs = [
        sub(1, "discord:A", kind="jobs", companies=("netflix",)),
        sub(2, "discord:A", kind="all", min_salary_usd=300_000),  # overlaps #1 on Netflix
        sub(
            3, "discord:B", kind="jobs", companies=("anthropic", "netflix"), min_salary_usd=500_000
        ),
        sub(4, "slack:T1/C1", kind="jobs", paused_reason="channel_not_found"),
        sub(5, "slack:T1/C2", kind="jobs", mode="digest"),  # digests only: no instant alert
        sub(6, "slack:T1/C3", kind="jobs", mode="both", remote=True),
        sub(7, "console:main", kind="news"),
        sub(8, "discord:C", kind="jobs", ai_only=False, companies=("Netflix",)),
    ]
    entries = routed(subs, new(PM, MLE, MODELER, RESEARCH, INFERENCE, DISNEY_MLE, HF))
    assert pairs(entries) == sorted(
        [
            ("discord:A", PM.id),  # once, though #1 and #2 both match
            ("discord:A", MLE.id),
            ("discord:A", RESEARCH.id),
            ("discord:A", INFERENCE.id),
            ("discord:B", PM.id),  # 900k
            ("discord:B", MLE.id),  # 700k
            ("discord:B", RESEARCH.id),  # 560k
            ("slack:T1/C3", MLE.id),  # remote
            ("slack:T1/C3", INFERENCE.id),
            ("slack:T1/C3", HF.id),
            ("discord:C", PM.id),
            ("discord:C", MLE.id),
            ("discord:C", MODELER.id),  # ai_only off: the Character Modeler too
        ]
    )
    by_key = {e.dedupe_key: e for e in entries}
    assert len(by_key) == len(entries)
    a_pm = by_key[f"discord:A|posting:{PM.id}|new"]
    assert a_pm.subscription_id == 1 and a_pm.item_kind == "posting" and a_pm.event == "new"


def test_filters_read_words_not_substrings():
    maintenance = stored(
        posting("disney", "m1", "Disney", "Maintenance Technician", usd(60_000, 80_000)), 40
    )
    genai = stored(posting("disney", "g1", "Disney", "Gen-AI Producer", usd(150_000, 190_000)), 41)
    subs = [
        sub(1, "c:ai", kind="jobs", keywords=("ai",), ai_only=False),
        sub(2, "c:phrase", kind="jobs", keywords=("Machine Learning",)),
        sub(3, "c:noexcl", kind="jobs", exclude=("engineer",)),
        sub(4, "c:hf", kind="jobs", companies=("hugging-face",)),
    ]
    got = pairs(routed(subs, new(maintenance, genai, PM, DISNEY_MLE, HF)))
    assert ("c:ai", genai.id) in got and ("c:ai", maintenance.id) not in got
    # "machine learning" is in every fixture description; title words too
    assert ("c:phrase", PM.id) in got and ("c:phrase", DISNEY_MLE.id) in got
    # exclusions look at the title and team only
    assert ("c:noexcl", DISNEY_MLE.id) not in got and ("c:noexcl", PM.id) in got
    assert [p for p in got if p[0] == "c:hf"] == [("c:hf", HF.id)]


def test_unknown_pay_never_passes_a_minimum_and_remote_filters():
    subs = [
        sub(1, "c:rich", kind="jobs", min_salary_usd=100_000),
        sub(2, "c:onsite", kind="jobs", remote=False),
    ]
    got = pairs(routed(subs, new(HF, DISNEY_MLE, MLE)))
    assert ("c:rich", HF.id) not in got and ("c:rich", DISNEY_MLE.id) in got
    assert ("c:onsite", MLE.id) not in got and ("c:onsite", DISNEY_MLE.id) in got


def test_update_keys_are_versioned_and_reach_channels_that_matched_before():
    subs = [sub(1, "discord:A", kind="jobs", min_salary_usd=500_000)]
    before = NETFLIX[0]
    cut = replace(before, salary=usd(300_000, 450_000, kind="total"))
    first = PostingEvent("updated", stored(cut, PM.id), ("salary",), previous=before)
    [entry] = routed(subs, [first])  # now below the minimum, but the channel saw the alert
    assert entry.event == "updated" and entry.payload == {"changes": ["salary"]}
    assert entry.dedupe_key.startswith(f"discord:A|posting:{PM.id}|updated|salary|")
    # the same event again (a replayed poll) has the same key; a second change a new one
    assert dedupe_key("discord:A", first) == entry.dedupe_key
    raised = PostingEvent("updated", stored(before, PM.id), ("salary",), previous=cut)
    assert dedupe_key("discord:A", raised) != entry.dedupe_key
    closed = PostingEvent("closed", replace(stored(before, PM.id, status="closed"), closed_at=NOW))
    assert [e.dedupe_key for e in routed(subs, [closed])] == [
        f"discord:A|posting:{PM.id}|closed|20260304T170000"
    ]


def story(id, title, topics, *, summary="", outlet="Deadline", cluster=None, size=1):
    return StoredStory(
        id,
        Story("deadline", f"g{id}", title, f"https://deadline.test/{id}", outlet, NOW, summary,
              topics=topics),
        NOW,
        cluster or id,
        size,
        (outlet,),
    )  # fmt: skip


def test_stories_by_topic_score_keywords_and_company():
    strike = story(1, "SAG-AFTRA video game performers strike over AI", {"strike": 0.9, "ai": 0.8})
    deal = story(2, "Netflix signs AI likeness deal with studio", {"ai": 0.55, "likeness": 0.7})
    weak = story(3, "Box office weekend: sequels lead", {"strike": 0.1})
    subs = [
        sub(1, "c:strike", kind="news", topics=("strike",), min_score=0.5),
        sub(2, "c:any", kind="news"),
        sub(3, "c:score", kind="news", min_score=0.6),
        sub(4, "c:netflix", kind="all", companies=("netflix",)),
        sub(5, "c:games", kind="news", keywords=("video game",)),
        sub(6, "c:jobs", kind="jobs"),
    ]
    events = [StoryEvent("new", s) for s in (strike, deal, weak)]
    got = pairs(routed(subs, events))
    assert got == sorted(
        [
            ("c:strike", 1),
            ("c:any", 1),
            ("c:any", 2),
            ("c:any", 3),
            ("c:score", 1),
            ("c:score", 2),
            ("c:netflix", 2),
            ("c:games", 1),
        ]
    )
    more = StoryEvent("updated", replace(strike, cluster_size=3), ("also_covered_by",))
    [entry] = routed([subs[0]], [more])
    assert entry.item_kind == "story" and entry.event == "updated"
    assert entry.dedupe_key.startswith("c:strike|story:1|updated|also_covered_by|")


def test_ten_thousand_subscriptions_route_each_channel_once():
    """(How fast: bench/, fan-out.)"""
    rng = random.Random(7)
    companies = ["netflix", "disney", "anthropic", "openai", "nvidia", "spotify", "hugging face"]
    companies += [f"studio {i}" for i in range(300)]
    subs = [
        sub(
            i,
            f"discord:{i % 4000}",
            kind=rng.choice(["jobs", "all", "news"]),
            companies=tuple(rng.sample(companies, rng.choice([0, 0, 1, 2]))),
            min_salary_usd=rng.choice([None, 200_000, 300_000, 500_000]),
            keywords=tuple(rng.sample(["llm", "machine learning", "gen ai"], rng.choice([0, 1]))),
            exclude=tuple(rng.sample(["intern", "manager"], rng.choice([0, 0, 1]))),
            mode=rng.choice(["instant", "both", "digest"]),
        )
        for i in range(1, 10_001)
    ]  # fmt: skip
    router = build_router(subs)
    entries = list(router(new(PM)))
    channels = [e.channel for e in entries]
    assert len(channels) == len(set(channels)) > 100


# -- through the real outbox -----------------------------------------------------------


@pytest.fixture
async def store(db_url):
    async with open_store(db_url) as s:
        yield s


async def queued(store):
    rows = await store.claim_due(now=NOW + timedelta(days=30), limit=1000, lease_seconds=0)
    return sorted((r.entry.channel, r.entry.event, r.entry.item_id) for r in rows)


async def test_router_with_the_store_queues_each_alert_once(store):
    subs = [
        sub(1, "discord:A", kind="jobs", companies=("netflix",)),
        sub(2, "discord:A", kind="jobs", min_salary_usd=300_000),
        sub(3, "slack:T/C", kind="jobs", min_salary_usd=800_000),
    ]
    router = build_router(subs)
    at = NOW - timedelta(days=1)
    await store.apply_postings("netflix", NETFLIX[1:], at=at, baseline=True, route=router)
    assert await queued(store) == []  # a baseline is silent

    events = await store.apply_postings("netflix", NETFLIX, at=at, baseline=False, route=router)
    [pm] = [e.posting.id for e in events if e.kind == "new"]
    assert await queued(store) == [("discord:A", "new", pm), ("slack:T/C", "new", pm)]
    # Queuing the same events again (a retried cycle) adds nothing.
    assert await store.enqueue(router(events)) == 0

    cut = replace(NETFLIX[0], salary=usd(300_000, 600_000, kind="total"))
    await store.apply_postings("netflix", [cut, *NETFLIX[1:]], at=NOW, baseline=False, route=router)
    back = NETFLIX[0]
    await store.apply_postings(
        "netflix", [back, *NETFLIX[1:]], at=NOW + timedelta(hours=1), baseline=False, route=router
    )
    rows = await queued(store)
    # two pay changes: two updates for each channel that had the alert
    assert rows.count(("discord:A", "updated", pm)) == 2
    assert rows.count(("slack:T/C", "updated", pm)) == 2

    # Gone twice: closed; back: reopened; gone twice again: closed again. Each is an alert.
    rest = NETFLIX[1:]
    t = NOW + timedelta(hours=2)
    for step, listing in enumerate([rest, rest, NETFLIX, rest, rest, NETFLIX]):
        at = t + timedelta(hours=step)
        await store.apply_postings("netflix", listing, at=at, baseline=False, route=router)
    rows = await queued(store)
    assert rows.count(("discord:A", "closed", pm)) == 2
    assert rows.count(("slack:T/C", "closed", pm)) == 2
    assert rows.count(("discord:A", "updated", pm)) == 4  # two pay changes, two reopenings


async def test_a_channel_alerted_before_gets_the_closure_after_a_pay_cut_below_its_floor(store):
    """The channel's floor is $500k: the posting matched at $600k, the cut to $300k still
    edits its alert (the earlier version matched), and the closure after that, when no
    version matches, must edit it too: else the alert shows the role open for ever."""
    router = build_router([sub(1, "discord:A", kind="jobs", min_salary_usd=500_000)])
    at = NOW - timedelta(days=1)
    await store.apply_postings("netflix", NETFLIX[1:], at=at, baseline=True, route=router)
    await store.apply_postings("netflix", NETFLIX, at=at, baseline=False, route=router)
    (new,) = await store.claim_due(now=NOW, limit=10, lease_seconds=0)
    await store.mark_sent(new.id, at=NOW, message_ref="m1")  # delivered
    pm = new.entry.item_id
    cut = replace(NETFLIX[0], salary=usd(250_000, 300_000, kind="total"))
    await store.apply_postings("netflix", [cut, *NETFLIX[1:]], at=NOW, baseline=False, route=router)
    rest = NETFLIX[1:]
    for hours in (1, 2):  # gone twice: closed
        at = NOW + timedelta(hours=hours)
        await store.apply_postings("netflix", rest, at=at, baseline=False, route=router)
    assert await queued(store) == [("discord:A", "closed", pm), ("discord:A", "updated", pm)]
