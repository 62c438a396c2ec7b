"""Crash soak: SIGKILL ``marquee run`` at random points, restart it, count what arrived.

A real ``marquee run`` process (Discord and Slack both configured) runs against local
fakes: job boards (Greenhouse, Lever), a news feed, the local Discord and the local
Slack. While new postings and stories keep appearing, and ``marquee poll --once``
processes poll alongside (some of them killed too), the run is killed with SIGKILL at
points chosen at random among:

* ``timer``  — any moment of its life (start-up, migrations, login, polls, sends);
* ``send``   — right after the local Discord or Slack accepted a message, before or
  after the answer reached Marquee (the window between "the platform has it" and
  "the outbox knows");
* ``poll``   — while the run's own poll is waiting for a board's answer;
* ``digest`` — while it runs the digests due at start-up (a new digest subscription
  waits for it).

After the last kill one run is left to finish, and the fakes' records are compared with
what was due (issue 7, promise 1): every alert delivered; on Discord exactly once (the
outbox row's nonce with ``enforce_nonce``); on Slack at most once more per kill; in
each channel in the order the events were recorded.

``tests/test_crash.py`` runs a short version in the suite; for the long one::

    python -m tests.crash_soak --kills 200 [--seed 7] [--database sqlite|postgresql]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import random
import signal
import socket
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from aiohttp import web
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import create_async_engine

from bot.models import Subscription
from storage import Store, open_store
from storage.schema import outbox, source_state
from tests.fakes.boards_greenhouse import FakeGreenhouse, job, pay_range
from tests.fakes.boards_lever import FakeLever, posting, salary
from tests.fakes.discord_server import CHANNEL_ID, GUILD_ID, OTHER_CHANNEL_ID, FakeDiscord
from tests.fakes.http import FakeHTTPServer
from tests.fakes.slack_server import BOT_TOKEN, SIGNING_SECRET, TEAM_ID, FakeSlack

__all__ = ["HoldingDiscord", "HoldingSlack", "SoakResult", "soak"]

STRATEGIES = ("timer", "send", "poll", "digest")
SLACK_JOBS, SLACK_NEWS = "C0JOBS", "C0NEWS"
JOBS_CHANNELS = (f"discord:{CHANNEL_ID}", f"slack:{TEAM_ID}/{SLACK_JOBS}")
NEWS_CHANNELS = (f"discord:{OTHER_CHANNEL_ID}", f"slack:{TEAM_ID}/{SLACK_NEWS}")
FEED_PATH = "/news/feed.xml"
#: How long a life waits for the moment its strategy kills at (a restart may first wait
#: for the claims of the run killed before it to run out)
CATCH_WITHIN = 20.0
_WORDS = (
    "amber", "basalt", "cobalt", "delta", "ember", "fjord", "garnet", "harbor", "indigo",
    "juniper", "kelp", "lumen", "marble", "nectar", "onyx", "prism", "quartz", "raven",
    "sierra", "tundra", "umber", "velvet", "willow", "xenon", "yarrow", "zephyr", "atlas",
    "beacon", "cinder", "dune", "echo", "flint", "glacier", "heron", "iris", "jade",
)  # fmt: skip


@dataclass
class PlatformFigures:
    """What one platform received, against what was due."""

    due: int = 0
    delivered: int = 0  # due alerts that arrived at least once
    duplicates: int = 0  # messages beyond the first for the same alert
    unexpected: int = 0  # messages that match no due alert
    out_of_order: int = 0
    resends_dropped: int = 0  # repeated nonces Discord answered with the first message


@dataclass
class SoakResult:
    kills: int = 0
    kill_points: Counter[str] = field(default_factory=Counter)
    poll_processes: int = 0
    poll_kills: int = 0
    postings: int = 0
    stories: int = 0
    digests: int = 0
    discord: PlatformFigures = field(default_factory=PlatformFigures)
    slack: PlatformFigures = field(default_factory=PlatformFigures)
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)

    def summary(self) -> str:
        points = ", ".join(f"{k} {v}" for k, v in sorted(self.kill_points.items()))
        lines = [
            f"{self.kills} kills of 'marquee run' ({points}); {self.poll_processes} "
            f"'poll --once' processes, {self.poll_kills} of them killed; {self.seconds:.0f} s",
            f"due: {self.postings} postings, {self.stories} stories, {self.digests} digests",
        ]
        for name, f in (("discord", self.discord), ("slack", self.slack)):
            lines.append(
                f"{name}: {f.due} alerts due, {f.delivered} delivered, {f.duplicates} "
                f"duplicated, {f.unexpected} unexpected, {f.out_of_order} out of order"
            )
        lines.append(f"discord dropped {self.discord.resends_dropped} resends by their nonce")
        lines += [f"PROBLEM: {p}" for p in self.problems]
        return "\n".join(lines)


def _digest_marker(subscription_id: int) -> str:
    """What a digest's footer says, delimited so #6 is not found in #63."""
    return f"Subscription #{subscription_id} ·"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class _Boards(FakeHTTPServer):
    """The boards and the feed, with a little latency (so a poll can be caught in
    flight) and a condition that wakes on every request."""

    def __init__(self, rng: random.Random) -> None:
        super().__init__()
        self.rng = rng
        self.in_flight = 0
        self.arrivals = 0
        self.changed = asyncio.Condition()

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        self.in_flight += 1
        self.arrivals += 1
        await self._notify()
        try:
            await asyncio.sleep(self.rng.uniform(0.02, 0.25))  # the fault: a slow board
            return await super()._dispatch(request)
        finally:
            self.in_flight -= 1
            await self._notify()

    async def _notify(self) -> None:
        async with self.changed:
            self.changed.notify_all()

    async def wait_until(self, predicate: Callable[[], object], within: float) -> bool:
        try:
            async with asyncio.timeout(within), self.changed:
                await self.changed.wait_for(predicate)
            return True
        except TimeoutError:
            return False


