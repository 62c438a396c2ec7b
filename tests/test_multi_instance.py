"""Three ``marquee run`` processes sharing one PostgreSQL database (issue 9).

Against the local Discord and three local Greenhouse boards, with a 3-second source
lease so takeovers happen within the test:

- each source is polled once per interval, by one instance (requests counted at the
  boards; "an interval passes" by moving the sources' last attempt back in the
  database, so the test does not wait a real interval);
- every alert is delivered exactly once (one message and one create request per outbox
  row) and the subscription's digest once;
- an instance killed (SIGKILL) in the middle of a poll loses its lease, and another
  instance takes the poll over within the lease time.
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
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from sqlalchemy import select, text, update

from bot.models import Subscription
from storage import open_store
from storage._engine import create_engine
from storage.schema import outbox, source_state
from tests.fakes.boards_greenhouse import FakeGreenhouse, job, pay_range
from tests.fakes.discord_server import API, CHANNEL_ID, GUILD_ID, FakeDiscord
from tests.fakes.http import Fault

pytestmark = pytest.mark.postgres

LEASE = 3.0
CHECK_EVERY = 0.3
BOARDS = ("acme", "beta", "gamma")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def write_config(path: Path, db_url: str, fake: FakeDiscord) -> Path:
    sources = "".join(
        f"""
[[sources]]
name = "{board}"
kind = "greenhouse"
company = "{board.title()} Pictures"
board = "{board}"
base_url = "{fake.url}"
interval = "60s"
"""
        for board in BOARDS
    )
    path.write_text(f"""
[database]
url = "{db_url}"

[http]
per_host_spacing = 0
read_timeout = "60s"
total_timeout = "120s"

[polling]
lease = "{LEASE}s"
check_every = "{CHECK_EVERY}s"

