"""The polite HTTP client every source shares.

One ``httpx`` client (on aiohttp's transport, which measured ~4x the throughput of
httpx's own on this kind of machine: ../shared/MEASURED.md) with:

* connect/read timeouts and a cap on the *decoded* body size, so a gzip bomb or an
  endless body stops at the cap instead of filling memory;
* conditional GET: ETag / Last-Modified validators, and a SHA-256 of the body for
  servers that send neither, so an unchanged board is reported as ``not_modified``;
* per-host concurrency and spacing, and ``Retry-After`` surfaced as :class:`RateLimited`;
* an honest User-Agent.

Validators live in a plain dict the caller owns (one per source), so the pipeline can
persist them only after the source's poll succeeded.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
from httpx_aiohttp import HttpxAiohttpClient

from bot.errors import (
    HTTPStatusError,
    ParseError,
    RateLimited,
    TooLarge,
    TransportError,
    safe_url,
)

__all__ = ["HttpClient", "HttpSettings", "Response", "Validator", "parse_retry_after"]

_VERSION = "0.1.0"
USER_AGENT = f"Marquee/{_VERSION} (+https://github.com/marquee-bot/marquee; job and news alert bot)"


@dataclass(frozen=True, slots=True)
class HttpSettings:
    connect_timeout: float = 10.0
    read_timeout: float = 30.0
    total_timeout: float = 60.0  # a server that drips one byte a second still ends here
    max_body_bytes: int = 20 * 1024 * 1024
    per_host_concurrency: int = 4
    per_host_spacing: float = 0.0  # seconds between request starts to one host
    max_redirects: int = 5
    user_agent: str = USER_AGENT


@dataclass(frozen=True, slots=True)
class Validator:
    """What we remember about a URL to ask "has it changed?" next time."""

    etag: str | None = None
    last_modified: str | None = None
    sha256: str | None = None

    def to_json(self) -> dict[str, str]:
        return {
            k: v
            for k, v in (
                ("etag", self.etag),
                ("last_modified", self.last_modified),
                ("sha256", self.sha256),
            )
            if v
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Validator:
        return cls(data.get("etag"), data.get("last_modified"), data.get("sha256"))


@dataclass(frozen=True, slots=True)
class Response:
    url: str
    status: int
    headers: Mapping[str, str]
    content: bytes
    not_modified: bool = False

    def json(self) -> Any:
        """Decode the body as JSON, or raise :class:`ParseError` naming the URL."""
        try:
            return json.loads(self.content)
        except (ValueError, UnicodeDecodeError) as err:
            snippet = self.content[:80].decode("utf-8", "replace")
            raise ParseError(
                f"invalid JSON from {safe_url(self.url)}: {err}; body starts {snippet!r}"
            ) from err


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    now = time.time() if now is None else now
    return max(0.0, when.timestamp() - now)


@dataclass
class _Host:
    semaphore: asyncio.Semaphore
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    next_start: float = 0.0


class HttpClient:
    """The shared client. Use as ``async with HttpClient(settings) as http``."""

    def __init__(self, settings: HttpSettings | None = None) -> None:
        self.settings = settings or HttpSettings()
        self._client: httpx.AsyncClient | None = None
        self._hosts: dict[str, _Host] = {}

    async def __aenter__(self) -> HttpClient:
        s = self.settings
        self._client = HttpxAiohttpClient(
            timeout=httpx.Timeout(s.read_timeout, connect=s.connect_timeout),
            follow_redirects=True,
            max_redirects=s.max_redirects,
            headers={"User-Agent": s.user_agent, "Accept-Encoding": "gzip, deflate"},
            limits=httpx.Limits(max_connections=64, max_keepalive_connections=32),
            trust_env=False,
        )
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def get(
        self,
        url: str,
        *,
        params: Mapping[str, str | int] | None = None,
        headers: Mapping[str, str] | None = None,
        validators: MutableMapping[str, Validator] | None = None,
    ) -> Response:
        """GET ``url``. With ``validators``, ask conditionally and update them."""
        return await self.request("GET", url, params=params, headers=headers, validators=validators)

    async def post_json(
        self,
        url: str,
        payload: Any,
        *,
        headers: Mapping[str, str] | None = None,
        validators: MutableMapping[str, Validator] | None = None,
    ) -> Response:
        """POST a JSON body (Workday's CXS API lists jobs this way)."""
        hdrs = {"Content-Type": "application/json", "Accept": "application/json"}
        hdrs.update(headers or {})
        body = json.dumps(payload, separators=(",", ":")).encode()
        return await self.request("POST", url, content=body, headers=hdrs, validators=validators)

    async def request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, str | int] | None = None,
        headers: Mapping[str, str] | None = None,
        content: bytes | None = None,
        validators: MutableMapping[str, Validator] | None = None,
    ) -> Response:
        if self._client is None:
            raise RuntimeError("HttpClient used outside 'async with'")
        request_url = str(httpx.URL(url, params=params)) if params else url
        # POST bodies are part of what identifies a listing page (Workday's offset).
        cache_key = request_url if content is None else f"{request_url} {content.decode()}"
        previous = validators.get(cache_key) if validators is not None else None
        hdrs = dict(headers or {})
        if previous is not None and method == "GET":
            if previous.etag:
                hdrs["If-None-Match"] = previous.etag
            if previous.last_modified:
                hdrs["If-Modified-Since"] = previous.last_modified

        host = self._host(request_url)
        async with host.semaphore:
            await self._space(host)
            try:
                async with asyncio.timeout(self.settings.total_timeout):
                    status, resp_headers, body = await self._send(
                        method, request_url, hdrs, content
                    )
            except TimeoutError as err:
                raise TransportError(
                    f"no complete answer within {self.settings.total_timeout:g}s",
                    url=safe_url(request_url),
                ) from err

        if status == 304 and previous is not None:
            return Response(request_url, status, resp_headers, b"", not_modified=True)
        if status in (429, 503):
            retry_after = parse_retry_after(resp_headers.get("retry-after"))
            raise RateLimited(status, retry_after, url=safe_url(request_url))
        if status >= 400:
            raise HTTPStatusError(status, url=safe_url(request_url))

        if validators is None:  # not a conditional request: nothing to compare or keep
            return Response(request_url, status, resp_headers, body)
        digest = hashlib.sha256(body).hexdigest()
        unchanged = previous is not None and previous.sha256 == digest
        validators[cache_key] = Validator(
            resp_headers.get("etag"), resp_headers.get("last-modified"), digest
        )
        return Response(request_url, status, resp_headers, body, not_modified=unchanged)

    async def _send(
        self, method: str, url: str, headers: Mapping[str, str], content: bytes | None
    ) -> tuple[int, dict[str, str], bytes]:
        assert self._client is not None
        cap = self.settings.max_body_bytes
        try:
            async with self._client.stream(method, url, headers=headers, content=content) as r:
                declared = r.headers.get("content-length")
                if declared and declared.isdigit() and int(declared) > cap:
                    raise TooLarge(cap, url=safe_url(url))
                chunks: list[bytes] = []
                size = 0
                async for chunk in r.aiter_bytes():
                    size += len(chunk)
                    if size > cap:
                        raise TooLarge(cap, url=safe_url(url))
                    chunks.append(chunk)
                headers_out = {k.lower(): v for k, v in r.headers.items()}
                return r.status_code, headers_out, b"".join(chunks)
        except httpx.TooManyRedirects as err:
            raise TransportError("too many redirects", url=safe_url(url)) from err
        except httpx.DecodingError as err:
            raise TransportError(f"undecodable body: {err}", url=safe_url(url)) from err
        except (httpx.TransportError, OSError) as err:
            raise TransportError(_describe(err), url=safe_url(url)) from err

    def _host(self, url: str) -> _Host:
        netloc = urlsplit(url).netloc.lower()
        host = self._hosts.get(netloc)
        if host is None:
            limit = asyncio.Semaphore(self.settings.per_host_concurrency)
            host = self._hosts[netloc] = _Host(limit)
        return host

    async def _space(self, host: _Host) -> None:
        spacing = self.settings.per_host_spacing
        if spacing <= 0:
            return
        async with host.lock:
            now = time.monotonic()
            wait = host.next_start - now
            host.next_start = max(now, host.next_start) + spacing
        if wait > 0:
            await asyncio.sleep(wait)


def _describe(err: Exception) -> str:
    """What went wrong, in words. (The aiohttp transport reports a failed DNS look-up or
    a refused connection as ``ConnectTimeout``; the message tells which it was.)"""
    detail = str(err)
    if isinstance(err, httpx.ConnectError | httpx.ConnectTimeout | ConnectionError):
        what = "cannot connect"
    elif isinstance(err, httpx.TimeoutException | TimeoutError):
        what = "timed out"
    elif isinstance(err, httpx.RemoteProtocolError | httpx.ReadError):
        what = "connection broken"
    else:
        what = type(err).__name__
    return f"{what}: {detail}" if detail else what
