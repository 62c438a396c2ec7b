"""Lever source against a fake Postings API served on 127.0.0.1 through the real client."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.errors import ConfigError, HTTPStatusError, ParseError, RateLimited, TooLarge
from bot.sources.base import PollContext, SourceConfig
from bot.sources.lever import LeverSource
from tests.fakes.boards_lever import FakeLever, bulk, posting, salary
from tests.fakes.http import FakeHTTPServer, Fault

DEMO = Path(__file__).resolve().parents[1] / "bot" / "demo_data" / "lever.json"


@pytest.fixture
async def server():
    async with FakeHTTPServer() as s:
        yield s


def source(server: FakeHTTPServer, site: str = "acme", page_size: int = 100, **kw) -> LeverSource:
    config = SourceConfig(
        name=kw.pop("name", "acme"),
        kind="lever",
        base_url=server.url + "/",
        options={"site": site, **kw.pop("options", {})},
        **kw,
    )
    src = LeverSource(config)
    src.page_size = page_size
    return src


def by_id(fetched) -> dict:
    return {p.external_id: p for p in fetched.postings}


async def test_fields_of_every_posting(server, http):
    board = FakeLever(server)
    fetched = await source(server).fetch(PollContext(http))

    assert not fetched.not_modified and fetched.warnings == ()
    assert len(fetched.postings) == 6
    assert server.requests_to(board.path)[0].query == {"mode": "json", "skip": "0", "limit": "100"}

    p = by_id(fetched)["2193db3f-77c5-43b8-b030-8f92c9882bf1"]
    assert p.source == "acme" and p.company == "Acme"
    assert p.title == "Machine Learning Engineer - Personalization"
    assert p.url == "https://jobs.lever.co/acme/2193db3f-77c5-43b8-b030-8f92c9882bf1"
    assert p.location == "New York, NY; Boston, MA"
    assert p.department == "Technology / Personalization"
    assert p.remote is False  # hybrid
    assert p.posted_at is None  # createdAt is the requisition's creation, not the posting's
    assert p.extra == {
        "commitment": "Full-time",
        "apply_url": "https://jobs.lever.co/acme/2193db3f-77c5-43b8-b030-8f92c9882bf1/apply",
        "requisition_created": "2025-11-01T00:00:00+00:00",
    }
    assert p.description == (
        "Personalization makes listening feel yours.\n\n"
        "We use deep learning & bandits at scale.\n\n"
        "What You'll Do\nTrain recommendation models\n\nRun A/B tests\n\n"
        "Who You Are\n3+ years with PyTorch or TensorFlow\n\n"
        "We are proud to be an equal opportunity employer.\n\n"
        "The United States base range for this position is $176,000 - $252,000 plus equity."
    )
    assert p.salary is None and p.ai is None


async def test_salary_range_mapping(server, http):
    FakeLever(server)
    postings = by_id(await source(server).fetch(PollContext(http)))

    year = postings["2193db3f-77c5-43b8-b030-8f92c9882bf1"].pay
    assert (year.min, year.max, year.currency, year.period, year.kind) == (
        176_000,
        252_000,
        "USD",
        "year",
        "base",
    )
    assert year.text == (
        "176,000 – 252,000 USD per year (The United States base range for this position "
        "is $176,000 - $252,000 plus equity.)"
    )
    hourly = postings["4b7f5e2a-1d3c-4e8f-9a6b-0c2d4e6f8a01"].pay
    assert (hourly.min, hourly.max, hourly.period) == (28, 35, "hour")
    cad = postings["7c9e1f3a-5b7d-4c2e-8f0a-1b3d5f7a9c02"].pay
    assert (cad.currency, cad.period) == ("CAD", "year")
    monthly = postings["af3b5d7e-9c1e-4d3f-8a5b-7c9e1f3b5d04"].pay
    assert (monthly.min, monthly.max, monthly.currency, monthly.period) == (
        7_500,
        9_500,
        "EUR",
        "month",
    )
    assert postings["c15d7f9a-1b3e-4f5a-8b7c-9d1f3a5b7c05"].pay.kind == "ote"
    assert postings["9d1f3b5c-7e9a-4b1d-8c3e-5f7a9b1d3e03"].pay is None


@pytest.mark.parametrize(
    ("salary_range", "expected"),
    [
        (salary(90_000, 60_000), (60_000, 90_000, "year")),
        (salary(55, 55, interval="per-day-wage"), (55, 55, "day")),
        (salary(1_500, 2_000, interval="per-week-salary"), (1_500, 2_000, "week")),
        (
            {"currency": "USD", "interval": "per-year-salary", "min": 150_000},
            (150_000, None, "year"),
        ),
        (salary(5_000, 5_000, interval="one-time"), None),
        (salary(1, 2, interval="per-fortnight"), None),
        ({"currency": None, "interval": "per-year-salary", "min": 1, "max": 2}, None),
        ({"currency": "USD", "interval": "per-year-salary", "min": 0, "max": None}, None),
        ("100k", None),
    ],
)
async def test_salary_range_edge_cases(server, http, salary_range, expected):
    FakeLever(server, postings=[posting("p1", "Engineer", salary=salary_range)])
    (p,) = (await source(server).fetch(PollContext(http))).postings
    if expected is None:
        assert p.pay is None
    else:
        assert (p.pay.min, p.pay.max, p.pay.period) == expected


@pytest.mark.parametrize(
    ("workplace", "location", "expected"),
    [
        ("remote", "New York, NY", True),
        ("on-site", "Remote", False),
        ("onsite", "Stockholm", False),
        ("hybrid", "Stockholm", False),
        ("unspecified", "Remote - Europe", True),
        ("unspecified", "Stockholm", None),
        (None, "Stockholm", None),
    ],
)
async def test_remote_detection(server, http, workplace, location, expected):
    FakeLever(server, postings=[posting("p1", "Engineer", workplace=workplace, location=location)])
    (p,) = (await source(server).fetch(PollContext(http))).postings
    assert p.remote is expected


@pytest.mark.parametrize(
    ("title", "expected"),
    [("Audio ML Engineer (Remote)", True), ("Remote Production Operator", None)],
)
async def test_remote_in_title_only_as_a_location(server, http, title, expected):
    item = posting("p1", title, workplace="unspecified", location="Los Angeles")
    FakeLever(server, postings=[item])
    (p,) = (await source(server).fetch(PollContext(http))).postings
    assert p.remote is expected


async def test_pages_through_a_large_board(server, http):
    board = FakeLever(server, postings=bulk(25))
    fetched = await source(server, page_size=10).fetch(PollContext(http))
    assert [p.title for p in fetched.postings] == [f"Engineer {n}" for n in range(25)]
    assert [r.query["skip"] for r in server.requests_to(board.path)] == ["0", "10", "20"]

    # A board that is exactly full pages ends on an empty page.
    board.postings[:] = bulk(20)
    server.requests.clear()
    fetched = await source(server, page_size=10).fetch(PollContext(http))
    assert len(fetched.postings) == 20
    assert [r.query["skip"] for r in server.requests_to(board.path)] == ["0", "10", "20"]


@pytest.mark.parametrize(("count", "requests"), [(25, 1), (10, 2), (4, 1)])
async def test_a_server_that_ignores_paging(server, http, count, requests):
    # A proxy or a saved copy of the board answers every page with the whole array.
    server.json("/v0/postings/acme", bulk(count))
    src, ctx = source(server, page_size=10), PollContext(http)
    fetched = await src.fetch(ctx)
    assert len(fetched.postings) == count and fetched.warnings == ()
    assert len(server.requests) == requests
    assert list(ctx.validators) == [src.page_url(0)]  # the repeated page is not remembered
    assert (await src.fetch(ctx)).not_modified


async def test_paging_with_304_pages(server, http):
    board = FakeLever(server, postings=bulk(25), etag=True)
    src, ctx = source(server, page_size=10), PollContext(http)
    assert len((await src.fetch(ctx)).postings) == 25

    server.requests.clear()
    assert (await src.fetch(ctx)).not_modified  # three 304s, nothing parsed
    requests = server.requests_to(board.path)
    assert [r.query["skip"] for r in requests] == ["0", "10", "20"]
    assert all("If-None-Match" in r.headers for r in requests)

    # Only the last page changes: the two 304 pages are fetched again for their bodies.
    board.postings[24]["text"] = "Staff Engineer 24"
    server.requests.clear()
    fetched = await src.fetch(ctx)
    assert len(fetched.postings) == 25 and fetched.postings[-1].title == "Staff Engineer 24"
    skips = [(r.query["skip"], "If-None-Match" in r.headers) for r in server.requests]
    assert skips == [("0", True), ("10", True), ("20", True), ("0", False), ("10", False)]

    # The board shrinks to one page: later pages are forgotten, so the next poll of the
    # unchanged board stops after the first page instead of walking stale pages.
    del board.postings[5:]
    fetched = await src.fetch(ctx)
    assert len(fetched.postings) == 5
    assert [k for k in ctx.validators if "skip=" in k] == [src.page_url(0)]
    server.requests.clear()
    assert (await src.fetch(ctx)).not_modified
    assert [r.query["skip"] for r in server.requests] == ["0"]


async def test_same_bytes_without_etag_is_not_modified(server, http):
    board = FakeLever(server)
    src, ctx = source(server), PollContext(http)
    await src.fetch(ctx)
    assert (await src.fetch(ctx)).not_modified
    board.find("9d1f3b5c-7e9a-4b1d-8c3e-5f7a9b1d3e03")["salaryRange"] = salary(60_000, 70_000)
    changed = by_id(await src.fetch(ctx))["9d1f3b5c-7e9a-4b1d-8c3e-5f7a9b1d3e03"]
    assert (changed.pay.min, changed.pay.max) == (60_000, 70_000)


async def test_malformed_posting_is_skipped_with_a_warning(server, http):
    board = FakeLever(server)
    board.postings.insert(2, {"id": "x1", "text": "   ", "categories": {}})
    board.postings.append(42)
    board.postings.append(dict(board.postings[0], id=None))
    fetched = await source(server).fetch(PollContext(http))
    assert len(fetched.postings) == 6
    assert fetched.warnings == (
        "posting #2 skipped: posting x1 has no title ('text')",
        "posting #7 skipped: expected an object, got int",
        "posting #8 skipped: missing or invalid 'id' (None)",
    )


async def test_missing_hosted_url_is_built_for_the_region(server, http):
    item = posting("abc", "Engineer", site="acme")
    del item["hostedUrl"]
    FakeLever(server, postings=[item])
    (p,) = (await source(server, options={"region": "eu"}).fetch(PollContext(http))).postings
    assert p.url == "https://jobs.eu.lever.co/acme/abc"


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"ok": False, "error": "Document not found"}, "got an object with keys ['error', 'ok']"),
        ("postings", "got str"),
    ],
)
async def test_wrong_shape_is_a_parse_error(server, http, payload, message):
    server.json("/v0/postings/acme", payload)
    with pytest.raises(ParseError, match="lever: expected a JSON array") as err:
        await source(server).fetch(PollContext(http))
    assert message in str(err.value)


async def test_http_faults(server, http):
    board = FakeLever(server)
    src = source(server)

    server.fail(board.path, Fault.retry_after(429, "30"))
    with pytest.raises(RateLimited) as limited:
        await src.fetch(PollContext(http))
    assert limited.value.retry_after == 30

    server.fail(board.path, Fault.http(503))
    with pytest.raises(RateLimited):  # 503 is "come back later" too
        await src.fetch(PollContext(http))

    server.fail(board.path, Fault.http(500))
    with pytest.raises(HTTPStatusError):
        await src.fetch(PollContext(http))

    server.fail(board.path, Fault.truncated(board.page()))
    with pytest.raises(ParseError, match="invalid JSON"):
        await src.fetch(PollContext(http))

    server.fail(board.path, Fault.oversized(3 * 1024 * 1024))
    with pytest.raises(TooLarge):
        await src.fetch(PollContext(http))

    assert len((await src.fetch(PollContext(http))).postings) == 6


def test_region_and_base_url():
    def make(**options):
        options = {"site": "acme", **options}
        return LeverSource(SourceConfig(name="s", kind="lever", options=options))

    assert make().page_url(0) == "https://api.lever.co/v0/postings/acme?mode=json&skip=0&limit=100"
    assert make(region="EU").page_url(100).startswith("https://api.eu.lever.co/v0/postings/acme?")
    custom = LeverSource(
        SourceConfig(
            name="s", kind="lever", base_url="https://proxy.test/lever/", options={"site": "a b"}
        )
    )
    assert custom.page_url(0).startswith("https://proxy.test/lever/v0/postings/a%20b?mode=json")
    with pytest.raises(ConfigError, match=r"sources\.s\.region"):
        make(region="mars")
    with pytest.raises(ConfigError, match=r"sources\.s\.site"):
        LeverSource(SourceConfig(name="s", kind="lever", options={}))


async def test_details_returns_postings_unchanged(server, http):
    FakeLever(server)
    src, ctx = source(server), PollContext(http)
    fetched = await src.fetch(ctx)
    assert await src.details(ctx, fetched.postings) == list(fetched.postings)


async def test_demo_data_parses_cleanly(server, http):
    server.json("/v0/postings/spotify", json.loads(DEMO.read_text(encoding="utf-8")))
    fetched = await source(server, "spotify").fetch(PollContext(http))
    assert fetched.warnings == ()
    assert 4 <= len(fetched.postings) <= 6
    assert any(p.pay for p in fetched.postings) and any(not p.pay for p in fetched.postings)
