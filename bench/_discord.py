"""The local fake Discord with Discord's message rate limits enforced.

``tests/fakes/discord_server.FakeDiscord`` enforces nothing unless asked; this subclass
asks for the two limits a bot meets when it posts alerts:

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
import sys

from aiohttp import web

from tests.fakes.discord_server import FakeDiscord

__all__ = ["LimitedDiscord"]


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
        super().__init__(
            channels=channels,
            global_limit=global_rate,
            channel_limit=(channel_limit, channel_window),
        )
        self.route("GET", "/_bench/stats", self._stats)

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
