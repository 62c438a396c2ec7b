"""Postings finished where they are parsed (bot/finish.py): a worker that parses a page
also hashes its postings and enriches the changed ones, and the outcome is the same as
when the pipeline does it all itself.

The end-to-end checks poll every board kind's local fake through the real sources,
pipeline, worker process and Store, and hold what was stored against enrichment and
hashing done afresh on the stored posting.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from bot.cpu import CpuPool
from bot.enrich import EnrichSettings, enrich_posting
from bot.finish import Finish, finish_listing, listing_hash
from bot.http import HttpClient
from bot.models import ListingFilter, Posting, Salary
from bot.pipeline import Pipeline
from bot.sources import SourceConfig, make_source
from bot.sources.base import Fetched, PollContext, Source
from storage import Store, open_store
from tests.fakes import boards_workable
from tests.fakes.boards_lever import FakeLever, bulk
from tests.test_properties_boards import KINDS, Kind
from tests.test_properties_hostile import MutatingServer
from tests.test_sources_lever import source as lever

SETTINGS = EnrichSettings()


def _posting(n: int, **kw: Any) -> Posting:
    fields: dict[str, Any] = {
        "source": "acme",
        "external_id": str(n),
        "company": "",
        "title": f"Machine Learning Engineer {n}",
        "url": f"https://jobs.example.com/{n}",
        "location": "Toronto, Canada",
        "description": f"PyTorch and LLMs. Pay: $1{n}0,000 - $2{n}0,000 a year.",
    }
    fields.update(kw)
    return Posting(**fields)


def _parsed(*postings: Posting) -> Fetched:
    return Fetched(postings=postings, warnings=("one job skipped",))


def _no_description(posting: Posting) -> bool:
    return not posting.description


def test_a_page_is_hashed_and_only_what_changed_is_enriched():
    same, stale, new = _posting(1), _posting(2), _posting(3, company="Acme Studios")
    finish = Finish(
        "Acme Labs",
        SETTINGS,
        known={"1": listing_hash(same), "2": listing_hash(replace(stale, title="Old"))},
    )
    page = finish_listing(finish, None, _parsed, same, stale, new)
    assert page.warnings == ("one job skipped",)  # the rest of the page is kept
    assert page.hashes == tuple(listing_hash(p) for p in (same, stale, new))
    assert page.postings[0] == same  # unchanged: left as parsed (the pipeline skips it)
    assert page.postings[1] == enrich_posting(replace(stale, company="Acme Labs"), SETTINGS)
    assert page.postings[2] == enrich_posting(new, SETTINGS)  # its own company is kept
    assert page.postings[2].ai is not None and page.postings[2].ai.is_ai
    assert page.postings[2].salary is not None and page.postings[2].salary.currency == "CAD"


def test_what_a_detail_completes_is_left_for_the_detail():
    listed, bare = _posting(1), _posting(2, description="")
    page = finish_listing(Finish("Acme", SETTINGS), _no_description, _parsed, listed, bare)
    assert page.postings[0] == listed  # incomplete by this rule: not enriched
    assert page.postings[1].ai is not None  # ... and this one is
    assert page.hashes == (listing_hash(listed), listing_hash(bare))


def test_an_empty_page_crosses_back_as_it_is():
    empty = Fetched(warnings=("the board is empty",))
    assert finish_listing(Finish("Acme", SETTINGS), None, lambda: empty) is empty


def test_the_hash_sees_every_field_the_listing_shows():
    base = _posting(1, pay=Salary(1.0, 2.0, "USD", "year"), extra={"k": "v"})
    changes = {
        "title": "Other",
        "location": "Paris",
        "url": "https://jobs.example.com/other",
        "department": "Research",
        "remote": True,
        "description": "Other text",
        "pay": Salary(1.0, 3.0, "USD", "year"),
        "extra": {"k": "w"},
    }
    for name, value in changes.items():
        assert listing_hash(replace(base, **{name: value})) != listing_hash(base), name
    # what enrichment adds is not what the listing shows
    assert listing_hash(enrich_posting(base, SETTINGS)) == listing_hash(base)


# -- end to end: every board kind, through a worker process -------------------------------


async def _stored(store: Store, name: str) -> dict[str, Posting]:
    rows = await store.listings(ListingFilter(company=name, ai_only=False), limit=500)
    return {r.posting.external_id: r.posting for r in rows}


async def _expected(source: Source, http: HttpClient) -> dict[str, Posting]:
    """The board read afresh with nothing finished on the way, then enriched here."""
    ctx = PollContext(http)
    listed = {p.external_id: p for p in reversed((await source.fetch(ctx)).postings)}
    detailed = await source.details(ctx, list(listed.values()))
    company = source.config.company
    return {
        p.external_id: enrich_posting(replace(p, company=p.company or company), SETTINGS)
        for p in detailed
    }


def _assert_same(stored: dict[str, Posting], expected: dict[str, Posting]) -> None:
    """What was stored is what enrichment makes of the board afresh."""
    assert stored and stored.keys() == expected.keys()
    for key, posting in stored.items():
        want = expected[key]
        got = (posting.company, posting.title, posting.description, posting.salary, posting.ai)
        assert got == (want.company, want.title, want.description, want.salary, want.ai), key


async def _poll_kind(kind: Kind, store: Store, http: HttpClient, cpu: CpuPool | None) -> None:
    pipeline = Pipeline(store, http, enrich=SETTINGS, cpu=cpu)
    async with MutatingServer() as server:
        board = kind.make(server)
        name = f"{kind.name}-finish"
        source = make_source(
            SourceConfig(
                name=name,
                kind=kind.name,
                company="Acme Studios",
                base_url=kind.base(server),
                options=kind.options(board),
            )
        )
        first = await pipeline.poll(source, backfill=True)
        assert first.error is None and first.new > 0, first
        _assert_same(await _stored(store, name), await _expected(source, http))

        kind.add(board, "Machine Learning Engineer, Recommendations")
        second = await pipeline.poll(source)
        assert second.error is None, second
        assert [e.posting.posting.title for e in second.events] == [
            "Machine Learning Engineer, Recommendations"
        ]
        assert second.details == 1  # only the new posting was looked at again
        _assert_same(await _stored(store, name), await _expected(source, http))


@pytest.mark.parametrize("kind", KINDS, ids=[k.name for k in KINDS])
@pytest.mark.parametrize("workers", [1, 0], ids=["worker", "thread"])
async def test_every_board_kind_stores_finished_postings(sqlite_url, kind, workers):
    async with open_store(sqlite_url) as store, HttpClient() as http, CpuPool(workers) as cpu:
        await _poll_kind(kind, store, http, cpu)


async def test_a_listing_hash_is_the_listing_version_of_the_posting(sqlite_url):
    """Stored hashes are those of what the listing showed, so the next poll of an
    unchanged board finds every posting unchanged (no detail asked, nothing enriched)."""
    async with (
        open_store(sqlite_url) as store,
        HttpClient() as http,
        CpuPool(1) as cpu,
        MutatingServer() as server,
    ):
        board = boards_workable.FakeWorkable(server, details_in_listing=False)
        source = make_source(
            SourceConfig(
                name="workable-bare",
                kind="workable",
                base_url=server.url,
                options={"account": board.account},
            )
        )
        pipeline = Pipeline(store, http, enrich=SETTINGS, cpu=cpu)
        first = await pipeline.poll(source, backfill=True)
        assert first.error is None and first.details == first.new > 0
        stored = await _stored(store, "workable-bare")
        assert all(p.description for p in stored.values())  # each from its detail
        _assert_same(stored, await _expected(source, http))
        board.jobs[0]["title"] = "Senior Machine Learning Engineer"  # one listing changes
        second = await pipeline.poll(source)
        assert second.error is None and second.details == 1, second
        assert [e.kind for e in second.events] == ["updated"]
        _assert_same(await _stored(store, "workable-bare"), await _expected(source, http))


async def test_paged_lever_hashes_stay_with_their_postings(sqlite_url):
    """A posting listed on two pages (it moved while the board was paged) is kept once,
    its first copy, with that copy's hash: the hashes stored are those of the postings
    a fetch with nothing finished on the way reads."""
    async with (
        open_store(sqlite_url) as store,
        HttpClient() as http,
        CpuPool(1) as cpu,
        MutatingServer() as server,
    ):
        listed = bulk(25)
        listed.insert(12, dict(listed[7], text="Engineer 7, moved"))  # on pages 1 and 2
        FakeLever(server, postings=listed)
        src = lever(server, page_size=10, name="paged", company="Acme")
        summary = await Pipeline(store, http, enrich=SETTINGS, cpu=cpu).poll(src, backfill=True)
        assert summary.error is None and summary.new == 25
        plain = (await src.fetch(PollContext(http))).postings
        assert len(plain) == 25 and plain[7].title == "Engineer 7"
        assert await store.known_listing_hashes("paged") == {
            p.external_id: listing_hash(p) for p in plain
        }
