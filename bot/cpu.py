"""Where CPU-heavy parsing and enrichment run: a small pool of worker processes.

Decoding a board's JSON, turning its HTML descriptions into text, reading pay and
classifying roles is pure CPU work, about two thirds of a cold poll's (bench/README.md,
cold ingest). In the event loop's process it competes for one core (the GIL) with the
HTTP client, SQLite and matching; in ``[enrich] workers`` processes it runs on the
others (STYLE.md, habit 6: CPU-heavy parsing goes off the loop). ``workers = 0`` runs it
in a thread of this process instead, as before.

The pool belongs to the app's ``async with`` stack (:func:`bot.app.open_app`): workers
start on first use with the ``spawn`` method (a fork of a process that runs the
aiosqlite and executor threads could copy a lock held by one of them), and are shut
down on exit. Work is handed over in batches (a source's page, a poll's changed
postings), never per posting: each hand-over costs a pickle each way and a wake-up.

A worker that dies (killed, out of memory, a crash in a C extension) breaks the pool
(:class:`~concurrent.futures.process.BrokenProcessPool`): the pool is replaced and the
call tried once more on the new one, since the batch in flight when another batch
crashed it is innocent; a batch that breaks the pool twice is that source's
:class:`~bot.errors.ParseError`, and the poll goes on with the others.
"""

from __future__ import annotations

import asyncio
import ctypes
import dataclasses
import functools
import logging
import multiprocessing
import operator
import os
import signal
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing.reduction import ForkingPickler
from pathlib import Path
from types import MappingProxyType
from typing import Any, TypeVar

from bot.enrich import EnrichSettings
from bot.errors import ParseError
from bot.models import AIMatch, Posting, Salary, Story

try:
    import fcntl
except ImportError:  # not on Windows
    fcntl = None  # type: ignore[assignment]

__all__ = ["CpuPool", "default_workers", "tune_malloc"]

log = logging.getLogger(__name__)

T = TypeVar("T")


def default_workers() -> int:
    """Worker processes when the config does not say: one per core beyond the event
    loop's, at most two (the work comes in bursts of a poll cycle)."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(0, min(2, (cores or 1) - 1))


class CpuPool:
    """Runs pure functions of picklable arguments in worker processes (or, with no
    workers, in a thread). Use as ``async with CpuPool(n) as cpu: await cpu.run(f, x)``."""

    def __init__(self, workers: int) -> None:
        if workers < 0:
            raise ValueError(f"workers must be at least 0, got {workers}")
        self.workers = workers
        self._executor: ProcessPoolExecutor | None = None
        self._open = False
        self._retrying = asyncio.Lock()

    async def __aenter__(self) -> CpuPool:
        self._open = True
        if self.workers:
            self._executor = self._new_executor()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self._open = False
        executor, self._executor = self._executor, None
        if executor is not None:
            await asyncio.to_thread(executor.shutdown, wait=True, cancel_futures=True)

    async def run(self, fn: Callable[..., T], /, *args: Any) -> T:
        """``fn(*args)`` in a worker; its exceptions are raised here."""
        if not self._open:
            raise RuntimeError("CpuPool used outside 'async with'")
        if self._executor is None:
            return await asyncio.to_thread(fn, *args)
        call = functools.partial(fn, *args)
        if self._retrying.locked():
            async with self._retrying:  # let the retries run alone first
                pass
        executor = self._executor
        try:
            return await asyncio.get_running_loop().run_in_executor(executor, call)
        except BrokenProcessPool:
            self._replace(executor)
            log.warning("a worker process died while running %s; pool restarted", _name(fn))
        # Every call in flight failed with the one that killed the worker: each is tried
        # again alone, so only the culprit fails twice.
        async with self._retrying:
            executor = self._executor
            try:
                return await asyncio.get_running_loop().run_in_executor(executor, call)
            except BrokenProcessPool as err:
                self._replace(executor)
                raise ParseError(f"a worker process died twice while running {_name(fn)}") from err

    def pids(self) -> list[int]:
        """The worker processes running now (the benchmark counts their CPU and memory)."""
        executor = self._executor
        if executor is None:
            return []
        # ProcessPoolExecutor keeps its processes in a private dict; there is no public view.
        processes = getattr(executor, "_processes", None) or {}
        return sorted(p.pid for p in processes.values() if p.pid is not None)

    def _new_executor(self) -> ProcessPoolExecutor:
        executor = ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_init_worker,
        )
        _widen_pipes(executor)
        return executor

    def _replace(self, broken: ProcessPoolExecutor | None) -> None:
        """A new executor for a broken one (once, however many calls saw it break)."""
        if broken is None or self._executor is not broken or not self._open:
            return
        broken.shutdown(wait=False, cancel_futures=True)
        self._executor = self._new_executor()


# A batch is a board's page (~1.3 MB for 200 postings) or its finished postings, but a
# pipe holds 64 KB: the executor's feeder and result threads, in the event loop's
# process, then move it in ~20 writes or reads, each taking the GIL back from the loop
# (up to the 5 ms switch interval) while the worker waits, blocked on the other end.
# With 1 MB pipes a batch crosses in one or two: cold cycle, worker busy 87-89 ->
# 91-93 % of the time, 1,430-1,590 -> 1,620-1,670 postings/s (python -m bench).
_PIPE_BYTES = 1 << 20


def _widen_pipes(executor: ProcessPoolExecutor) -> None:
    """Give the executor's task and result pipes room for a whole batch, where the
    system allows (Linux; at most ``/proc/sys/fs/pipe-max-size``), never making one
    smaller than it is. The two pipes take 2 MB of the user's pipe quota
    (``pipe-user-pages-soft``, 64 MB by default) while the pool lives. The queues are
    the executor's private attributes: when they are not there, nothing changes."""
    setsize = getattr(fcntl, "F_SETPIPE_SZ", None) if fcntl is not None else None
    getsize = getattr(fcntl, "F_GETPIPE_SZ", None) if fcntl is not None else None
    if setsize is None or getsize is None:
        return
    try:
        size = min(_PIPE_BYTES, int(Path("/proc/sys/fs/pipe-max-size").read_text()))
    except (OSError, ValueError):
        size = _PIPE_BYTES
    for name in ("_call_queue", "_result_queue"):
        queue = getattr(executor, name, None)
        # A queue's reader and writer are the two ends of one pipe.
        end = getattr(queue, "_writer", None)
        try:
            fd = end.fileno()  # type: ignore[union-attr]
            if fcntl.fcntl(fd, getsize) < size:  # a page size may make the default larger
                fcntl.fcntl(fd, setsize, size)
        except (AttributeError, OSError, ValueError):
            # not a pipe here, or over the user's pipe quota: the default stays
            continue


