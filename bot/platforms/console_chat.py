"""``marquee chat``: type slash commands into a console channel and read the replies.

Translation only (ARCHITECTURE.md, ``bot/platforms``): a line such as
``/ailistings netflix min_salary:300k`` is parsed from its declaration, dispatched as
the console channel ``console:main`` (the person at the terminal may manage it) and
the Reply is rendered by the console renderer. Subscriptions made here deliver alerts
and digests to the console like any other channel.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, TextIO

from bot.render.console import render
from handlers import HandlerSettings, dispatch_text
from handlers.reply import Reply
from handlers.spec import Caller, Context

if TYPE_CHECKING:
    from storage import Store

__all__ = ["CONSOLE_CHANNEL", "ConsoleChat", "run_chat"]

log = logging.getLogger(__name__)

CONSOLE_CHANNEL = "console:main"
_QUIT = {"quit", "exit", "/quit", "/exit", ":q", "bye"}
MAX_LINE = 4000

_GREETING = (
    "Marquee chat — this is the console channel {channel}. Type a command like\n"
    "  /ailistings netflix min_salary:300k\n"
    "  /subscribe jobs company:netflix tz:America/Los_Angeles digest_time:09:00\n"
    "/help lists the commands; quit (or Ctrl-D) leaves."
)


class ConsoleChat:
    """Turns one typed line into rendered reply text. ``handle`` is the whole REPL step,
    without any I/O, so it is what tests drive."""

    def __init__(
        self,
        store: Store,
        *,
        settings: HandlerSettings | None = None,
        channel: str = CONSOLE_CHANNEL,
        user: str = "console",
        colour: bool = False,
        renderer: Callable[..., str] = render,
    ) -> None:
        self.store = store
        self.settings = settings or HandlerSettings()
        self.colour = colour
        self._render = renderer
        self.context = Context(
            platform="console",
            channel=channel,
            caller=Caller(user_id=user, display_name=user, can_manage_channel=True),
        )

    async def reply_for(self, line: str) -> Reply | None:
        """The Reply to one typed line; ``None`` for a blank line or a comment."""
        line = line.strip()
        if not line or line.startswith("#"):
            return None
        if len(line) > MAX_LINE:
            return Reply.error(f"That line is too long ({len(line)} characters).")
        name, _, text = line.lstrip("/").partition(" ")
        return await dispatch_text(self.store, name, text, self.context, settings=self.settings)

    async def handle(self, line: str) -> str | None:
        """The rendered reply to one typed line (``None`` when there is nothing to say)."""
        reply = await self.reply_for(line)
        if reply is None:
            return None
        return self._render(reply, colour=self.colour)


async def run_chat(
    store: Store,
    *,
    stdin: TextIO,
    stdout: TextIO,
    settings: HandlerSettings | None = None,
    colour: bool = False,
    channel: str = CONSOLE_CHANNEL,
    prompt: str = "marquee> ",
) -> int:
    """Read commands from ``stdin`` until EOF or ``quit``; print each reply. Returns the
    process exit status (0)."""
    chat = ConsoleChat(store, settings=settings, channel=channel, colour=colour)
    interactive = stdin.isatty() if hasattr(stdin, "isatty") else False
    if interactive:
        stdout.write(_GREETING.format(channel=channel) + "\n")
    while True:
        if interactive:
            stdout.write(prompt)
            stdout.flush()
        # A blocking read in a thread keeps the event loop (and its scheduler) running.
        line = await asyncio.to_thread(stdin.readline)
        if not line:
            break
        if line.strip().lower() in _QUIT:
            break
        try:
            text = await chat.handle(line)
        except Exception:  # a bug in one command must not end the session
            log.exception("console command failed: %r", line[:200])
            text = render(Reply.error("Something went wrong; the details are in the log."))
        if text:
            stdout.write(text + "\n\n")
            stdout.flush()
    return 0
