"""Storage: the postings diff (baseline, new, updated, closed, reopened) with routing to
the outbox in the same transaction, and the listings queries. SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from bot.models import AIMatch, ListingFilter, OutboxEntry, Posting, PostingEvent, Salary
from storage import open_store
from storage.schema import outbox

T0 = datetime(2026, 11, 2, 17, 0, tzinfo=UTC)
POLL = timedelta(minutes=15)

NETFLIX_TEXT = (
    "Netflix is one of the world's leading entertainment services... The overall market "
    "range for roles in this area of Netflix is typically $300,000 - $900,000. This market "
    "range is based on total compensation (vs. only base salary)."
)


@pytest.fixture
async def store(db_url):
    async with open_store(db_url) as s:
        yield s


def job(
    ext: str,
    title: str = "Machine Learning Engineer, Personalization",
    *,
    source: str = "netflix",
    company: str = "Netflix",
    pay: tuple[float | None, float | None] | None = (300_000, 900_000),
    currency: str = "USD",
    period: str = "year",
    usd: tuple[float | None, float | None] | None = None,
    ai: bool = True,
    remote: bool | None = None,
    description: str = NETFLIX_TEXT,
    location: str = "Los Gatos, California",
) -> Posting:
    salary = None
    if pay is not None:
        annual = usd if usd is not None else pay
        salary = Salary(
            min=pay[0],
            max=pay[1],
            currency=currency,
            period=period,
            kind="total",
            text="$300,000 - $900,000",
            annual_usd_min=annual[0],
            annual_usd_max=annual[1],
        )
    return Posting(
        source=source,
        external_id=ext,
        company=company,
        title=title,
        url=f"https://explore.jobs.netflix.net/careers/job/{ext}",
        location=location,
        remote=remote,
        department="Data Science and Engineering",
        description=description,
        posted_at=T0 - timedelta(days=3),
        extra={"team": "Personalization"},
        salary=salary,
        ai=AIMatch(is_ai=ai, score=0.93 if ai else 0.05, reasons=("title: machine learning",)),
    )


class Router:
    """A stand-in for matching: one alert per event into one Discord channel."""

    def __init__(self, channel: str = "discord:1093") -> None:
        self.channel = channel
        self.calls: list[list[PostingEvent]] = []

    def __call__(self, events: Sequence[PostingEvent]) -> list[OutboxEntry]:
        self.calls.append(list(events))
        return [
            OutboxEntry(
                channel=self.channel,
                item_kind="posting",
                event=e.kind,
                dedupe_key=f"{self.channel}|posting:{e.posting.id}|{e.kind}|{e.changes}",
                item_id=e.posting.id,
            )
            for e in events
        ]


def kinds(events: Sequence[PostingEvent]) -> list[tuple[str, str]]:
    return [(e.kind, e.posting.posting.external_id) for e in events]


async def count(store, table) -> int:
    async with store._engine.connect() as conn:
        return await conn.scalar(select(func.count()).select_from(table))


async def poll(store, fresh, n: int, *, baseline: bool = False, route=None, **kw):
    return await store.apply_postings(
        "netflix", fresh, at=T0 + n * POLL, baseline=baseline, route=route, **kw
    )


# -- the diff -------------------------------------------------------------------------


async def test_the_baseline_is_stored_silently(store):
    route = Router()
    events = await poll(store, [job("790301"), job("790302")], 0, baseline=True, route=route)
    assert events == []
    assert route.calls == []
    assert await count(store, outbox) == 0
    assert await store.count_listings() == 2
    assert (await store.source_state("netflix")).baseline_done


async def test_a_new_posting_is_reported_once_and_routed(store):
    await poll(store, [job("790301")], 0, baseline=True)
    route = Router()
    events = await poll(
        store, [job("790301"), job("790302", "Research Scientist, LLMs")], 1, route=route
    )
    assert kinds(events) == [("new", "790302")]
    (event,) = events
    assert event.posting.status == "open"
    assert event.posting.first_seen == T0 + POLL
    assert event.posting.posting.title == "Research Scientist, LLMs"
    assert route.calls == [events]
    assert await count(store, outbox) == 1
    assert await store.outbox_backlog() == 1
    stored = await store.posting(event.posting.id)
    assert stored.posting.title == "Research Scientist, LLMs"
    # the same listing again: nothing
    again = await poll(
        store, [job("790301"), job("790302", "Research Scientist, LLMs")], 2, route=route
    )
    assert again == []
    assert await count(store, outbox) == 1


async def test_a_backfill_first_poll_reports_everything(store):
    events = await poll(store, [job("1"), job("2")], 0, baseline=False)
    assert kinds(events) == [("new", "1"), ("new", "2")]
    assert (await store.source_state("netflix")).baseline_done


async def test_pay_and_title_changes_are_updates_with_the_previous_version(store):
    await poll(store, [job("790301"), job("790302")], 0, baseline=True)
    events = await poll(
        store,
        [job("790301", pay=(310_000, 900_000)), job("790302", "Senior ML Engineer, Ads")],
        1,
    )
    assert kinds(events) == [("updated", "790301"), ("updated", "790302")]
    pay, title = events
    assert pay.changes == ("salary",)
    assert pay.previous.salary.min == 300_000
    assert pay.posting.posting.salary.min == 310_000
    assert pay.posting.first_seen == T0  # still the posting first seen at the baseline
    assert title.changes == ("title",)
    assert title.previous.title == "Machine Learning Engineer, Personalization"
    assert title.posting.id == (await store.listings(ListingFilter(query="Ads")))[0].id


@pytest.mark.parametrize(
    "change",
    [
        {"description": NETFLIX_TEXT + " Updated benefits."},
        {"title": "  machine learning engineer,   personalization "},  # spacing and case
        {"location": "Remote, United States", "remote": True},
        {"usd": (301_000, 903_000)},  # a new exchange-rate table is not a new offer
    ],
)
async def test_changes_that_are_not_updates(store, change):
    await poll(store, [job("790301")], 0, baseline=True)
    change = dict(change)
    usd = change.pop("usd", None)
    changed = job("790301", usd=usd) if usd else replace(job("790301"), **change)
    assert await poll(store, [changed], 1) == []
    (stored,) = await store.listings()
    assert stored.posting == changed  # stored all the same


async def test_gaining_or_losing_pay_is_a_salary_update(store):
    await poll(store, [job("1", pay=None)], 0, baseline=True)
    (gained,) = await poll(store, [job("1")], 1)
    assert gained.changes == ("salary",) and gained.previous.salary is None
    (lost,) = await poll(store, [job("1", pay=None)], 2)
    assert lost.changes == ("salary",) and lost.posting.posting.salary is None


async def test_a_posting_closes_after_two_consecutive_misses(store):
    await poll(store, [job("1"), job("2")], 0, baseline=True)
    assert await poll(store, [job("1")], 1) == []
    events = await poll(store, [job("1")], 2)
    assert kinds(events) == [("closed", "2")]
    closed = events[0].posting
    assert closed.status == "closed"
    assert closed.closed_at == T0 + 2 * POLL
    assert closed.last_seen == T0
    assert closed.posting.salary.max == 900_000
    assert await store.count_listings() == 1
    assert await store.count_listings(ListingFilter(status="closed")) == 1
    assert await poll(store, [job("1")], 3) == []  # closed once only


async def test_misses_must_be_consecutive(store):
    await poll(store, [job("1"), job("2")], 0, baseline=True)
    assert await poll(store, [job("1")], 1) == []
    assert await poll(store, [job("1")], 2, unchanged=["2"]) == []  # back
    assert await poll(store, [job("1")], 3) == []  # one miss again
    assert kinds(await poll(store, [job("1")], 4)) == [("closed", "2")]


async def test_a_closed_posting_that_reappears_is_reopened(store):
    await poll(store, [job("1"), job("2")], 0, baseline=True)
    await poll(store, [job("1")], 1)
    await poll(store, [job("1")], 2)
    route = Router()
    events = await poll(store, [job("1"), job("2")], 3, route=route)
    assert kinds(events) == [("updated", "2")]
    assert events[0].changes == ("reopened",)
    assert events[0].posting.status == "open"
    assert events[0].previous is not None
    assert await store.count_listings() == 2
    reopened = await store.posting(events[0].posting.id)
    assert (reopened.status, reopened.closed_at, reopened.last_seen) == (
        "open",
        None,
        T0 + 3 * POLL,
    )
    assert route.calls == [events]


async def test_the_baseline_closes_and_reopens_silently_too(store):
    await poll(store, [job("1"), job("2")], 0, baseline=True)
    await poll(store, [job("1")], 1, baseline=True)
    assert await poll(store, [job("1")], 2, baseline=True) == []
    assert await store.count_listings(ListingFilter(status="closed")) == 1


async def test_not_modified_keeps_what_was_there_and_closes_what_was_missing(store):
    await poll(store, [job("1"), job("2"), job("3")], 0, baseline=True)
    assert await poll(store, [job("1"), job("2")], 1) == []  # 3 missing once
    route = Router()
    # The next poll is a 304: the listing is the one that lacked 3, so 3 is missing twice.
    events = await store.poll_not_modified(
        "netflix", at=T0 + 2 * POLL, validators={}, item_count=2, route=route
    )
    assert kinds(events) == [("closed", "3")]
    assert events[0].posting.last_seen == T0  # the last listing that showed it
    assert route.calls == [events]
    assert await store.count_listings() == 2
    # More 304s report nothing; what is listed stays seen.
    later = T0 + timedelta(hours=5)
    assert (
        await store.poll_not_modified(
            "netflix", at=T0 + 3 * POLL, validators={}, item_count=2, route=route
        )
        == []
    )
    assert (
        await store.poll_not_modified("netflix", at=later, validators={}, item_count=2, route=route)
        == []
    )
    assert [p.last_seen for p in await store.listings()] == [later, later]
    assert (await store.posting(events[0].posting.id)).last_seen == T0


async def test_unchanged_ids_stay_open_without_being_rewritten(store):
    hashes = {"1": "a1", "2": "b1"}
    await poll(store, [job("1"), job("2")], 0, baseline=True, listing_hashes=hashes)
    assert await store.known_listing_hashes("netflix") == hashes
    for n in range(1, 4):
        assert await poll(store, [], n, unchanged=["1", "2"], listing_hashes=hashes) == []
    (first, second) = await store.listings(ListingFilter(status=None))
    assert first.status == second.status == "open"
    # last_seen is kept to within an hour, so most unchanged polls write nothing...
    assert first.last_seen == second.last_seen == T0
    assert await poll(store, [], 4, unchanged=["1", "2"]) == []
    # ...and then it moves
    assert [p.last_seen for p in await store.listings()] == [T0 + 4 * POLL] * 2
    # an id only in `unchanged` that the store does not know is ignored, not invented
    assert await poll(store, [], 5, unchanged=["1", "2", "999"]) == []
    assert await store.count_listings(ListingFilter(status=None)) == 2
    # a changed hash for an unchanged id is recorded
    await poll(store, [], 6, unchanged=["1", "2"], listing_hashes={"1": "a2"})
    assert await store.known_listing_hashes("netflix") == {"1": "a2", "2": "b1"}
    # closed postings are not "known": their details must be fetched again
    await poll(store, [], 7, unchanged=["1"])
    await poll(store, [], 8, unchanged=["1"])
    assert await store.known_listing_hashes("netflix") == {"1": "a2"}


async def test_a_listing_that_names_one_id_twice_counts_once(store):
    await poll(store, [job("1")], 0, baseline=True)
    events = await poll(store, [job("2", location="London"), job("2", location="Paris")], 1)
    assert kinds(events) == [("new", "2")]
    assert (await store.posting(events[0].posting.id)).posting.location == "London"


async def test_postings_of_another_source_are_untouched(store):
    await poll(store, [job("1")], 0, baseline=True)
    await store.apply_postings(
        "openai", [job("1", source="openai", company="OpenAI")], at=T0, baseline=True
    )
    await poll(store, [], 1)
    await poll(store, [], 2)
    assert [p.posting.source for p in await store.listings()] == ["openai"]
    with pytest.raises(ValueError):
        await poll(store, [job("9", source="openai")], 3)


async def test_a_failing_route_leaves_no_trace(store):
    await poll(store, [job("1"), job("2")], 0, baseline=True)
    await poll(store, [job("1")], 1)  # 2 missing once

    def broken(events):
        raise RuntimeError("matching blew up")

    with pytest.raises(RuntimeError, match="matching blew up"):
        await poll(store, [job("1", "Staff ML Engineer"), job("3")], 2, route=broken)
    assert await count(store, outbox) == 0
    listed = {p.posting.external_id: p for p in await store.listings(ListingFilter(status=None))}
    assert set(listed) == {"1", "2"}  # 3 not stored
    assert listed["1"].posting.title == "Machine Learning Engineer, Personalization"
    assert listed["2"].status == "open"  # not closed either
    # The retried poll reports everything that happened.
    route = Router()
    events = await poll(store, [job("1", "Staff ML Engineer"), job("3")], 2, route=route)
    assert sorted(kinds(events)) == [("closed", "2"), ("new", "3"), ("updated", "1")]
    assert await count(store, outbox) == 3


async def test_routing_the_same_event_twice_queues_it_once(store):
    await poll(store, [job("1")], 0, baseline=True)

    def twice(events):
        return Router()(events) * 2

    await poll(store, [job("1"), job("2")], 1, route=twice)
    assert await count(store, outbox) == 1


async def test_many_postings_in_one_poll(store):
    # More rows than one statement carries (storage batches 500 at a time).
    board = [job(str(i), f"ML Engineer {i}", pay=(100_000 + i, 200_000 + i)) for i in range(1203)]
    await poll(store, board, 0, baseline=True, listing_hashes={p.external_id: "h" for p in board})
    assert await store.count_listings() == 1203
    assert len(await store.known_listing_hashes("netflix")) == 1203
    ids = [p.external_id for p in board]
    assert await poll(store, [], 1, unchanged=ids[:-2]) == []
    events = await poll(store, board[:1], 2, unchanged=ids[1:-2])
    assert sorted(kinds(events)) == [("closed", "1201"), ("closed", "1202")]
    assert await poll(store, [], 3, unchanged=ids[:-2]) == []
    (top,) = await store.listings(limit=1)
    assert top.posting.external_id == "1200"


# -- listings -------------------------------------------------------------------------


async def seed(store):
    at = T0
    rows = [
        (
            "netflix",
            "Netflix",
            "n1",
            "Product Manager - Machine Learning Platform",
            dict(pay=(300_000, 900_000)),
        ),
        (
            "netflix",
            "Netflix",
            "n2",
            "Machine Learning Engineer (L5) - 100% Remote",
            dict(pay=(150, 250), currency="CAD", period="hour", usd=(None, 380_000), remote=True),
        ),
        (
            "netflix",
            "Netflix",
            "n3",
            "Senior Software Engineer, Studio",
            dict(pay=(200_000, 400_000), ai=False),
        ),
        (
            "anthropic",
            "Anthropic",
            "a1",
            "Research Engineer, Interpretability",
            dict(pay=(315_000, 560_000), remote=False),
        ),
        ("anthropic", "Anthropic", "a2", "ML Infrastructure Engineer", dict(pay=None)),
        (
            "huggingface",
            "Hugging Face",
            "h1",
            "Machine Learning Engineer - 1000 GPUs",
            dict(pay=(120_000, None), remote=True),
        ),
        ("huggingface", "Hugging Face", "h2", "ML_Ops Engineer", dict(pay=None)),
    ]
    # one poll per board: netflix at T0, anthropic 2 minutes later, hugging face at +5
    offsets = {"netflix": 0, "anthropic": 2, "huggingface": 5}
    for source, minutes in offsets.items():
        board = [
            job(ext, title, source=src, company=company, **kw)
            for src, company, ext, title, kw in rows
            if src == source
        ]
        await store.apply_postings(source, board, at=at + timedelta(minutes=minutes), baseline=True)
    return {
        p.posting.external_id: p
        for p in await store.listings(ListingFilter(ai_only=False, status=None))
    }


async def test_listings_put_the_best_paid_first_and_unpaid_last(store):
    await seed(store)
    listed = [p.posting.external_id for p in await store.listings()]
    # top of range: n1 900k, a1 560k, n2 380k (CAD hourly, annualised), h1 120k (min
    # only), then no pay, newest first
    assert listed == ["n1", "a1", "n2", "h1", "h2", "a2"]
    assert await store.count_listings() == 6
    assert [p.posting.external_id for p in await store.listings(ListingFilter(ai_only=False))][
        :2
    ] == ["n1", "a1"]
    assert await store.count_listings(ListingFilter(ai_only=False)) == 7
    page = await store.listings(limit=2, offset=2)
    assert [p.posting.external_id for p in page] == ["n2", "h1"]


async def test_listing_filters(store):
    await seed(store)

    async def ids(**kw):
        found = [p.posting.external_id for p in await store.listings(ListingFilter(**kw))]
        assert await store.count_listings(ListingFilter(**kw)) == len(found)
        return found

    assert await ids(company="netflix") == ["n1", "n2"]
    assert await ids(company="  NETFLIX ") == ["n1", "n2"]
    assert await ids(company="hugging face") == ["h1", "h2"]
    assert await ids(company="huggingface") == ["h1", "h2"]  # the source name
    assert await ids(company=["Anthropic", "netflix"]) == ["n1", "a1", "n2", "a2"]
    assert await ids(company="netf") == []  # loose matching is the handler's job
    assert await ids(min_usd=380_000) == ["n1", "a1", "n2"]
    assert await ids(min_usd=100_000) == ["n1", "a1", "n2", "h1"]  # min-only counts
    assert await ids(remote=True) == ["n2", "h1"]
    assert await ids(remote=False) == ["a1"]
    # "new since": the seed polls were silent baselines, so nothing is new
    assert await ids(since=T0) == []
    assert await ids(query="interpretability") == ["a1"]
    assert await ids(query="MACHINE learning") == ["n1", "n2", "h1"]
    assert await ids(query="hugging") == ["h1", "h2"]  # company
    assert await ids(query="total compensation") == ["n1", "a1", "n2", "h1", "h2", "a2"]

    board = [
        job(ext, title, source="huggingface", company="Hugging Face")
        for ext, title in (
            ("h1", "Machine Learning Engineer - 1000 GPUs"),
            ("h2", "ML_Ops Engineer"),
            ("h3", "Machine Learning Researcher"),
        )
    ]
    await store.apply_postings("huggingface", board, at=T0 + timedelta(minutes=10), baseline=False)
    assert await ids(since=T0) == ["h3"]
    assert await ids(since=T0 + timedelta(minutes=11)) == []


async def test_query_wildcards_are_text(store):
    await seed(store)

    async def ids(query):
        return [p.posting.external_id for p in await store.listings(ListingFilter(query=query))]

    assert await ids("100%") == ["n2"]  # not "1000"
    assert await ids("%") == ["n2"]
    assert await ids("ML_Ops") == ["h2"]
    assert await ids("_") == ["h2"]
    assert await ids("L5)") == ["n2"]
    assert await ids("'; DROP TABLE postings; --") == []
    assert await store.count_listings(ListingFilter(ai_only=False, status=None)) == 7


async def test_a_stored_posting_reads_back_whole(store):
    given = job("n9", remote=True)
    await store.apply_postings("netflix", [given], at=T0, baseline=True)
    (stored,) = await store.listings()
    assert stored.posting == given
    assert stored.first_seen == stored.last_seen == T0
    assert stored.first_seen.tzinfo == UTC and stored.posting.posted_at.tzinfo == UTC
    assert await store.posting(stored.id) == stored
    assert await store.posting(stored.id + 1000) is None


async def test_salary_stats(store):
    pays = [200_000, 250_000, 300_000, 400_000, 900_000]
    board = [job(f"n{i}", pay=(100_000, top)) for i, top in enumerate(pays)]
    board.append(job("n-nopay", pay=None))
    board.append(job("n-notai", "Studio Accountant", pay=(1, 2_000_000), ai=False))
    await store.apply_postings("netflix", board, at=T0, baseline=True)
    await store.apply_postings(
        "openai",
        [job("o1", company="OpenAI", source="openai", pay=(310_000, 385_000))],
        at=T0,
        baseline=True,
    )
    stats = await store.salary_stats()
    assert [s.company for s in stats] == ["OpenAI", "Netflix"]  # highest median first
    netflix = stats[1]
    assert (netflix.count, netflix.median, netflix.max) == (5, 300_000, 900_000)
    assert netflix.p90 == pytest.approx(700_000)  # 400k + 0.6 * (900k - 400k)
    company, n, median, p90, top = stats[0]  # also a plain tuple
    assert (company, n, median, p90, top) == ("OpenAI", 1, 385_000, 385_000, 385_000)
    assert [s.company for s in await store.salary_stats(company="netflix")] == ["Netflix"]
    assert (await store.salary_stats("netflix", ai_only=False))[0].max == 2_000_000
    assert await store.salary_stats(company="nobody") == []


async def test_companies_for_autocomplete(store):
    await seed(store)
    await store.apply_postings(
        "openai", [job("o1", company="OpenAI", source="openai")], at=T0, baseline=True
    )
    assert await store.companies() == ["Anthropic", "Hugging Face", "Netflix", "OpenAI"]
    # those starting with the text first, then those containing it
    assert await store.companies("n") == ["Netflix", "Anthropic", "Hugging Face", "OpenAI"]
    assert await store.companies("AN") == ["Anthropic"]
    assert await store.companies("", limit=2) == ["Anthropic", "Hugging Face"]
    assert await store.companies("%") == []
    # a company whose postings all closed is no longer offered
    await store.apply_postings("openai", [], at=T0 + POLL, baseline=False)
    await store.apply_postings("openai", [], at=T0 + 2 * POLL, baseline=False)
    assert "OpenAI" not in await store.companies()


async def test_query_escape_character_is_text_too(store):
    board = [job("1", "Engineer, AI/ML Platform"), job("2", "AIML Engineer")]
    await store.apply_postings("netflix", board, at=T0, baseline=True)
    for query, expected in [
        ("ai/ml", ["1"]),
        ("i/m", ["1"]),
        ("/", ["1"]),
        ("//", []),
        ("aiml", ["2"]),
        ("ai/%", []),
    ]:
        found = [p.posting.external_id for p in await store.listings(ListingFilter(query=query))]
        assert found == expected, query


async def test_hostile_board_text_is_stored_not_fatal(store):
    # NUL is refused by PostgreSQL and a lone surrogate (from a JSON "\\ud800" escape) by
    # both drivers: cleaned, they cannot fail every poll of their board.
    nasty = job(
        "x\x00\ud800-1",
        "ML\x00 Engineer \ud800 <script>alert(1)</script> @everyone",
        company="Evil\x00 Corp",
        description="Pay: $1\x00 \udfff" + "é" * 20_000,
        location="'; DROP TABLE postings; --",
    )
    nasty = replace(nasty, extra={"team": "A\x00\ud800"}, posted_at=datetime(2026, 11, 1, 9))
    (event,) = await poll(store, [nasty], 0)
    stored = (await store.posting(event.posting.id)).posting
    assert stored.title == "ML Engineer \ufffd <script>alert(1)</script> @everyone".replace(
        "\ufffd", "?"
    )
    assert stored.company == "Evil Corp" and stored.external_id == "x?-1"
    assert stored.description.startswith("Pay: $1 ?é")
    assert stored.location == "'; DROP TABLE postings; --"
    assert stored.posted_at == datetime(2026, 11, 1, 9, tzinfo=UTC)  # a naive board date
    # the same posting polled again is the same posting, not a new one
    assert await poll(store, [nasty], 1) == []
    assert [
        p.posting.title for p in await store.listings(ListingFilter(query="ML\x00 Engineer"))
    ] == [stored.title]
    assert await store.companies("evil\x00") == ["Evil Corp"]
