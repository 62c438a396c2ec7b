"""Pacing a platform's requests under a limit it documents but does not announce.

Discord limits a bot to 50 requests a second across every route (its "global" rate
limit, https://discord.com/developers/docs/topics/rate-limits#global-rate-limit), and
says so in a response only once a request has been refused: per-route headers never
count it down. Refused requests count towards the 10,000 invalid requests in 10 minutes
that get a bot banned, so the only safe way is to never exceed it: a token bucket.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

__all__ = ["TokenBucket"]


class TokenBucket:
    """At most ``burst`` requests at once, then ``rate`` a second (GCRA, "virtual
    scheduling": each caller reserves the next free slot, so callers are served in the
    order they asked, and a caller cancelled while it waits only wastes its slot).

    In any window of one second it lets through at most ``rate + burst - 1`` requests
    (over a half-open window): keep that at or under the real limit. The bucket holds
    no loop-bound state (no lock, no future), so one instance may serve every client
    of the process.
    """

    def __init__(
        self,
        rate: float,
        burst: int = 1,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        self._clock = clock
        self._sleep = sleep
        #: when the next request would be on schedule ("theoretical arrival time")
        self._tat = float("-inf")
        #: slots handed out so far
        self.taken = 0
        self.pace(rate, burst)

    def pace(self, rate: float, burst: int = 1) -> None:
        """Go on at ``rate`` a second with ``burst`` at once (a share of a limit that
        changed): the slots reserved so far keep their times, the next ones follow at
        the new interval."""
        if not rate > 0:
            raise ValueError(f"rate must be more than 0, got {rate!r}")
        if burst < 1:
            raise ValueError(f"burst must be at least 1, got {burst!r}")
        self.rate = float(rate)
        self.burst = int(burst)
        self._interval = 1.0 / self.rate
        self._tolerance = (self.burst - 1) * self._interval

    def reserve(self) -> float:
        """Take the next slot; returns the seconds to wait before using it (0: now)."""
        now = self._clock()
        allowed = max(now, self._tat - self._tolerance)
        self._tat = max(self._tat, now) + self._interval
        self.taken += 1
        return allowed - now

    async def acquire(self) -> None:
        """Wait for a slot (at once while the burst lasts)."""
        delay = self.reserve()
        if delay > 0:
            await self._sleep(delay)  # pacing is the point, not a wait for work
