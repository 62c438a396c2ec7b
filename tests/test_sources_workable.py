"""Workable source against a fake widget API served on 127.0.0.1 through the real client."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.errors import ConfigError, HTTPStatusError, ParseError, RateLimited, TooLarge
from bot.sources.base import PollContext, SourceConfig
from bot.sources.workable import WorkableSource
from tests.fakes.boards_workable import LONDON, NYC, PARIS, SF, FakeWorkable, rows
from tests.fakes.http import FakeHTTPServer, Fault

DEMO = Path(__file__).resolve().parents[1] / "bot" / "demo_data" / "workable.json"


@pytest.fixture
async def server():
    async with FakeHTTPServer() as s:
        yield s


def source(server: FakeHTTPServer, account: str = "acme", **kw) -> WorkableSource:
    config = SourceConfig(
        name=kw.pop("name", "acme-labs"),
        kind="workable",
        base_url=server.url + "/",
        options={"account": account},
        **kw,
    )
    return WorkableSource(config)


def by_id(fetched) -> dict:
    return {p.external_id: p for p in fetched.postings}


async def test_rows_of_one_shortcode_merge_into_one_posting(server, http):
    board = FakeWorkable(server)
    assert len(board.jobs) == 7  # 4 jobs, one row per location
    fetched = await source(server).fetch(PollContext(http))

    assert not fetched.not_modified and fetched.warnings == ()
    assert server.requests_to(board.path)[0].query == {"details": "true"}
    assert [p.external_id for p in fetched.postings] == [
        "81B46579FE",
        "C7389E54B7",
        "5EA5DDE797",
        "97904BAC90",
    ]
    p = by_id(fetched)["81B46579FE"]
    assert p.location == (
        "Paris, Île-de-France, France; New York, United States; London, England, United Kingdom"
    )
    assert by_id(fetched)["97904BAC90"].location == (
        "London, England, United Kingdom; Paris, Île-de-France, France"
    )


async def test_fields_of_every_posting(server, http):
    FakeWorkable(server)
    p = by_id(await source(server).fetch(PollContext(http)))["81B46579FE"]
    assert p.source == "acme-labs"
    assert p.company == "Acme Labs"  # the account's own name when the config sets none
    assert p.title == "Machine Learning Engineer - Open Source"
    assert p.url == "https://apply.workable.com/j/81B46579FE"
    assert p.department == "Open Source"
    assert p.remote is True
    assert p.posted_at == datetime(2026, 11, 2, tzinfo=UTC)
    assert p.pay is None and p.salary is None and p.ai is None
    assert p.description == (
        "About the role\n\nMaintain transformers & diffusers with the community.\n\n"
        "Strong PyTorch\n\nOpen-source contributions\n\n"
        "US base salary: $180,000 - $240,000 per year, plus equity."
    )
    assert p.extra == {
        "employment_type": "Full-time",
        "apply_url": "https://apply.workable.com/j/81B46579FE/apply",
    }


async def test_company_from_config_then_name(server, http):
    FakeWorkable(server, name="")
    fetched = await source(server).fetch(PollContext(http))
    assert {p.company for p in fetched.postings} == {"Acme Labs"}  # from "acme-labs"
    fetched = await source(server, company="Acme").fetch(PollContext(http))
    assert {p.company for p in fetched.postings} == {"Acme"}


@pytest.mark.parametrize(
    ("row_changes", "expected"),
    [
        ([{"telecommuting": False}, {"telecommuting": True}], True),
        ([{"telecommuting": False}, {"telecommuting": False}], False),
        ([{"telecommuting": None, "workplace": "hybrid"}], False),
        ([{"telecommuting": None, "workplace_type": "remote"}], True),
        ([{"telecommuting": None}], None),
    ],
)
async def test_remote_detection(server, http, row_changes, expected):
    places = [NYC, SF][: len(row_changes)]
    job_rows = rows("AAA111", "Engineer", places)
    for row, change in zip(job_rows, row_changes, strict=True):
        row.update(change)
    FakeWorkable(server, jobs=job_rows)
    (p,) = (await source(server).fetch(PollContext(http))).postings
    assert p.remote is expected


async def test_hidden_and_missing_location_lists(server, http):
    hidden = rows("H1", "Engineer", [PARIS, LONDON])
    hidden[1]["locations"][0]["hidden"] = True
    flat = rows("F1", "Engineer", [SF])
    flat[0]["locations"] = []  # older rows: only the top-level city/state/country
    FakeWorkable(server, jobs=hidden + flat)
    postings = by_id(await source(server).fetch(PollContext(http)))
    assert postings["H1"].location == "Paris, Île-de-France, France"
    assert postings["F1"].location == "San Francisco, California, United States"


async def test_description_missing_from_listing_is_fetched_in_details(server, http):
    board = FakeWorkable(server, details_in_listing=False)
    src, ctx = source(server), PollContext(http)
    fetched = await src.fetch(ctx)
    assert all(p.description == "" for p in fetched.postings)

    board.remove("5EA5DDE797")  # gone between listing and detail: keeps the listing version
    detailed = {p.external_id: p for p in await src.details(ctx, fetched.postings)}
    assert detailed["C7389E54B7"].description == "Show creators what open video models can do."
    assert detailed["81B46579FE"].description.endswith("$180,000 - $240,000 per year, plus equity.")
    assert detailed["5EA5DDE797"] == by_id(fetched)["5EA5DDE797"]
    assert sorted(r.path.rsplit("/", 1)[1] for r in server.requests if "/v2/" in r.path) == [
        "5EA5DDE797",
        "81B46579FE",
        "97904BAC90",
        "C7389E54B7",
    ]


async def test_details_skips_postings_that_have_a_description(server, http):
    FakeWorkable(server)
    src, ctx = source(server), PollContext(http)
    fetched = await src.fetch(ctx)
    before = len(server.requests)
    assert await src.details(ctx, fetched.postings) == list(fetched.postings)
    assert len(server.requests) == before


async def test_detail_faults_keep_the_listing_version(server, http):
    board = FakeWorkable(server, details_in_listing=False)
    src, ctx = source(server), PollContext(http)
    fetched = await src.fetch(ctx)
    server.fail(board.detail_prefix + "81B46579FE", Fault.retry_after(429, "5"))
    server.fail(board.detail_prefix + "C7389E54B7", Fault.truncated(b'{"description": "<p>x</p>"}'))
    detailed = {p.external_id: p for p in await src.details(ctx, fetched.postings)}
    assert detailed["81B46579FE"].description == ""
    assert detailed["C7389E54B7"].description == ""
    assert detailed["97904BAC90"].description == "Train open speech and music models."


async def test_malformed_rows_are_skipped_with_a_warning(server, http):
    board = FakeWorkable(server)
    board.jobs.insert(0, {"title": "No code"})
    board.jobs.append("junk")
    board.jobs.extend(rows("T1", "   "))
    board.jobs.extend(rows("D1", "Engineer", published="soon"))
    fetched = await source(server).fetch(PollContext(http))
    assert len(fetched.postings) == 5
    assert by_id(fetched)["D1"].posted_at is None
    assert fetched.warnings == (
        "job #0 skipped: no shortcode",
        "job #8 skipped: no shortcode",
        "job T1 skipped: no title",
        "job D1: unreadable published_on date",
    )


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"name": "Acme", "description": None}, "got an object with keys ['description', 'name']"),
        ({"jobs": "none"}, "expected an object with a 'jobs' list"),
        (None, "got NoneType"),
    ],
)
async def test_wrong_shape_is_a_parse_error(server, http, payload, message):
    server.json("/api/v1/widget/accounts/acme", payload)
    with pytest.raises(ParseError, match="workable account 'acme'") as err:
        await source(server).fetch(PollContext(http))
    assert message in str(err.value)


async def test_unchanged_is_not_modified_and_changes_are_seen(server, http):
    board = FakeWorkable(server)
    src, ctx = source(server), PollContext(http)
    await src.fetch(ctx)
    assert (await src.fetch(ctx)).not_modified

    board.jobs.extend(rows("97904BAC90", "Research Scientist, Audio", [NYC]))  # a new location
    board.remove("5EA5DDE797")
    postings = by_id(await src.fetch(ctx))
    assert "5EA5DDE797" not in postings
    assert postings["97904BAC90"].location.endswith("; New York, United States")


async def test_etag_304(server, http):
    board = FakeWorkable(server, etag=True)
    src, ctx = source(server), PollContext(http)
    await src.fetch(ctx)
    assert (await src.fetch(ctx)).not_modified
    assert "If-None-Match" in server.requests_to(board.path)[1].headers


async def test_http_faults(server, http):
    board = FakeWorkable(server)
    src = source(server)

    server.fail(board.path, Fault.retry_after(429, "60"))
    with pytest.raises(RateLimited) as limited:
        await src.fetch(PollContext(http))
    assert limited.value.retry_after == 60

    server.fail(board.path, Fault.http(500))
    with pytest.raises(HTTPStatusError):
        await src.fetch(PollContext(http))

    server.fail(board.path, Fault.truncated(board.render()))
    with pytest.raises(ParseError, match="invalid JSON"):
        await src.fetch(PollContext(http))

    server.fail(board.path, Fault.oversized(3 * 1024 * 1024))
    with pytest.raises(TooLarge):
        await src.fetch(PollContext(http))

    assert len((await src.fetch(PollContext(http))).postings) == 4


def test_config_checks():
    with pytest.raises(ConfigError, match=r"sources\.x\.account"):
        WorkableSource(SourceConfig(name="x", kind="workable", options={"account": 3}))
    src = WorkableSource(SourceConfig(name="x", kind="workable", options={"account": "hf"}))
    assert src.listing_url == "https://apply.workable.com/api/v1/widget/accounts/hf?details=true"
    assert src.detail_url("AB/1") == "https://apply.workable.com/api/v2/accounts/hf/jobs/AB%2F1"


async def test_demo_data_parses_cleanly(server, http):
    payload = json.loads(DEMO.read_text(encoding="utf-8"))
    server.json("/api/v1/widget/accounts/huggingface", payload)
    fetched = await source(server, "huggingface").fetch(PollContext(http))
    assert fetched.warnings == ()
    assert 4 <= len(fetched.postings) <= 6
    assert len(payload["jobs"]) > len(fetched.postings)  # a job repeated per location
    assert all(p.description for p in fetched.postings)
