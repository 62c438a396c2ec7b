"""``/healthz`` and ``/metrics`` for every ``marquee run`` process (issue 9, item 5).

:class:`Metrics` keeps counters, gauges and histograms and renders them in Prometheus'
text format (no dependency needed). :class:`HealthServer` serves both endpoints on
``[health] host:port`` with aiohttp; the Slack front end serves the same two on its own
port as well, from the same :class:`Metrics` and the same report.

``/healthz`` answers 200 with a JSON report while the process can do its work (the
database answers, its platforms are connected) and 503 with the same report otherwise,
so a load balancer or systemd watchdog can act on the status alone.
"""

from __future__ import annotations

import inspect
import logging
import math
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from aiohttp import web

from bot.errors import ConfigError

__all__ = ["DEFAULT_BUCKETS", "HealthReport", "HealthServer", "Metrics"]

log = logging.getLogger(__name__)

#: ``() -> report``: a JSON-able mapping whose ``"ok"`` decides 200 or 503.
HealthReport = Callable[[], Awaitable[Mapping[str, Any]]]

#: Seconds, for delivery latency: from a second to a day (alerts wait out rate limits
#: and outages in the outbox, so the tail is long).
DEFAULT_BUCKETS = (1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0, 21600.0, 86400.0)

_Labels = tuple[tuple[str, str], ...]


class Metrics:
    """A few counters, gauges and histograms in Prometheus text format."""

    def __init__(self) -> None:
        self._help: dict[str, tuple[str, str]] = {}
        self._counters: dict[str, dict[_Labels, float]] = {}
        self._gauges: dict[str, Callable[[], float | Awaitable[float]]] = {}
        self._buckets: dict[str, tuple[float, ...]] = {}
        # name -> labels -> (bucket counts, sum, count)
        self._histograms: dict[str, dict[_Labels, tuple[list[int], float, int]]] = {}

    def counter(self, name: str, help_text: str) -> None:
        """Declare a counter (shown as 0 until incremented)."""
        self._help[name] = ("counter", help_text)
        self._counters.setdefault(name, {})

    def inc(self, name: str, amount: float = 1.0, **labels: str) -> None:
        """Add ``amount`` to a counter."""
        series = self._counters.setdefault(name, {})
        key = tuple(sorted(labels.items()))
        series[key] = series.get(key, 0.0) + amount

    def value(self, name: str, **labels: str) -> float:
        """A counter's current value (tests, /healthz)."""
        return self._counters.get(name, {}).get(tuple(sorted(labels.items())), 0.0)

    def total(self, name: str) -> float:
        """A counter's sum over all its labels."""
        return sum(self._counters.get(name, {}).values())

    def gauge(
        self, name: str, help_text: str, read: Callable[[], float | Awaitable[float]]
    ) -> None:
        """Register a gauge read at each scrape, e.g. ``store.outbox_backlog`` (a plain
        function or a coroutine function)."""
        self._help[name] = ("gauge", help_text)
        self._gauges[name] = read

    def histogram(
        self, name: str, help_text: str, buckets: Sequence[float] = DEFAULT_BUCKETS
    ) -> None:
        """Declare a histogram with these upper bounds (``+Inf`` is implied)."""
        bounds = tuple(sorted(float(b) for b in buckets))
        if not bounds or any(math.isnan(b) or math.isinf(b) for b in bounds):
            raise ValueError("histogram buckets must be finite numbers")
        self._help[name] = ("histogram", help_text)
        self._buckets[name] = bounds
        self._histograms.setdefault(name, {})

    def observe(self, name: str, value: float, **labels: str) -> None:
        """Record one observation in a declared histogram."""
        bounds = self._buckets[name]
        series = self._histograms[name]
        key = tuple(sorted(labels.items()))
        counts, total, n = series.get(key, ([0] * len(bounds), 0.0, 0))
        for i, bound in enumerate(bounds):
            if value <= bound:
                counts[i] += 1
        series[key] = (counts, total + value, n + 1)

    def count(self, name: str, **labels: str) -> int:
        """How many observations a histogram holds (tests)."""
        series = self._histograms.get(name, {}).get(tuple(sorted(labels.items())))
        return series[2] if series else 0

    async def render(self) -> str:
        """The exposition text."""
        lines: list[str] = []
        for name in sorted(self._help):
            kind, help_text = self._help[name]
            lines.append(f"# HELP {name} {_help_escape(help_text)}")
            lines.append(f"# TYPE {name} {kind}")
            if kind == "gauge":
                try:
                    read = self._gauges[name]()
                    value = float(await read if inspect.isawaitable(read) else read)
                except Exception:  # a broken gauge must not break the scrape
                    log.exception("metrics: gauge %s failed", name)
                    continue
                lines.append(f"{name} {_number(value)}")
            elif kind == "histogram":
                bounds = self._buckets[name]
                for labels, (counts, total, n) in sorted(self._histograms[name].items()):
                    for bound, c in zip(bounds, counts, strict=True):
                        le = _labels((*labels, ("le", _number(bound))))
                        lines.append(f"{name}_bucket{le} {c}")
                    lines.append(f"{name}_bucket{_labels((*labels, ('le', '+Inf')))} {n}")
                    lines.append(f"{name}_sum{_labels(labels)} {_number(total)}")
                    lines.append(f"{name}_count{_labels(labels)} {n}")
            else:
                series = self._counters.get(name) or {(): 0.0}
                for labels, value in sorted(series.items()):
                    lines.append(f"{name}{_labels(labels)} {_number(value)}")
        return "\n".join(lines) + "\n"


