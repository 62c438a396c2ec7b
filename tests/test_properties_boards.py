"""Promise 4 of issue 7, for job boards: hostile payloads are data.

For every board kind, hypothesis mutates the realistic payloads the local fakes serve
(listings and details alike: values replaced by any JSON, hostile text appended, keys
deleted, entries duplicated, wrapped, stringified, bodies truncated) and the real
source, pipeline and Store (SQLite) poll them. The properties:

* no crash: a poll ends in a summary (an error is a clear :class:`SourceError`);
* no partial write: a failed poll leaves the source's postings and the outbox as they
  were;
* no poisoned poll: the next poll of the real payload works and finds a new posting;
* what was stored is alerted safely: every alert the poll queued is delivered through
  the real Discord and Slack clients to the local fakes, whose checkers find nothing
  that would ping or break a limit.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings

from bot.delivery import Delivery
from bot.enrich import EnrichSettings
from bot.http import HttpClient, HttpSettings
from bot.matching import build_router
from bot.models import ListingFilter, Subscription
from bot.pipeline import Pipeline
from bot.sources import JOB_KINDS, SourceConfig, make_source
from storage import Store, open_store
from tests.fakes import boards_ashby, boards_greenhouse, boards_lever, boards_workable
from tests.fakes.boards_eightfold import FakeEightfoldBoard
from tests.fakes.boards_smartrecruiters import FakeSmartRecruitersBoard
from tests.fakes.boards_workday import FakeWorkdayBoard
from tests.fakes.discord_server import CHANNEL_ID
from tests.test_fault_storms import discord_platform, slack_platform
from tests.test_properties_hostile import MutatingServer, Mutation, mutations

_count = itertools.count(1)


@dataclass(frozen=True)
class Kind:
    """How to stand up one board kind on a server, configure it and add a posting."""

    name: str
    make: Callable[[MutatingServer], Any]
    options: Callable[[Any], dict[str, Any]]
    add: Callable[[Any, str], None]
    base: Callable[[MutatingServer], str] = lambda s: s.url


def _workday(server: MutatingServer) -> FakeWorkdayBoard:
    board = FakeWorkdayBoard(server)
    board.add("Senior Deep Learning Engineer", "JR2001234", pay="184,000 USD - 287,500 USD")
    board.add("Research Scientist, Generative AI", "JR2001299", remote_type="Fully remote")
    board.add("Facilities Technician", "JR2001300")
    return board


def _smartrecruiters(server: MutatingServer) -> FakeSmartRecruitersBoard:
    board = FakeSmartRecruitersBoard(server)
    board.add("Machine Learning Engineer, Peacock", pay="$150,000 - $190,000")
    board.add("Data Scientist, Ads", remote=True)
    board.add("Production Assistant")
    return board


def _eightfold(server: MutatingServer) -> FakeEightfoldBoard:
    board = FakeEightfoldBoard(server)
    board.add("Product Manager – Machine Learning Platform", pay="$300,000 - $900,000")
    board.add("Machine Learning Engineer, Content", pay="$190,000 - $420,000")
    board.add("Content Operations Coordinator")
    return board


KINDS = [
    Kind(
        "greenhouse",
        lambda s: boards_greenhouse.FakeGreenhouse(s, "acme"),
        lambda b: {"board": "acme"},
        lambda b, t: b.jobs.append(
            boards_greenhouse.job(
                9_000_000 + next(_count), t, pay=[boards_greenhouse.pay_range(2e5, 3e5)]
            )
        ),
    ),
    Kind(
        "lever",
        lambda s: boards_lever.FakeLever(s, "acme"),
        lambda b: {"site": "acme"},
        lambda b, t: b.postings.append(
            boards_lever.posting(
                f"9e000000-0000-4000-8000-{next(_count):012d}",
                t,
                salary=boards_lever.salary(2e5, 3e5),
            )
        ),
    ),
    Kind(
        "ashby",
        lambda s: boards_ashby.FakeAshby(s, "acme"),
        lambda b: {"board": "acme"},
        lambda b, t: b.jobs.append(
            boards_ashby.job(f"9a000000-0000-4000-8000-{next(_count):012d}", t)
        ),
    ),
    Kind(
        "workday",
        _workday,
        lambda b: {"host": b.host, "tenant": b.tenant, "site": b.site},
        lambda b, t: b.add(t, f"JR9{next(_count):06d}", pay="150,000 USD - 250,000 USD"),
        base=lambda s: s.url + "/",
    ),
    Kind(
        "smartrecruiters",
        _smartrecruiters,
        lambda b: {"company_id": b.company_id},
        lambda b, t: b.add(t, pay="$150,000 - $190,000"),
        base=lambda s: s.url + "/",
    ),
    Kind(
        "workable",
        lambda s: boards_workable.FakeWorkable(s, "acme"),
        lambda b: {"account": "acme"},
        lambda b, t: b.jobs.extend(boards_workable.rows(f"9F{next(_count):06d}", t)),
    ),
    Kind(
        "eightfold",
        _eightfold,
        lambda b: {"host": b.host, "domain": b.domain},
        lambda b, t: b.add(t, pay="$300,000 - $900,000"),
        base=lambda s: s.url + "/",
    ),
]


@pytest.fixture
async def world(sqlite_url) -> AsyncIterator[dict[str, Any]]:
    """One store, HTTP client and pair of platforms for every example of a test."""
    settings = HttpSettings(connect_timeout=2, read_timeout=3, total_timeout=5)
    async with (
        open_store(sqlite_url) as store,
        HttpClient(settings) as http,
        discord_platform() as (discord, discord_p),
        slack_platform() as (slack, slack_p),
    ):
        for channel in (f"discord:{CHANNEL_ID}", "slack:T0MARQUEE/C0JOBS"):
            await store.add_subscription(Subscription(id=0, channel=channel, ai_only=False))
        router = build_router(await store.subscriptions())
        pipeline = Pipeline(store, http, enrich=EnrichSettings(), router_source=lambda: router)
        delivery = Delivery(store, {"discord": discord_p, "slack": slack_p}, worker="props")
        yield {
            "store": store,
            "pipeline": pipeline,
            "delivery": delivery,
            "discord": discord,
            "slack": slack,
        }
        # leaving the platforms checks every payload sent (limits, pings, markup)


async def _snapshot(store: Store, name: str) -> tuple[Any, ...]:
    return (await store.known_listing_hashes(name), await store.outbox_backlog())


async def check_hostile_poll(world: dict[str, Any], kind: Kind, plan: list[Mutation]) -> None:
    store: Store = world["store"]
    pipeline: Pipeline = world["pipeline"]
    _fresh(world)
    n = next(_count)
    name = f"{kind.name}-{n}"
    async with MutatingServer() as server:
        board = kind.make(server)
        source = make_source(
            SourceConfig(
                name=name,
                kind=kind.name,
                company=f"Acme {n}",
                base_url=kind.base(server),
                options=kind.options(board),
            )
        )
        baseline = await pipeline.poll(source, backfill=False)
        assert baseline.error is None and baseline.baseline, baseline

        # a hostile answer (and a posting that is new in it, so alerts are queued)
        kind.add(board, f"Machine Learning Engineer, Hostile {n}")
        before = await _snapshot(store, name)
        server.plan = plan
        hostile = await pipeline.poll(source)  # anything but a SourceError is a bug
        server.plan = None
        if hostile.error:
            assert await _snapshot(store, name) == before, "a failed poll wrote something"
        sent_before = len(world["discord"].requests)
        await world["delivery"].run_once()
        assert await store.outbox_backlog() == 0  # every alert went out (or was settled)
        assert len(world["discord"].requests) >= sent_before

        # the next honest answer is polled as usual: nothing was poisoned
        title = f"Machine Learning Engineer, After {n}"
        kind.add(board, title)
        after = await pipeline.poll(source)
        assert after.error is None, after
        new = [e.posting.posting.title for e in after.events if e.kind == "new"]
        assert title in new, (new, after)
        await world["delivery"].run_once()
        assert await store.outbox_backlog() == 0  # nothing is left for the next example
    assert world["discord"].violations == [] and world["discord"].pings == []
    assert world["slack"].violations == []


def _fresh(world: dict[str, Any]) -> None:
    """Each example answers for its own messages (the fakes keep one list per run)."""
    world["discord"].violations.clear()
    world["discord"].pings.clear()
    world["slack"].violations.clear()


@pytest.mark.parametrize("kind", KINDS, ids=[k.name for k in KINDS])
@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])  # one world, on purpose
@given(plan=mutations())
@example(plan=[Mutation("replace", 0.387, [])])  # found by the long profile: a list as an id
async def test_hostile_board_payloads_are_data(world, kind, plan):
    await check_hostile_poll(world, kind, plan)


@pytest.mark.parametrize("kind", KINDS, ids=[k.name for k in KINDS])
async def test_a_title_with_lone_surrogates_is_stored_and_alerted(world, kind):
    """A board's JSON may escape half a surrogate pair ("\\ud800"): the posting is
    hashed, stored (the character replaced), alerted and polled again unchanged."""
    store: Store = world["store"]
    pipeline: Pipeline = world["pipeline"]
    _fresh(world)
    n = next(_count)
    async with MutatingServer() as server:
        board = kind.make(server)
        source = make_source(
            SourceConfig(
                name=f"{kind.name}-{n}",
                kind=kind.name,
                company=f"Acme {n}",
                base_url=kind.base(server),
                options=kind.options(board),
            )
        )
        assert (await pipeline.poll(source, backfill=False)).error is None
        kind.add(board, f"Machine Learning Engineer \ud800 {n} \udfff")
        polled = await pipeline.poll(source)
        assert polled.error is None, polled
        assert [e.kind for e in polled.events] == ["new"]
        stored = await store.listings(ListingFilter(company=source.config.name), limit=10)
        assert f"Machine Learning Engineer ? {n} ?" in [p.posting.title for p in stored]
        await world["delivery"].run_once()
        assert await store.outbox_backlog() == 0
        again = await pipeline.poll(source)
        assert again.error is None and again.events == [], again
    assert world["discord"].violations == [] and world["slack"].violations == []


def test_every_board_kind_is_covered():
    assert sorted(k.name for k in KINDS) == sorted(JOB_KINDS)
