"""The console as a platform: alerts and digests printed to a stream.

Used when neither Discord nor Slack is configured, by ``marquee demo`` and by
``marquee chat``. Message references are sequence numbers, so an edit can say which
earlier alert it replaces.
"""

from __future__ import annotations

import itertools
import sys
from typing import TextIO

from bot.render.console import render
from handlers.reply import Reply

__all__ = ["ConsolePlatform"]


class ConsolePlatform:
    """Prints replies; never fails. ``colour=None`` colours only a terminal."""

    name = "console"
    #: one send at a time (the delivery worker's default)
    concurrent_sends: int | None = 1

    def __init__(self, stream: TextIO | None = None, *, colour: bool | None = None) -> None:
        self.stream = stream or sys.stdout
        isatty = getattr(self.stream, "isatty", lambda: False)
        self.colour = isatty() if colour is None else colour
        self._ids = itertools.count(1)

    async def send(self, channel_id: str, reply: Reply, *, idempotency_key: str) -> str:
        ref = str(next(self._ids))
        self._write(reply, header=None)
        return ref

    async def edit(self, channel_id: str, message_ref: str, reply: Reply) -> None:
        self._write(reply, header=f"(update to alert {message_ref})")

    def _write(self, reply: Reply, *, header: str | None) -> None:
        text = render(reply, colour=self.colour)
        if header:
            text = f"{header}\n{text}"
        self.stream.write(text + "\n\n")
        self.stream.flush()
