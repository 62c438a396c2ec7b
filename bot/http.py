"""The polite HTTP client every source shares.

One ``httpx`` client (on aiohttp's transport, which measured ~4x the throughput of
httpx's own on this kind of machine: ../shared/MEASURED.md) with:

* connect/read timeouts and a cap on the *decoded* body size, so a gzip bomb or an
  endless body stops at the cap instead of filling memory;
* conditional GET: ETag / Last-Modified validators, and an XXH3-128 hash of the body for
  servers that send neither, so an unchanged board is reported as ``not_modified``;
* per-host concurrency and spacing, and ``Retry-After`` surfaced as :class:`RateLimited`;
* an honest User-Agent.

Most polls find their board unchanged, and most of an unchanged board's bytes are a
body that is only hashed (bench/README.md, "Unchanged re-poll"): the body is hashed as
it arrives and kept as the chunks it came in, joined only when a caller reads
:attr:`Response.content`, which a source that learns its listing is unchanged often
never does.

Validators live in a plain dict the caller owns (one per source), so the pipeline can
persist them only after the source's poll succeeded.
"""

from __future__ import annotations

import asyncio
import functools
import json
import time
from collections.abc import Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import httpx
import xxhash
from httpx_aiohttp import HttpxAiohttpClient
from httpx_aiohttp.transport import AiohttpResponseStream, AiohttpTransport

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
    #: XXH3-128 of the decoded body, hex (see :data:`_DIGEST`)
    digest: str | None = None

    def to_json(self) -> dict[str, str]:
        return {
            k: v
            for k, v in (
                ("etag", self.etag),
                ("last_modified", self.last_modified),
                (_DIGEST_KEY, self.digest),
            )
            if v
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Validator:
        # A digest stored under another name (the "sha256" of earlier versions) is not
        # compared: such a body is parsed once more, then remembered by this one.
        return cls(data.get("etag"), data.get("last_modified"), data.get(_DIGEST_KEY))


class Response:
    """One answer. ``content`` is the body (empty for a 304); it may be given as the
    chunks it arrived in, joined on first use."""

    __slots__ = ("_body", "headers", "not_modified", "status", "url")

    def __init__(
        self,
        url: str,
        status: int,
        headers: Mapping[str, str],
        content: bytes | Sequence[bytes] = b"",
        not_modified: bool = False,
    ) -> None:
        self.url = url
        self.status = status
        self.headers = headers
        self.not_modified = not_modified
        self._body = content

    @property
    def content(self) -> bytes:
        body = self._body
        if not isinstance(body, bytes):
            # one chunk is returned as it is, without a copy
            body = self._body = b"".join(body)
        return body

    def __repr__(self) -> str:
        return (
            f"Response({self.url!r}, {self.status}, not_modified={self.not_modified}, "
            f"{len(self.content)} bytes)"
        )

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
        limits = httpx.Limits(max_connections=64, max_keepalive_connections=32)
        # aiohttp's transport as HttpxAiohttpClient makes it, with a session whose
        # connections read in heap-sized pieces (see _SmallReads)
        transport = _Transport(
            trust_env=False, limits=limits, client=functools.partial(_session, limits)
        )
        self._client = _Client(
            timeout=httpx.Timeout(s.read_timeout, connect=s.connect_timeout),
            follow_redirects=True,
            max_redirects=s.max_redirects,
            headers={"User-Agent": s.user_agent, "Accept-Encoding": "gzip, deflate"},
            limits=limits,
            trust_env=False,
            transport=transport,
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
        body = _json_body(payload)
        return await self.request("POST", url, content=body, headers=hdrs, validators=validators)

    @staticmethod
    def validator_key(
        url: str, *, params: Mapping[str, str | int] | None = None, payload: Any = None
    ) -> str:
        """The key a conditional request's validator is kept under: the URL with its
        query, and a POSTed JSON ``payload`` (Workday's offset is in it)."""
        content = None if payload is None else _json_body(payload)
        return _validator_key(str(httpx.URL(url, params=params)) if params else url, content)

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
        # listing pages (asked conditionally) come back each poll; details do not
        parsed, netloc = (_parse if validators is not None else _parse.__wrapped__)(request_url)
        cache_key = _validator_key(request_url, content)
        previous = validators.get(cache_key) if validators is not None else None
        hdrs = dict(headers or {})
        if previous is not None and method == "GET":
            if previous.etag:
                hdrs["If-None-Match"] = previous.etag
            if previous.last_modified:
                hdrs["If-Modified-Since"] = previous.last_modified

        host = self._host(netloc)
        async with host.semaphore:
            await self._space(host)
            try:
                async with asyncio.timeout(self.settings.total_timeout):
                    status, resp_headers, chunks, digest = await self._send(
                        method, parsed, hdrs, content, digest=validators is not None
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

        if validators is None or digest is None:  # not conditional: nothing to compare or keep
            return Response(request_url, status, resp_headers, chunks)
        unchanged = previous is not None and previous.digest == digest
        validators[cache_key] = Validator(
            resp_headers.get("etag"), resp_headers.get("last-modified"), digest
        )
        return Response(request_url, status, resp_headers, chunks, not_modified=unchanged)

    async def _send(
        self,
        method: str,
        url: httpx.URL,
        headers: Mapping[str, str],
        content: bytes | None,
        *,
        digest: bool,
    ) -> tuple[int, dict[str, str], list[bytes], str | None]:
        """Status, headers (lower-case names), the decoded body's chunks and, with
        ``digest``, its :data:`_DIGEST`, computed while it arrives."""
        assert self._client is not None
        cap = self.settings.max_body_bytes
        where = safe_url(str(url))
        try:
            async with self._client.stream(method, url, headers=headers, content=content) as r:
                declared = r.headers.get("content-length")
                if declared and declared.isdigit() and int(declared) > cap:
                    raise TooLarge(cap, url=where)
                hasher = _DIGEST() if digest and r.status_code < 300 else None
                chunks: list[bytes] = []
                size = 0
                async for chunk in r.aiter_bytes():
                    size += len(chunk)
                    if size > cap:
                        raise TooLarge(cap, url=where)
                    if hasher is not None:
                        hasher.update(chunk)
                    chunks.append(chunk)
                headers_out = {k.lower(): v for k, v in r.headers.items()}
                return r.status_code, headers_out, chunks, hasher.hexdigest() if hasher else None
        except httpx.TooManyRedirects as err:
            raise TransportError("too many redirects", url=where) from err
        except httpx.DecodingError as err:
            raise TransportError(f"undecodable body: {err}", url=where) from err
        except (httpx.TransportError, OSError) as err:
            raise TransportError(_describe(err), url=where) from err

    def _host(self, netloc: str) -> _Host:
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


# What tells an unchanged body from a changed one for servers that send no validator
# (most boards): a fast non-cryptographic hash is enough, since a board that wanted to
# hide a change could simply not change. XXH3-128 hashes ~10x faster than SHA-256 (with
# the CPU's SHA instructions: ~2 GB/s here), and an unchanged re-poll hashes ~450 MB of
# listings (bench/README.md, re-poll: 0.23 s of its ~3 s of CPU).
_DIGEST = xxhash.xxh3_128
_DIGEST_KEY = "xxh3"

# Bytes of a body per chunk, and per read from the socket. httpx-aiohttp hands a body
# over 16 KB at a time (a copy each, and each through four async generators: 28,000
# chunks for the 450 MB of an unchanged re-poll); asyncio reads 256 KiB at a time, a
# buffer just over the 256 KiB mmap threshold of bot.cpu's tune_malloc, so each read
# mapped fresh zeroed pages, faulted them in and unmapped them again. At 128 KiB both
# stay in the heap.
_READ_SIZE = 128 * 1024


class _Cookies(httpx.Cookies):
    """httpx's cookie jar, which reads a response's cookies only when it sets some.

    httpx hands every response to :mod:`http.cookiejar`, through an adapter that parses
    the request's URL again with :mod:`urllib`: ~3 % of the event loop's CPU in a cold
    cycle (~24,000 detail requests), for answers of which job boards' APIs set no
    cookie. What a ``Set-Cookie`` sets is kept exactly as before."""

    def extract_cookies(self, response: httpx.Response) -> None:
        if "set-cookie" in response.headers:
            super().extract_cookies(response)


class _Client(HttpxAiohttpClient):
    """httpx on aiohttp's transport, with :class:`_Cookies` for its jar."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._jar = _Cookies(kwargs.get("cookies"))

    @property  # type: ignore[override]
    def cookies(self) -> httpx.Cookies:
        return self._jar

    @cookies.setter
    def cookies(self, cookies: Any) -> None:
        self._jar = _Cookies(cookies)


class _Transport(AiohttpTransport):
    """httpx-aiohttp's transport, handing a body that is not compressed over in
    :data:`_READ_SIZE` chunks. A compressed one keeps its 16 KB chunks: httpx inflates
    each chunk whole, so a chunk of a gzip bomb must stay small (16 KB inflates to at
    most ~16 MB before the size cap is checked)."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await super().handle_async_request(request)
        encoding = response.headers.get("content-encoding", "").strip().lower()
        if isinstance(response.stream, AiohttpResponseStream) and encoding in ("", "identity"):
            response.stream.CHUNK_SIZE = _READ_SIZE
        return response


class _SmallReads(aiohttp.ClientResponse):
    """A response that has its connection read at most :data:`_READ_SIZE` bytes at a
    time (asyncio's selector transport reads ``max_size`` bytes; others lack it)."""

    async def start(self, connection: Any) -> aiohttp.ClientResponse:
        transport = connection.transport
        if transport is not None and getattr(transport, "max_size", 0) > _READ_SIZE:
            transport.max_size = _READ_SIZE
        return await super().start(connection)


def _session(limits: httpx.Limits) -> aiohttp.ClientSession:
    """The aiohttp session under httpx: what httpx-aiohttp would build (connection
    limit, keep-alive expiry, httpx's TLS context) with :class:`_SmallReads`."""
    connector = aiohttp.TCPConnector(
        limit=limits.max_connections or 0,
        keepalive_timeout=limits.keepalive_expiry,
        ssl=httpx.create_ssl_context(trust_env=False),
    )
    return aiohttp.ClientSession(connector=connector, response_class=_SmallReads)


def _json_body(payload: Any) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()


def _validator_key(request_url: str, content: bytes | None) -> str:
    # POST bodies are part of what identifies a listing page (Workday's offset).
    return request_url if content is None else f"{request_url} {content.decode()}"


@functools.lru_cache(maxsize=2048)
def _parse(url: str) -> tuple[httpx.URL, str]:
    """``url`` parsed for httpx, and its host key: the same boards' pages are asked
    each poll, and parsing a URL was a tenth of httpx's work for a request. (2,048
    hold the ~1,800 listing pages of the bench's 500 boards, ~1 MB.)"""
    return httpx.URL(url), urlsplit(url).netloc.lower()


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