class HoldingDiscord(FakeDiscord):
    """The local Discord, able to keep the answers to the next ``hold`` message creates:
    the message exists, but Marquee never hears so (it is killed, or times out)."""

    def __init__(self) -> None:
        super().__init__()
        self.hold = 0  # how many of the next answers to keep
        self.held = 0

    async def _create_message(self, request: web.Request, channel_id: int) -> web.Response:
        response = await super()._create_message(request, channel_id)
        if self.hold and response.status == 200:
            self.hold -= 1
            self.held += 1
            await self._notify()
            await asyncio.Event().wait()  # no answer; cancelled when the client dies
        return response

    def nonce_repeats(self) -> int:
        """Message creates that repeated an earlier nonce (resends Discord dropped)."""
        nonces: Counter[str] = Counter()
        for r in self.requests:
            if r.method == "POST" and r.path.endswith("/messages") and "/channels/" in r.path:
                with contextlib.suppress(ValueError, AttributeError):
                    nonce = json.loads(r.body).get("nonce")
                    if nonce is not None:
                        nonces[str(nonce)] += 1
        return sum(n - 1 for n in nonces.values())


class HoldingSlack(FakeSlack):
    """The local Slack, able to keep the answers to the next ``hold`` chat.postMessage
    calls (as above)."""

    def __init__(self) -> None:
        super().__init__()
        self.hold = 0  # how many of the next answers to keep
        self.held = 0

    async def _api(self, request: web.Request) -> web.Response:
        response = await super()._api(request)
        if (
            self.hold
            and request.path.endswith("/chat.postMessage")
            and b'"ok": true' in (response.body if isinstance(response.body, bytes) else b"")
        ):
            self.hold -= 1
            self.held += 1
            await self._notify()
            await asyncio.Event().wait()  # no answer; cancelled when the client dies
        return response


@dataclass
class _Due:
    """One alert the soak expects: where, and how to recognise its message."""

    channel: str
    marker: str  # a URL or "Subscription #N": unique to this alert's message
    kind: str


