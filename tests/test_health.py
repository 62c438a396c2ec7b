"""``/healthz`` and ``/metrics`` (issue 9, item 5), and roles splitting the work.

A ``--role poller`` and a ``--role worker`` process share one PostgreSQL database: the
poller polls the board and queues the alert, the worker delivers it (to the console:
no chat platform is configured) and each process's endpoints tell what it did. A
database that goes away turns ``/healthz`` into a 503 that says so.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import update

from bot.app import health_report, open_app
from bot.config import parse_config
from bot.health import HealthServer, Metrics
from storage._engine import create_engine
from storage.schema import source_state
from tests.conftest import PG_DSN
from tests.fakes.boards_greenhouse import FakeGreenhouse, job, pay_range
from tests.fakes.http import FakeHTTPServer

TITLE = "Principal Machine Learning Engineer, Dubbing"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def _get(url: str) -> tuple[int, str]:
    async with (
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session,
        session.get(url) as resp,
    ):
        return resp.status, await resp.text()


async def _eventually(check, *, within: float, what: str) -> Any:
    """Poll a condition until it holds (a deadline, not a sleep for work)."""
    deadline = time.monotonic() + within
    while True:
        try:
            result = await check()
        except aiohttp.ClientError:
            result = None
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {within} s in vain for {what}")
        await asyncio.sleep(0.05)


def _metric(text: str, name: str, **labels: str) -> float:
    inner = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    series = f"{name}{{{inner}}}" if labels else name
    m = re.search(rf"^{re.escape(series)} (\S+)$", text, re.M)
    return float(m.group(1)) if m else 0.0


# -- Metrics -------------------------------------------------------------------------


async def test_metrics_render_counters_gauges_and_histograms():
    metrics = Metrics()
    metrics.counter("marquee_polls_total", "Polls")
    metrics.inc("marquee_polls_total", source="acme", outcome="ok")
    metrics.inc("marquee_polls_total", 2, source='we"ird\\name\n', outcome="error")
    metrics.gauge("marquee_outbox_backlog", "Backlog", lambda: 7)

    async def broken() -> float:
        raise RuntimeError("the database is down")

    metrics.gauge("marquee_broken", "Fails", broken)
    metrics.histogram("marquee_delivery_latency_seconds", "Latency", buckets=(1, 10))
    for seconds in (0.5, 3, 30):
        metrics.observe("marquee_delivery_latency_seconds", seconds, platform="discord")
    text = await metrics.render()
    assert 'marquee_polls_total{outcome="ok",source="acme"} 1' in text
    assert 'marquee_polls_total{outcome="error",source="we\\"ird\\\\name\\n"} 2' in text
    assert "marquee_outbox_backlog 7" in text
    assert "# TYPE marquee_broken gauge" in text and "\nmarquee_broken " not in text
    assert "# TYPE marquee_delivery_latency_seconds histogram" in text
    latency = 'marquee_delivery_latency_seconds_bucket{platform="discord",le='
    assert f'{latency}"1"}} 1' in text and f'{latency}"10"}} 2' in text
    assert f'{latency}"+Inf"}} 3' in text
    assert 'marquee_delivery_latency_seconds_sum{platform="discord"} 33.5' in text
    assert 'marquee_delivery_latency_seconds_count{platform="discord"} 3' in text
    assert metrics.total("marquee_polls_total") == 3
    assert metrics.count("marquee_delivery_latency_seconds", platform="discord") == 3


# -- roles split across processes -----------------------------------------------------


def _config(path: Path, db_url: str, board_url: str) -> Path:
    path.write_text(f"""
[database]
url = "{db_url}"

[http]
per_host_spacing = 0

[polling]
check_every = "0.2s"
lease = "5s"

[alerts]
console_colour = false

