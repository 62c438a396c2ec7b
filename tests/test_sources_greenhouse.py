"""Greenhouse source against a fake board served on 127.0.0.1 through the real client."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.errors import (
    ConfigError,
    HTTPStatusError,
    ParseError,
    RateLimited,
    TooLarge,
    TransportError,
)
from bot.http import HttpClient, HttpSettings
from bot.sources.base import PollContext, SourceConfig
from bot.sources.greenhouse import GreenhouseSource
from tests.fakes.boards_greenhouse import FakeGreenhouse, job, pay_range
from tests.fakes.http import FakeHTTPServer, Fault

DEMO = Path(__file__).resolve().parents[1] / "bot" / "demo_data" / "greenhouse.json"


@pytest.fixture
async def server():
    async with FakeHTTPServer() as s:
        yield s


def source(server: FakeHTTPServer, board: str = "acme", **kw) -> GreenhouseSource:
    config = SourceConfig(
        name=kw.pop("name", "acme-studios"),
        kind="greenhouse",
        base_url=server.url + "/",  # a trailing slash must not double up in the path
        options={"board": board},
        **kw,
    )
    return GreenhouseSource(config)


def by_id(fetched) -> dict:
    return {p.external_id: p for p in fetched.postings}


async def test_fields_of_every_posting(server, http):
    board = FakeGreenhouse(server)
    fetched = await source(server).fetch(PollContext(http))

    assert not fetched.not_modified and fetched.warnings == ()
    assert len(fetched.postings) == len(board.jobs) == 6
    request = server.requests_to(board.path)[0]
    assert request.query == {"content": "true", "pay_transparency": "true"}

    p = by_id(fetched)["4011122008"]
    assert p.source == "acme-studios"
    assert p.company == "Acme Studios"  # from the config name when no company is set
    assert p.title == "Research Engineer, Machine Learning Systems"  # stray spaces gone
    assert p.url == "https://job-boards.greenhouse.io/acme/jobs/4011122008"
    assert p.location == "San Francisco, CA | New York City, NY"
    assert p.department == "Research / Machine Learning"
    assert p.posted_at == datetime(2026, 10, 1, 13, 30, tzinfo=UTC)
    assert p.remote is None
    assert p.salary is None and p.ai is None  # enrichment's job, not the source's
    assert p.description.startswith("About the role\n\nBuild training infrastructure")
    assert "R&D teams — large-scale PyTorch and JAX." in p.description
    assert "5+ years of ML systems\n\nDistributed training" in p.description
    assert "<" not in p.description and "&" not in p.description.replace("R&D", "")

    assert by_id(fetched)["4011122013"].posted_at is None  # no first_published


async def test_company_from_config_wins(server, http):
    FakeGreenhouse(server)
    fetched = await source(server, company="Acme Pictures").fetch(PollContext(http))
    assert {p.company for p in fetched.postings} == {"Acme Pictures"}


async def test_pay_ranges_become_structured_pay(server, http):
    FakeGreenhouse(server)
    postings = by_id(await source(server).fetch(PollContext(http)))

    zones = postings["4011122008"].pay
    assert (zones.min, zones.max, zones.currency, zones.period, zones.kind) == (
        255_000,
        405_000,
        "USD",
        "year",
        "base",
    )
    assert zones.text == (
        "Zone A (SF, NYC): 300,000 – 405,000 USD per year; Zone B: 255,000 – 345,000 USD per year"
    )
    assert zones.annual_usd_min is None  # annualisation happens in enrichment

    hourly = postings["4011122010"].pay
    assert (hourly.min, hourly.max, hourly.period) == (28, 47, "hour")

    cad = postings["4011122011"].pay
    assert (cad.min, cad.max, cad.currency, cad.period) == (150_000, 210_000, "CAD", "year")

    assert postings["4011122012"].pay is None  # no ranges: the text parser decides later


async def test_pay_edge_cases(server, http):
    FakeGreenhouse(
        server,
        jobs=[
            # a small hourly rate with no period word, cents not a whole dollar
            job(1, "Tutor", pay=[pay_range(44.5, 61.25, title="Zone 1")]),
            # min above max, a range in another currency, a garbage entry
            job(
                2,
                "Account Executive, Studio Sales",
                pay=[
                    pay_range(250_000, 180_000, title="OTE Range"),
                    pay_range(150_000, 200_000, currency="GBP", title="London"),
                    {"min_cents": None, "max_cents": None, "currency_type": "USD"},
                    "not a range",
                ],
            ),
            job(3, "Only a ceiling", pay=[{"max_cents": 9_000_000, "currency_type": "usd"}]),
            job(4, "Bad currency", pay=[pay_range(1, 2, currency="$$")]),
        ],
    )
    postings = by_id(await source(server).fetch(PollContext(http)))
    tutor = postings["1"].pay
    assert (tutor.min, tutor.max, tutor.period) == (44.5, 61.25, "hour")
    assert tutor.text == "Zone 1: 44.50 – 61.25 USD per hour"
    sales = postings["2"].pay
    assert (sales.min, sales.max, sales.currency, sales.kind) == (180_000, 250_000, "USD", "ote")
    assert "London: 150,000 – 200,000 GBP per year" in sales.text
    ceiling = postings["3"].pay
    assert (ceiling.min, ceiling.max, ceiling.currency) == (None, 90_000, "USD")
    assert postings["4"].pay is None


async def test_double_escaped_content_is_plain_text(server, http):
    FakeGreenhouse(server)
    p = by_id(await source(server).fetch(PollContext(http)))["4011122012"]
    assert p.description == (
        "Sculpt hero characters for feature animation — ZBrush, Maya & Substance."
    )


@pytest.mark.parametrize(
    ("location", "title", "metadata", "expected"),
    [
        ("Remote - US", "Engineer", None, True),
        ("New York, NY", "ML Engineer (Remote)", None, True),
        ("New York, NY", "Engineer", None, None),
        ("Atlanta, GA", "Remote Production Engineer", None, None),  # broadcast, on site
        ("Atlanta, GA", "Data Engineer - Remote, US", None, True),
        ("Remote-Friendly (Travel-Required) | Seattle, WA", "Engineer", None, True),
        ("Non-remote, Austin", "Engineer", None, None),
        (
            "London",
            "Engineer",
            [{"id": 1, "name": "Workplace Type", "value_type": "single_select", "value": "Remote"}],
            True,
        ),
        (
            "Remote",
            "Engineer",
            [{"id": 2, "name": "Remote Eligible", "value_type": "yes_no", "value": False}],
            False,
        ),
        (
            "Seattle",
            "Engineer",
            [{"id": 3, "name": "Location Type", "value_type": "short_text", "value": "Hybrid"}],
            False,
        ),
    ],
)
async def test_remote_detection(server, http, location, title, metadata, expected):
    FakeGreenhouse(server, jobs=[job(7, title, location=location, metadata=metadata)])
    (posting,) = (await source(server).fetch(PollContext(http))).postings
    assert posting.remote is expected


async def test_malformed_posting_is_skipped_with_a_warning(server, http):
    board = FakeGreenhouse(server)
    board.jobs.insert(1, {"id": 99, "title": None, "absolute_url": "https://x.test/99"})
    board.jobs.append("junk")
    board.jobs.append(dict(board.jobs[0], first_published="last tuesday"))  # duplicate id
    board.jobs.append(dict(board.jobs[0], id=5, absolute_url="javascript:alert(1)"))
    fetched = await source(server).fetch(PollContext(http))

    assert len(fetched.postings) == 7
    assert by_id(fetched)["5"].url == "https://job-boards.greenhouse.io/acme/jobs/5"
    assert fetched.warnings == (
        "job #1 skipped: job 99 has no title",
        "job #7 skipped: expected an object, got str",
        "job 4011122008: unreadable first_published date",
        "job 4011122008 listed twice; kept the first",
    )


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ([], "expected an object with a 'jobs' list, got list"),
        ({"postings": []}, "got an object with keys ['postings']"),
        ({"jobs": {"id": 1}}, "expected an object with a 'jobs' list"),
    ],
)
async def test_wrong_shape_is_a_parse_error(server, http, payload, message):
    server.json("/v1/boards/acme/jobs", payload)
    with pytest.raises(ParseError, match="greenhouse board 'acme'") as err:
        await source(server).fetch(PollContext(http))
    assert message in str(err.value)


async def test_unchanged_board_answers_304_and_a_change_is_seen(server, http):
    board = FakeGreenhouse(server)
    src = source(server)
    ctx = PollContext(http)
    first = await src.fetch(ctx)
    assert len(first.postings) == 6

    second = await src.fetch(ctx)
    assert second.not_modified and second.postings == ()
    requests = server.requests_to(board.path)
    assert "If-None-Match" not in requests[0].headers
    assert requests[1].headers["If-None-Match"].startswith('W/"')

    board.find(4011122009)["pay_input_ranges"] = [pay_range(210_000, 290_000)]
    board.remove(4011122013)
    third = await src.fetch(ctx)
    assert not third.not_modified
    postings = by_id(third)
    assert "4011122013" not in postings
    assert (postings["4011122009"].pay.min, postings["4011122009"].pay.max) == (210_000, 290_000)


async def test_same_bytes_without_etag_is_not_modified(server, http):
    FakeGreenhouse(server, etag=False)
    src, ctx = source(server), PollContext(http)
    await src.fetch(ctx)
    assert (await src.fetch(ctx)).not_modified


async def test_queued_304_is_not_modified(server, http):
    board = FakeGreenhouse(server, etag=False)
    src, ctx = source(server), PollContext(http)
    await src.fetch(ctx)
    server.fail(board.path, Fault.http(304, b""))
    assert (await src.fetch(ctx)).not_modified


async def test_http_faults(server, http):
    board = FakeGreenhouse(server)
    src = source(server)
    body = board.render()

    server.fail(board.path, Fault.retry_after(429, "120"))
    with pytest.raises(RateLimited) as limited:
        await src.fetch(PollContext(http))
    assert limited.value.retry_after == 120

    server.fail(board.path, Fault.http(500))
    with pytest.raises(HTTPStatusError) as failed:
        await src.fetch(PollContext(http))
    assert failed.value.status == 500

    server.fail(board.path, Fault.truncated(body))
    with pytest.raises(ParseError, match="invalid JSON"):
        await src.fetch(PollContext(http))

    server.fail(board.path, Fault.oversized(3 * 1024 * 1024))
    with pytest.raises(TooLarge):
        await src.fetch(PollContext(http))

    assert len((await src.fetch(PollContext(http))).postings) == 6  # and it recovers


async def test_slow_board_times_out(server):
    board = FakeGreenhouse(server)
    server.fail(board.path, Fault.drip(0.05, board.render()))
    settings = HttpSettings(connect_timeout=1, read_timeout=1, total_timeout=0.5)
    async with HttpClient(settings) as slow_client:
        with pytest.raises(TransportError, match=r"no complete answer within 0\.5s"):
            await source(server).fetch(PollContext(slow_client))


async def test_details_returns_postings_unchanged(server, http):
    FakeGreenhouse(server)
    src, ctx = source(server), PollContext(http)
    fetched = await src.fetch(ctx)
    before = len(server.requests)
    assert await src.details(ctx, fetched.postings[:2]) == list(fetched.postings[:2])
    assert len(server.requests) == before


def test_config_checks():
    with pytest.raises(ConfigError, match=r"sources\.x\.board"):
        GreenhouseSource(SourceConfig(name="x", kind="greenhouse", options={"board": " "}))
    src = GreenhouseSource(SourceConfig(name="x", kind="greenhouse", options={"board": "a/b?c"}))
    assert src.listing_url == (
        "https://boards-api.greenhouse.io/v1/boards/a%2Fb%3Fc/jobs?content=true&pay_transparency=true"
    )


async def test_demo_data_parses_cleanly(server, http):
    payload = json.loads(DEMO.read_text(encoding="utf-8"))
    server.json("/v1/boards/anthropic/jobs", payload)
    fetched = await source(server, "anthropic").fetch(PollContext(http))
    assert fetched.warnings == ()
    assert 4 <= len(fetched.postings) <= 6
    assert any(p.pay for p in fetched.postings) and any(not p.pay for p in fetched.postings)
