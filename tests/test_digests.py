"""Daily digests in the real APScheduler, with a controlled clock.

Time travel: the subscription's own job (its real CronTrigger) says when it would fire;
the test sets the clock to that instant and runs the job's function, as the scheduler
does. One test lets the running scheduler fire the job itself and waits for the outbox.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.digests import DigestScheduler
from bot.models import ListingFilter, Subscription
from handlers import build_digest, dispatch, reply_from_json, reply_to_json
from storage import open_store
from tests.test_handlers_fixtures import (
    ALL_POSTINGS,
    NOW,
    ctx,
    seed_postings,
    seed_stories,
    settings,
)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
async def store(db_url):
    async with open_store(db_url) as s:
        yield s


async def add(store, **kw) -> Subscription:
    kw.setdefault("channel", "discord:1001")
    kw.setdefault("kind", "jobs")
    kw.setdefault("mode", "digest")
    kw.setdefault("created_at", datetime(2026, 1, 1, tzinfo=UTC))
    return await store.add_subscription(Subscription(id=0, **kw))


async def digests(store) -> list[tuple[str, dict]]:
    rows = await store.claim_due(now=datetime(2030, 1, 1, tzinfo=UTC), limit=1000, lease_seconds=0)
    return sorted(
        (r.entry.dedupe_key, dict(r.entry.payload or {}))
        for r in rows
        if r.entry.item_kind == "digest"
    )


def scheduler_for(store, clock, **kw) -> DigestScheduler:
    return DigestScheduler(store, settings=settings(clock=clock), **kw)


async def fire_through(
    ds: DigestScheduler, clock: Clock, sub: Subscription, start: datetime, end: datetime
):
    """Run the subscription's real job at every instant its trigger names in
    [start, end); returns those instants."""
    job = ds.scheduler.get_job(ds.job_id(sub.id))
    assert job is not None
    fired, previous, now = [], None, start
    while True:
        when = job.trigger.get_next_fire_time(previous, now)
        if when >= end:
            return fired
        clock.now = when.astimezone(UTC)
        await job.func(*job.args)
        fired.append(when.astimezone(UTC))
        previous = now = when


# -- DST -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tz", "hhmm", "start", "days", "special", "fires_that_day"),
    [
        # 02:30 does not exist on 8 March in Los Angeles: sent at 03:30 PDT (10:30 UTC).
        ("America/Los_Angeles", "02:30", date(2026, 3, 6), 5, datetime(2026, 3, 8, 10, 30), 1),
        # 01:30 happens twice on 1 November: the trigger fires twice, one digest goes out.
        ("America/Los_Angeles", "01:30", date(2026, 10, 30), 5, datetime(2026, 11, 1, 8, 30), 2),
        # London: 01:30 does not exist on 29 March and happens twice on 25 October.
        ("Europe/London", "01:30", date(2026, 3, 27), 5, datetime(2026, 3, 29, 1, 30), 1),
        ("Europe/London", "01:30", date(2026, 10, 23), 5, datetime(2026, 10, 25, 0, 30), 2),
    ],
)
async def test_exactly_one_digest_per_local_day_across_dst(
    store, tz, hhmm, start, days, special, fires_that_day
):
    zone = ZoneInfo(tz)
    begin = datetime.combine(start, datetime.min.time(), tzinfo=zone)
    clock = Clock(begin.astimezone(UTC))
    sub = await add(store, tz=tz, digest_time=hhmm, send_empty_digest=True)
    ds = scheduler_for(store, clock)
    await ds.refresh()
    fired = await fire_through(ds, clock, sub, begin, begin + timedelta(days=days))
    special = special.replace(tzinfo=UTC)
    assert fired.count(special) == 1
    special_day = special.astimezone(zone).date()
    assert sum(1 for f in fired if f.astimezone(zone).date() == special_day) == fires_that_day

    # The sweep running every 20 minutes over the same days adds nothing and misses nothing.
    t = begin.astimezone(UTC)
    while t < begin + timedelta(days=days):
        await ds.run_due(t)
        t += timedelta(minutes=20)

    sent = await digests(store)
    expected = [start + timedelta(days=i) for i in range(days)]
    assert [k for k, _ in sent] == [f"discord:1001|digest:{sub.id}|{d}" for d in expected]
    for d in expected:
        assert await store.digest_sent(sub.id, d)


async def test_dst_sweep_alone_sends_the_missing_hour_digest(store):
    """Without the cron job (e.g. it was being rescheduled), the sweep still sends the
    spring-forward day's 02:30 digest, once, at 03:30 PDT."""
    await add(store, tz="America/Los_Angeles", digest_time="02:30", send_empty_digest=True)
    ds = scheduler_for(store, Clock(NOW))
    await ds.refresh()
    outcomes = []
    t = datetime(2026, 3, 8, 9, 0, tzinfo=UTC)  # 01:00 PST
    while t < datetime(2026, 3, 8, 13, 0, tzinfo=UTC):
        outcomes += [(t, o.status) for o in await ds.run_due(t) if o.local_date == date(2026, 3, 8)]
        t += timedelta(minutes=5)
    sent = [t for t, status in outcomes if status == "sent"]
    assert sent == [datetime(2026, 3, 8, 10, 30, tzinfo=UTC)]  # the first sweep at 03:30 PDT