[[sources]]
name = "acme"
kind = "greenhouse"
company = "Acme Studios"
board = "acme"
base_url = "{board_url}"
""")
    return path


async def _start(config: Path, role: str, port: int) -> asyncio.subprocess.Process:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "SLACK_"))}
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "--config",
        str(config),
        "--log-level",
        "INFO",
        "run",
        "--role",
        role,
        "--health-port",
        str(port),
        cwd=config.parent,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


@pytest.mark.postgres
async def test_a_poller_and_a_worker_split_the_work_and_say_so(pg_url, tmp_path):
    async with FakeHTTPServer() as server:
        board = FakeGreenhouse(server, "acme")
        config = _config(tmp_path / "marquee.toml", pg_url, server.url)
        ports = {"poller": _free_port(), "worker": _free_port()}
        procs = {role: await _start(config, role, port) for role, port in ports.items()}
        url = {role: f"http://127.0.0.1:{port}" for role, port in ports.items()}

        async def metrics(role: str) -> str:
            return (await _get(url[role] + "/metrics"))[1]

        async def polled_ok() -> bool:
            return (
                _metric(await metrics("poller"), "marquee_polls_total", outcome="ok", source="acme")
                >= 1
            )

        engine = create_engine(pg_url)
        try:
            await _eventually(polled_ok, within=30, what="the baseline poll")
            # the worker is up (its console subscription exists) before the new role
            await _eventually(lambda: _get(url["worker"] + "/healthz"), within=30, what="worker")

            board.jobs.append(job(4033000001, TITLE, pay=[pay_range(420_000, 520_000)]))
            async with engine.begin() as conn:  # an interval later
                await conn.execute(
                    update(source_state).values(
                        last_attempt=datetime.now(UTC) - timedelta(minutes=30)
                    )
                )

            async def delivered() -> bool:
                text = await metrics("worker")
                return _metric(text, "marquee_alerts_sent_total", platform="console") >= 1

            await _eventually(delivered, within=20, what="the alert delivered by the worker")
            poller_text, worker_text = await metrics("poller"), await metrics("worker")
            assert _metric(poller_text, "marquee_polls_total", outcome="ok", source="acme") == 2
            assert _metric(poller_text, "marquee_alerts_queued_total", kind="event") == 1
            assert _metric(poller_text, "marquee_alerts_sent_total", platform="console") == 0
            assert _metric(worker_text, "marquee_poll_checks_total") == 0  # it polls nothing
            assert (
                _metric(worker_text, "marquee_delivery_latency_seconds_count", platform="console")
                == 1
            )
            assert _metric(worker_text, "marquee_outbox_backlog") == 0
            assert len(server.requests_to(board.path)) == 2

            for role in ("poller", "worker"):
                status, body = await _get(url[role] + "/healthz")
                report = json.loads(body)
                assert status == 200 and report["ok"], body
                assert report["role"] == role and report["database"] == {
                    "ok": True,
                    "engine": "postgresql",
                }
                assert report["outbox_backlog"] == 0 and isinstance(report["leases"], list)
                assert str(procs[role].pid) in report["instance"]
            assert json.loads((await _get(url["poller"] + "/healthz"))[1])["platforms"] == {}
            worker_report = json.loads((await _get(url["worker"] + "/healthz"))[1])
            assert worker_report["platforms"] == {"console": {"ok": True}}
        finally:
            await engine.dispose()
            outputs = {}
            for role, proc in procs.items():
                if proc.returncode is None:
                    proc.send_signal(signal.SIGTERM)
                out, err = await asyncio.wait_for(proc.communicate(), timeout=30)
                outputs[role] = (out.decode(), err.decode())
    assert all(p.returncode == 0 for p in procs.values()), outputs
    assert TITLE in outputs["worker"][0] and TITLE not in outputs["poller"][0]
    assert "marquee running as poller" in outputs["poller"][1]


# -- the database goes away ------------------------------------------------------------


@pytest.mark.postgres
async def test_healthz_is_503_while_the_database_is_gone(pg_url):
    import asyncpg

    config = parse_config({"database": {"url": pg_url}, "sources": []}, env={})
    async with open_app(config) as app:
        now = datetime.now(UTC)
        await app.store.acquire_source_lease(
            "acme", owner="other:1:aa", now=now, until=now + timedelta(minutes=5)
        )

        async def report() -> dict[str, Any]:
            return await health_report(
                app, role="all", instance="me:2:bb", started=time.monotonic()
            )

        async with HealthServer("127.0.0.1", 0, report, Metrics()) as server:
            status, body = await _get(server.url + "/healthz")
            healthy = json.loads(body)
            assert status == 200 and healthy["ok"] and healthy["outbox_backlog"] == 0
            (lease,) = healthy["leases"]
            assert lease["source"] == "acme" and lease["owner"] == "other:1:aa"
            assert lease["mine"] is False

            admin = await asyncpg.connect(PG_DSN)
            try:
                name = pg_url.rsplit("/", 1)[1]
                await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            finally:
                await admin.close()
            status, body = await _get(server.url + "/healthz")
            sick = json.loads(body)
            assert status == 503 and sick["ok"] is False
            assert sick["database"]["ok"] is False and sick["database"]["error"]
            assert "leases" not in sick
            status, _ = await _get(server.url + "/metrics")
            assert status == 200  # a scrape still answers


async def test_the_health_port_must_be_free(tmp_path):
    from bot.errors import ConfigError

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]

        async def report() -> dict[str, Any]:
            return {"ok": True}

        with pytest.raises(ConfigError) as caught:
            async with HealthServer("127.0.0.1", port, report, Metrics()):
                pass
    assert caught.value.key == "health.port"


def test_health_settings_are_checked_with_the_exact_key():
    from bot.errors import ConfigError

    config = parse_config({"health": {"port": 9300}, "polling": {"lease": "30s"}}, env={})
    assert config.health.port == 9300 and config.health.host == "127.0.0.1"
    assert config.polling.lease == 30 and config.polling.check_every == 15
    for data, key in (
        ({"health": {"port": 70000}}, "health.port"),
        ({"health": {"prot": 1}}, "health.prot"),
        ({"polling": {"lease": "0.5s"}}, "polling.lease"),
        ({"polling": {"check_every": "2h"}}, "polling.check_every"),
    ):
        with pytest.raises(ConfigError) as caught:
            parse_config(data, env={})
        assert caught.value.key == key
