"""SmartRecruiters source against a fake Posting API on 127.0.0.1."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.errors import ConfigError, HTTPStatusError, ParseError, RateLimited, TooLarge
from bot.http import HttpClient, HttpSettings
from bot.sources.base import PollContext, SourceConfig
from bot.sources.smartrecruiters import SmartRecruitersSource
from tests.fakes.boards_smartrecruiters import FakeSmartRecruitersBoard
from tests.fakes.http import FakeHTTPServer, Fault


@pytest.fixture
async def board():
    async with FakeHTTPServer() as server:
        yield FakeSmartRecruitersBoard(server)


def make_source(board: FakeSmartRecruitersBoard, company_id: str | None = None):
    config = SourceConfig(
        name="nbcuniversal",
        kind="smartrecruiters",
        company="NBCUniversal",
        base_url=board.server.url + "/",
        options={"company_id": company_id or board.company_id},
    )
    return SmartRecruitersSource(config)


def fill(board: FakeSmartRecruitersBoard, count: int) -> None:
    for i in range(count):
        board.add(f"Production Coordinator {i}")


async def test_listing_fields(board, http):
    ml = board.add(
        " Machine Learning Engineer, Peacock  ",
        city="Los Angeles",
        region="CA",
        department="Peacock Engineering",
        released="2026-09-14T16:03:56.092Z",
    )
    board.add("Writers' Assistant", remote=True, city="", region="", country="us")

    fetched = await make_source(board).fetch(PollContext(http))

    assert fetched.warnings == () and not fetched.not_modified
    first, second = fetched.postings
    assert first.external_id == ml.id and first.source == "nbcuniversal"
    assert first.title == "Machine Learning Engineer, Peacock"
    assert first.company == "NBCUniversal"
    assert first.url == f"https://jobs.smartrecruiters.com/NBCUniversal3/{ml.id}"
    assert first.location == "Los Angeles, CA, United States"
    assert first.remote is False
    assert first.department == "Peacock Engineering"
    assert first.posted_at == datetime(2026, 9, 14, 16, 3, 56, 92000, tzinfo=UTC)
    assert first.description == "" and first.pay is None
    assert first.extra["released"] == "2026-09-14T16:03:56.092Z"
    assert first.extra["employment"] == "Full-time"
    assert second.remote is True and second.location == "United States"
    (request,) = board.list_requests()
    assert request.query == {"limit": "100", "offset": "0"}


async def test_pages_by_offset_until_total_found(board, http):
    fill(board, 230)

    fetched = await make_source(board).fetch(PollContext(http))

    assert len(fetched.postings) == 230
    assert [r.query["offset"] for r in board.list_requests()] == ["0", "100", "200"]


async def test_a_board_of_whole_pages_stops_at_total_found(board, http):
    fill(board, 200)

    fetched = await make_source(board).fetch(PollContext(http))

    assert len(fetched.postings) == 200
    assert [r.query["offset"] for r in board.list_requests()] == ["0", "100"]


async def test_an_unknown_company_is_an_empty_board_with_a_warning(board, http):
    fetched = await make_source(board, "nbcuniversal3").fetch(PollContext(http))

    assert fetched.postings == ()
    assert any("case-sensitive" in w for w in fetched.warnings)


async def test_malformed_and_private_postings(board, http):
    fill(board, 2)
    board.add("Internal Transfer Only", visibility="INTERNAL")
    board.raw_entries = [
        {"name": "No id"},
        {"id": "../../v1/companies/other", "name": "Path trick"},
        {"id": "744000130049999", "name": "   "},
        "not an object",
    ]

    fetched = await make_source(board).fetch(PollContext(http))

    assert [p.title for p in fetched.postings] == [
        "Production Coordinator 0",
        "Production Coordinator 1",
    ]
    assert len(fetched.warnings) == 4
    assert "no name" in fetched.warnings[2]


async def test_not_modified_only_when_every_page_is_unchanged(board, http):
    fill(board, 150)
    source = make_source(board)
    ctx = PollContext(http)

    first = await source.fetch(ctx)
    again = await source.fetch(ctx)
    board.jobs[140].name = "Senior Applied Scientist, Generative AI"
    changed = await source.fetch(ctx)

    assert len(first.postings) == 150
    assert again.not_modified and again.postings == ()
    assert not changed.not_modified
    assert changed.postings[140].title == "Senior Applied Scientist, Generative AI"


async def test_details_fill_description_and_link(board, http):
    ml = board.add("Machine Learning Engineer, Peacock", pay="$150,000 - $190,000")
    board.add("Production Coordinator")
    research = board.add("Research Scientist, Recommendations", pay="$180,000 - $240,000")
    source = make_source(board)
    ctx = PollContext(http)
    listed = (await source.fetch(ctx)).postings

    one, three = await source.details(ctx, [listed[0], listed[2]])

    assert sorted(r.path for r in board.detail_requests()) == sorted(
        [board.detail_path(ml.id), board.detail_path(research.id)]
    )
    text = one.description
    assert text.index("Company Description") < text.index("Job Description")
    assert text.index("Qualifications") < text.index("Additional Information")
    assert "Pay range: $150,000 - $190,000 (base pay)" in text
    assert "Own R&D models end–to–end" in text
    assert "&amp;" not in text and "<li>" not in text
    assert one.url == (
        f"https://jobs.smartrecruiters.com/NBCUniversal3/{ml.id}-machine-learning-engineer-peacock"
    )
    assert one.title == listed[0].title and one.extra == listed[0].extra
    assert "$180,000 - $240,000" in three.description


async def test_a_failed_detail_keeps_the_listing_version(board, http):
    jobs = [board.add(f"Data Engineer {i}", pay="$120,000 - $160,000") for i in range(4)]
    source = make_source(board)
    ctx = PollContext(http)
    listed = (await source.fetch(ctx)).postings
    board.server.fail(board.detail_path(jobs[1].id), Fault.http(503, **{"Retry-After": "1"}))
    doc = json.dumps(jobs[2].detail("NBCUniversal3", "https://x")).encode()
    board.server.fail(board.detail_path(jobs[2].id), Fault.truncated(doc))
    board.server.fail(board.detail_path(jobs[3].id), Fault.http(200, b'{"id": "1"}'))

    detailed = await source.details(ctx, listed)

    assert "$120,000 - $160,000" in detailed[0].description
    # A 503, a truncated body and a body without a job ad: each keeps its listing version.
    assert detailed[1:] == list(listed[1:])


async def test_a_rate_limited_detail_stops_the_remaining_ones(board, http):
    jobs = [board.add(f"Editor {i}") for i in range(10)]
    board.detail_latency = 0.05
    source = make_source(board)
    ctx = PollContext(http)
    listed = (await source.fetch(ctx)).postings
    board.server.fail(board.detail_path(jobs[0].id), Fault.retry_after(429, "60"))

    detailed = await source.details(ctx, listed)

    assert len(board.detail_requests()) == 4
    assert [bool(p.description) for p in detailed] == [False, True, True, True] + [False] * 6


async def test_details_run_four_at_a_time(board):
    for i in range(9):
        board.add(f"Data Scientist {i}")
    board.detail_latency = 0.05
    settings = HttpSettings(connect_timeout=2, read_timeout=3, per_host_concurrency=16)
    async with HttpClient(settings) as http:
        source = make_source(board)
        ctx = PollContext(http)
        detailed = await source.details(ctx, (await source.fetch(ctx)).postings)

    assert board.max_in_flight == 4
    assert all(p.description for p in detailed)


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        (Fault.retry_after(429, "7"), RateLimited),
        (Fault.http(500), HTTPStatusError),
        (
            Fault.truncated(b'{"offset": 0, "limit": 100, "totalFound": 1, "content": []}'),
            ParseError,
        ),
        (Fault.oversized(3 * 1024 * 1024), TooLarge),
        (Fault.http(200, b'{"message": "Company not available"}'), ParseError),
        (Fault.http(200, b'"just a string"'), ParseError),
    ],
)
async def test_listing_failures_raise(board, http, fault, error):
    fill(board, 3)
    board.server.fail(board.api_path, fault)

    with pytest.raises(error) as caught:
        await make_source(board).fetch(PollContext(http))

    if isinstance(caught.value, RateLimited):
        assert caught.value.retry_after == 7
    if "Company not available" in str(fault.body):
        assert "Company not available" in str(caught.value)


async def test_a_failed_later_page_fails_the_poll(board, http):
    fill(board, 150)
    source = make_source(board)
    page_one = await source.fetch(PollContext(http))  # learn page one's real body
    assert len(page_one.postings) == 150
    api = "https://api.smartrecruiters.com" + board.api_path
    body = {
        "offset": 0,
        "limit": 100,
        "totalFound": 150,
        "content": [j.listing_entry(board.company_id, api) for j in board.jobs[:100]],
    }
    board.server.fail(board.api_path, Fault.http(200, json.dumps(body).encode()), Fault.http(500))

    with pytest.raises(HTTPStatusError):
        await source.fetch(PollContext(http))


async def test_without_a_configured_company_the_listed_name_is_used(board, http):
    board.add("Colorist", company_name="Universal Pictures")
    config = SourceConfig(
        name="nbcu",
        kind="smartrecruiters",
        base_url=board.server.url,
        options={"company_id": board.company_id},
    )

    (posting,) = (await SmartRecruitersSource(config).fetch(PollContext(http))).postings

    assert posting.company == "Universal Pictures"


def test_defaults_and_bad_options():
    source = SmartRecruitersSource(
        SourceConfig(name="visa", kind="smartrecruiters", options={"company_id": "Visa"})
    )
    assert source.api == "https://api.smartrecruiters.com/v1/companies/Visa/postings"
    assert source.company == "visa"
    for bad in ("", "Visa/../x", None):
        with pytest.raises(ConfigError) as caught:
            SmartRecruitersSource(
                SourceConfig(name="visa", kind="smartrecruiters", options={"company_id": bad})
            )
        assert caught.value.key == "sources.visa.company_id"


DEMO = Path(__file__).resolve().parents[1] / "bot" / "demo_data" / "smartrecruiters"


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
        source = SmartRecruitersSource(config)
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
    assert any("$150,000 - $190,000" in p.description for p in detailed)
    assert all(
        p.url.startswith("https://jobs.smartrecruiters.com/NBCUniversal3/") for p in detailed
    )
