"""Workday source against a fake CXS server on 127.0.0.1."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.errors import ConfigError, HTTPStatusError, ParseError, RateLimited, TooLarge
from bot.http import HttpClient, HttpSettings
from bot.sources.base import PollContext, SourceConfig
from bot.sources.workday import WorkdaySource
from tests.fakes.boards_workday import FakeWorkdayBoard
from tests.fakes.http import FakeHTTPServer, Fault


@pytest.fixture
async def board():
    async with FakeHTTPServer() as server:
        yield FakeWorkdayBoard(server)


def make_source(board: FakeWorkdayBoard, **options: str) -> WorkdaySource:
    config = SourceConfig(
        name="nvidia",
        kind="workday",
        company="NVIDIA",
        base_url=board.server.url + "/",  # a trailing slash must not double up
        options={"host": board.host, "tenant": board.tenant, "site": board.site, **options},
    )
    return WorkdaySource(config)


def fill(board: FakeWorkdayBoard, count: int) -> None:
    for i in range(count):
        board.add(f"Software Engineer {i}", f"JR{2000000 + i}")


async def test_listing_fields(board, http):
    board.add(
        "  Senior Deep Learning Engineer, LLM Inference ",
        "JR2001234",
        additional_locations=["US, WA, Redmond", "US, TX, Austin"],
        remote_type="Hybrid",
    )
    board.add("Facilities Technician", "JR2001300", location="US, OR, Hillsboro")
    board.add("ML Platform Engineer", "JR2001301", remote_type="Remote")

    fetched = await make_source(board).fetch(PollContext(http))

    assert not fetched.not_modified and fetched.warnings == ()
    first, second, third = fetched.postings
    assert first.title == "Senior Deep Learning Engineer, LLM Inference"
    assert first.external_id == "Senior-Deep-Learning-Engineer-LLM-Inference_JR2001234"
    assert first.source == "nvidia" and first.company == "NVIDIA"
    assert first.url == (
        "https://nvidia.wd5.myworkdayjobs.com/NVIDIAExternalCareerSite/job/US-CA-Santa-Clara/"
        "Senior-Deep-Learning-Engineer-LLM-Inference_JR2001234"
    )
    assert first.location == "3 Locations"
    assert first.remote is False
    assert first.description == "" and first.pay is None and first.posted_at is None
    # The relative "Posted 30+ Days Ago" ticks daily: never part of change detection.
    assert "Posted" not in json.dumps(dict(first.extra))
    assert first.extra["path"].startswith("/job/US-CA-Santa-Clara/")
    assert first.extra["bullet_fields"] == "JR2001234"
    assert second.location == "US, OR, Hillsboro" and second.remote is None
    assert third.remote is True
    (request,) = board.list_requests()
    assert request.method == "POST"
    assert request.json() == {"appliedFacets": {}, "limit": 20, "offset": 0, "searchText": ""}


async def test_pages_of_twenty_until_page_ones_total(board, http):
    fill(board, 45)

    fetched = await make_source(board).fetch(PollContext(http))

    assert len(fetched.postings) == 45
    assert len({p.external_id for p in fetched.postings}) == 45
    assert [r.json()["offset"] for r in board.list_requests()] == [0, 20, 40]
    assert fetched.warnings == ()


async def test_a_board_of_whole_pages_is_not_read_twice(board, http):
    # Past the end Workday serves page one again; page one's total must stop us first.
    fill(board, 40)

    fetched = await make_source(board).fetch(PollContext(http))

    assert len(fetched.postings) == 40
    assert [r.json()["offset"] for r in board.list_requests()] == [0, 20]


async def test_a_page_that_repeats_earlier_postings_ends_paging(board, http):
    # A wrong (too large) total would otherwise walk into the repeated page one.
    fill(board, 40)
    board.total_override = 200

    fetched = await make_source(board).fetch(PollContext(http))

    assert len(fetched.postings) == 40
    assert [r.json()["offset"] for r in board.list_requests()] == [0, 20, 40]
    assert any("repeated" in w for w in fetched.warnings)


async def test_a_board_at_workdays_search_cap_is_flagged(board, http):
    fill(board, 5)
    board.total_override = 2000

    fetched = await make_source(board).fetch(PollContext(http))

    assert len(fetched.postings) == 5
    assert any("search_text" in w for w in fetched.warnings)


async def test_search_text_is_sent(board, http):
    fill(board, 2)

    await make_source(board, search_text=" machine learning ").fetch(PollContext(http))

    assert board.list_requests()[0].json()["searchText"] == "machine learning"


async def test_malformed_postings_are_skipped_with_a_warning(board, http):
    fill(board, 2)
    board.raw_entries = [
        {"bulletFields": ["JR2018715"]},  # seen on NVIDIA's real board: no title, no path
        {"title": "Evil", "externalPath": "https://evil.example/job/x"},
        {"title": "Escape", "externalPath": "/job/../../wday/cxs/other/Careers/jobs"},
        42,
    ]

    fetched = await make_source(board).fetch(PollContext(http))

    assert [p.title for p in fetched.postings] == ["Software Engineer 0", "Software Engineer 1"]
    assert len(fetched.warnings) == 4
    assert "no title" in fetched.warnings[0]
    assert "externalPath" in fetched.warnings[1] and "externalPath" in fetched.warnings[2]


async def test_not_modified_only_when_every_page_is_unchanged(board, http):
    fill(board, 25)
    source = make_source(board)
    ctx = PollContext(http)

    first = await source.fetch(ctx)
    again = await source.fetch(ctx)
    board.jobs[24].title = "Software Engineer, Generative AI"  # on page two only
    changed = await source.fetch(ctx)

    assert len(first.postings) == 25 and not first.not_modified
    assert again.not_modified and again.postings == ()
    assert not changed.not_modified and len(changed.postings) == 25
    assert changed.postings[24].title == "Software Engineer, Generative AI"


async def test_details_fill_description_places_date_and_link(board, http):
    board.add(
        "Senior Deep Learning Engineer",
        "JR2001234",
        pay="184,000 USD - 287,500 USD for Level 4",
        additional_locations=["US, WA, Redmond"],
        start_date="2026-09-08",
    )
    board.add("Facilities Technician", "JR2001300")
    board.add("Solutions Architect, AI", "JR2001301", pay="$148,000 - $235,750")
    source = make_source(board)
    ctx = PollContext(http)
    listed = (await source.fetch(ctx)).postings

    detailed = await source.details(ctx, [listed[0], listed[2]])

    assert sorted(r.path for r in board.detail_requests()) == sorted(
        [board.detail_path("JR2001234"), board.detail_path("JR2001301")]
    )
    deep, architect = detailed
    assert "The base salary range is 184,000 USD - 287,500 USD for Level 4." in deep.description
    assert "R&D teams" in deep.description and "<at scale>" in deep.description
    assert "What you'll be doing" in deep.description
    assert "<p>" not in deep.description and "&amp;" not in deep.description
    assert deep.location == "US, CA, Santa Clara; US, WA, Redmond"
    assert deep.posted_at == datetime(2026, 9, 8, tzinfo=UTC)
    assert (
        deep.url
        == board.job("JR2001234").detail(host=board.host, tenant=board.tenant, site=board.site)[
            "jobPostingInfo"
        ]["externalUrl"]
    )
    assert deep.pay is None  # pay comes from the text, later
    assert deep.extra == listed[0].extra and deep.title == listed[0].title
    assert "$148,000 - $235,750" in architect.description


async def test_a_failed_detail_keeps_the_listing_version(board, http):
    for i in range(4):
        board.add(f"Research Scientist {i}", f"JR300{i}", pay="$200,000 - $300,000")
    source = make_source(board)
    ctx = PollContext(http)
    listed = (await source.fetch(ctx)).postings
    board.server.fail(board.detail_path("JR3001"), Fault.http(500))
    doc = json.dumps(board.job("JR3002").detail(host="h", tenant="t", site="s")).encode()
    board.server.fail(board.detail_path("JR3002"), Fault.truncated(doc))
    board.server.fail(board.detail_path("JR3003"), Fault.http(200, b'{"unexpected": []}'))

    detailed = await source.details(ctx, listed)

    assert "$200,000 - $300,000" in detailed[0].description
    assert detailed[1:] == list(listed[1:])


async def test_a_rate_limited_detail_stops_the_remaining_ones(board, http):
    for i in range(10):
        board.add(f"Applied Scientist {i}", f"JR40{i:02d}")
    board.detail_latency = 0.05  # the three in flight beside the 429 are still answering
    source = make_source(board)
    ctx = PollContext(http)
    listed = (await source.fetch(ctx)).postings
    board.server.fail(board.detail_path("JR4000"), Fault.retry_after(429, "30"))

    detailed = await source.details(ctx, listed)

    assert len(board.detail_requests()) == 4
    assert [bool(p.description) for p in detailed] == [False, True, True, True] + [False] * 6


async def test_details_run_four_at_a_time(board):
    for i in range(9):
        board.add(f"Data Scientist {i}", f"JR50{i}")
    board.detail_latency = 0.05
    # The shared client allows more per host, so the bound seen is the source's own.
    settings = HttpSettings(connect_timeout=2, read_timeout=3, per_host_concurrency=16)
    async with HttpClient(settings) as http:
        source = make_source(board)
        ctx = PollContext(http)
        listed = (await source.fetch(ctx)).postings
        detailed = await source.details(ctx, listed)

    assert board.max_in_flight == 4
    assert all(p.description for p in detailed)


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        (Fault.retry_after(429, "7"), RateLimited),
        (Fault.http(500), HTTPStatusError),
        (Fault.truncated(b'{"total": 3, "jobPostings": [{"title": "A"}]}'), ParseError),
        (Fault.oversized(3 * 1024 * 1024), TooLarge),
        (Fault.http(200, b'{"total": 3, "postings": []}'), ParseError),
        (Fault.http(200, b"[1, 2, 3]"), ParseError),
    ],
)
async def test_listing_failures_raise(board, http, fault, error):
    fill(board, 3)
    board.server.fail(board.list_path, fault)

    with pytest.raises(error) as caught:
        await make_source(board).fetch(PollContext(http))

    if isinstance(caught.value, RateLimited):
        assert caught.value.retry_after == 7


async def test_a_failed_later_page_fails_the_poll(board, http):
    # A partial listing would close every posting on the missing pages.
    fill(board, 30)
    page_one = {"total": 30, "jobPostings": [j.listing_entry() for j in board.jobs[:20]]}
    board.server.fail(
        board.list_path, Fault.http(200, json.dumps(page_one).encode()), Fault.http(502)
    )

    with pytest.raises(HTTPStatusError) as caught:
        await make_source(board).fetch(PollContext(http))

    assert caught.value.status == 502
    assert [r.json()["offset"] for r in board.list_requests()] == [0, 20]


async def test_default_base_url_comes_from_the_host():
    config = SourceConfig(
        name="disney",
        kind="workday",
        options={
            "host": "https://disney.wd5.myworkdayjobs.com/",
            "tenant": "disney",
            "site": "disneycareer",
        },
    )
    source = WorkdaySource(config)
    assert source.api == "https://disney.wd5.myworkdayjobs.com/wday/cxs/disney/disneycareer"
    assert source.company == "disney"
    assert WorkdaySource.default_base_url == ""
    assert WorkdaySource.required_options == ("host", "tenant", "site")


@pytest.mark.parametrize(
    ("options", "key"),
    [
        ({"host": "nvidia.wd5.myworkdayjobs.com/en-US", "tenant": "nvidia", "site": "x"}, "host"),
        ({"host": "nvidia.wd5.myworkdayjobs.com", "tenant": "", "site": "x"}, "tenant"),
        ({"host": "nvidia.wd5.myworkdayjobs.com", "tenant": "nvidia", "site": "a/b"}, "site"),
    ],
)
def test_bad_options_name_the_key(options, key):
    with pytest.raises(ConfigError) as caught:
        WorkdaySource(SourceConfig(name="nv", kind="workday", options=options))
    assert caught.value.key == f"sources.nv.{key}"


DEMO = Path(__file__).resolve().parents[1] / "bot" / "demo_data" / "workday"


def serve_demo(server: FakeHTTPServer, *, baseline: bool) -> dict:
    """Serve the bundled sample board as its manifest describes it."""
    manifest = json.loads((DEMO / "board.json").read_text(encoding="utf-8"))
    for route in manifest["routes"]:
        name = route.get("baseline_file", route["file"]) if baseline else route["file"]
        payload = json.loads((DEMO / name).read_text(encoding="utf-8"))
        server.json(route["path"], payload, method=route["method"])
    return manifest


async def test_demo_data_is_a_valid_board(http):
    async with FakeHTTPServer() as server:
        manifest = serve_demo(server, baseline=True)
        cfg = dict(manifest["source"])
        config = SourceConfig(
            name=cfg.pop("name"),
            kind=cfg.pop("kind"),
            company=cfg.pop("company"),
            base_url=server.url,
            options=cfg,
        )
        source = WorkdaySource(config)
        ctx = PollContext(http)
        baseline = await source.fetch(ctx)
        serve_demo(server, baseline=False)
        full = await source.fetch(ctx)
        detailed = await source.details(ctx, full.postings)

    assert baseline.warnings == () and full.warnings == ()
    assert 4 <= len(full.postings) <= 6 and len(baseline.postings) < len(full.postings)
    assert all(p.description for p in detailed)
    with_pay = [p for p in detailed if "$" in p.description]
    assert 3 <= len(with_pay) < len(detailed)
    assert any("Generative AI" in p.title for p in detailed)
    assert all(
        p.url.startswith("https://disney.wd5.myworkdayjobs.com/disneycareer/job/") for p in detailed
    )
