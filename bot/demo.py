"""``marquee demo``: the whole flow, offline, in a few seconds.

Serves the bundled sample boards (one per source kind, in each API's real shape) and
feeds on 127.0.0.1, points sources at them through ``base_url`` — the same setting
users have — and runs Marquee against a throw-away SQLite database:

1. a first poll records a silent baseline;
2. the boards then list new postings (among them Netflix's "Product Manager – Machine
   Learning Platform" at $300,000–$900,000) and the feeds new stories;
3. a second poll finds exactly those and prints their alerts to the console: one per
   posting, and one per story however many outlets tell it.
"""

from __future__ import annotations

import json
import re
import sys
import tempfile
import time
from dataclasses import dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any

from aiohttp import web

from bot.app import open_app, poll_cycle
from bot.commands import deliver_console, format_summary
from bot.config import HttpConfig, parse_config
from bot.platforms.console import ConsolePlatform
from bot.render.console import render
from handlers.alerts import posting_item
from handlers.reply import Reply

__all__ = ["DemoServer", "run_demo"]

# Single-document boards: (file, kind, source options, request path, list key, id key).
_SINGLE = (
    (
        "greenhouse.json",
        {"name": "anthropic", "kind": "greenhouse", "company": "Anthropic", "board": "anthropic"},
        "/v1/boards/anthropic/jobs",
        "jobs",
        "id",
    ),
    (
        "lever.json",
        {"name": "spotify", "kind": "lever", "company": "Spotify", "site": "spotify"},
        "/v0/postings/spotify",
        None,
        "id",
    ),
    (
        "ashby.json",
        {"name": "openai", "kind": "ashby", "company": "OpenAI", "board": "openai"},
        "/posting-api/job-board/openai",
        "jobs",
        "id",
    ),
    (
        "workable.json",
        {
            "name": "huggingface",
            "kind": "workable",
            "company": "Hugging Face",
            "account": "huggingface",
        },
        "/api/v1/widget/accounts/huggingface",
        "jobs",
        "shortcode",
    ),
)
_MANIFESTS = ("workday", "smartrecruiters", "eightfold")
_FEEDS = (
    ("deadline", "feed", "deadline.xml", "application/rss+xml"),
    ("thewrap", "feed", "thewrap.xml", "application/rss+xml"),
    ("variety-ai", "feed", "variety-ai.atom.xml", "application/atom+xml"),
    ("gnews-strike", "googlenews", "googlenews-strike.xml", "application/rss+xml"),
)
_ITEM = re.compile(rb"<(item|entry)\b.*?</\1>\s*", re.S)
# The story every outlet tells (a tentative deal) breaks between the two polls.
_HELD_STORY = re.compile(rb"<title[^>]*>(?:<!\[CDATA\[)?[^<]*tentative", re.I)


def _without_held_story(feed: bytes) -> bytes:
    return _ITEM.sub(lambda m: b"" if _HELD_STORY.search(m.group(0)) else m.group(0), feed)


@dataclass
class _Route:
    body: bytes
    baseline: bytes
    content_type: str = "application/json"


@dataclass
class DemoServer:
    """Sample boards and feeds on 127.0.0.1. ``round`` 1 serves the baselines."""

    data: Path
    round: int = 1
    routes: dict[tuple[str, str], _Route] = field(default_factory=dict)
    sources: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""
    _runner: web.AppRunner | None = None

    def _load(self) -> None:
        for file, src, path, key, id_key in _SINGLE:
            body = (self.data / file).read_bytes()
            doc = json.loads(body)
            jobs = doc[key] if key else doc
            held = jobs[0][id_key]  # the board's first posting appears on the second poll
            kept = [j for j in jobs if j[id_key] != held]
            baseline = {**doc, key: kept} if key else kept
            self.routes[("GET", path)] = _Route(body, json.dumps(baseline).encode())
            self.sources.append(dict(src))
        for name in _MANIFESTS:
            manifest = json.loads((self.data / name / "board.json").read_bytes())
            for route in manifest["routes"]:
                body = (self.data / name / route["file"]).read_bytes()
                base_file = route.get("baseline_file")
                baseline = (self.data / name / base_file).read_bytes() if base_file else body
                self.routes[(route["method"], route["path"])] = _Route(body, baseline)
            self.sources.append(dict(manifest["source"]))
        for name, kind, file, ctype in _FEEDS:
            body = (self.data / "feeds" / file).read_bytes()
            baseline = _without_held_story(body)
            path = "/rss/search" if kind == "googlenews" else f"/feeds/{file}"
            self.routes[("GET", path)] = _Route(body, baseline, ctype)
            src: dict[str, Any] = {"name": name, "kind": kind}
            if kind == "googlenews":
                src["query"] = '"SAG-AFTRA" OR "WGA" strike'
            else:
                src["url"] = f"https://demo.invalid/feeds/{file}"
            self.sources.append(src)

    async def _handle(self, request: web.Request) -> web.Response:
        route = self.routes.get((request.method, request.path))
        if route is None:
            return web.Response(status=404, text="not in the demo data")
        body = route.baseline if self.round == 1 else route.body
        return web.Response(body=body, headers={"Content-Type": route.content_type})

    async def __aenter__(self) -> DemoServer:
        self._load()
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def config_sources(self) -> list[dict[str, Any]]:
        return [{**s, "base_url": self.url} for s in self.sources]


def _say(text: str) -> None:
    print(f"\n\x1b[1m» {text}\x1b[0m" if sys.stdout.isatty() else f"\n» {text}", flush=True)


async def run_demo(*, keep_db: Path | None = None) -> int:
    """Run the offline demo; returns the exit code."""
    started = time.perf_counter()
    data = Path(str(resources.files("bot") / "demo_data"))
    with tempfile.TemporaryDirectory(prefix="marquee-demo-") as tmp:
        db = keep_db or Path(tmp) / "demo.db"
        async with DemoServer(data) as server:
            config = parse_config(
                {
                    "database": {"url": f"sqlite+aiosqlite:///{db}"},
                    "sources": server.config_sources(),
                },
                env={},
            )
            config = replace(
                config, http=replace(HttpConfig(), per_host_spacing=0.0, per_host_concurrency=16)
            )
            console = ConsolePlatform()
            async with open_app(config) as app:
                await app.ensure_console_subscription()
                _say(
                    f"Serving {len(server.sources)} sample boards and feeds on {server.url}; "
                    "first poll (a silent baseline: nothing is alerted)"
                )
                print(format_summary(await poll_cycle(app)))

                server.round = 2
                _say("The boards list new postings and the feeds new stories; second poll")
                summaries = await poll_cycle(app)
                await deliver_console(app, console)
                print(format_summary(summaries))

                top = await app.store.listings(limit=5)
                _say("Top AI/ML roles by pay (marquee listings)")
                for row in top:
                    print(render(Reply(items=(posting_item(row),)), colour=console.colour))
                    print()
    _say(
        f"Demo finished in {time.perf_counter() - started:.1f}s. Next: 'marquee chat' to try "
        "the slash commands, or 'marquee run' against the real boards."
    )
    return 0
