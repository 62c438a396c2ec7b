"""An unchanged re-poll (issue 8, scenario 2): what a poll that finds its board as it
was reads and writes, on SQLite and PostgreSQL.

A poll reads its source's state and conditional-GET memory in one query, and records a
not-modified listing and its success in one transaction. A page with the same bytes as
last time is treated like a 304: not decoded, followed by the next page only where the
last poll went on (Lever, Workday, SmartRecruiters, Eightfold).
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from aiohttp import web
from sqlalchemy import event

from bot.errors import StorageError
from bot.http import Validator
from bot.sources import SourceConfig, make_source
from bot.sources.base import PollContext, Source
from storage import open_store
from tests.fakes.boards_lever import FakeLever, bulk
from tests.fakes.boards_smartrecruiters import FakeSmartRecruitersBoard
from tests.fakes.http import FakeHTTPServer
from tests.test_properties_boards import KINDS, Kind
from tests.test_properties_hostile import MutatingServer
from tests.test_sources_lever import source as lever
from tests.test_storage_postings import POLL, T0, Router, job, kinds

URL = "https://boards-api.example/v1/boards/netflix/jobs"


@pytest.fixture
async def store(db_url):
    async with open_store(db_url) as s:
        yield s


async def test_state_and_validators_come_in_one_read(store):
    assert await store.source_state_and_validators("never-polled") == (None, {})
    validators = {URL: Validator(etag='W/"5f1e"', digest="ab" * 16)}
    await store.poll_failed("netflix", at=T0, error="HTTP 500", next_attempt=T0 + POLL)
    await store.poll_succeeded(
        "netflix", at=T0 + POLL, validators=validators, item_count=3, listing_hash="h1"
    )
    await store.poll_failed("netflix", at=T0 + 2 * POLL, error="timed out", next_attempt=None)
    state, read = await store.source_state_and_validators("netflix")
    assert state == await store.source_state("netflix")
    assert read == validators
    assert (state.failure_count, state.last_error, state.item_count) == (1, "timed out", 3)


async def _missing_once(store) -> None:
    """Three postings stored, then a listing without the third: it is missing once."""
    fresh = [job("1"), job("2"), job("3")]
    await store.apply_postings("netflix", fresh, at=T0, baseline=True)
    await store.apply_postings("netflix", fresh[:2], at=T0 + POLL, baseline=False)
    await store.poll_succeeded(
        "netflix", at=T0 + POLL, validators={}, item_count=2, listing_hash="h1"
    )
    await store.poll_failed(
        "netflix", at=T0 + 2 * POLL, error="HTTP 502", next_attempt=T0 + 3 * POLL
    )


async def test_a_not_modified_poll_closes_what_was_missing_and_records_the_success(store):
    await _missing_once(store)
    route = Router()
    at = T0 + 3 * POLL
    validators = {URL: Validator(digest="cd" * 16)}
    events = await store.poll_not_modified(
        "netflix",
        at=at,
        validators=validators,
        item_count=2,
        warnings=["posting 4 skipped: no title"],
        route=route,
    )
    # the listing still lacks 3: missing twice, closed
    assert kinds(events) == [("closed", "3")]
    assert route.calls == [events]
    assert await store.count_listings() == 2
    state = await store.source_state("netflix")
    assert (state.failure_count, state.last_error, state.failing_since) == (0, None, None)
    assert (state.last_success, state.last_attempt, state.next_attempt) == (at, at, None)
    assert state.item_count == 2
    assert (await store.source_state_and_validators("netflix"))[1] == validators
    assert await store.listing_hash("netflix") == "h1"  # a not-modified poll keeps it
    assert await store.source_warnings("netflix") == ["posting 4 skipped: no title"]
    # more of the same report nothing; what is listed is seen again once an hour
    later = at + timedelta(hours=2)
    assert await store.poll_not_modified("netflix", at=later, validators={}, item_count=2) == []
    assert [p.last_seen for p in await store.listings()] == [later, later]
    assert (await store.source_state("netflix")).last_success == later


async def test_a_company_a_not_modified_poll_closes_leaves_the_kept_company_list(store):
    fresh = [job("1"), job("2", company="Netflix Games")]
    await store.apply_postings("netflix", fresh, at=T0, baseline=True)
    await store.apply_postings("netflix", fresh[:1], at=T0 + POLL, baseline=False)
    assert await store.company_names() == ("Netflix", "Netflix Games")  # now kept
    again = await store.poll_not_modified("netflix", at=T0 + 2 * POLL, validators={}, item_count=1)
    assert kinds(again) == [("closed", "2")]
    assert await store.company_names() == ("Netflix",)


async def test_a_not_modified_poll_is_one_transaction(store):
    await _missing_once(store)
    before = await store.source_state("netflix")
    # Recording the success fails (item_count is NOT NULL) after the closure was
    # written in the same transaction: neither stays.
    with pytest.raises(StorageError):
        await store.poll_not_modified(
            "netflix",
            at=T0 + 3 * POLL,
            validators={},
            item_count=None,  # type: ignore[arg-type]
            route=Router(),
        )
    assert await store.count_listings() == 3
    assert await store.source_state("netflix") == before
    again = await store.poll_not_modified("netflix", at=T0 + 3 * POLL, validators={}, item_count=2)
    assert kinds(again) == [("closed", "3")]


async def test_on_sqlite_a_not_modified_poll_reads_its_postings_from_an_index(sqlite_url):
    """Both statements on a source's postings go through ix_postings_source_state_sqlite
    (migration 0007), never through the rows and their overflow pages."""
    async with open_store(sqlite_url) as store:
        await store.apply_postings(
            "netflix", [job(str(n)) for n in range(40)], at=T0, baseline=True
        )
        seen: list[tuple[str, Any]] = []

        def record(conn, cursor, statement, params, context, executemany):
            seen.append((statement, params))

        engine = store._engine.sync_engine
        event.listen(engine, "before_cursor_execute", record)
        try:
            await store.poll_not_modified("netflix", at=T0 + POLL, validators={}, item_count=40)
        finally:
            event.remove(engine, "before_cursor_execute", record)
        on_postings = [(s, p) for s, p in seen if re.search(r"(FROM|UPDATE) postings\b", s)]
        assert len(on_postings) == 2, seen
        async with store._engine.connect() as conn:
            for statement, params in on_postings:
                plan = (await conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", params)).all()
                details = " ".join(str(row[-1]) for row in plan)
                assert "INDEX ix_postings_source_state_sqlite" in details, (statement, details)


# -- Lever: a page with the same bytes as last time is treated as a 304 --------------


@pytest.fixture
async def server():
    async with FakeHTTPServer() as s:
        yield s


async def test_an_unchanged_lever_board_is_paged_as_last_time_and_not_parsed(server, http):
    board = FakeLever(server, postings=bulk(25))  # no ETag: the body hash decides
    src, ctx = lever(server, page_size=10), PollContext(http)
    assert len((await src.fetch(ctx)).postings) == 25
    server.requests.clear()
    assert (await src.fetch(ctx)).not_modified
    assert [r.query["skip"] for r in server.requests_to(board.path)] == ["0", "10", "20"]

    # One page changes: the unchanged ones are parsed from the bodies this poll read.
    board.postings[24]["text"] = "Staff Engineer 24"
    server.requests.clear()
    fetched = await src.fetch(ctx)
    assert len(fetched.postings) == 25 and fetched.postings[-1].title == "Staff Engineer 24"
    assert [r.query["skip"] for r in server.requests] == ["0", "10", "20"]


async def test_an_unchanged_page_goes_on_only_where_the_last_poll_went(server, http):
    # A server that ignores skip answers a full first page and repeats it: the first
    # poll notices the repeat and forgets the second page; the next poll of the same
    # bytes stops after the first page without asking for the repeat again.
    server.json("/v0/postings/acme", bulk(10))
    src, ctx = lever(server, page_size=10), PollContext(http)
    assert len((await src.fetch(ctx)).postings) == 10
    assert len(server.requests) == 2
    server.requests.clear()
    assert (await src.fetch(ctx)).not_modified
    assert [r.query["skip"] for r in server.requests] == ["0"]


def test_a_body_digest_stored_by_an_earlier_version_is_not_compared():
    # Before XXH3 the digest was a SHA-256 under "sha256": such a board is parsed once
    # more (never found "unchanged" by comparing hashes of two kinds), then remembered.
    old = Validator.from_json({"etag": 'W/"1"', "sha256": "ab" * 32})
    assert old.digest is None and old.etag == 'W/"1"'
    assert Validator.from_json(Validator(digest="cd" * 16).to_json()).digest == "cd" * 16
    assert Validator(digest="cd" * 16).to_json() == {"xxh3": "cd" * 16}


# -- Workday, SmartRecruiters, Eightfold: paged listings decoded only when changed ------

PAGE = {"workday": 20, "smartrecruiters": 100, "eightfold": 10}
PAGED = [k for k in KINDS if k.name in PAGE]


async def _paged(kind: Kind, server: MutatingServer, pages: float) -> tuple[Any, Source]:
    """A board of ``kind`` with postings for ``pages`` pages, and its source."""
    board = kind.make(server)
    while _count(board) < pages * PAGE[kind.name]:
        kind.add(board, f"Machine Learning Engineer {_count(board)}")
    source = make_source(
        SourceConfig(
            name=f"{kind.name}-paged",
            kind=kind.name,
            company="Acme",
            base_url=kind.base(server),
            options=kind.options(board),
        )
    )
    return board, source


def _count(board: Any) -> int:
    return len(board.jobs)


@pytest.mark.parametrize("kind", PAGED, ids=[k.name for k in PAGED])
async def test_an_unchanged_paged_board_is_asked_as_far_as_last_time_and_not_decoded(http, kind):
    async with MutatingServer() as server:
        board, src = await _paged(kind, server, 2.5)
        ctx = PollContext(http)
        first = await src.fetch(ctx)
        assert len(first.postings) == _count(board)
        asked = len(board.list_requests())
        assert asked == 3 and len(ctx.validators) == 3

        assert (await src.fetch(ctx)).not_modified
        assert len(board.list_requests()) == 2 * asked  # each page once more, no further

        # the last page changes: every page is read once, the unchanged ones from the
        # answers the look already had
        kind.add(board, "Research Scientist, Generative AI")
        changed = await src.fetch(ctx)
        assert len(board.list_requests()) == 3 * asked
        assert "Research Scientist, Generative AI" in [p.title for p in changed.postings]
        assert len(changed.postings) == _count(board)


@pytest.mark.parametrize("kind", PAGED, ids=[k.name for k in PAGED])
async def test_a_shorter_paged_board_forgets_the_pages_it_lost(http, kind):
    async with MutatingServer() as server:
        board, src = await _paged(kind, server, 2.5)
        ctx = PollContext(http)
        await src.fetch(ctx)
        assert len(ctx.validators) == 3
        del board.jobs[PAGE[kind.name] + 5 :]  # now a page and a bit
        shorter = await src.fetch(ctx)
        assert len(shorter.postings) == PAGE[kind.name] + 5
        assert len(ctx.validators) == 2  # the third page's memory is gone
        before = len(board.list_requests())
        assert (await src.fetch(ctx)).not_modified
        assert len(board.list_requests()) == before + 2


class _WidePages(FakeSmartRecruitersBoard):
    """A SmartRecruiters that answers 150 postings a page, whatever the limit asked."""

    async def _list(self, request: web.Request) -> web.Response:
        offset = int(request.query["offset"])
        entries = [j.listing_entry(self.company_id, self._api_url(request)) for j in self.jobs]
        return web.json_response(
            {"totalFound": len(entries), "content": entries[offset : offset + 150]}
        )


async def test_a_board_paged_unlike_the_walk_is_read_in_full(http):
    """Pages the walk does not visit (here at offset 150: the server answered more than
    a page) cannot be vouched for: a change there is found by reading the board."""
    async with MutatingServer() as server:
        board = _WidePages(server)
        for n in range(300):
            board.add(f"Machine Learning Engineer {n}")
        src = make_source(
            SourceConfig(
                name="wide", kind="smartrecruiters", base_url=server.url + "/",
                options={"company_id": board.company_id},
            )
        )  # fmt: skip
        ctx = PollContext(http)
        assert len((await src.fetch(ctx)).postings) == 300
        assert [r.query["offset"] for r in board.list_requests()] == ["0", "150"]
        assert (await src.fetch(ctx)).not_modified
        board.jobs[200].name = "Research Scientist, Generative AI"
        changed = await src.fetch(ctx)
        assert "Research Scientist, Generative AI" in [p.title for p in changed.postings]
