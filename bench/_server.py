"""The local server the scenarios poll: replays prepared bodies, nothing more.

Run in its own process (``python -m bench._server DIR [DIR ...]``) so its CPU is not
counted as Marquee's: it prints ``READY <url>`` and serves until its standard input
closes. Each request costs a dictionary look-up and a copy out of a memory map.

Requests are keyed by method, path and paging offset (``skip``, ``offset``, ``start`` in
the query, or ``offset`` in a Workday POST body), plus ``@domain`` where the query names
one (Eightfold sites share a path). Validators: a route prepared with an ETag answers
``If-None-Match`` with 304, as the fake Greenhouse board does. ``GET /_bench/stats``
reports how many requests were served, answered 304 and missed (404: a request the data
did not foresee, which the scenarios treat as a failure).
"""

from __future__ import annotations

import asyncio
import json
import mmap
import sys
from pathlib import Path

from aiohttp import web

from bench._data import route_key

__all__ = ["ReplayServer", "request_key"]


def request_key(method: str, path: str, query: dict[str, str], body: bytes) -> str:
    """The prepared route a request asks for (see the module docstring)."""
    page = 0
    for name in ("skip", "offset", "start"):
        if name in query:
            try:
                page = int(query[name])
            except ValueError:
                page = -1
            break
    if method == "POST" and body:
        try:
            page = int(json.loads(body).get("offset", 0))
        except (ValueError, AttributeError, TypeError):
            page = -1
    if "domain" in query:
        path = f"{path}@{query['domain']}"
    return route_key(method, path, page)


class ReplayServer:
    """Serves the prepared routes of one or more data directories."""

    def __init__(self, directories: list[Path]) -> None:
        self.routes: dict[str, tuple[mmap.mmap, int, int, str, str | None]] = {}
        self._files = []
        for directory in directories:
            index = json.loads((directory / "index.json").read_text())
            handle = (directory / "bodies.bin").open("rb")
            self._files.append(handle)
            data = mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ)
            for key, r in index["routes"].items():
                self.routes[key] = (data, r["offset"], r["length"], r["content_type"], r["etag"])
        self.stats = {"served": 0, "not_modified": 0, "missed": 0, "bytes": 0}
        self.misses: list[str] = []

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if request.path == "/_bench/stats":
            return web.json_response({**self.stats, "miss_examples": self.misses[:5]})
        if request.path == "/_bench/reset":
            for k in self.stats:
                self.stats[k] = 0
            self.misses.clear()
            return web.json_response({"ok": True})
        body = await request.read() if request.method == "POST" else b""
        key = request_key(request.method, request.path, dict(request.query), body)
        route = self.routes.get(key)
        if route is None:
            self.stats["missed"] += 1
            if len(self.misses) < 20:
                self.misses.append(key)
            return web.Response(status=404, text="not in the prepared data")
        data, offset, length, ctype, etag = route
        if etag is not None and request.headers.get("If-None-Match") == etag:
            self.stats["not_modified"] += 1
            return web.Response(status=304, headers={"ETag": etag})
        self.stats["served"] += 1
        self.stats["bytes"] += length
        headers = {"Content-Type": ctype}
        if etag is not None:
            headers["ETag"] = etag
        return web.Response(body=data[offset : offset + length], headers=headers)


async def _serve(directories: list[Path]) -> None:
    server = ReplayServer(directories)
    app = web.Application(client_max_size=1024 * 1024)
    app.router.add_route("*", "/{tail:.*}", server.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    print(f"READY http://127.0.0.1:{port}", flush=True)
    loop = asyncio.get_running_loop()
    # Serve until the parent closes our standard input (or dies).
    await loop.run_in_executor(None, sys.stdin.read)
    await runner.cleanup()


if __name__ == "__main__":
    asyncio.run(_serve([Path(p) for p in sys.argv[1:]]))
