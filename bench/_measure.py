"""Measuring in child processes, and summarising repeated measurements.

Every measured run happens in a fresh child process (``python -m bench._child``), so
its CPU time and peak resident set are its own: CPU is ``resource.getrusage`` user +
system time of the child (all its threads: the event loop, ``asyncio.to_thread``
workers, aiosqlite's connection thread); peak RSS is the kernel's high-water mark
``ru_maxrss`` of the child (psutil is not used: it has no portable peak figure). The
local servers run in processes of their own and are not counted. Worker processes the
measured code starts (``bot.cpu``, parsing and enrichment) are counted: their CPU from
``/proc/PID/stat`` over the measured span, their peak from ``/proc/PID/status``
(``VmHWM``), added to the child's own.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "RESULT_MARK",
    "Figure",
    "Metric",
    "Usage",
    "children_cpu",
    "percentile",
    "process_cpu",
    "process_peak_rss_mb",
    "run_child",
    "serve",
    "summarise",
    "usage",
]

RESULT_MARK = "BENCH-RESULT "
ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True, slots=True)
class Usage:
    """CPU seconds and wall seconds since an earlier :func:`usage` call."""

    cpu: float
    wall: float

    def since(self, start: Usage) -> Usage:
        return Usage(self.cpu - start.cpu, self.wall - start.wall)


def usage() -> Usage:
    """This process's CPU time (user + system, all threads) and a monotonic clock."""
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return Usage(ru.ru_utime + ru.ru_stime, time.perf_counter())


def peak_rss_mb() -> float:
    """The high-water mark of this process's resident set, in MiB (Linux: KiB units)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system) another process of ours has used so far (Linux
    ``/proc/PID/stat``; 0 when it is gone): the worker processes of ``bot.cpu``."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def process_peak_rss_mb(pid: int) -> float:
    """The high-water mark of another process's resident set (``VmHWM``), in MiB."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def children_cpu() -> float:
    """CPU seconds of this process's children that have exited and been waited for."""
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def percentile(values: Sequence[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    pos = (len(ordered) - 1) * q
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def run_child(scenario: str, params: dict[str, Any], *, timeout: float = 900) -> dict[str, Any]:
    """Run ``scenario`` in a fresh interpreter and return the dict it reports."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONHASHSEED": "0"}
    proc = subprocess.run(
        [sys.executable, "-m", "bench._child", scenario, json.dumps(params)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    for line in proc.stdout.splitlines():
        if line.startswith(RESULT_MARK):
            return json.loads(line[len(RESULT_MARK) :])
    tail = (proc.stderr or proc.stdout)[-3000:]
    raise RuntimeError(f"scenario {scenario} exited {proc.returncode} without a result:\n{tail}")


@contextlib.contextmanager
def serve(module: str, *args: str) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    """Start ``python -m module args`` and yield what it announces after ``READY``."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", module, *args],
        cwd=ROOT,
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line.startswith("READY "):
            raise RuntimeError(f"{module} did not start: {line!r}")
        yield line[len("READY ") :].strip(), proc
    finally:
        if proc.stdin is not None:
            with contextlib.suppress(BrokenPipeError):
                proc.stdin.close()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@dataclass(frozen=True)
class Metric:
    """One figure a scenario reports: its name, unit and (optionally) its target."""

    scenario: str
    name: str
    unit: str
    target: str = ""  # e.g. ">= 0.5", "< 200", "== 0"
    note: str = ""

    def passes(self, value: float) -> bool | None:
        if not self.target:
            return None
        op, _, bound = self.target.partition(" ")
        limit = float(bound)
        return {
            ">=": value >= limit,
            ">": value > limit,
            "<": value < limit,
            "<=": value <= limit,
            "==": value == limit,
        }[op]


@dataclass
class Figure:
    """A metric and the values of its repeated measurements."""

    metric: Metric
    values: list[float] = field(default_factory=list)
    skipped: str | None = None

    @property
    def median(self) -> float:
        return statistics.median(self.values) if self.values else float("nan")

    def to_json(self) -> dict[str, Any]:
        m = self.metric
        out: dict[str, Any] = {
            "scenario": m.scenario,
            "metric": m.name,
            "unit": m.unit,
            "target": m.target or None,
            "note": m.note or None,
        }
        if self.skipped:
            return {**out, "skipped": self.skipped}
        return {
            **out,
            "values": [round(v, 6) for v in self.values],
            "median": round(self.median, 6),
            "min": round(min(self.values), 6),
            "max": round(max(self.values), 6),
            "pass": m.passes(self.median),
        }


def summarise(figures: Sequence[Figure]) -> str:
    """The results table, aligned for a terminal (and valid Markdown)."""
    rows = [("scenario", "metric", "median", "min", "max", "runs", "target", "result")]
    for f in figures:
        m = f.metric
        if f.skipped:
            rows.append(
                (m.scenario, m.name, "—", "—", "—", m.target or "", f"skipped: {f.skipped}")
            )
            continue
        verdict = m.passes(f.median)
        rows.append(
            (
                m.scenario,
                f"{m.name} ({m.unit})" if m.unit else m.name,
                _fmt(f.median),
                _fmt(min(f.values)),
                _fmt(max(f.values)),
                str(len(f.values)),
                m.target,
                "" if verdict is None else ("pass" if verdict else "FAIL"),
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for n, row in enumerate(rows):
        lines.append("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |")
        if n == 0:
            lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def _fmt(value: float) -> str:
    if value != value:  # NaN
        return "—"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 100:
        return f"{value:.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    if abs(value) >= 1:
        return f"{value:.2f}"
    return f"{value:.3g}"
