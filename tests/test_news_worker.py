"""Relevance scored in a worker process (bot.cpu) gives what scoring here gives: the
pipeline hands a poll's stories over in one batch and keeps the same topics, scores
and reasons, with workers or without."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import ClassVar

from bot.config import SourceConfig
from bot.cpu import CpuPool
from bot.enrich import EnrichSettings
from bot.enrich.cluster import prepare_headline
from bot.enrich.news import finish_stories, score_text
from bot.models import Story, content_hash
from bot.pipeline import Pipeline
from bot.sources.base import Fetched, PollContext
from storage import open_store

NOW = datetime(2026, 11, 28, 17, 0, tzinfo=UTC)

TEXTS = [
    ("SAG-AFTRA Warns Studios Over AI Replicas", "Consent rules for digital replicas."),
    ("WGA Strike Enters Day 40 As Talks Stall", "Picket lines at Netflix and Disney."),
    ("Actor Sues Over Deepfake Ad Using His Likeness", ""),
    ("Video Game Performers Reach Deal On Interactive Media Agreement", "Voice clones."),
    ("Ask HN: Who is hiring? (November 2026)", "Remote jobs, entry-level roles."),
    ("Paramount Layoffs Hit Marketing And Distribution", "Job cuts after the merger."),
    ("Director Said The Thailand Shoot Wrapped Early", "Ai Weiwei attended."),
    ("Café Société: Générative AI à l’écran", "Les syndicats négocient; A.I. et grève."),
]


class _Feed:
    """A news source whose entries are already read (no HTTP): the pipeline scores them."""

    kind: ClassVar[str] = "feed"
    required_options: ClassVar[tuple[str, ...]] = ()
    default_base_url: ClassVar[str] = ""

    def __init__(self) -> None:
        self.config = SourceConfig(name="trade", kind="feed")

    async def fetch(self, ctx: PollContext) -> Fetched:
        return Fetched(
            stories=tuple(
                Story(
                    source="trade",
                    guid=f"t-{i}",
                    title=title,
                    url=f"https://trade.example/{i}",
                    outlet="Trade",
                    published=NOW - timedelta(minutes=i),
                    summary=summary,
                )
                for i, (title, summary) in enumerate(TEXTS)
            )
        )

    async def details(self, ctx: PollContext, postings):
        return list(postings)


async def _poll(tmp_path, name: str, cpu: CpuPool | None) -> dict[str, Story]:
    url = f"sqlite+aiosqlite:///{tmp_path / name}"
    async with open_store(url) as store:
        pipeline = Pipeline(store, http=None, enrich=EnrichSettings(), cpu=cpu, clock=lambda: NOW)  # type: ignore[arg-type]
        summary = await pipeline.poll(_Feed(), backfill=True)
        assert summary.error is None and summary.fetched == len(TEXTS)
        ids = {e.story.id for e in summary.events}
        stored = [await store.story(i) for i in ids]
        return {s.story.guid: s.story for s in stored if s is not None}


def _stories() -> Fetched:
    return Fetched(
        stories=tuple(
            Story("trade", f"t-{i}", title, "", "Trade", summary=summary)
            for i, (title, summary) in enumerate(TEXTS)
        )
    )


async def test_a_worker_process_finishes_stories_as_this_process_does() -> None:
    here = finish_stories(_stories)
    async with CpuPool(1) as cpu:
        there = await cpu.run(finish_stories, _stories)
        assert cpu.pids()
    assert there == here
    assert [(s.topics, s.reasons) for s in here.stories] == [score_text(t, s) for t, s in TEXTS]
    assert sum(bool(s.topics) for s in here.stories) >= 6
    assert here.prepared == tuple(prepare_headline(title, "Trade") for title, _ in TEXTS)
    assert here.hashes == tuple(content_hash(s) for s in here.stories)


def test_a_document_without_stories_is_left_as_it_is() -> None:
    empty = Fetched(warnings=("no entries",))
    assert finish_stories(lambda: empty) is empty


async def test_stories_scored_in_a_worker_are_stored_as_scored_here(tmp_path) -> None:
    inline = await _poll(tmp_path, "inline.db", None)
    async with CpuPool(1) as cpu:
        worker = await _poll(tmp_path, "worker.db", cpu)
    async with CpuPool(0) as cpu:
        thread = await _poll(tmp_path, "thread.db", cpu)
    assert len(inline) == len(TEXTS)
    for guid, story in inline.items():
        assert (story.topics, story.reasons) == score_text(story.title, story.summary)
        assert (worker[guid].topics, worker[guid].reasons) == (story.topics, story.reasons)
        assert (thread[guid].topics, thread[guid].reasons) == (story.topics, story.reasons)