class _Soak:
    def __init__(self, workdir: Path, db_url: str, rng: random.Random, log: Callable[[str], None]):
        self.workdir = workdir
        self.db_url = db_url
        self.rng = rng
        self.log = log
        self.result = SoakResult()
        self.due: list[_Due] = []
        self.ids = itertools.count(1)
        self.story_items: list[dict[str, str]] = []
        self.pollers: list[asyncio.subprocess.Process] = []
        self.store: Store | None = None
        self.run_log = workdir / "run.log"

    # -- set-up ---------------------------------------------------------------------

    def write_config(self, boards: _Boards, discord: FakeDiscord, slack: FakeSlack) -> None:
        self.config = self.workdir / "marquee.toml"
        self.config.write_text(f"""
[database]
url = "{self.db_url}"

[polling]
# a poll killed mid-way holds its source's lease until it runs out: keep that short
lease = "3s"
check_every = 0.5

[http]
per_host_spacing = 0
connect_timeout = 2
read_timeout = 5
total_timeout = 10

[discord]
api_base = "{discord.api_base}"
gateway_url = "{discord.gateway_url}"
guild_ids = [{GUILD_ID}]

[slack]
host = "127.0.0.1"
port = {free_port()}
api_base = "{slack.api_base}"

[[sources]]
name = "acme-gh"
kind = "greenhouse"
company = "Acme Studios"
board = "acme"
base_url = "{boards.url}"

[[sources]]
name = "acme-lever"
kind = "lever"
company = "Acme Audio"
site = "acme"
base_url = "{boards.url}"

[[sources]]
name = "trade-news"
kind = "feed"
url = "{boards.url}{FEED_PATH}"
outlet = "Trade Daily"
""")
        self.env = {
            **os.environ,
            "DISCORD_TOKEN": discord.token,
            "SLACK_BOT_TOKEN": BOT_TOKEN,
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        }
        self.env.pop("SLACK_APP_TOKEN", None)

    async def _feed(self, request: web.Request) -> web.Response:
        items = "".join(
            f"<item><title>{escape(s['title'])}</title><link>{s['url']}</link>"
            f'<guid isPermaLink="false">{s["guid"]}</guid><pubDate>{s["date"]}</pubDate>'
            f"<description>{escape('<p>' + s['title'] + '</p>')}</description></item>"
            for s in reversed(self.story_items)
        )
        body = (
            '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
            "<title>Trade Daily</title><link>https://trade.example.com/</link>"
            f"<description>News</description>{items}</channel></rss>"
        )
        return web.Response(body=body.encode(), content_type="application/rss+xml")

    # -- the world changes ----------------------------------------------------------

    def add_item(self) -> None:
        """A new AI posting on one of the boards, or a new story in the feed."""
        n = next(self.ids)
        words = " ".join(self.rng.sample(_WORDS, 3))
        kind = self.rng.choice(("greenhouse", "lever", "story"))
        if kind == "greenhouse":
            job_id = 5_000_000 + n
            self.gh.jobs.append(
                job(
                    job_id,
                    f"Machine Learning Engineer, {words.title()} {n}",
                    pay=[pay_range(200_000 + n, 320_000 + n)],
                )
            )
            url = f"https://job-boards.greenhouse.io/acme/jobs/{job_id}"
            self.result.postings += 1
            self.due += [_Due(c, url, "posting") for c in JOBS_CHANNELS]
        elif kind == "lever":
            pid = f"5a1e0000-0000-4000-8000-{n:012d}"
            self.lever.postings.append(
                posting(
                    pid,
                    f"Applied Scientist, Machine Learning {words.title()} {n}",
                    salary=salary(180_000 + n, 290_000 + n),
                )
            )
            url = f"https://jobs.lever.co/acme/{pid}"
            self.result.postings += 1
            self.due += [_Due(c, url, "posting") for c in JOBS_CHANNELS]
        else:
            url = f"https://trade.example.com/2026/{n}/{words.replace(' ', '-')}-{n}"
            when = datetime.now(UTC)
            self.story_items.append(
                {
                    "title": f"Studio {words} dispatch number {n} for the week",
                    "url": url,
                    "guid": f"trade-{n}",
                    "date": format_datetime(when),
                }
            )
            self.result.stories += 1
            self.due += [_Due(c, url, "story") for c in NEWS_CHANNELS]

    async def make_due(self) -> None:
        """Time passes for the sources: their interval since the last poll is over, so the
        run polls them at its first look (intervals are at least a minute)."""
        engine = create_async_engine(self.db_url)
        try:
            async with engine.begin() as conn:
                await conn.execute(
                    update(source_state).values(last_attempt=datetime.now(UTC) - timedelta(hours=2))
                )
        finally:
            await engine.dispose()

    async def add_digest(self) -> None:
        """A digest subscription whose digest fell due half an hour ago."""
        assert self.store is not None
        now = datetime.now(UTC)
        channel = self.rng.choice(JOBS_CHANNELS)
        sub = await self.store.add_subscription(
            Subscription(
                id=0,
                channel=channel,
                kind="jobs",
                mode="digest",
                digest_time=f"{(now - timedelta(minutes=30)):%H:%M}",
                tz="UTC",
                send_empty_digest=True,
                created_by="soak",
                created_at=now - timedelta(days=2),
            )
        )
        self.result.digests += 1
        self.due.append(_Due(channel, _digest_marker(sub.id), "digest"))

    # -- processes ------------------------------------------------------------------

    async def start_run(self) -> asyncio.subprocess.Process:
        with self.run_log.open("ab") as logf:
            logf.write(f"\n=== start {time.time():.3f}\n".encode())
            return await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bot",
                "--config",
                str(self.config),
                "--log-level",
                "INFO",
                "run",
                cwd=self.workdir,
                env=self.env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=logf,
                stderr=logf,
            )

    async def poll_process(self) -> asyncio.subprocess.Process:
        self.result.poll_processes += 1
        with (self.workdir / "poll.log").open("ab") as logf:
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bot",
                "--config",
                str(self.config),
                "poll",
                "--once",
                cwd=self.workdir,
                env=self.env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=logf,
                stderr=logf,
            )
        self.pollers.append(proc)
        return proc

    async def reap_pollers(self) -> None:
        for proc in self.pollers:
            try:
                await asyncio.wait_for(proc.wait(), timeout=60)
            except TimeoutError:
                proc.kill()
                await proc.wait()
                self.result.problems.append("a 'poll --once' process hung for 60 s")
        self.pollers.clear()

    # -- one life ---------------------------------------------------------------------

    def _sent_count(self) -> int:
        creates = sum(
            1
            for r in self.discord.requests
            if r.method == "POST" and r.path.endswith("/messages") and "/channels/" in r.path
        )
        return creates + len(self.slack.calls_to("chat.postMessage"))

    async def life(self, strategy: str, life_range: tuple[float, float]) -> str:
        """Start ``marquee run``, kill it as ``strategy`` says; returns the kill point."""
        for _ in range(self.rng.randint(1 if strategy.startswith("send") else 0, 1)):
            self.add_item()
        if strategy == "digest" or self.rng.random() < 0.15:
            await self.add_digest()
        if strategy == "poll" or strategy.startswith("send") or self.rng.random() < 0.5:
            await self.make_due()
        started = time.monotonic()
        proc = await self.start_run()
        side: list[asyncio.Task[None]] = []
        if strategy in ("timer", "send") and self.rng.random() < 0.5:  # not when forced
            side.append(asyncio.create_task(self._side_poll()))
        if self.rng.random() < 0.3:
            side.append(asyncio.create_task(self._later(self.rng.uniform(0.5, 4), self.add_item)))
        point = strategy
        try:
            if strategy == "timer":
                await self._wait_or_exit(proc, self.rng.uniform(*life_range))
            elif strategy.startswith("send"):
                point = await self._kill_point_send(strategy)
            elif strategy == "poll":
                seen = self.boards.arrivals
                caught = await self.boards.wait_until(
                    lambda: self.boards.arrivals > seen and self.boards.in_flight > 0, CATCH_WITHIN
                )
                point = "poll" if caught else "timer"
            elif strategy == "digest":
                seen = len(self.slack.calls_to("auth.test"))
                caught = await self.slack.wait_for(
                    lambda: len(self.slack.calls_to("auth.test")) > seen, CATCH_WITHIN
                )
                if caught:
                    await asyncio.sleep(self.rng.uniform(0, 0.3))  # the fault's timing
                else:
                    point = "timer"
        except TimeoutError:
            point = "timer"
        if proc.returncode is not None:
            self.result.problems.append(
                f"'marquee run' exited by itself with {proc.returncode} after "
                f"{time.monotonic() - started:.1f} s (see {self.run_log})"
            )
        else:
            proc.send_signal(signal.SIGKILL)
            await proc.wait()
        for task in side:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.reap_pollers()
        return point

    async def _kill_point_send(self, strategy: str) -> str:
        """Wait for a message to a platform; returns the kill point reached.

        ``send-held`` (optionally ``:discord`` or ``:slack``): the platform created the
        message and keeps its answer, so Marquee cannot know it went out.
        ``send-answered``: the answer left 0-20 ms before the kill, around the moment
        Marquee marks the row sent."""
        mode = strategy.split(":")[0]
        only = strategy.split(":")[1] if ":" in strategy else ""
        if mode == "send":
            mode = self.rng.choice(("send-held", "send-answered"))
        if mode == "send-held":
            self.discord.hold = int(only in ("", "discord"))
            self.slack.hold = int(only in ("", "slack"))
            before = self.discord.held + self.slack.held
            try:
                caught = await self._discord_or_slack(
                    lambda: self.discord.held + self.slack.held > before, CATCH_WITHIN
                )
            finally:
                self.discord.hold = self.slack.hold = 0
            return "send-held" if caught else "timer"
        before = self._sent_count()
        if not await self._discord_or_slack(lambda: self._sent_count() > before, CATCH_WITHIN):
            return "timer"
        await asyncio.sleep(self.rng.uniform(0, 0.02))  # the fault's timing
        return "send-answered"

    async def _discord_or_slack(self, predicate: Callable[[], bool], within: float) -> bool:
        """Wait until ``predicate`` holds after a request to either platform."""
        tasks = [
            asyncio.create_task(self.discord.wait_until(predicate, within=within)),
            asyncio.create_task(self.slack.wait_for(predicate, within=within)),
        ]
        done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        for t in pending:
            t.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        return any(not t.cancelled() and t.exception() is None for t in done)

    async def _wait_or_exit(self, proc: asyncio.subprocess.Process, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(proc.wait(), timeout=seconds)

    async def _later(self, seconds: float, action: Callable[[], Any]) -> None:
        await asyncio.sleep(seconds)  # the world changes at a random moment
        result = action()
        if isinstance(result, Awaitable):
            await result

    async def _side_poll(self) -> None:
        await asyncio.sleep(self.rng.uniform(0, 2))  # a random moment of the run's life
        proc = await self.poll_process()
        if self.rng.random() < 0.3:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(proc.wait()), self.rng.uniform(0.3, 2.5))
            if proc.returncode is None:
                proc.send_signal(signal.SIGKILL)
                self.result.poll_kills += 1

    # -- the end ----------------------------------------------------------------------

    def _messages(self) -> dict[str, list[tuple[str, str]]]:
        """channel -> [(identity of the message, its JSON)] in the order they arrived."""
        out: dict[str, list[tuple[str, str]]] = {}
        for cid in (CHANNEL_ID, OTHER_CHANNEL_ID):
            out[f"discord:{cid}"] = [
                (str(m.get("nonce", "")), json.dumps(m, ensure_ascii=False))
                for m in self.discord.channel_messages(cid)
            ]
        for cid in (SLACK_JOBS, SLACK_NEWS):
            sent = sorted(self.slack.messages.get(cid, {}).items(), key=lambda kv: float(kv[0]))
            out[f"slack:{TEAM_ID}/{cid}"] = [
                (ts, json.dumps(m, ensure_ascii=False)) for ts, m in sent
            ]
        return out

    def _all_arrived(self) -> bool:
        messages = self._messages()
        return all(any(due.marker in body for _, body in messages[due.channel]) for due in self.due)

    async def finish(self, within: float) -> None:
        """One last run, not killed, and a last poll: everything due must arrive."""
        await self.make_due()
        began = time.monotonic()
        backlog = self._sent_count()
        proc = await self.start_run()
        try:
            poller = await self.poll_process()
            await self.reap_pollers()
            self.log(f"the last poll ended {time.monotonic() - began:.1f} s after the start")
            if poller.returncode != 0:
                self.result.problems.append(f"the last 'poll --once' exited {poller.returncode}")
            arrived = await self._discord_or_slack(self._all_arrived, within)
            deadline = time.monotonic() + within
            while arrived and not self._all_arrived():  # the other platform may lag
                if time.monotonic() > deadline:
                    arrived = False
                    break
                await self._discord_or_slack(self._all_arrived, deadline - time.monotonic())
            if not arrived:
                self.result.problems.append(f"not every alert arrived within {within:.0f} s")
            else:
                self.log(
                    f"everything arrived {time.monotonic() - began:.1f} s after the start "
                    f"({self._sent_count() - backlog} messages sent at the end)"
                )
                await self._outbox_settled(within)
        finally:
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    await asyncio.wait_for(proc.wait(), timeout=30)
                except TimeoutError:
                    proc.kill()
                    await proc.wait()
                    self.result.problems.append("'marquee run' did not stop on SIGTERM")
            if proc.returncode not in (0, -signal.SIGKILL):
                self.result.problems.append(f"the last run exited {proc.returncode}")

    async def _outbox_settled(self, within: float) -> None:
        """Poll (with a deadline) until no platform row is pending any more."""
        deadline = time.monotonic() + within
        while True:
            rows = await self._outbox()
            pending = [r for r in rows if r["status"] == "pending"]
            if not pending:
                return
            if time.monotonic() > deadline:
                self.result.problems.append(f"{len(pending)} outbox rows still pending")
                return
            await asyncio.sleep(0.1)  # polling the database with a deadline

    async def _outbox(self) -> list[dict[str, Any]]:
        engine = create_async_engine(self.db_url)
        try:
            async with engine.connect() as conn:
                rows = (await conn.execute(select(outbox).order_by(outbox.c.id))).mappings()
                return [dict(r) for r in rows]
        finally:
            await engine.dispose()

    async def verify(self) -> None:
        """Compare the fakes' records with what was due."""
        rows = await self._outbox()
        by_channel_marker: dict[tuple[str, str], int] = {}
        messages = self._messages()
        for row in rows:
            if row["status"] == "failed":
                self.result.problems.append(
                    f"outbox row {row['id']} ({row['dedupe_key']}) failed: {row['last_error']}"
                )
        for name, figures in (("discord", self.result.discord), ("slack", self.result.slack)):
            dues = [d for d in self.due if d.channel.startswith(name + ":")]
            figures.due = len(dues)
            markers = {(d.channel, d.marker) for d in dues}
            for channel in {d.channel for d in dues} | {
                c for c in messages if c.startswith(name + ":")
            }:
                wanted = [d.marker for d in dues if d.channel == channel]
                order: list[str] = []
                seen: Counter[str] = Counter()
                for _ident, body in messages[channel]:
                    hits = [m for m in wanted if m in body]
                    if len(hits) != 1:
                        figures.unexpected += 1
                        self.result.problems.append(
                            f"{channel}: a message matching {len(hits)} due alerts: {body[:300]}"
                        )
                        continue
                    seen[hits[0]] += 1
                    if seen[hits[0]] == 1:
                        order.append(hits[0])
                for marker in wanted:
                    if seen[marker]:
                        figures.delivered += 1
                        figures.duplicates += seen[marker] - 1
                    else:
                        self.result.problems.append(f"{channel}: never delivered: {marker}")
                ranks = self._row_order(rows, channel)
                by_channel_marker.update({(channel, m): r for m, r in ranks.items()})
                sequence = [ranks.get(m, -1) for m in order]
                figures.out_of_order += sum(1 for a, b in itertools.pairwise(sequence) if a > b)
            assert markers  # every platform had something due
        self.result.discord.resends_dropped = self.discord.nonce_repeats()
        if self.result.discord.duplicates:
            self.result.problems.append(
                f"Discord got {self.result.discord.duplicates} duplicate(s): the nonce failed"
            )
        if self.result.slack.duplicates > self.result.kills:
            self.result.problems.append(
                f"Slack got {self.result.slack.duplicates} duplicates for {self.result.kills} kills"
            )
        for figures, name in ((self.result.discord, "discord"), (self.result.slack, "slack")):
            if figures.out_of_order:
                self.result.problems.append(
                    f"{name}: {figures.out_of_order} message(s) out of event order"
                )

    def _row_order(self, rows: list[dict[str, Any]], channel: str) -> dict[str, int]:
        """marker -> the id of the outbox row that carries it (the event's order)."""
        ranks: dict[str, int] = {}
        for row in rows:
            if row["channel"] != channel or row["event"] not in ("new", "digest"):
                continue
            marker = self._marker_of(row)
            if marker and marker not in ranks:
                ranks[marker] = row["id"]
        return ranks

    def _marker_of(self, row: dict[str, Any]) -> str | None:
        if row["item_kind"] == "digest":
            return _digest_marker(row["subscription_id"])
        return self.item_urls.get((row["item_kind"], row["item_id"]))

    async def load_item_urls(self) -> None:
        assert self.store is not None
        self.item_urls: dict[tuple[str, int], str] = {}
        for row in await self._outbox():
            key = (row["item_kind"], row["item_id"])
            if row["item_id"] is None or key in self.item_urls:
                continue
            if row["item_kind"] == "posting":
                stored = await self.store.posting(row["item_id"])
                if stored is not None:
                    self.item_urls[key] = stored.posting.url
            elif row["item_kind"] == "story":
                story = await self.store.story(row["item_id"])
                if story is not None:
                    self.item_urls[key] = story.story.url


