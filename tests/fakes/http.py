"""A local HTTP server for tests: routes, recorded requests and injectable faults.

Every fake (job boards, feeds, Discord REST, Slack Web API) builds on this: a real
aiohttp server on 127.0.0.1 with an ephemeral port, so the code under test talks real
HTTP through the same URL settings users have (``base_url``, ``api_base``).

Faults are queued per path and consumed in order::

    server.fail("/v1/boards/acme/jobs", Fault.status(500))
    server.fail("/v1/boards/acme/jobs", Fault.retry_after(429, "7"))
"""

from __future__ import annotations

import asyncio
import gzip
import json
from collections import defaultdict, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

__all__ = ["FakeHTTPServer", "Fault", "Recorded"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Recorded:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass(frozen=True)
class Fault:
    """A canned misbehaviour for one request."""

    kind: str
    status: int = 500
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    seconds: float = 0.0

    @classmethod
    def http(cls, status: int, body: bytes = b"error", **headers: str) -> Fault:
        return cls("status", status=status, body=body, headers=dict(headers))

    @classmethod
    def retry_after(cls, status: int, value: str) -> Fault:
        return cls("status", status=status, body=b"slow down", headers={"Retry-After": value})

    @classmethod
    def truncated(cls, body: bytes) -> Fault:
        """Send the first half of ``body`` as if it were whole."""
        return cls("truncated", status=200, body=body[: len(body) // 2])

    @classmethod
    def oversized(cls, size: int) -> Fault:
        return cls("oversized", status=200, body=b" " * size)

    @classmethod
    def gzip_bomb(cls, size: int) -> Fault:
        return cls("gzip", status=200, body=gzip.compress(b"\0" * size, compresslevel=9))

    @classmethod
    def drip(cls, seconds_per_byte: float, body: bytes = b"{" * 1000) -> Fault:
        """Send one byte every ``seconds_per_byte`` seconds."""
        return cls("drip", status=200, body=body, seconds=seconds_per_byte)

    @classmethod
    def reset(cls) -> Fault:
        """Close the connection without an answer."""
        return cls("reset")


class FakeHTTPServer:
    """``async with FakeHTTPServer() as server:`` then ``server.url``."""

    def __init__(self) -> None:
        self._routes: dict[tuple[str, str], Handler] = {}
        self._prefix_routes: list[tuple[str, str, Handler]] = []
        self._faults: dict[str, deque[Fault]] = defaultdict(deque)
        self.requests: list[Recorded] = []
        self._runner: web.AppRunner | None = None
        self.url = ""
        self.port = 0

    # -- routes -------------------------------------------------------------------
    def route(self, method: str, path: str, handler: Handler) -> None:
        """Serve ``handler`` for exactly ``path`` (``path`` may end in ``*`` for a prefix)."""
        if path.endswith("*"):
            self._prefix_routes.append((method.upper(), path[:-1], handler))
        else:
            self._routes[(method.upper(), path)] = handler

    def json(
        self,
        path: str,
        payload: Any,
        *,
        method: str = "GET",
        status: int = 200,
        headers: dict[str, str] | None = None,
    ) -> None:
        """Serve a fixed JSON document (re-read at each request, so tests may replace it)."""
        body = json.dumps(payload).encode()

        async def handler(request: web.Request) -> web.Response:
            return web.Response(
                body=body, status=status, content_type="application/json", headers=headers
            )

        self.route(method, path, handler)

    def body(
        self,
        path: str,
        content: bytes,
        *,
        content_type: str = "application/octet-stream",
        headers: dict[str, str] | None = None,
        method: str = "GET",
    ) -> None:
        async def handler(request: web.Request) -> web.Response:
            return web.Response(
                body=content, headers={"Content-Type": content_type, **(headers or {})}
            )

        self.route(method, path, handler)

    def fail(self, path: str, *faults: Fault) -> None:
        """Queue faults for the next requests to ``path``."""
        self._faults[path].extend(faults)

    def requests_to(self, path: str) -> list[Recorded]:
        return [r for r in self.requests if r.path == path]

    # -- lifecycle ----------------------------------------------------------------
    async def __aenter__(self) -> FakeHTTPServer:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        self._runner = web.AppRunner(app, access_log=None, handler_cancellation=True)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None and server.sockets
        self.port = server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        self.requests.append(
            Recorded(request.method, request.path, dict(request.query), dict(request.headers), body)
        )
        queue = self._faults.get(request.path)
        if queue:
            return await self._fault(request, queue.popleft())
        handler = self._routes.get((request.method, request.path))
        if handler is None:
            for method, prefix, h in self._prefix_routes:
                if method in (request.method, "*") and request.path.startswith(prefix):
                    handler = h
                    break
        if handler is None:
            missing = f"no fake route for {request.method} {request.path}"
            return web.Response(status=404, text=missing)
        return await handler(request)

    async def _fault(self, request: web.Request, fault: Fault) -> web.StreamResponse:
        if fault.kind == "status":
            return web.Response(status=fault.status, body=fault.body, headers=fault.headers)
        if fault.kind == "reset":
            assert request.transport is not None
            request.transport.close()
            return web.Response(status=500)
        if fault.kind == "gzip":
            return web.Response(
                body=fault.body,
                headers={"Content-Encoding": "gzip", "Content-Type": "application/json"},
            )
        if fault.kind == "truncated":
            return web.Response(body=fault.body, content_type="application/json")
        if fault.kind == "oversized":
            resp = web.StreamResponse(headers={"Content-Type": "application/json"})
            await resp.prepare(request)
            for start in range(0, len(fault.body), 65536):
                await resp.write(fault.body[start : start + 65536])
            return resp
        if fault.kind == "drip":
            resp = web.StreamResponse(headers={"Content-Type": "application/json"})
            await resp.prepare(request)
            for byte in fault.body:
                await resp.write(bytes([byte]))
                await asyncio.sleep(fault.seconds)  # the fault itself is slowness
            return resp
        raise AssertionError(f"unknown fault {fault.kind}")