# -- downtime --------------------------------------------------------------------------


async def test_missed_digest_is_sent_late_within_grace_once(store):
    sub = await add(store, tz="Europe/London", digest_time="09:00", send_empty_digest=True)
    # The process was down from 08:00 to 13:00 London time (UTC in March): 4 h late.
    clock = Clock(datetime(2026, 3, 4, 13, 0, tzinfo=UTC))
    queued = []
    ds = scheduler_for(store, clock, on_queued=lambda: queued.append(clock.now))
    try:
        await ds.start()
        assert queued == [clock.now]
        [(key, payload)] = await digests(store)
        assert key == f"discord:1001|digest:{sub.id}|2026-03-04"
        assert reply_from_json(payload).title == "Daily digest · Wed 4 Mar 2026"
        # A second start (another restart) and the sweep send nothing more.
        [outcome] = await ds.run_due(clock.now + timedelta(minutes=5))
        assert outcome.status == "already"
        again = scheduler_for(store, clock)
        await again.start()
        await again.shutdown()
        assert len(await digests(store)) == 1
    finally:
        await ds.shutdown()


async def test_missed_digest_beyond_grace_is_skipped_with_a_log_line(store, caplog):
    sub = await add(store, tz="Europe/London", digest_time="09:00", send_empty_digest=True)
    clock = Clock(datetime(2026, 3, 4, 16, 30, tzinfo=UTC))  # 7.5 h late
    ds = scheduler_for(store, clock)
    with caplog.at_level(logging.WARNING, logger="bot.digests"):
        await ds.refresh()
        [outcome] = await ds.run_due(clock.now)
        await ds.run_due(clock.now + timedelta(minutes=5))
    assert outcome.status == "skipped" and outcome.late_by == timedelta(hours=7, minutes=30)
    lines = [r.getMessage() for r in caplog.records if "skipped" in r.getMessage()]
    assert len(lines) == 1  # said once, not at every sweep
    assert f"subscription {sub.id}" in lines[0] and "2026-03-04" in lines[0]
    assert await digests(store) == []
    assert not await store.digest_sent(sub.id, date(2026, 3, 4))
    # The next day's digest is sent on time.
    [outcome] = await ds.run_due(datetime(2026, 3, 5, 9, 0, 1, tzinfo=UTC))
    assert outcome.status == "sent" and outcome.local_date == date(2026, 3, 5)

    # A longer grace period (configurable) would have sent it.
    other = await add(store, channel="slack:T/C", tz="Europe/London", send_empty_digest=True)
    generous = scheduler_for(store, clock, grace=8 * 3600)
    await generous.refresh()
    outcomes = {o.subscription_id: o.status for o in await generous.run_due(clock.now)}
    assert outcomes[other.id] == "sent"


async def test_no_digest_for_times_before_the_subscription_existed(store):
    sub = await add(store, digest_time="09:00", created_at=datetime(2026, 3, 4, 10, 0, tzinfo=UTC))
    ds = scheduler_for(store, Clock(NOW))
    await ds.refresh()
    [outcome] = await ds.run_due(datetime(2026, 3, 4, 10, 5, tzinfo=UTC))
    assert outcome.status == "not_due"
    [outcome] = await ds.run_due(datetime(2026, 3, 5, 9, 0, tzinfo=UTC))
    assert outcome.subscription_id == sub.id and outcome.status in ("sent", "empty")


async def test_days_of_week_are_respected(store):
    sub = await add(store, tz="America/Los_Angeles", days=(1, 2, 3, 4, 5), send_empty_digest=True)
    clock = Clock(NOW)
    ds = scheduler_for(store, clock)
    await ds.refresh()
    begin = datetime(2026, 3, 2, tzinfo=ZoneInfo("America/Los_Angeles"))  # a Monday
    fired = await fire_through(ds, clock, sub, begin, begin + timedelta(days=14))
    assert len(fired) == 10
    keys = [k for k, _ in await digests(store)]
    assert keys[0].endswith("2026-03-02") and not any(k.endswith("2026-03-07") for k in keys)
    # Monday's digest covers the weekend: its window starts at Friday's digest.
    payload = dict(await digests(store))[f"discord:1001|digest:{sub.id}|2026-03-09"]
    extra = reply_from_json(payload).extra
    assert extra["window_start"] == "2026-03-06T17:00:00+00:00"
    assert extra["window_end"] == "2026-03-09T16:00:00+00:00"  # PDT from 8 March