async def soak(
    workdir: Path,
    *,
    kills: int,
    seed: int,
    db_url: str | None = None,
    life_range: tuple[float, float] = (0.3, 5.0),
    finish_within: float = 90.0,
    first: tuple[str, ...] = (),
    log: Callable[[str], None] = lambda _line: None,
) -> SoakResult:
    """Run the soak in ``workdir``; see the module docstring. ``first`` names the
    strategies of the first lives (e.g. ``"send-held:discord"``), the rest are drawn."""
    rng = random.Random(seed)
    db_url = db_url or f"sqlite+aiosqlite:///{workdir / 'marquee.db'}"
    s = _Soak(workdir, db_url, rng, log)
    started = time.monotonic()
    async with _Boards(rng) as boards, HoldingDiscord() as discord, HoldingSlack() as slack:
        s.boards, s.discord, s.slack = boards, discord, slack
        s.gh = FakeGreenhouse(boards, "acme")
        s.lever = FakeLever(boards, "acme")
        boards.route("GET", FEED_PATH, s._feed)
        for i in range(3):  # the feed's baseline
            s.story_items.append(
                {
                    "title": f"Baseline story {i} on the guild talks",
                    "url": f"https://trade.example.com/base/{i}",
                    "guid": f"base-{i}",
                    "date": format_datetime(datetime.now(UTC)),
                }
            )
        s.write_config(boards, discord, slack)
        # the silent baseline, then the channels' subscriptions
        proc = await s.poll_process()
        await s.reap_pollers()
        if proc.returncode != 0:
            raise RuntimeError(f"the baseline poll failed; see {workdir / 'poll.log'}")
        async with open_store(db_url) as store:
            s.store = store
            for channel in JOBS_CHANNELS:
                await store.add_subscription(
                    Subscription(id=0, channel=channel, kind="jobs", created_by="soak")
                )
            for channel in NEWS_CHANNELS:
                await store.add_subscription(
                    Subscription(id=0, channel=channel, kind="news", created_by="soak")
                )
            for n in range(kills):
                strategy = first[n] if n < len(first) else rng.choice(STRATEGIES)
                began = time.monotonic()
                point = await s.life(strategy, life_range)
                s.result.kills += 1
                s.result.kill_points[point] += 1
                took = time.monotonic() - began
                log(f"kill {n + 1}/{kills}: {strategy} -> {point} after {took:.1f} s")
            began = time.monotonic()
            await s.finish(finish_within)
            log(f"finished in {time.monotonic() - began:.1f} s")
            await s.load_item_urls()
            await s.verify()
    s.result.seconds = time.monotonic() - started
    return s.result


