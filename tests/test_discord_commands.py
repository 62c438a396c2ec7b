"""Every real command through a real INTERACTION_CREATE: discord.py, the adapter, the
handlers' dispatch and a real Store, against the local Discord."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

import handlers
from bot.models import AIMatch, Posting, Salary
from bot.platforms.discord import DiscordPlatform
from bot.render.discord import decode_custom_id
from storage import open_store
from tests.fakes.discord_server import (
    CHANNEL_ID,
    GUILD_ID,
    MEMBER_PERMISSIONS,
    MODERATOR_PERMISSIONS,
    FakeDiscord,
    FakeInteraction,
    settings_for,
)

EPHEMERAL, LOADING = 1 << 6, 1 << 7
NOW = datetime.now(UTC)
AI = AIMatch(True, 0.93, ("title: machine learning",))


def _usd(low: float, high: float) -> Salary:
    return Salary(low, high, "USD", "year", "base", "structured", low, high)


def _posting(source: str, ext: str, company: str, title: str, top: float) -> Posting:
    return Posting(
        source=source,
        external_id=ext,
        company=company,
        title=title,
        url=f"https://jobs.example.test/{source}/{ext}",
        location="Los Angeles, CA",
        description=f"{title} at {company}: build &amp; ship ML systems.",
        salary=_usd(top * 0.6, top),
        pay=_usd(top * 0.6, top),
        ai=AI,
    )


POSTINGS = [
    _posting("netflix", "790298012", "Netflix", "Product Manager – ML Platform", 900_000),
    _posting("netflix", "790301144", "Netflix", "Machine Learning Engineer (L5)", 700_000),
    _posting(
        "anthropic", "4020305008", "Anthropic", "Research Engineer, Interpretability", 560_000
    ),
    _posting("anthropic", "4020305111", "Anthropic", "Software Engineer, Inference", 405_000),
    _posting("disney", "10093324", "Disney", "Machine Learning Engineer II", 186_200),
    _posting("disney", "10093399", "Disney", "@everyone **Lead** AI Researcher `now`", 252_000),
    _posting("huggingface", "7A1B2C3D4E", "Hugging Face", "ML Engineer – LLM Tooling", 210_000),
]


@pytest.fixture
async def store(sqlite_url) -> AsyncIterator[Any]:
    async with open_store(sqlite_url) as db:
        by_source: dict[str, list[Posting]] = {}
        for p in POSTINGS:
            by_source.setdefault(p.source, []).append(p)
        for source, items in by_source.items():
            await db.apply_postings(source, items, at=NOW - timedelta(hours=2), baseline=False)
        yield db


@pytest.fixture
async def discord_app(store) -> AsyncIterator[tuple[FakeDiscord, DiscordPlatform]]:
    """Wired the way ``marquee run`` wires it: real COMMANDS, dispatch, autocomplete and
    the command hash kept in the store's meta table."""
    async with FakeDiscord() as fake:
        settings = settings_for(fake, ready_timeout=5, request_timeout=5)
        platform = DiscordPlatform(
            settings,
            commands=handlers.COMMANDS,
            dispatch=functools.partial(
                handlers.dispatch, store, settings=handlers.HandlerSettings()
            ),
            complete_company=functools.partial(handlers.complete_company, store),
            load_commands_hash=functools.partial(store.get_meta, "discord.commands_hash"),
            save_commands_hash=functools.partial(store.set_meta, "discord.commands_hash"),
        )
        async with platform:
            yield fake, platform
        assert fake.violations == []
        assert fake.pings == []


def answer(fake: FakeDiscord, rec: FakeInteraction) -> dict[str, Any] | None:
    """The message a person sees as the answer, once it is final."""
    if not rec.callbacks:
        return None
    if rec.followups:
        return fake.messages[rec.followups[0]]
    message = fake.messages.get(rec.original_id or 0)
    if message is None or message["flags"] & LOADING:
        return None
    return message


async def run(fake: FakeDiscord, name: str, **options: Any) -> tuple[FakeInteraction, dict]:
    rec = await fake.slash(name, **options)
    await fake.wait_until(lambda: answer(fake, rec) is not None, what=f"the answer to /{name}")
    message = answer(fake, rec)
    assert message is not None
    return rec, message


def shown(message: dict[str, Any]) -> str:
    parts = [message["content"]]
    for e in message["embeds"]:
        parts += [e.get("title", ""), e.get("description", "")]
        parts += [f"{f['name']}: {f['value']}" for f in e.get("fields", [])]
        parts += [(e.get("footer") or {}).get("text", "")]
    return "\n".join(parts)