# -- the running scheduler -------------------------------------------------------------


async def test_running_scheduler_fires_the_job_and_queues_the_digest(store):
    await seed_postings(store, at=datetime(2026, 3, 4, 7, 0, tzinfo=UTC))
    la = ZoneInfo("America/Los_Angeles")
    sub = await add(
        store,
        tz="America/Los_Angeles",
        digest_time="09:00",
        min_salary_usd=300_000,
        created_at=datetime(2026, 3, 4, 8, 0, tzinfo=UTC),
    )
    clock = Clock(datetime(2026, 3, 4, 8, 59, tzinfo=la).astimezone(UTC))
    queued = asyncio.Event()
    ds = scheduler_for(store, clock, on_queued=queued.set)
    try:
        await ds.start()
        assert ds.scheduler.running and not queued.is_set()  # 08:59: nothing due yet
        job = ds.scheduler.get_job(ds.job_id(sub.id))
        assert str(job.trigger.timezone) == "America/Los_Angeles"
        # 09:00:05 in Los Angeles on the controlled clock; the scheduler runs the job now.
        clock.now = datetime(2026, 3, 4, 9, 0, 5, tzinfo=la).astimezone(UTC)
        ds.scheduler.modify_job(job.id, next_run_time=datetime.now(UTC))
        await asyncio.wait_for(queued.wait(), timeout=5)
    finally:
        await ds.shutdown()
    [(key, payload)] = await digests(store)
    assert key == f"discord:1001|digest:{sub.id}|2026-03-04"
    reply = reply_from_json(payload)
    assert [i.title for i in reply.items] == [
        "Product Manager – Machine Learning Platform",
        "Machine Learning Engineer (L5), Personalization",
        "Research Engineer, Interpretability",
        "Software Engineer, Inference",
    ]
    assert reply.text.startswith("4 new AI/ML roles, 4 paying $300k+; best paid: $900k.")
    assert not ds.scheduler.running


async def test_commands_reschedule_the_digest_jobs(store):
    await seed_postings(store)
    ds = scheduler_for(store, Clock(NOW))
    hook = settings(on_subscriptions_changed=ds.notify)
    try:
        await ds.start()
        reply = await dispatch(
            store,
            "subscribe",
            {"kind": "jobs", "mode": "digest", "digest_time": "07:15", "tz": "Asia/Kolkata"},
            ctx(),
            settings=hook,
        )
        sub_id = int(reply.title.rsplit("#", 1)[1])

        async def until(condition):
            for _ in range(200):
                if condition():
                    return
                await asyncio.sleep(0.01)  # polling a condition with a deadline
            raise AssertionError("condition not met within 2 s")

        await until(lambda: ds.scheduler.get_job(ds.job_id(sub_id)) is not None)
        trigger = ds.scheduler.get_job(ds.job_id(sub_id)).trigger
        nxt = trigger.get_next_fire_time(None, NOW)
        assert nxt.astimezone(ZoneInfo("Asia/Kolkata")).strftime("%H:%M") == "07:15"
        await dispatch(store, "unsubscribe", {"id": str(sub_id)}, ctx(), settings=hook)
        await until(lambda: ds.scheduler.get_job(ds.job_id(sub_id)) is None)
    finally:
        await ds.shutdown()


async def test_paused_and_instant_subscriptions_get_no_job(store):
    instant = await add(store, mode="instant")
    paused = await add(store, mode="both", channel="discord:2")
    await store.pause_channel("discord:2", "Unknown Channel")
    ds = scheduler_for(store, Clock(NOW))
    await ds.refresh()
    assert ds.scheduler.get_job(ds.job_id(instant.id)) is None
    assert ds.scheduler.get_job(ds.job_id(paused.id)) is None
    assert await ds.run_due(NOW) == []


# -- content ---------------------------------------------------------------------------