async def _pg_database() -> tuple[str, Callable[[], Awaitable[None]]]:
    import asyncpg

    dsn = os.environ.get("MARQUEE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
    admin = await asyncpg.connect(dsn)
    name = f"marquee_soak_{os.getpid()}"
    await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    await admin.execute(f'CREATE DATABASE "{name}"')
    base = dsn.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)

    async def drop() -> None:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()

    return f"{base}/{name}", drop


async def _main(args: argparse.Namespace) -> int:
    workdir = Path(tempfile.mkdtemp(prefix="marquee-soak-"))
    drop = None
    db_url = None
    if args.database == "postgresql":
        db_url, drop = await _pg_database()
    try:
        result = await soak(
            workdir,
            kills=args.kills,
            seed=args.seed,
            db_url=db_url,
            # the backlog of the last run goes out at Slack's pace: a second a message
            finish_within=120 + 2 * args.kills,
            log=lambda line: print(line, flush=True) if args.verbose else None,
        )
    finally:
        if drop is not None:
            await drop()
    print(result.summary())
    print(f"logs in {workdir}")
    return 1 if result.problems else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.crash_soak", description=__doc__)
    parser.add_argument("--kills", type=int, default=200)
    parser.add_argument("--seed", type=int, default=int(time.time()))
    parser.add_argument("--database", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args(argv)
    print(f"seed {args.seed}", flush=True)
    return asyncio.run(_main(args))


if __name__ == "__main__":
    sys.exit(main())
