"""The entry point of a measured child process: ``python -m bench._child NAME PARAMS``.

Runs one scenario function in this fresh interpreter and prints its result as one line
starting with :data:`bench._measure.RESULT_MARK`, which the parent reads.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench._measure import RESULT_MARK

# Imported on use: a child loads only what its scenario needs, which keeps peak RSS
# and start-up honest.
_SCENARIOS = {
    "ingest": "bench.ingest:ingest_child",
    "ceiling": "bench.ingest:ceiling_child",
    "feeds-marquee": "bench.feeds:marquee_child",
    "feeds-reader": "bench.feeds:reader_child",
    "fanout": "bench.fanout:fanout_child",
    "commands": "bench.commands:commands_child",
    "delivery": "bench.delivery:delivery_child",
}


def _function(name: str) -> Callable[[dict[str, Any]], Any]:
    module, _, attr = _SCENARIOS[name].partition(":")
    return getattr(importlib.import_module(module), attr)


def main(argv: list[str]) -> None:
    name, raw = argv[1], argv[2]
    func = _function(name)
    # ``--profile DIR``: the whole child under pyinstrument, its report in DIR.
    profile_dir = os.environ.get("MARQUEE_BENCH_PROFILE")
    profiler = None
    if profile_dir:
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.002, async_mode="disabled")
        profiler.start()
    result = func(json.loads(raw))
    if inspect.iscoroutine(result):
        result = asyncio.run(result)
    if profiler is not None:
        profiler.stop()
        out = Path(profile_dir) / f"{name}-{os.getpid()}"
        out.with_suffix(".txt").write_text(profiler.output_text(unicode=True, show_all=False))
        out.with_suffix(".html").write_text(profiler.output_html())
    print(RESULT_MARK + json.dumps(result), flush=True)


if __name__ == "__main__":
    main(sys.argv)
