"""``python -m bench``: run the benchmarks, print the table, write the JSON.

::

    python -m bench                     # every scenario, full size (about 10 minutes)
    python -m bench --quick             # small sizes, a smoke run (about a minute)
    python -m bench --scenario cold --scenario feeds --repeat 5
    python -m bench --profile /tmp/prof # each measured child under pyinstrument

Results go to ``bench/results/latest.json`` (``quick.json`` for ``--quick``; ``--output``
to choose), with the machine, the commit and every measured value.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from bench._measure import ROOT, Figure, summarise

# name -> (module, what it measures); ``repoll`` is measured in the cold run.
SCENARIOS: dict[str, tuple[str, str]] = {
    "cold": ("bench.ingest", "cold ingest of 500 boards × 200 postings, its ceiling, re-poll"),
    "feeds": ("bench.feeds", "200 feeds × 100 entries, Marquee against reader"),
    "fanout": ("bench.fanout", "one posting to 10,000 subscriptions' outbox rows"),
    "commands": ("bench.commands", "/ailistings over 200,000 postings, SQLite and PostgreSQL"),
    "delivery": ("bench.delivery", "2,000 alerts against a rate-limited Discord"),
}
ALIASES = {"repoll": "cold", "ingest": "cold", "ceiling": "cold"}
ORDER = ("fanout", "commands", "delivery", "feeds", "cold")
DEFAULT_REPEAT = 3
# Seconds after which a scenario stops repeating (it always measures once; for
# /ailistings, per engine). They keep a full run near ten minutes while Marquee misses
# some targets; at the targets' speeds every scenario fits its three runs.
BUDGET = {"fanout": 60.0, "commands": 45.0, "delivery": 60.0, "feeds": 120.0, "cold": 240.0}

_LIBRARIES = (
    "sqlalchemy",
    "aiosqlite",
    "asyncpg",
    "httpx",
    "httpx-aiohttp",
    "aiohttp",
    "lxml",
    "feedparser",
    "discord.py",
    "reader",
    "pyinstrument",
)


def _machine() -> dict[str, Any]:
    info: dict[str, Any] = {
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
    }
    try:
        meminfo = Path("/proc/meminfo").read_text()
        kb = int(
            next(line.split()[1] for line in meminfo.splitlines() if line.startswith("MemTotal"))
        )
        info["memory_gb"] = round(kb / 1024 / 1024, 1)
    except (OSError, StopIteration, ValueError):
        info["memory_gb"] = None
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text()
        info["cpu"] = next(
            (
                line.split(":", 1)[1].strip()
                for line in cpuinfo.splitlines()
                if line.startswith("model name")
            ),
            platform.processor() or None,
        )
    except OSError:
        info["cpu"] = platform.processor() or None
    versions = {}
    for name in _LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    info["libraries"] = versions
    return info


def _git() -> dict[str, Any]:
    def git(*args: str) -> str:
        out = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)
        return out.stdout.strip()

    changed = [line for line in git("status", "--porcelain", "--untracked-files=no").splitlines()]
    return {"commit": git("rev-parse", "HEAD") or None, "uncommitted_changes": len(changed)}


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    parser.add_argument(
        "--scenario",
        action="append",
        choices=sorted([*SCENARIOS, *ALIASES]),
        help="run only this scenario (repeatable); default: all",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        help="measurements per scenario (default: 3, fewer once a scenario's time budget is spent)",
    )
    parser.add_argument("--output", type=Path, help="where to write the JSON results")
    parser.add_argument("--profile", type=Path, help="profile each measured child into DIR")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    args = parser.parse_args(argv)
    if args.repeat is not None and args.repeat < 1:
        parser.error("--repeat must be at least 1")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the selected scenarios; print the table; write the JSON. Exit 1 on a failure
    to measure (a target missed is a result, not an error)."""
    args = _parse(sys.argv[1:] if argv is None else argv)
    wanted = {ALIASES.get(s, s) for s in (args.scenario or SCENARIOS)}
    output = args.output or ROOT / "bench" / "results" / (
        "quick.json" if args.quick else "latest.json"
    )
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
        os.environ["MARQUEE_BENCH_PROFILE"] = str(args.profile.resolve())
    started = time.perf_counter()
    date = datetime.now(UTC)
    log: Callable[[str], None] = lambda text: print(text, file=sys.stderr, flush=True)  # noqa: E731
    workdir = Path(tempfile.mkdtemp(prefix="marquee-bench-"))
    figures: list[Figure] = []
    failures: list[str] = []
    timings: dict[str, float] = {}
    try:
        for name in ORDER:
            if name not in wanted:
                continue
            module_name, what = SCENARIOS[name]
            repeat = args.repeat or (1 if args.quick else DEFAULT_REPEAT)
            budget = None if args.repeat or args.quick else BUDGET[name]
            log(f"[{name}] {what}{' (quick sizes)' if args.quick else ''}, {repeat}×")
            begun = time.perf_counter()
            module = __import__(module_name, fromlist=["run"])
            try:
                figures.extend(module.run(args.quick, repeat, workdir, log, budget))
            except Exception as err:  # one broken scenario must not hide the others' figures
                failures.append(f"{name}: {err}")
                log(f"[{name}] FAILED: {err}")
            timings[name] = round(time.perf_counter() - begun, 1)
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    table = summarise(figures)
    print(table)
    for failure in failures:
        print(f"\nscenario failed: {failure}")
    result = {
        "date": date.isoformat(timespec="seconds"),
        "quick": args.quick,
        "machine": _machine(),
        "git": _git(),
        "seconds": round(time.perf_counter() - started, 1),
        "scenario_seconds": timings,
        "runs": {f"{f.metric.scenario}/{f.metric.name}": len(f.values) for f in figures},
        "figures": [f.to_json() for f in figures],
        "failures": failures,
        "table": table,
    }
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(result, indent=2) + "\n")
    log(f"\nwritten {output} in {result['seconds']:.0f}s")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
