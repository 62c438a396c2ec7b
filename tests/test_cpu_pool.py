"""The worker processes that parse and enrich (bot/cpu.py): results and errors cross
back, a dead worker is replaced, and a poll counts a batch that keeps killing its
worker as that source's failure while the other sources go on."""

from __future__ import annotations

import fcntl
import os
import signal
import sys
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar

import pytest

from bot.cpu import CpuPool, default_workers
from bot.enrich import EnrichSettings, enrich_posting
from bot.errors import ParseError
from bot.finish import Finish
from bot.models import Posting, Salary
from bot.pipeline import Pipeline
from bot.sources.base import Fetched, PollContext, SourceConfig
from storage import open_store


def _pid_and_sum(values: list[int]) -> tuple[int, int]:
    return os.getpid(), sum(values)


def _thread_name() -> str:
    return threading.current_thread().name


def _refuse(text: str) -> None:
    raise ParseError(f"not a board: {text}")


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


_MARK = "MARQUEE_TEST_DIE_ONCE"


def _die_once(flag_path: str) -> str:
    """Kills its worker the first time (the flag file is created), works the second."""
    try:
        fd = os.open(flag_path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return "second try"
    os.close(fd)
    os.kill(os.getpid(), signal.SIGKILL)
    return "unreachable"


def _posting(i: int, description: str) -> Posting:
    return Posting(
        source="s",
        external_id=str(i),
        company="Acme",
        title="Machine Learning Engineer" if i % 2 else "Accountant",
        url=f"https://example.com/{i}",
        location="Toronto, Canada",
        description=description,
        extra={"k": "v"},
        pay=Salary(100.0, 120.0, "usd", "hour") if i == 3 else None,
        posted_at=datetime(2026, 1, 2, tzinfo=UTC),
    )


async def test_runs_in_worker_processes() -> None:
    async with CpuPool(2) as cpu:
        pid, total = await cpu.run(_pid_and_sum, [1, 2, 3])
        assert total == 6
        assert pid != os.getpid()
        assert pid in cpu.pids()
    assert cpu.pids() == []


async def test_no_workers_runs_in_a_thread() -> None:
    async with CpuPool(0) as cpu:
        assert await cpu.run(_thread_name) != threading.current_thread().name
        assert cpu.pids() == []


def _pipe_sizes_here() -> tuple[int, int] | None:
    """A new pipe's size and the size one can be widened to (at most 1 MB) by this
    user on this system, or ``None`` when widening is refused (over the pipe quota)."""
    target = min(1 << 20, int(Path("/proc/sys/fs/pipe-max-size").read_text()))
    read_end, write_end = os.pipe()
    try:
        default = fcntl.fcntl(write_end, fcntl.F_GETPIPE_SZ)
        try:
            fcntl.fcntl(write_end, fcntl.F_SETPIPE_SZ, target)
        except OSError:
            return None
        return default, fcntl.fcntl(write_end, fcntl.F_GETPIPE_SZ)
    finally:
        os.close(read_end)
        os.close(write_end)


def _echo(data: bytes) -> bytes:
    return data[::-1]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="pipe sizes are Linux's")
async def test_a_batch_crosses_whole_pipes() -> None:
    """A board's page (1-2 MB) goes out and comes back through pipes that hold a whole
    batch, not 64 KB at a time (bot.cpu._widen_pipes), and arrives intact."""
    sizes = _pipe_sizes_here()
    if sizes is None:
        pytest.skip("this user may not widen pipes (over the pipe quota)")
    default, widest = sizes
    data = os.urandom(3 << 20)
    async with CpuPool(1) as cpu:
        assert await cpu.run(_echo, data) == data[::-1]
        executor = cpu._executor
        assert executor is not None
        for queue in (executor._call_queue, executor._result_queue):  # type: ignore[attr-defined]
            for end in (queue._reader, queue._writer):
                # as wide as allowed, and never narrower than a new pipe
                assert fcntl.fcntl(end.fileno(), fcntl.F_GETPIPE_SZ) == max(default, widest)


