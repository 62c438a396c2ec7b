"""Marquee's benchmarks: what it exists to do, measured on this machine.

``python -m bench`` prepares its data locally, runs each scenario several times in
fresh child processes and prints a table of median, min and max against the targets of
issue 8; ``bench/README.md`` describes the scenarios, how each figure is measured and
the latest results. The scenario modules (:mod:`bench.ingest`, :mod:`bench.feeds`,
:mod:`bench.fanout`, :mod:`bench.commands`, :mod:`bench.delivery`) each expose
``run(quick, repeat, workdir, log) -> list[Figure]``.
"""

__all__: list[str] = []
