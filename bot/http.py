"""The polite HTTP client every source shares.

One ``aiohttp`` client session with:

* connect/read timeouts and a cap on the *decoded* body size, so a gzip bomb or an
  endless body stops at the cap instead of filling memory;
* conditional GET: ETag / Last-Modified validators, and a SHA-256 of the body for
  servers that send neither, so an unchanged board is reported as ``not_modified``;
* per-host concurrency and spacing, and ``Retry-After`` surfaced as :class:`RateLimited`;
* an honest User-Agent.

aiohttp directly, not httpx on aiohttp's transport: the httpx layer cost more CPU than
aiohttp itself for each request and each 16 KB of a body (a py-spy of an unchanged
re-poll put ~14 % of the event loop's time in HTTP, most of it there; bench/README.md).
A body is hashed as it arrives and kept as the chunks aiohttp read; they are joined
only when a caller reads :attr:`Response.content`, which a source that learns its
listing is unchanged often never does.

Validators live in a plain dict the caller owns (one per source), so the pipeline can
persist them only after the source's poll succeeded.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import ssl
import time
from collections.abc import Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import aiohttp

from bot.errors import (
    HTTPStatusError,
    ParseError,
    RateLimited,
    TooLarge,
    TransportError,
    safe_url,
)

__all__ = [
    "HttpClient",
    "HttpSettings",
    "Response",
    "Validator",
    "parse_retry_after",
    "with_params",
]

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
        self._session: aiohttp.ClientSession | None = None
        self._hosts: dict[str, _Host] = {}

    async def __aenter__(self) -> HttpClient:
        s = self.settings
        connector = aiohttp.TCPConnector(
            limit=64, limit_per_host=0, keepalive_timeout=5.0, ssl=_ssl_context()
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            headers={"User-Agent": s.user_agent, "Accept-Encoding": "gzip, deflate"},
            # ``connect`` covers the wait for a pooled connection too; ``total`` is
            # request()'s own deadline, which also bounds reading the body.
            timeout=aiohttp.ClientTimeout(
                total=None,
                connect=s.read_timeout,
                sock_connect=s.connect_timeout,
                sock_read=s.read_timeout,
            ),
            # Cookies a board sets are sent back to it, IP-address hosts included.
            cookie_jar=aiohttp.CookieJar(unsafe=True),
            trust_env=False,
        )
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

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
        if self._session is None:
            raise RuntimeError("HttpClient used outside 'async with'")
        request_url = with_params(url, params) if params else url
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
                    status, resp_headers, chunks, digest = await self._send(
                        method, request_url, hdrs, content, digest=validators is not None
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
        unchanged = previous is not None and previous.sha256 == digest
        validators[cache_key] = Validator(
            resp_headers.get("etag"), resp_headers.get("last-modified"), digest
        )
        return Response(request_url, status, resp_headers, chunks, not_modified=unchanged)

    async def _send(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        content: bytes | None,
        *,
        digest: bool,
    ) -> tuple[int, dict[str, str], list[bytes], str | None]:
        """Status, headers (lower-case names), the body's chunks as aiohttp read them
        and, with ``digest``, the SHA-256 of the body, computed while it arrives."""
        assert self._session is not None
        cap = self.settings.max_body_bytes
        try:
            async with self._session.request(
                method,
                url,
                headers=headers,
                data=content,
                allow_redirects=True,
                max_redirects=self.settings.max_redirects,
            ) as r:
                declared = r.headers.get("Content-Length")
                if declared and declared.isdigit() and int(declared) > cap:
                    raise TooLarge(cap, url=safe_url(url))
                headers_out: dict[str, str] = {}
                for name, value in r.headers.items():
                    name = name.lower()
                    # repeated headers read as one, comma-separated (RFC 9110, 5.3)
                    seen = headers_out.get(name)
                    headers_out[name] = value if seen is None else f"{seen}, {value}"
                hasher = hashlib.sha256() if digest and r.status < 300 else None
                chunks: list[bytes] = []
                size = 0
                stream = r.content
                while True:
                    # the chunks aiohttp buffered, one at a time and without a copy
                    # (readany() would join what is buffered)
                    chunk, _ = await stream.readchunk()
                    if not chunk:
                        break
                    size += len(chunk)
                    if size > cap:
                        raise TooLarge(cap, url=safe_url(url))
                    if hasher is not None:
                        hasher.update(chunk)
                    chunks.append(chunk)
                return r.status, headers_out, chunks, hasher.hexdigest() if hasher else None
        except aiohttp.TooManyRedirects as err:
            raise TransportError("too many redirects", url=safe_url(url)) from err
        except aiohttp.ClientPayloadError as err:
            cause = err.__cause__
            if isinstance(cause, aiohttp.http_exceptions.ContentEncodingError):
                detail = " ".join(str(cause.message).split())
                raise TransportError(f"undecodable body: {detail}", url=safe_url(url)) from err
            raise TransportError(_describe(err), url=safe_url(url)) from err
        except (aiohttp.ClientError, OSError) as err:
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


def with_params(url: str, params: Mapping[str, str | int]) -> str:
    """``url`` with its query replaced by ``params``, form-encoded: the same string
    httpx built, since it keys the stored validators."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(params), parts.fragment))


def _ssl_context() -> ssl.SSLContext:
    """Certificates as before, when httpx chose them: certifi's bundle when installed."""
    try:
        import certifi
    except ImportError:  # pragma: no cover - certifi comes with the dependencies
        return ssl.create_default_context()
    return ssl.create_default_context(cafile=certifi.where())


def _describe(err: Exception) -> str:
    """What went wrong, in words. The URL is left out: some exceptions' text carries
    it with its query string (which may hold keys); the caller adds it safely."""
    if isinstance(err, aiohttp.InvalidURL):
        return "invalid URL"
    if isinstance(err, aiohttp.ClientResponseError):
        return f"HTTP error: {err.message}" if err.message else type(err).__name__
    detail = str(err)
    if isinstance(err, aiohttp.ClientConnectorError | ConnectionRefusedError):
        what = "cannot connect"
    elif isinstance(err, aiohttp.ServerTimeoutError | TimeoutError):
        what = "timed out"
    elif isinstance(
        err,
        aiohttp.ServerDisconnectedError
        | aiohttp.ClientPayloadError
        | aiohttp.ClientOSError
        | ConnectionError,
    ):
        what = "connection broken"
    else:
        what = type(err).__name__
    return f"{what}: {detail}" if detail else what
