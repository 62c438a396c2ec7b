"""The local fake Discord with Discord's message rate limits enforced.

``tests/fakes/discord_server.FakeDiscord`` answers every request with fixed rate-limit
headers and enforces nothing; this subclass enforces, on message creates and edits
(``POST``/``PATCH /channels/{id}/messages``), the two limits a bot meets when it posts
alerts:

- the **global** limit, 50 requests a second (a token bucket of 50, refilled at 50/s),
  answered with a global 429 (``"global": true``, ``X-RateLimit-Scope: global``);
- the **per-channel** limit, 5 messages per 5 seconds (a window opened by the first
  message, as Discord's buckets do), answered with a 429 of scope ``user``.

Accepted messages carry true ``X-RateLimit-Limit/Remaining/Reset-After`` headers for
their channel's window, so a client that reads them never meets the per-channel 429;
the global limit is documented, not announced, so a client must pace itself.

Run as ``python -m bench._discord CHANNELS`` it prints ``READY <json>`` with the
addresses and channel ids and serves until its standard input closes; ``GET
/_bench/stats`` reports the accepted messages (first and last time) and the 429s.
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
import time
from dataclasses import dataclass

from aiohttp import web

from tests.fakes.discord_server import API, FakeDiscord

__all__ = ["LimitedDiscord"]

_MESSAGES = re.compile(rf"^{re.escape(API)}/channels/(\d+)/messages(?:/\d+)?$")


@dataclass
class _Window:
    opened: float
    used: int = 0


class LimitedDiscord(FakeDiscord):
    """:class:`FakeDiscord` enforcing 50 requests/s overall and 5 per channel per 5 s."""

    def __init__(
        self,
        *,
        channels: list[int],
        global_rate: float = 50.0,
        channel_limit: int = 5,
        channel_window: float = 5.0,
    ) -> None:
        super().__init__(channels=channels)
        self.global_rate = global_rate
        self.channel_limit = channel_limit
        self.channel_window = channel_window
        self._tokens = global_rate
        self._refilled = time.monotonic()
        self._windows: dict[int, _Window] = {}
        self.accepted: list[float] = []
        self.rejected_global = 0
        self.rejected_channel = 0
        self.route("GET", "/_bench/stats", self._stats)

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        m = _MESSAGES.match(request.path)
        if m is None or request.method not in ("POST", "PATCH"):
            return await super()._dispatch(request)
        channel = int(m.group(1))
        now = time.monotonic()
        self._tokens = min(
            self.global_rate, self._tokens + (now - self._refilled) * self.global_rate
        )
        self._refilled = now
        if self._tokens < 1:
            self.rejected_global += 1
            return self._limited((1 - self._tokens) / self.global_rate, is_global=True)
        window = self._windows.get(channel)
        if window is None or now >= window.opened + self.channel_window:
            window = self._windows[channel] = _Window(now)
        if window.used >= self.channel_limit:
            self.rejected_channel += 1
            return self._limited(window.opened + self.channel_window - now, is_global=False)
        self._tokens -= 1
        window.used += 1
        response = await super()._dispatch(request)
        if response.status < 300:
            self.accepted.append(now)
        reset_after = max(0.0, window.opened + self.channel_window - now)
        response.headers.update(
            {
                "X-RateLimit-Limit": str(self.channel_limit),
                "X-RateLimit-Remaining": str(self.channel_limit - window.used),
                "X-RateLimit-Reset-After": f"{reset_after:.3f}",
                "X-RateLimit-Reset": f"{time.time() + reset_after:.3f}",
                "X-RateLimit-Bucket": f"bench-messages-{channel}",
            }
        )
        return response

    def _limited(self, retry_after: float, *, is_global: bool) -> web.Response:
        body = {
            "message": "You are being rate limited.",
            "retry_after": round(retry_after, 3),
            "global": is_global,
        }
        headers = {
            "Via": "1.1 google",  # discord.py retries a 429 only from Discord's edge
            "Retry-After": str(max(1, round(retry_after))),
            "X-RateLimit-Scope": "global" if is_global else "user",
        }
        if is_global:
            headers["X-RateLimit-Global"] = "true"
        else:
            headers.update(
                {
                    "X-RateLimit-Limit": str(self.channel_limit),
                    "X-RateLimit-Remaining": "0",
                    "X-RateLimit-Reset-After": f"{retry_after:.3f}",
                }
            )
        return web.Response(
            body=json.dumps(body).encode(),
            status=429,
            content_type="application/json",
            headers=headers,
        )

    async def _stats(self, request: web.Request) -> web.Response:
        return web.json_response(
            {
                "accepted": len(self.accepted),
                "first": self.accepted[0] if self.accepted else None,
                "last": self.accepted[-1] if self.accepted else None,
                "rejected_global": self.rejected_global,
                "rejected_channel": self.rejected_channel,
            }
        )


async def _serve(count: int) -> None:
    channels = [1_400_000_000_000_000_000 + i for i in range(count)]
    async with LimitedDiscord(channels=channels) as fake:
        info = {
            "api_base": fake.api_base,
            "gateway_url": fake.gateway_url,
            "token": fake.token,
            "channels": channels,
            "stats": f"{fake.url}/_bench/stats",
        }
        print("READY " + json.dumps(info), flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)


if __name__ == "__main__":
    asyncio.run(_serve(int(sys.argv[1])))