async def test_errors_cross_back_with_their_type() -> None:
    async with CpuPool(1) as cpu:
        with pytest.raises(ParseError, match="not a board: x"):
            await cpu.run(_refuse, "x")
        assert (await cpu.run(_pid_and_sum, [4]))[1] == 4


async def test_enrichment_in_a_worker_is_the_same() -> None:
    postings = [
        _posting(i, f"We use PyTorch and LLMs. Pay: CA${90 + i},000 - CA${120 + i},000 a year.")
        for i in range(6)
    ]
    settings = EnrichSettings()
    async with CpuPool(1) as cpu:
        enriched = await cpu.run(Finish("Acme", settings).postings, postings)
    assert enriched == [enrich_posting(p, settings) for p in postings]
    assert enriched[1].ai is not None and enriched[1].ai.is_ai
    assert enriched[3].salary is not None and enriched[3].salary.period == "hour"


async def test_a_dead_worker_is_replaced_and_the_call_tried_again(tmp_path) -> None:
    async with CpuPool(1) as cpu:
        first = cpu.pids() or [(await cpu.run(_pid_and_sum, []))[0]]
        assert await cpu.run(_die_once, str(tmp_path / "flag")) == "second try"
        pid, _ = await cpu.run(_pid_and_sum, [])
        assert pid not in first


async def test_a_batch_that_kills_its_worker_twice_is_a_parse_error() -> None:
    async with CpuPool(1) as cpu:
        with pytest.raises(ParseError, match="died twice"):
            await cpu.run(_die)
        assert (await cpu.run(_pid_and_sum, [2, 2]))[1] == 4


class _Board:
    """A job-board source whose parsing runs through the context, like the real ones."""

    kind: ClassVar[str] = "greenhouse"
    required_options: ClassVar[tuple[str, ...]] = ()
    default_base_url: ClassVar[str] = ""

    def __init__(self, name: str, deadly: bool) -> None:
        self.config = SourceConfig(name=name, kind="greenhouse", company="Acme")
        self.deadly = deadly

    async def fetch(self, ctx: PollContext) -> Fetched:
        if self.deadly:
            await ctx.parse(_die)
        postings = tuple(
            Posting(self.config.name, str(i), "Acme", f"ML Engineer {i}", f"https://x/{i}")
            for i in range(3)
        )
        return Fetched(postings=postings)

    async def details(self, ctx: PollContext, postings):
        return list(postings)


async def test_a_crashing_source_fails_alone(tmp_path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}"
    async with open_store(url) as store, CpuPool(1) as cpu:
        pipeline = Pipeline(store, http=None, enrich=EnrichSettings(), cpu=cpu)  # type: ignore[arg-type]
        good, bad = _Board("good", deadly=False), _Board("bad", deadly=True)
        summaries = await pipeline.poll_many([bad, good], backfill=True)
        by_name = {s.source: s for s in summaries}
        assert by_name["good"].error is None and by_name["good"].new == 3
        assert "died twice" in (by_name["bad"].error or "")
        state = await store.source_state("bad")
        assert state is not None and state.failure_count == 1
        stored = await store.source_state("good")
        assert stored is not None and stored.failure_count == 0


def test_default_workers_leaves_the_loop_a_core() -> None:
    cores = len(os.sched_getaffinity(0))
    assert default_workers() == max(0, min(2, cores - 1))


_ORPHAN_SCRIPT = """
import asyncio, os, sys
from bot.cpu import CpuPool
from tests.test_cpu_pool import _pid_and_sum

async def main():
    async with CpuPool(1) as cpu:
        pid, _ = await cpu.run(_pid_and_sum, [])
        print(pid, flush=True)
        os.kill(os.getpid(), 9)  # the parent dies without shutting the pool down

asyncio.run(main())
"""


def test_workers_exit_when_the_parent_is_killed() -> None:
    import subprocess
    import sys
    import time
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    proc = subprocess.run(
        [sys.executable, "-c", _ORPHAN_SCRIPT],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    worker = int(proc.stdout.split()[0])
    deadline = time.monotonic() + 20
    while Path(f"/proc/{worker}").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not Path(f"/proc/{worker}").exists(), "the worker outlived its parent"
