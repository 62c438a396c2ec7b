"""Ashby source against a fake posting API served on 127.0.0.1 through the real client."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.errors import ConfigError, HTTPStatusError, ParseError, RateLimited, TooLarge
from bot.sources.ashby import AshbySource
from bot.sources.base import PollContext, SourceConfig
from tests.fakes.boards_ashby import FakeAshby, compensation, component, job, tier
from tests.fakes.http import FakeHTTPServer, Fault

DEMO = Path(__file__).resolve().parents[1] / "bot" / "demo_data" / "ashby.json"
FIRST = "1b7f3c2e-8a4d-4e6f-9b1a-2c3d4e5f6a70"
REMOTE = "2c8a4d3f-9b5e-4f7a-8c2b-3d4e5f6a7b81"
HOURLY = "3d9b5e4a-ac6f-4a8b-9d3c-4e5f6a7b8c92"
CAD = "4eac6f5b-bd7a-4b9c-8e4d-5f6a7b8c9da3"
NO_PAY = "5fbd7a6c-ce8b-4cad-9f5e-6a7b8c9daeb4"
HIDDEN = "6ace8b7d-df9c-4dbe-8a6f-7b8c9daebfc5"


@pytest.fixture
async def server():
    async with FakeHTTPServer() as s:
        yield s


def source(server: FakeHTTPServer, board: str = "acme", **kw) -> AshbySource:
    config = SourceConfig(
        name=kw.pop("name", "acme-ai"),
        kind="ashby",
        base_url=server.url + "/",
        options={"board": board},
        **kw,
    )
    return AshbySource(config)


def by_id(fetched) -> dict:
    return {p.external_id: p for p in fetched.postings}


async def test_fields_of_every_posting(server, http):
    board = FakeAshby(server)
    fetched = await source(server).fetch(PollContext(http))

    assert not fetched.not_modified and fetched.warnings == ()
    assert server.requests_to(board.path)[0].query == {"includeCompensation": "true"}
    postings = by_id(fetched)
    assert HIDDEN not in postings and len(postings) == 5  # isListed: false is skipped

    p = postings[FIRST]
    assert p.source == "acme-ai" and p.company == "Acme Ai"
    assert p.title == "Research Engineer, Post-Training"
    assert p.url == f"https://jobs.ashbyhq.com/acme/{FIRST}"
    assert p.location == "San Francisco; New York"
    assert p.department == "Research / Applied AI"
    assert p.remote is False  # Hybrid
    assert p.posted_at == datetime(2026, 11, 3, 17, 21, 55, 393000, tzinfo=UTC)
    assert p.description == (
        "About the team\n\nWe make models helpful & safe after pre-training.\n\n"
        "RLHF\n\nEvals\n\nPay: $280K – $460K + equity"
    )
    assert p.extra == {
        "employment_type": "FullTime",
        "apply_url": f"https://jobs.ashbyhq.com/acme/{FIRST}/application",
    }
    assert p.salary is None and p.ai is None


async def test_salary_components_become_pay(server, http):
    FakeAshby(server)
    postings = by_id(await source(server).fetch(PollContext(http)))

    zoned = postings[FIRST].pay
    assert (zoned.min, zoned.max, zoned.currency, zoned.period, zoned.kind) == (
        280_000,
        460_000,
        "USD",
        "year",
        "base",
    )
    assert zoned.text == (
        "Zone A: $310K – $460K • Offers Equity; Zone B: $280K – $415K • Offers Equity"
    )
    remote = postings[REMOTE].pay  # no summaryComponents: read from the tier, equity ignored
    assert (remote.min, remote.max, remote.text) == (
        245_000,
        385_000,
        "$245K – $385K • 0.05% – 0.1%",
    )
    hourly = postings[HOURLY].pay
    assert (hourly.min, hourly.max, hourly.period) == (40, 65, "hour")
    cad = postings[CAD].pay
    assert (cad.currency, cad.min, cad.max) == ("CAD", 180_000, 240_000)
    assert postings[NO_PAY].pay is None


@pytest.mark.parametrize(
    ("comp", "display", "expected"),
    [
        # equity only: not pay
        (
            compensation(
                [tier("", "0.5% – 1%", component("EquityPercentage", 0.5, 1, None, "NONE"))]
            ),
            True,
            None,
        ),
        # tiers in two currencies: the first one's currency wins, text keeps both
        (
            compensation(
                [
                    tier("US", "$200K – $250K", component("Salary", 200_000, 250_000)),
                    tier("UK", "£150K – £180K", component("Salary", 150_000, 180_000, "GBP")),
                    tier("US remote", "$180K – $220K", component("Salary", 180_000, 220_000)),
                ]
            ),
            True,
            (180_000, 250_000, "USD", "year"),
        ),
        # an interval Ashby may send that is no period of ours
        (
            compensation([tier("", "x", component("Salary", 5_000, 6_000, interval="2 WEEK"))]),
            True,
            None,
        ),
        # monthly, and min above max
        (
            compensation([tier("", "x", component("Salary", 9_000, 7_000, "EUR", "1 MONTH"))]),
            True,
            (7_000, 9_000, "EUR", "month"),
        ),
        # the employer hides pay on this posting
        (
            compensation([tier("", "$1", component("Salary", 100_000, 120_000))]),
            False,
            None,
        ),
        ("$100K", True, None),
    ],
)
async def test_pay_edge_cases(server, http, comp, display, expected):
    FakeAshby(server, jobs=[job("j1", "Engineer", comp=comp, display_comp=display)])
    (p,) = (await source(server).fetch(PollContext(http))).postings
    if expected is None:
        assert p.pay is None
    else:
        assert (p.pay.min, p.pay.max, p.pay.currency, p.pay.period) == expected


@pytest.mark.parametrize(
    ("workplace", "is_remote", "location", "expected"),
    [
        ("Remote", False, "San Francisco", True),
        ("Hybrid", True, "San Francisco", False),  # workplaceType wins over isRemote
        ("OnSite", False, "Remote - US", False),
        (None, True, "New York", True),
        (None, False, "New York", False),
    ],
)
async def test_remote_detection(server, http, workplace, is_remote, location, expected):
    item = job("j1", "Engineer", workplace=workplace, remote=is_remote, location=location)
    FakeAshby(server, jobs=[item])
    (p,) = (await source(server).fetch(PollContext(http))).postings
    assert p.remote is expected


async def test_remote_from_text_when_no_flags(server, http):
    item = job("j1", "Engineer", workplace=None, location="Remote (EMEA)")
    del item["isRemote"]
    FakeAshby(server, jobs=[item])
    (p,) = (await source(server).fetch(PollContext(http))).postings
    assert p.remote is True


async def test_malformed_posting_is_skipped_with_a_warning(server, http):
    board = FakeAshby(server)
    board.jobs.insert(0, {"id": "x", "title": ""})
    board.jobs.append(["not", "a", "job"])
    board.jobs.append(job("bad-date", "Engineer", published="yesterday"))
    fetched = await source(server).fetch(PollContext(http))
    assert len(fetched.postings) == 6
    assert by_id(fetched)["bad-date"].posted_at is None
    assert fetched.warnings == (
        "job #0 skipped: job x has no title",
        "job #7 skipped: expected an object, got list",
        "job bad-date: unreadable publishedAt date",
    )


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"apiVersion": "1"}, "got an object with keys ['apiVersion']"),
        ({"jobs": None}, "expected an object with a 'jobs' list"),
        ([{"id": "x"}], "got list"),
    ],
)
async def test_wrong_shape_is_a_parse_error(server, http, payload, message):
    server.json("/posting-api/job-board/acme", payload)
    with pytest.raises(ParseError, match="ashby board 'acme'") as err:
        await source(server).fetch(PollContext(http))
    assert message in str(err.value)


async def test_unchanged_board_is_not_modified_and_changes_are_seen(server, http):
    board = FakeAshby(server)
    src, ctx = source(server), PollContext(http)
    await src.fetch(ctx)
    assert (await src.fetch(ctx)).not_modified  # same bytes (no ETag from this board)

    board.find(HIDDEN)["isListed"] = True  # a hidden posting goes public
    board.remove(NO_PAY)
    postings = by_id(await src.fetch(ctx))
    assert HIDDEN in postings and NO_PAY not in postings


async def test_etag_304(server, http):
    board = FakeAshby(server, etag=True)
    src, ctx = source(server), PollContext(http)
    await src.fetch(ctx)
    assert (await src.fetch(ctx)).not_modified
    assert "If-None-Match" in server.requests_to(board.path)[1].headers


async def test_http_faults(server, http):
    board = FakeAshby(server)
    src = source(server)

    server.fail(board.path, Fault.retry_after(429, "Wed, 21 Oct 2099 07:28:00 GMT"))
    with pytest.raises(RateLimited) as limited:
        await src.fetch(PollContext(http))
    assert limited.value.retry_after > 3600  # an HTTP date far ahead

    server.fail(board.path, Fault.http(500))
    with pytest.raises(HTTPStatusError):
        await src.fetch(PollContext(http))

    server.fail(board.path, Fault.truncated(board.render()))
    with pytest.raises(ParseError, match="invalid JSON"):
        await src.fetch(PollContext(http))

    server.fail(board.path, Fault.oversized(3 * 1024 * 1024))
    with pytest.raises(TooLarge):
        await src.fetch(PollContext(http))

    server.fail(board.path, Fault.http(404, b'{"success":false}'))
    with pytest.raises(HTTPStatusError) as missing:  # a mistyped board name fails loudly
        await src.fetch(PollContext(http))
    assert missing.value.status == 404


def test_config_checks():
    with pytest.raises(ConfigError, match=r"sources\.x\.board"):
        AshbySource(SourceConfig(name="x", kind="ashby", options={}))
    src = AshbySource(SourceConfig(name="x", kind="ashby", options={"board": "Open AI"}))
    assert src.listing_url == (
        "https://api.ashbyhq.com/posting-api/job-board/Open%20AI?includeCompensation=true"
    )


async def test_details_returns_postings_unchanged(server, http):
    FakeAshby(server)
    src, ctx = source(server), PollContext(http)
    fetched = await src.fetch(ctx)
    assert await src.details(ctx, fetched.postings) == list(fetched.postings)


async def test_demo_data_parses_cleanly(server, http):
    server.json("/posting-api/job-board/openai", json.loads(DEMO.read_text(encoding="utf-8")))
    fetched = await source(server, "openai").fetch(PollContext(http))
    assert fetched.warnings == ()
    assert 4 <= len(fetched.postings) <= 6
    assert any(p.pay for p in fetched.postings) and any(not p.pay for p in fetched.postings)