async def test_digest_content_top_pay_totals_and_window(store):
    early = datetime(2026, 3, 3, 12, 0, tzinfo=UTC)
    await seed_postings(store, ALL_POSTINGS[:3], at=early)  # Netflix, the day before
    await seed_postings(store, ALL_POSTINGS[3:], at=NOW - timedelta(hours=2))
    sub = Subscription(id=9, channel="discord:1", kind="jobs", tz="UTC", digest_time="17:00")
    reply = await build_digest(store, sub, NOW - timedelta(days=1), NOW, settings=settings())
    assert reply is not None
    assert [i.title for i in reply.items][:2] == [
        "Research Engineer, Interpretability",
        "Software Engineer, Inference",
    ]
    assert "Product Manager – Machine Learning Platform" not in [i.title for i in reply.items]
    assert reply.text.splitlines()[0] == "5 new AI/ML roles, 2 paying $300k+; best paid: $560k."
    assert reply.footer.endswith("Subscription #9 · /unsubscribe 9 to stop")
    # The JSON form the outbox carries gives the same reply back.
    assert reply_from_json(reply_to_json(reply)) == reply

    # A window with nothing new: no digest, unless the subscription asks for one.
    quiet = (NOW + timedelta(days=1), NOW + timedelta(days=2))
    assert await build_digest(store, sub, *quiet, settings=settings()) is None
    empty = await build_digest(
        store, replace(sub, send_empty_digest=True), *quiet, settings=settings()
    )
    assert empty is not None and empty.text.startswith("Nothing new today.")


async def test_digest_filters_like_the_subscription(store):
    await seed_postings(store, at=NOW - timedelta(hours=2))
    sub = Subscription(
        id=3,
        channel="discord:1",
        kind="jobs",
        companies=("netflix", "disney"),
        keywords=("machine learning",),
        exclude=("manager",),
    )
    reply = await build_digest(store, sub, NOW - timedelta(days=1), NOW, settings=settings())
    assert [i.title for i in reply.items] == [
        "Machine Learning Engineer (L5), Personalization",
        "@everyone <b>Lead</b> AI Researcher *urgent*",  # plain text: renderers escape it
        "Machine Learning Engineer II - Disney Entertainment & ESPN Technology",
    ]  # highest top of range first


async def test_digest_includes_the_windows_story_clusters(store):
    await seed_postings(store, at=NOW - timedelta(hours=2))
    await seed_stories(store)
    sub = Subscription(
        id=4,
        channel="slack:T1/C1",
        kind="all",
        topics=("strike",),
        min_score=0.5,
        min_salary_usd=500_000,
        tz="America/Los_Angeles",
    )
    reply = await build_digest(store, sub, NOW - timedelta(days=1), NOW, settings=settings())
    assert [i.title for i in reply.items] == [
        "Product Manager – Machine Learning Platform",
        "Machine Learning Engineer (L5), Personalization",
        "Research Engineer, Interpretability",
        # strike stories of the last day scoring 0.5+; the IATSE one is 3 days old
        "SAG-AFTRA Video Game Performers Strike Against Activision, EA Over AI Protections",
        "WGA Reaches Tentative Deal With AMPTP, Ending 148-Day Strike",
    ]
    assert reply.text.splitlines()[1] == "2 new stories."
    assert reply.title == "Daily digest · Wed 4 Mar 2026"  # 09:00 in Los Angeles


async def test_what_a_silent_baseline_stored_is_not_new_in_the_next_digest(store):
    # A source's first poll stores its board without alerting (ARCHITECTURE: baseline);
    # the digest after it must not call those roles and stories "new" either.
    by_source: dict[str, list] = {}
    for p in ALL_POSTINGS:
        by_source.setdefault(p.source, []).append(p)
    sources = sorted(by_source)
    for source in sources[1:]:
        await store.apply_postings(
            source, by_source[source], at=NOW - timedelta(hours=5), baseline=True
        )
    await store.apply_postings(
        sources[0], by_source[sources[0]], at=NOW - timedelta(hours=2), baseline=False
    )
    story = (await seed_stories(store))[0]
    baseline_story = replace(
        story.story,
        guid="baseline-1",
        title="Union votes on new AI terms",
        url="https://example.org/union-votes",
    )
    await store.apply_stories(
        "feed-x", [baseline_story], at=NOW - timedelta(hours=4), baseline=True
    )

    sub = Subscription(id=5, channel="discord:1", kind="all", ai_only=False)
    reply = await build_digest(store, sub, NOW - timedelta(days=1), NOW, settings=settings())
    assert reply is not None
    wanted = {p.title for p in by_source[sources[0]]}
    titles = {i.title for i in reply.items}
    assert wanted <= titles
    baseline_titles = {p.title for s in sources[1:] for p in by_source[s]} - wanted
    assert baseline_titles and not (baseline_titles & titles)
    assert "Union votes on new AI terms" not in titles
    # ... while /ailistings and /strikenews still show them: they are open roles and news
    listed = {
        p.posting.title for p in await store.listings(ListingFilter(ai_only=False), limit=100)
    }
    assert baseline_titles <= listed
    shown = {s.story.title for s in await store.stories(days=30, limit=100, now=NOW)}
    assert "Union votes on new AI terms" in shown
