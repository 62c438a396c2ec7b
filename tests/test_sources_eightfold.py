"""Eightfold source against a fake "apply v2" site on 127.0.0.1."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.errors import (
    ConfigError,
    FetchError,
    HTTPStatusError,
    ParseError,
    RateLimited,
    TooLarge,
)
from bot.http import HttpClient, HttpSettings, Validator
from bot.sources.base import PollContext, SourceConfig
from bot.sources.eightfold import EightfoldSource
from tests.fakes.boards_eightfold import FakeEightfoldBoard
from tests.fakes.http import FakeHTTPServer, Fault

PM_TITLE = "Product Manager – Machine Learning Platform"


@pytest.fixture
async def board():
    async with FakeHTTPServer() as server:
        yield FakeEightfoldBoard(server)


def make_source(board: FakeEightfoldBoard, domain: str | None = None) -> EightfoldSource:
    config = SourceConfig(
        name="netflix",
        kind="eightfold",
        company="Netflix",
        base_url=board.server.url + "/",
        options={"host": board.host, "domain": domain or board.domain},
    )
    return EightfoldSource(config)


def fill(board: FakeEightfoldBoard, count: int) -> None:
    for i in range(count):
        board.add(f"Content Operations Coordinator {i}")


async def test_listing_fields(board, http):
    pm = board.add(
        f" {PM_TITLE} ",
        department="Product",
        locations=["Los Gatos,California,United States of America", "USA - Remote"],
        work_location_option="remote",
        t_create=1789430400,
    )
    board.add("Engineering Manager, Studio ML", work_location_option="hybrid")

    fetched = await make_source(board).fetch(PollContext(http))

    assert fetched.warnings == () and not fetched.not_modified
    first, second = fetched.postings
    assert first.external_id == str(pm.id) and first.source == "netflix"
    assert first.title == PM_TITLE and first.company == "Netflix"
    assert first.url == f"https://explore.jobs.netflix.net/careers/job/{pm.id}"
    assert first.location == "Los Gatos, California, United States of America; USA - Remote"
    assert first.remote is True and second.remote is False
    assert first.department == "Product"
    assert first.posted_at == datetime.fromtimestamp(1789430400, UTC)
    assert first.description == "" and first.pay is None
    assert first.extra == {
        "ats_job_id": pm.ats_job_id,
        "updated": str(pm.t_update),
        "work_location_option": "remote",
    }
    (request,) = board.list_requests()
    assert request.query == {"domain": "netflix.com", "start": "0", "num": "10"}


async def test_pages_until_a_short_page_whatever_count_says(board, http):
    fill(board, 23)
    board.count = 999

    fetched = await make_source(board).fetch(PollContext(http))

    assert len(fetched.postings) == 23
    assert [r.query["start"] for r in board.list_requests()] == ["0", "10", "20"]


async def test_an_understated_count_does_not_cut_the_listing(board, http):
    fill(board, 23)
    board.count = 5

    fetched = await make_source(board).fetch(PollContext(http))

    assert len(fetched.postings) == 23


async def test_a_board_of_whole_pages_ends_on_the_empty_page(board, http):
    fill(board, 20)

    fetched = await make_source(board).fetch(PollContext(http))

    assert len(fetched.postings) == 20
    assert [r.query["start"] for r in board.list_requests()] == ["0", "10", "20"]


async def test_a_server_ignoring_start_is_not_paged_forever(board, http):
    fill(board, 10)
    page = {"positions": [j.position(board.host, with_description=False) for j in board.jobs]}
    body = json.dumps(page).encode()
    board.server.fail(board.list_path, *[Fault.http(200, body)] * 5)

    fetched = await make_source(board).fetch(PollContext(http))

    assert len(fetched.postings) == 10
    assert len(board.list_requests()) == 2
    assert any("repeated" in w for w in fetched.warnings)


async def test_malformed_and_private_positions(board, http):
    fill(board, 2)
    board.add("Hidden Role", is_private=True)
    board.raw_positions = [
        {"name": "No id"},
        {"id": "../../admin", "name": "Path trick"},
        {"id": 790313349999, "name": ""},
        ["not", "an", "object"],
    ]

    fetched = await make_source(board).fetch(PollContext(http))

    assert [p.title for p in fetched.postings] == [
        "Content Operations Coordinator 0",
        "Content Operations Coordinator 1",
    ]
    assert len(fetched.warnings) == 4
    assert "no name" in fetched.warnings[2]


async def test_a_wrong_domain_is_reported_as_such(board, http):
    # The fake refuses with 403 as such sites do; the PCSX search is then tried and absent.
    with pytest.raises(FetchError) as caught:
        await make_source(board, domain="netflix.net").fetch(PollContext(http))
    assert "HTTP 403" in str(caught.value) and "HTTP 404" in str(caught.value)
    board.server.fail(board.list_path, Fault.http(200, b'{"message": "Not authorized for PCSX"}'))
    with pytest.raises(FetchError) as caught:
        await make_source(board).fetch(PollContext(http))
    assert "Not authorized for PCSX" in str(caught.value) and "pcsx" in str(caught.value)


async def test_a_server_error_is_not_taken_for_a_refusal(board, http):
    fill(board, 3)
    board.server.fail(board.list_path, Fault.http(500))

    with pytest.raises(HTTPStatusError):
        await make_source(board).fetch(PollContext(http))

    assert board.server.requests_to("/api/pcsx/search") == []


async def test_a_pcsx_site_is_listed_through_the_pcsx_search():
    async with FakeHTTPServer() as server:
        board = FakeEightfoldBoard(server, host="jobs.nvidia.com", domain="nvidia.com", pcsx=True)
        for i in range(12):
            board.add(f"Deep Learning Engineer {i}", pay="$184,000 - $287,500")
        board.add("Senior Architect, Agentic AI", locations=["Santa Clara,CA,US"])
        settings = HttpSettings(connect_timeout=2, read_timeout=3)
        async with HttpClient(settings) as http:
            config = SourceConfig(
                name="nvidia",
                kind="eightfold",
                company="NVIDIA",
                base_url=server.url,
                options={"host": "jobs.nvidia.com", "domain": "nvidia.com"},
            )
            source = EightfoldSource(config)
            ctx = PollContext(http)
            # as if the other API had answered an earlier poll: its page is forgotten
            earlier = http.validator_key(source.api, params=source._params(0))
            ctx.validators[earlier] = Validator(digest="ab" * 16)
            first = await source.fetch(ctx)
            assert earlier not in ctx.validators and len(ctx.validators) == 2
            second = await source.fetch(ctx)
            detailed = await source.details(ctx, first.postings[:2])

    assert len(first.postings) == 13 and first.warnings == ()
    assert second.not_modified  # straight to PCSX: the refused API is not asked again
    assert len(board.list_requests()) == 1
    assert [r.query["start"] for r in board.pcsx_requests()] == ["0", "10", "0", "10"]
    architect = first.postings[12]
    assert architect.title == "Senior Architect, Agentic AI"
    assert architect.url == f"https://jobs.nvidia.com/careers/job/{board.jobs[12].id}"
    assert architect.location == "US, CA, Santa Clara"
    assert architect.extra["ats_job_id"] == board.jobs[12].ats_job_id
    assert architect.posted_at == datetime.fromtimestamp(board.jobs[12].t_update, UTC)
    assert [r.query["position_id"] for r in board.detail_requests()] == [
        str(board.jobs[0].id),
        str(board.jobs[1].id),
    ]
    assert all("$184,000 - $287,500" in p.description for p in detailed)


async def test_not_modified_only_when_every_page_is_unchanged(board, http):
    fill(board, 15)
    source = make_source(board)
    ctx = PollContext(http)

    first = await source.fetch(ctx)
    again = await source.fetch(ctx)
    board.jobs[12].name = "Senior Research Scientist, Generative AI"
    changed = await source.fetch(ctx)

    assert len(first.postings) == 15
    assert again.not_modified and again.postings == ()
    assert not changed.not_modified
    assert changed.postings[12].title == "Senior Research Scientist, Generative AI"


async def test_details_fill_the_netflix_description(board, http):
    pm = board.add(PM_TITLE, pay="$300,000 - $900,000")
    board.add("Talent Agent Relations Manager")
    scientist = board.add("Applied Machine Learning Scientist", pay="$150,000 - $750,000")
    source = make_source(board)
    ctx = PollContext(http)
    listed = (await source.fetch(ctx)).postings

    one, three = await source.details(ctx, [listed[0], listed[2]])

    assert sorted(r.path for r in board.detail_requests()) == sorted(
        [board.detail_path(pm.id), board.detail_path(scientist.id)]
    )
    assert all(r.query == {"domain": "netflix.com"} for r in board.detail_requests())
    text = one.description
    assert (
        "The overall market range for roles in this area of Netflix is typically "
        "$300,000 - $900,000." in text
    )
    assert "based on total compensation (vs. only base salary)" in text
    assert "studio & product teams across the company" in text
    assert "<generation>" in text and "<p>" not in text
    assert one.title == listed[0].title and one.url == listed[0].url
    assert one.extra == listed[0].extra and one.pay is None
    assert "$150,000 - $750,000" in three.description


async def test_a_failed_detail_keeps_the_listing_version(board, http):
    jobs = [board.add(f"Data Engineer {i}", pay="$200,000 - $600,000") for i in range(4)]
    source = make_source(board)
    ctx = PollContext(http)
    listed = (await source.fetch(ctx)).postings
    board.remove(jobs[1].id)  # gone since the listing: 404 "Job with ID ... not found"
    doc = json.dumps(jobs[2].position(board.host, with_description=True)).encode()
    board.server.fail(board.detail_path(jobs[2].id), Fault.truncated(doc))
    board.server.fail(
        board.detail_path(jobs[3].id), Fault.http(200, b'{"id": 1, "job_description": ""}')
    )

    detailed = await source.details(ctx, listed)

    assert "$200,000 - $600,000" in detailed[0].description
    assert detailed[1:] == list(listed[1:])


async def test_a_rate_limited_detail_stops_the_remaining_ones(board, http):
    jobs = [board.add(f"Localization Producer {i}") for i in range(10)]
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
        board.add(f"Machine Learning Engineer {i}")
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
        (Fault.truncated(b'{"positions": [{"id": 1, "name": "A"}], "count": 1}'), ParseError),
        (Fault.oversized(3 * 1024 * 1024), TooLarge),
        (Fault.http(200, b'{"count": 3}'), ParseError),
        (Fault.http(200, b"null"), ParseError),
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
    fill(board, 15)
    page = {"positions": [j.position(board.host, with_description=False) for j in board.jobs[:10]]}
    board.server.fail(board.list_path, Fault.http(200, json.dumps(page).encode()), Fault.http(500))

    with pytest.raises(HTTPStatusError):
        await make_source(board).fetch(PollContext(http))


def test_defaults_and_bad_options():
    source = EightfoldSource(
        SourceConfig(
            name="netflix",
            kind="eightfold",
            options={"host": "https://explore.jobs.netflix.net/", "domain": "netflix.com"},
        )
    )
    assert source.api == "https://explore.jobs.netflix.net/api/apply/v2/jobs"
    assert source.company == "netflix"
    assert EightfoldSource.required_options == ("host", "domain")
    for options, key in (
        ({"host": "explore.jobs.netflix.net/careers", "domain": "netflix.com"}, "host"),
        ({"host": "explore.jobs.netflix.net", "domain": "netflix.com&x=1"}, "domain"),
        ({"host": "explore.jobs.netflix.net"}, "domain"),
    ):
        with pytest.raises(ConfigError) as caught:
            EightfoldSource(SourceConfig(name="netflix", kind="eightfold", options=options))
        assert caught.value.key == f"sources.netflix.{key}"


DEMO = Path(__file__).resolve().parents[1] / "bot" / "demo_data" / "eightfold"


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
        source = EightfoldSource(config)
        ctx = PollContext(http)
        baseline = await source.fetch(ctx)
        serve_demo(server, baseline=False)
        full = await source.fetch(ctx)
        detailed = await source.details(ctx, full.postings)

    assert baseline.warnings == () and full.warnings == ()
    assert 4 <= len(full.postings) <= 6 and len(baseline.postings) < len(full.postings)
    assert all(p.description for p in detailed)
    with_pay = [p for p in detailed if "$" in p.description]
    assert len(with_pay) == len(detailed)
    (pm,) = [p for p in detailed if p.title == PM_TITLE]
    assert pm.external_id not in {p.external_id for p in baseline.postings}
    assert pm.remote is True
    assert (
        "The overall market range for roles in this area of Netflix is typically" in pm.description
    )
    assert "$300,000 - $900,000" in pm.description
    assert (
        "This market range is based on total compensation (vs. only base salary)" in pm.description
    )
    titles = " | ".join(p.title for p in detailed)
    for role in ("Applied Machine Learning Scientist", "Engineering Manager", "Software Engineer"):
        assert role in titles
