"""Sharing Discord's global limit among the processes that send with one bot token
(issue 9).

Discord allows a bot 50 requests a second in all, and says so only once a request has
been refused. Each process paces its REST requests with a token bucket
(bot/platforms/discord.py, ``[discord] global_rate``). Several processes delivering
alerts with one token (instances sharing a PostgreSQL database, or ``marquee run --role
worker`` twice) would each take all of it. So each process that delivers to Discord
renews a share in the database every ``interval`` seconds and paces itself to
``global_rate ÷ live shares`` (``global_burst`` likewise, at least 1 at once). A share
not renewed within ``ttl`` seconds (a process killed) stops counting; a process that
stops gives its share up once it has finished sending.

A newcomer paces itself to its share from its first request (renewals of one token take
turns in the database, so processes starting together count each other); the others
slow down at their next renewal, so for at most ``interval`` seconds the total may
exceed the limit by their older shares. A process that cannot renew its share for
longer than it lasts (the database unreachable) is no longer counted by the others, who
take all of the limit between them: it slows to one request a second until it can
renew (the default ``global_rate``, 48, leaves Discord's 50 that much room).

Processes that only answer commands (``--role discord``) take no share: interaction
responses are exempt from the limit and their few other requests (registering the
commands at start) go at the full pace.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import TYPE_CHECKING

from bot.errors import StorageError
from bot.platforms.discord import rate_key

if TYPE_CHECKING:
    from bot.platforms.discord import DiscordPlatform
    from storage import Store

__all__ = ["RateShare"]

log = logging.getLogger(__name__)


class RateShare:
    """This process's share of a Discord bot's global limit, renewed in ``store`` while
    it is entered (``async with``): renewed once on entry, every ``interval`` seconds
    after that, and given up on exit."""

    def __init__(
        self,
        store: Store,
        platform: DiscordPlatform,
        *,
        owner: str,
        interval: float = 10.0,
        ttl: float = 30.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        if not 0 < interval < ttl:
            raise ValueError(f"interval must be more than 0 and less than ttl: {interval!r}")
        self.store = store
        self.platform = platform
        self.owner = owner
        self.interval = interval
        self.ttl = ttl
        self.bucket = rate_key(platform.settings.token)
        self._clock = clock
        #: processes sharing the limit at the last renewal, this one included
        self.senders = 1
        self._renewed = time.monotonic()
        self._lapsed = False
        self._task: asyncio.Task[None] | None = None

    async def renew(self) -> int:
        """Renew the share and pace the platform to it; returns how many processes
        share the limit. On a database error the pace stays as it was until the share
        has run out, then slows to one request a second (see the module's docstring)."""
        now = self._clock()
        try:
            senders = await self.store.share_rate(
                self.bucket, owner=self.owner, now=now, until=now + timedelta(seconds=self.ttl)
            )
        except StorageError as err:
            lapsed = time.monotonic() - self._renewed >= self.ttl - self.interval
            if lapsed and not self._lapsed:
                self._lapsed = True
                # at most one request a second: global_rate ÷ ⌈global_rate⌉
                self.platform.share_global_rate(math.ceil(self.platform.settings.global_rate))
            log.warning(
                "Discord rate share not renewed (sending at most %.1f/s): %s",
                self.platform.global_pace,
                err,
            )
            return self.senders
        self._renewed = time.monotonic()
        self._lapsed = False
        senders = max(1, senders)
        changed = senders != self.senders
        self.senders = senders
        # always: the bucket is the process's, and may hold another pace than this share
        self.platform.share_global_rate(senders)
        if changed:
            log.info(
                "Discord global limit shared by %d processes: this one sends at most %.1f/s",
                senders,
                self.platform.global_pace,
            )
        return senders

    async def __aenter__(self) -> RateShare:
        await self.renew()
        self._task = asyncio.create_task(self._renew_forever(), name="discord rate share")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.leave()

    async def _renew_forever(self) -> None:
        while True:
            await asyncio.sleep(self.interval)  # a period, not a wait for work
            try:
                await self.renew()
            except Exception:  # never let the pace stop following the share
                log.exception("Discord rate share: renewal failed")

    async def leave(self) -> None:
        """Give the share up (the process stops sending); the others learn of it at
        their next renewal. A database error leaves it to run out."""
        try:
            await self.store.leave_rate_share(self.bucket, owner=self.owner)
        except StorageError as err:
            log.warning("Discord rate share not given up (it runs out by itself): %s", err)
