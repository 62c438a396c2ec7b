"""Marquee's one exception tree.

Everything Marquee raises on purpose derives from :class:`MarqueeError`; anything else
is a bug and is allowed to propagate. Always ``raise ... from err``.

::

    MarqueeError
    ├── ConfigError                  bad config file or environment: names the key and why
    ├── SourceError                  one source failed; the poll goes on with the others
    │   ├── FetchError               the network side
    │   │   ├── HTTPStatusError      a non-success status (``status``)
    │   │   │   └── RateLimited      429/503 with ``retry_after`` seconds
    │   │   ├── TooLarge             body over the configured cap (after decompression)
    │   │   └── TransportError       timeout, reset, refused, redirect loop, bad TLS
    │   └── ParseError               the bytes are not what this source kind expects
    ├── StorageError                 the database failed the operation; the cycle retries
    ├── CommandError                 a user's command input is wrong: the message is for them
    └── DeliveryError                a platform refused or failed an alert
        ├── TransientDeliveryError   retry later (5xx, timeout, rate limit)
        └── PermanentDeliveryError   never retry as is (unknown channel, missing access)
"""

from __future__ import annotations

from urllib.parse import urlsplit


def safe_url(url: str) -> str:
    """The URL as an error may show it: without user info or query string (which may
    carry keys)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return f"{parts.scheme}://{host}{parts.path}"


class MarqueeError(Exception):
    """Base of every error Marquee raises on purpose."""


class ConfigError(MarqueeError):
    """The configuration is invalid. ``key`` is the dotted path, e.g. ``sources[2].board``."""

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(f"config: {key}: {reason}")
        self.key = key
        self.reason = reason


class SourceError(MarqueeError):
    """One source could not be polled."""


class FetchError(SourceError):
    """A request to a source failed. ``url`` is the request URL without credentials."""

    def __init__(self, message: str, *, url: str = "") -> None:
        super().__init__(f"{message} ({url})" if url else message)
        self.url = url


class HTTPStatusError(FetchError):
    def __init__(self, status: int, *, url: str = "") -> None:
        super().__init__(f"HTTP {status}", url=url)
        self.status = status


class RateLimited(HTTPStatusError):
    def __init__(self, status: int, retry_after: float | None, *, url: str = "") -> None:
        super().__init__(status, url=url)
        self.retry_after = retry_after


class TooLarge(FetchError):
    def __init__(self, limit: int, *, url: str = "") -> None:
        super().__init__(f"response body over {limit} bytes", url=url)
        self.limit = limit


class TransportError(FetchError):
    """Timeouts, connection resets, refused connections, redirect loops."""


class ParseError(SourceError):
    """The response is not in the shape this source kind expects."""


class StorageError(MarqueeError):
    """The database failed an operation (locked, unreachable, constraint)."""


class CommandError(MarqueeError):
    """A command's input is wrong. The message is shown to the user as is."""


class DeliveryError(MarqueeError):
    """A platform did not accept an alert."""


class TransientDeliveryError(DeliveryError):
    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PermanentDeliveryError(DeliveryError):
    """Retrying will not help: the reason pauses the subscription (shown to users)."""