def _help_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def _label_value(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels(labels: _Labels) -> str:
    if not labels:
        return ""
    return "{" + ",".join(f'{k}="{_label_value(v)}"' for k, v in labels) + "}"


def _number(value: float) -> str:
    if math.isnan(value) or math.isinf(value):
        return "NaN" if math.isnan(value) else ("+Inf" if value > 0 else "-Inf")
    return str(int(value)) if value == int(value) else repr(value)


# -- serving --------------------------------------------------------------------------


async def healthz_response(report: HealthReport) -> web.Response:
    """The ``/healthz`` answer for ``report``: 200 when ``ok``, else 503."""
    try:
        body = dict(await report())
    except Exception:  # the report itself failed: that is unhealthy, not a crash
        log.exception("health report failed")
        body = {"ok": False, "error": "the health report failed; see the log"}
    return web.json_response(body, status=200 if body.get("ok") else 503)


async def metrics_response(metrics: Metrics) -> web.Response:
    """The ``/metrics`` answer (Prometheus text format)."""
    return web.Response(
        text=await metrics.render(),
        content_type="text/plain",
        charset="utf-8",
        headers={"X-Content-Type-Options": "nosniff"},
    )


class HealthServer:
    """``async with HealthServer(host, port, report, metrics) as server:`` serves
    ``/healthz`` and ``/metrics``; ``port=0`` picks a free port (see :attr:`url`)."""

    def __init__(self, host: str, port: int, report: HealthReport, metrics: Metrics) -> None:
        self.host = host
        self.port = port
        self._report = report
        self._metrics = metrics
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.port}"

    async def __aenter__(self) -> HealthServer:
        app = web.Application()
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/metrics", self._metrics_page)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=2.0)
        await runner.setup()
        site = web.TCPSite(runner, self.host, self.port)
        try:
            await site.start()
        except OSError as err:
            await runner.cleanup()
            raise ConfigError(
                "health.port", f"cannot listen on {self.host}:{self.port}: {err.strerror}"
            ) from err
        self._runner = runner
        if runner.addresses:
            self.port = int(runner.addresses[0][1])
        log.info("health and metrics on %s", self.url)
        return self

    async def __aexit__(self, *exc: object) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()

    async def _healthz(self, request: web.Request) -> web.Response:
        return await healthz_response(self._report)

    async def _metrics_page(self, request: web.Request) -> web.Response:
        return await metrics_response(self._metrics)