async def test_every_command_is_registered_from_the_declarations(discord_app, store):
    fake, _ = discord_app
    ((scope, payload),) = fake.command_puts
    assert scope == str(GUILD_ID)
    assert [c["name"] for c in payload] == [c.name for c in handlers.COMMANDS]
    subscribe = next(c for c in payload if c["name"] == "subscribe")
    assert subscribe["default_member_permissions"] == 16
    topics = next(o for o in subscribe["options"] if o["name"] == "topics")
    assert "choices" not in topics and "strike" in topics["description"]  # several allowed
    assert await store.get_meta("discord.commands_hash")


async def test_every_command_answers_through_an_interaction(discord_app):
    fake, _ = discord_app
    mod = {"permissions": MODERATOR_PERMISSIONS}

    rec, msg = await run(fake, "help")
    assert rec.callbacks[0]["type"] == 4 and msg["flags"] & EPHEMERAL  # personal
    assert "/ailistings" in shown(msg)

    rec, msg = await run(fake, "ailistings")
    assert rec.callbacks[0]["type"] == 5  # slow: deferred first
    assert [e["title"] for e in msg["embeds"]][:2] == [
        "Product Manager – ML Platform",
        "Machine Learning Engineer (L5)",
    ]
    assert msg["components"], "7 roles at 5 a page: paging buttons"

    rec, msg = await run(fake, "ailistings", company="nflx", min_salary="300k")
    assert {e["author"]["name"] for e in msg["embeds"]} == {"Netflix"}

    rec, msg = await run(fake, "strikenews", days=7)
    assert rec.callbacks[0]["type"] == 5 and msg["embeds"]

    rec, msg = await run(
        fake, "subscribe", kind="jobs", company="Netflix", min_salary="300k", **mod
    )
    assert "netflix" in shown(msg).lower() and not msg["flags"] & EPHEMERAL

    rec, msg = await run(fake, "subscriptions")
    assert "netflix" in shown(msg).lower()

    rec, msg = await run(fake, "digest")
    assert rec.callbacks[0] == {"type": 5, "data": {"flags": EPHEMERAL}}  # slow and personal
    assert msg["flags"] & EPHEMERAL

    rec, msg = await run(fake, "salaries", company="Anthropic")
    assert "Anthropic" in shown(msg)

    rec, msg = await run(fake, "sources")
    assert rec.callbacks[0]["type"] == 4

    rec, msg = await run(fake, "unsubscribe", id="all", **mod)
    assert "removed" in shown(msg).lower() or "unsubscribed" in shown(msg).lower()

    rec, msg = await run(fake, "subscriptions")
    assert "no subscriptions" in shown(msg).lower()


async def test_subscribe_needs_manage_channels_and_saves_nothing_otherwise(discord_app, store):
    fake, _ = discord_app
    _, msg = await run(fake, "subscribe", kind="jobs", permissions=MEMBER_PERMISSIONS)
    assert msg["flags"] & EPHEMERAL and "Manage Channels" in shown(msg)
    assert await store.subscriptions(f"discord:{CHANNEL_ID}") == []


async def test_a_bad_input_gets_a_private_specific_error(discord_app):
    fake, _ = discord_app
    rec, msg = await run(fake, "ailistings", min_salary="lots")
    assert msg["flags"] & EPHEMERAL
    # The public "thinking…" placeholder is removed.
    await fake.wait_until(lambda: rec.deleted_original, what="the placeholder removed")
    assert "300k" in shown(msg)  # says what is expected


async def test_paging_through_real_listings(discord_app):
    fake, _ = discord_app
    _, first = await run(fake, "ailistings")
    first_titles = [e["title"] for e in first["embeds"]]  # the fake edits it in place
    next_button = first["components"][0]["components"][1]
    command, args = decode_custom_id(next_button["custom_id"]) or ("", {})
    assert (command, args) == ("ailistings", {"page": "2"})
    click = await fake.click(int(first["id"]), next_button["custom_id"])
    await fake.wait_until(
        lambda: (
            fake.messages[int(first["id"])]["embeds"][0]["title"] != "Product Manager – ML Platform"
        ),
        what="page two",
    )
    assert click.callbacks[0] == {"type": 6}
    page_two = fake.messages[int(first["id"])]
    titles = [e["title"] for e in page_two["embeds"]]
    assert len(titles) == 2 and "Page 2 of 2" in page_two["content"]
    assert titles == ["ML Engineer – LLM Tooling", "Machine Learning Engineer II"]
    # The hostile title was on page one, escaped and pinging no one.
    assert first_titles[4] == "@\u200beveryone \\*\\*Lead\\*\\* AI Researcher \\`now\\`"


async def test_company_autocomplete_reads_the_database(discord_app):
    fake, _ = discord_app
    rec = await fake.autocomplete("ailistings", "company", "net")
    await fake.wait_until(lambda: rec.callbacks, what="suggestions")
    names = [c["name"] for c in rec.callbacks[0]["data"]["choices"]]
    assert "Netflix" in names and "Disney" not in names
