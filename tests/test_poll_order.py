"""A cycle starts its sources with their kinds spread over it, and reports them in the
order they were given (issue 8: the cold cycle's two processes stay busy throughout)."""

from __future__ import annotations

from typing import ClassVar

from bot.enrich import EnrichSettings
from bot.models import Posting
from bot.pipeline import Pipeline, spread_kinds
from bot.poller import Poller, PollerSettings
from bot.sources.base import Fetched, PollContext, SourceConfig
from storage import open_store


class _Board:
    """A source that notes when its poll starts."""

    required_options: ClassVar[tuple[str, ...]] = ()
    default_base_url: ClassVar[str] = ""

    def __init__(self, name: str, kind: str, started: list[str]) -> None:
        self.kind = kind
        self.config = SourceConfig(name=name, kind=kind, company="Acme")
        self._started = started

    async def fetch(self, ctx: PollContext) -> Fetched:
        self._started.append(self.config.name)
        posting = Posting(self.config.name, "1", "Acme", "ML Engineer", "https://x/1")
        return Fetched(postings=(posting,))

    async def details(self, ctx: PollContext, postings):
        return list(postings)


async def test_a_cycle_starts_the_kinds_spread_and_reports_in_the_given_order(tmp_path):
    started: list[str] = []
    kinds = {"g1": "greenhouse", "g2": "greenhouse", "g3": "greenhouse", "g4": "greenhouse"}
    kinds |= {"w1": "workday", "w2": "workday"}
    boards = [_Board(name, kind, started) for name, kind in kinds.items()]
    url = f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}"
    async with open_store(url) as store:
        pipeline = Pipeline(store, http=None, enrich=EnrichSettings())  # type: ignore[arg-type]
        summaries = await pipeline.poll_many(boards, backfill=True, concurrency=1)
    # the i-th of a kind's n sources at (i + 1/2) / n: g 1/8 3/8 5/8 7/8, w 1/4 3/4
    assert started == ["g1", "w1", "g2", "g3", "w2", "g4"]
    assert [s.source for s in summaries] == list(kinds)
    assert all(s.error is None and s.new == 1 for s in summaries)


async def test_poll_once_starts_the_kinds_spread_too(tmp_path):
    # marquee poll --once goes through the poller (under leases), not poll_many
    started: list[str] = []
    kinds = {"g1": "greenhouse", "g2": "greenhouse", "w1": "workday"}
    boards = [_Board(name, kind, started) for name, kind in kinds.items()]
    url = f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}"
    async with open_store(url) as store:
        pipeline = Pipeline(store, http=None, enrich=EnrichSettings())  # type: ignore[arg-type]

        async def no_router():
            return None

        poller = Poller(
            store,
            pipeline,
            lambda: boards,
            owner="test",
            settings=PollerSettings(concurrency=1),
            refresh_router=no_router,
        )
        summaries = await poller.poll_now(boards, backfill=True)
    # g at 1/4 and 3/4, w at 1/2
    assert started == ["g1", "w1", "g2"]
    assert [s.source for s in summaries] == list(kinds)


def test_spreading_keeps_each_kinds_order_and_every_source():
    kinds = ["lever"] * 3 + ["ashby"] * 5 + ["eightfold"]
    boards = [_Board(f"{kind}-{i}", kind, []) for i, kind in enumerate(kinds)]
    spread = spread_kinds(boards)
    assert sorted(map(id, spread)) == sorted(map(id, boards))
    for kind in set(kinds):
        assert [b for b in spread if b.kind == kind] == [b for b in boards if b.kind == kind]
    # no kind runs three in a row while another is left
    assert [b.kind for b in spread][:3] != ["ashby"] * 3
    assert spread_kinds([]) == []