[discord]
api_base = "{fake.api_base}"
gateway_url = "{fake.gateway_url}"
guild_ids = [{GUILD_ID}]
{sources}""")
    return path


class Instance:
    """One ``marquee run`` process and its health port."""

    def __init__(self, proc: asyncio.subprocess.Process, port: int) -> None:
        self.proc = proc
        self.port = port
        self.url = f"http://127.0.0.1:{port}"

    @classmethod
    async def start(cls, config: Path, token: str) -> Instance:
        port = free_port()
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "--config",
            str(config),
            "--log-level",
            "INFO",
            "run",
            "--health-port",
            str(port),
            cwd=config.parent,
            env={**os.environ, "DISCORD_TOKEN": token},
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        return cls(proc, port)

    async def get(self, path: str) -> tuple[int, str]:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session,
            session.get(self.url + path) as resp,
        ):
            return resp.status, await resp.text()

    async def checks(self) -> float:
        """How many times this instance has looked for due sources (0 until it serves)."""
        try:
            _, text = await self.get("/metrics")
        except aiohttp.ClientError:
            return 0
        m = re.search(r"^marquee_poll_checks_total (\d+)", text, re.M)
        return float(m.group(1)) if m else 0

    async def stop(self) -> str:
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
        _, err = await asyncio.wait_for(self.proc.communicate(), timeout=30)
        return err.decode()


async def eventually(predicate: Callable[[], Awaitable[Any]], *, within: float, what: str) -> Any:
    """Poll a condition until it holds (a deadline, not a sleep for work)."""
    deadline = time.monotonic() + within
    while True:
        result = await predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {within} s in vain for {what}")
        await asyncio.sleep(0.05)


async def test_three_instances_share_polls_deliveries_and_digests(pg_url, tmp_path):
    engine = create_engine(pg_url)

    async def rewind(*names: str) -> None:
        """As if an interval (and then some) had passed since these sources' last poll."""
        async with engine.begin() as conn:
            await conn.execute(
                update(source_state)
                .where(source_state.c.name.in_(names))
                .values(last_attempt=source_state.c.last_attempt - text("interval '5 minutes'"))
            )

    async def lease_owner(name: str) -> str | None:
        async with engine.connect() as conn:
            row = (
                await conn.execute(
                    select(source_state.c.lease_owner, source_state.c.lease_until).where(
                        source_state.c.name == name
                    )
                )
            ).first()
        if row is None or row.lease_owner is None or row.lease_until <= datetime.now(UTC):
            return None
        return row.lease_owner

    async with FakeDiscord() as fake:
        boards = {name: FakeGreenhouse(fake, name) for name in BOARDS}

        def polls(name: str) -> int:
            return len(fake.requests_to(boards[name].path))

        def alerts() -> list[dict]:
            return [
                m
                for m in fake.channel_messages(CHANNEL_ID)
                if any("Staff Machine Learning" in e.get("title", "") for e in m["embeds"])
            ]

        now = datetime.now(UTC)
        async with open_store(pg_url) as store:
            sub = await store.add_subscription(
                Subscription(
                    id=0,
                    channel=f"discord:{CHANNEL_ID}",
                    kind="jobs",
                    mode="both",
                    digest_time=f"{(now - timedelta(minutes=2)):%H:%M}",
                    tz="UTC",
                    send_empty_digest=True,
                    created_by="test",
                    created_at=now - timedelta(days=2),
                )
            )
        config = write_config(tmp_path / "marquee.toml", pg_url, fake)
        instances = [await Instance.start(config, fake.token) for _ in range(3)]
        errors: list[str] = []
        try:
            # -- every board polled once (the silent baseline), by one of the three ------
            await fake.wait_until(
                lambda: all(polls(b) >= 1 for b in BOARDS) and len(fake.identifies) == 3,
                within=40,
                what="the first polls and three gateway sessions",
            )
            for instance in instances:
                start = await instance.checks()
                await eventually(
                    lambda i=instance, s=start: _more(i, s, 2), within=10, what="two more checks"
                )
            assert {b: polls(b) for b in BOARDS} == dict.fromkeys(BOARDS, 1)

            # -- an interval later: new roles, each board polled once more ---------------
            for i, name in enumerate(BOARDS):
                boards[name].jobs.append(
                    job(
                        4022000001 + i,
                        f"Staff Machine Learning Engineer, {name.title()} Studio",
                        board=name,
                        pay=[pay_range(400_000, 500_000)],
                    )
                )
            await rewind(*BOARDS)
            await fake.wait_until(
                lambda: len(alerts()) == 3, within=20, what="three alerts, one per new role"
            )
            assert {b: polls(b) for b in BOARDS} == dict.fromkeys(BOARDS, 2)

            # -- the three share the bot's global limit (bot/rate_share.py) --------------
            async def shares() -> bool:
                pages = [json.loads((await i.get("/healthz"))[1]) for i in instances]
                discord = [page["platforms"]["discord"] for page in pages]
                return all(d["senders"] == 3 and d["global_rate"] == 16.0 for d in discord)

            await eventually(shares, within=15, what="each instance at a third of 48/s")

            # -- kill the instance polling acme while its board hangs -------------------
            boards_path = boards["acme"].path
            fake.fail(boards_path, Fault.drip(0.5, b" " * 1000))
            await rewind("acme")
            # (the fake tells waiters when a request is answered; this one never is)
            await eventually(_now(lambda: polls("acme") == 3), within=10, what="acme polled")
            owner = await eventually(
                lambda: lease_owner("acme"), within=5, what="the lease on acme"
            )
            pid = int(owner.split(":")[1])
            (victim,) = [i for i in instances if i.proc.pid == pid]
            victim.proc.send_signal(signal.SIGKILL)
            killed_at = time.monotonic()
            await fake.wait_until(
                lambda: polls("acme") == 4, within=LEASE + 10, what="another instance's poll"
            )
            took_over = time.monotonic() - killed_at
            assert took_over <= LEASE + CHECK_EVERY + 2.5, took_over
            new_owner = await lease_owner("acme")
            assert new_owner is None or new_owner != owner
            await victim.proc.wait()
            survivors = [i for i in instances if i is not victim]

            # -- and then nothing more: no source is due again ---------------------------
            for instance in survivors:
                start = await instance.checks()
                await eventually(
                    lambda i=instance, s=start: _more(i, s, 3), within=10, what="three more checks"
                )
            assert {b: polls(b) for b in BOARDS} == {"acme": 4, "beta": 2, "gamma": 2}

            status, body = await survivors[0].get("/healthz")
            assert status == 200, body
            assert '"outbox_backlog": 0' in body and '"engine": "postgresql"' in body
        finally:
            errors = [await i.stop() for i in instances]
        await engine.dispose()

    assert all(i.proc.returncode == 0 for i in instances if i is not victim), errors
    # -- exactly once: one message and one create request per outbox row ---------------
    async with open_store(pg_url) as store, store._reader.connect() as conn:
        rows = (await conn.execute(select(outbox.c.id, outbox.c.item_kind, outbox.c.status))).all()
    assert sorted(r.item_kind for r in rows) == ["digest", "posting", "posting", "posting"]
    assert {r.status for r in rows} == {"sent"}
    messages = fake.channel_messages(CHANNEL_ID)
    assert sorted(m.get("nonce") for m in messages) == sorted(f"mq{r.id}" for r in rows)
    creates = [
        r for r in fake.requests_to(f"{API}/channels/{CHANNEL_ID}/messages") if r.method == "POST"
    ]
    assert len(creates) == len(rows), "a row was sent twice"
    digests = [r for r in rows if r.item_kind == "digest"]
    assert len(digests) == 1 and sub.id
    assert len(alerts()) == 3
    assert fake.violations == [] and fake.pings == []


def _now(check: Callable[[], bool]) -> Callable[[], Awaitable[bool]]:
    async def predicate() -> bool:
        return check()

    return predicate


async def _more(instance: Instance, start: float, count: int) -> bool:
    return await instance.checks() >= start + count