def _name(fn: Callable[..., Any]) -> str:
    return getattr(fn, "__qualname__", None) or type(fn).__name__


def _init_worker() -> None:
    # Ctrl-C reaches the whole process group: the parent shuts the pool down in order,
    # so a worker must not die of the SIGINT first.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # A parent killed outright (SIGKILL, OOM) never shuts the pool down, and a worker
    # waiting for work does not notice: it holds both ends of its task queue's pipe. It
    # exits when the parent's sentinel closes instead of lingering as an orphan.
    parent = multiprocessing.parent_process()
    if parent is not None:
        threading.Thread(target=_exit_with, args=(parent,), daemon=True).start()
    tune_malloc()


def _exit_with(parent: multiprocessing.process.BaseProcess) -> None:
    parent.join()
    os._exit(0)


_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_M_ARENA_MAX = -8
_tuned = False


def tune_malloc() -> None:
    """Keep glibc's malloc from holding memory a poll cycle no longer uses (once per
    process; nothing on other C libraries).

    Two arenas instead of eight per core: each thread (aiosqlite's, the executor's)
    otherwise gets its own, and their free space is not shared. Blocks of 256 KB and
    more (response bodies, pickled batches) always mapped, so freeing one returns it:
    glibc's default raises that threshold to the largest block freed, up to 32 MB, and
    then serves the next bodies from the heap, which fragments and stays resident.
    Cold poll of 60 boards x 200 (``python -m bench`` data): peak RSS of the event
    loop's process 162 -> 144 MB, same CPU.
    """
    global _tuned
    if _tuned or not sys.platform.startswith("linux"):
        return
    _tuned = True
    try:
        libc = ctypes.CDLL(None)
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (musl has no mallopt)
        return
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt(_M_ARENA_MAX, 2)
    mallopt(_M_MMAP_THRESHOLD, 256 * 1024)
    mallopt(_M_TRIM_THRESHOLD, 512 * 1024)


# -- transport ------------------------------------------------------------------------
# Records cross between processes by pickle. A slots dataclass pickles through
# ``__getstate__``/``__setstate__``, which call dataclasses.fields() for every object:
# 63 us a posting both ways, against 9 us as (class, field values), rebuilt by the
# constructor. Registered on multiprocessing's pickler only, so nothing else changes.
def _by_fields(cls: type) -> None:
    values = operator.attrgetter(*(f.name for f in dataclasses.fields(cls)))
    ForkingPickler.register(cls, lambda obj: (cls, values(obj)))


for _record in (Posting, Salary, AIMatch, Story, EnrichSettings):
    _by_fields(_record)


# The built-in rate table is read-only (EnrichSettings.rates); a copy crosses as a dict.
def _read_only(mapping: dict[Any, Any]) -> MappingProxyType[Any, Any]:
    return MappingProxyType(mapping)


ForkingPickler.register(MappingProxyType, lambda proxy: (_read_only, (dict(proxy),)))
