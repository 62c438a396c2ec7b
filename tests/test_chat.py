"""``marquee chat``: typed slash commands in the console channel, rendered as text."""

from __future__ import annotations

import io
import re

import pytest

from bot.platforms.console_chat import CONSOLE_CHANNEL, ConsoleChat, run_chat
from storage import open_store
from tests.test_handlers_fixtures import seed_postings, settings


@pytest.fixture
async def store(db_url):
    async with open_store(db_url) as s:
        await seed_postings(s)
        yield s


async def test_a_session(store):
    typed = "\n".join(
        [
            "/ailistings netflix min_salary:300k",
            "",
            "/subscribe jobs company:nflx min_salary:$250,000 digest_time:08:30 tz:Europe/London",
            "subscriptions",
            "/teleport now",
            "/ailistings salary:300k",
            "quit",
            "/help",  # after quit: never read
        ]
    )
    out = io.StringIO()
    status = await run_chat(store, stdin=io.StringIO(typed), stdout=out, settings=settings())
    assert status == 0
    text = out.getvalue()
    blocks = text.strip().split("\n\n■ ")
    assert blocks[0].startswith("■ Open AI/ML roles at Netflix paying $300k+")
    assert "Product Manager – Machine Learning Platform — Netflix" in blocks[0]
    assert "Pay: $300k–$900k/yr total comp" in blocks[0]
    [sub] = await store.subscriptions(CONSOLE_CHANNEL)
    assert sub.companies == ("netflix",) and sub.tz == "Europe/London" and sub.mode == "both"
    assert f"Subscribed: #{sub.id}" in blocks[1]
    assert "instant alerts + daily digest at 08:30 Europe/London daily" in blocks[1]
    assert f"#{sub.id}" in blocks[2]
    assert "There is no /teleport command" in blocks[3]
    assert "/ailistings has no option `salary`" in blocks[4]
    assert "Marquee commands" not in text
    assert len(blocks) == 5


async def test_paging_commands_shown_on_the_console_can_be_typed(store):
    chat = ConsoleChat(store, settings=settings(page_size=2))
    first = await chat.handle("/ailistings min_salary:150k")
    match = re.search(r"\[Next ▶: (/ailistings [^\]]+)\]", first)
    assert match, first
    second = await chat.handle(match.group(1))
    assert "Page 2 of 3" in second
    assert second.count("┃ ") and first.split("Page")[0] != second.split("Page")[0]


async def test_blank_lines_comments_and_hostile_text(store):
    chat = ConsoleChat(store, settings=settings())
    assert await chat.handle("   ") is None
    assert await chat.handle("# a note") is None
    long = await chat.handle("/ailistings " + "x" * 5000)
    assert "too long" in long
    hostile = await chat.handle("/ailistings query:\x1b[2J\x07bell")
    assert "\x1b" not in hostile and "\x07" not in hostile
    refused = await chat.handle('/strikenews query:"unclosed')
    assert "never closed" in refused


async def test_console_caller_manages_the_console_channel_only(store):
    chat = ConsoleChat(store, settings=settings(), channel="console:ops")
    reply = await chat.reply_for("/subscribe news topics:strike")
    assert reply.severity == "success"
    assert [s.channel for s in await store.subscriptions()] == ["console:ops"]
    assert chat.context.platform == "console" and chat.context.caller.can_manage_channel
