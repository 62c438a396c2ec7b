"""The Discord adapter against a local Discord, with the real, unmodified discord.py.

Commands here are small test declarations answered by a recording dispatch: they
exercise how Discord asks and shows (types, deferral, ephemerality, buttons,
permissions), not what a command does (see test_discord_commands.py for the real ones).
Every fake Discord checks at the end that no payload broke a limit or could ping.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import discord
import pytest
from discord.gateway import DiscordWebSocket
from discord.http import Route

from bot.errors import ConfigError, PermanentDeliveryError, TransientDeliveryError
from bot.platforms.base import Platform
from bot.platforms.discord import (
    DiscordPlatform,
    DiscordSettings,
    command_payloads,
    invite_url,
)
from bot.render.discord import decode_custom_id
from handlers.reply import Button, Field, Item, Reply
from handlers.spec import Choice, CommandSpec, Context, Option
from tests.fakes.discord_server import (
    API,
    CHANNEL_ID,
    GUILD_ID,
    MEMBER_PERMISSIONS,
    MODERATOR_PERMISSIONS,
    OTHER_CHANNEL_ID,
    FakeDiscord,
    command_problems,
    settings_for,
)
from tests.fakes.http import Fault

EPHEMERAL = 1 << 6
MESSAGES = f"{API}/channels/{CHANNEL_ID}/messages"

TEST_COMMANDS = (
    CommandSpec(
        "echo",
        "Say it back",
        options=(
            Option("loud", "Shout", type="boolean"),
            Option("text", "What to say", required=True, max_length=100),
            Option("count", "How often", type="integer", min_value=1, max_value=5),
            Option("ratio", "A share", type="number", min_value=0, max_value=1),
            Option(
                "kind", "Which kind", type="choice", choices=(Choice("A", "a"), Choice("B", "b"))
            ),
            Option("company", "A company", autocomplete="company"),
            Option("tags", "Some tags", repeat=True),
        ),
    ),
    CommandSpec("slowpoke", "Takes its time", slow=True),
    CommandSpec("stall", "Should be quick but is not"),
    CommandSpec("whoami", "Only for you", personal=True),
    CommandSpec("setup", "Change this channel", permission="manage_channel"),
    CommandSpec("pages", "Paged", options=(Option("page", "Page", type="integer"),), slow=True),
    CommandSpec("fail", "Always a user error", slow=True),
    CommandSpec("nope", "A quick user error"),
    CommandSpec("boom", "A bug"),
)


class Dispatcher:
    """The handlers stand-in: records each call and answers by command name."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, object], Context]] = []
        self.gate = asyncio.Event()

    async def __call__(self, command: str, args: Mapping[str, object], ctx: Context) -> Reply:
        self.calls.append((command, dict(args), ctx))
        if command in ("slowpoke", "stall"):
            await self.gate.wait()
            return Reply(title=f"{command} done", text="@everyone it took a while")
        if command == "pages":
            page = int(args.get("page", 1))  # type: ignore[call-overload]
            return Reply(
                title="Open AI/ML roles",
                text="12 roles, highest pay first.",
                items=tuple(Item(f"Role {page}.{i}", url="https://jobs.test/r") for i in range(5)),
                buttons=(
                    Button(
                        "◀ Previous",
                        command="pages",
                        args=(("page", str(page - 1)),),
                        disabled=page <= 1,
                    ),
                    Button("Next ▶", command="pages", args=(("page", str(page + 1)),)),
                ),
                footer=f"Page {page} of 3",
            )
        if command in ("fail", "nope"):
            return Reply.error("No company called “acme” is watched.")
        if command == "boom":
            raise RuntimeError("a bug in a handler")
        return Reply(
            title=f"/{command}", text=repr(sorted(args.items())), ephemeral=command == "whoami"
        )


class HashBox:
    """What the lead's store.get_meta/set_meta pair does, in memory."""

    def __init__(self) -> None:
        self.value: str | None = None

    async def load(self) -> str | None:
        return self.value

    async def save(self, value: str) -> None:
        self.value = value


async def companies(prefix: str) -> list[str]:
    names = ["Netflix", "NBCUniversal", "Nvidia", "x" * 120, "Disney"]
    return [n for n in names if n.lower().startswith(prefix.lower())]


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as server:
        yield server
        # Every payload of every test: within Discord's limits, and pinging no one.
        assert server.violations == []
        assert server.pings == []


def short_settings(fake: FakeDiscord, **kw: Any) -> DiscordSettings:
    return settings_for(fake, **{"ready_timeout": 5, "request_timeout": 5, **kw})


@asynccontextmanager
async def started(
    fake: FakeDiscord,
    dispatch: Any = None,
    *,
    commands: tuple[CommandSpec, ...] = TEST_COMMANDS,
    box: HashBox | None = None,
    **kw: Any,
) -> AsyncIterator[DiscordPlatform]:
    platform = DiscordPlatform(
        short_settings(fake, **kw),
        commands=commands,
        dispatch=dispatch or Dispatcher(),
        complete_company=companies,
        load_commands_hash=box.load if box else None,
        save_commands_hash=box.save if box else None,
    )
    async with platform:
        yield platform


# -- lifecycle ----------------------------------------------------------------------------


async def test_logs_in_and_reaches_ready_with_minimal_intents(fake):
    async with started(fake) as platform:
        assert isinstance(platform, Platform)
        assert platform.client.is_ready()
        assert platform.application_id is not None
        paths = [r.path for r in fake.requests]
        assert paths.index(f"{API}/users/@me") < paths.index(f"{API}/oauth2/applications/@me")
        (identify,) = fake.identifies
        intents = discord.Intents._from_value(identify["intents"])
        assert intents.guilds
        assert not (intents.members or intents.presences or intents.message_content)
        assert [g.id for g in platform.client.guilds] == [GUILD_ID]
        assert platform.client.allowed_mentions.to_dict() == {"parse": []}  # the default too
    # Endpoints are put back: nothing else in the process talks to the fake by accident.
    assert Route.BASE == "https://discord.com/api/v10"
    assert str(DiscordWebSocket.DEFAULT_GATEWAY) == "wss://gateway.discord.gg/"
    assert platform.client.is_closed()


async def test_a_wrong_token_is_a_config_error_that_does_not_show_it(fake):
    settings = DiscordSettings(
        token="not-the-token-123", api_base=fake.api_base, gateway_url=fake.gateway_url
    )
    platform = DiscordPlatform(settings, commands=TEST_COMMANDS, dispatch=Dispatcher())
    with pytest.raises(ConfigError) as caught:
        async with platform:
            pass
    assert caught.value.key == "DISCORD_TOKEN"
    assert "not-the-token-123" not in str(caught.value)
    assert "not-the-token-123" not in repr(settings)


async def test_an_unreachable_gateway_fails_in_time_and_says_where(fake, unused_tcp_port):
    settings = DiscordSettings(
        token=fake.token,
        api_base=fake.api_base,
        gateway_url=f"ws://127.0.0.1:{unused_tcp_port}/gateway",
        guild_ready_timeout=0.05,
        ready_timeout=0.5,
        sync_commands=False,
    )
    platform = DiscordPlatform(settings, commands=TEST_COMMANDS, dispatch=Dispatcher())
    with pytest.raises(TransientDeliveryError) as caught:
        async with platform:
            pass
    message = str(caught.value)
    assert "did not become ready within 0.5 s" in message
    assert f"127.0.0.1:{unused_tcp_port}" in message
    assert Route.BASE == "https://discord.com/api/v10"


async def test_a_reconnect_request_resumes_the_session_and_commands_still_work(fake):
    async with started(fake):
        await fake.ask_to_reconnect()
        await fake.wait_until(lambda: fake.resumes, what="a RESUME")
        assert fake.resumes[0]["session_id"] == fake.sessions[0]
        assert len(fake.identifies) == 1  # resumed, not identified again
        rec = await fake.slash("echo", text="still here")
        await fake.wait_until(lambda: rec.callbacks, what="an answer after resuming")


@pytest.mark.parametrize(
    ("key", "kw"),
    [
        ("DISCORD_TOKEN", {"token": " "}),
        ("discord.api_base", {"api_base": "discord.com/api"}),
        ("discord.gateway_url", {"gateway_url": "https://gateway.discord.gg"}),
        ("discord.guild_ids", {"guild_ids": (0,)}),
        ("discord.defer_after", {"defer_after": 3.5}),
    ],
)
def test_bad_settings_name_the_key(key, kw):
    kw.setdefault("token", "t")
    with pytest.raises(ConfigError) as caught:
        DiscordSettings(**kw)
    assert caught.value.key == key


def test_invite_url_asks_for_only_what_is_needed():
    url = invite_url(1180000000000000001)
    assert url.startswith("https://discord.com/oauth2/authorize?client_id=1180000000000000001")
    assert "scope=bot+applications.commands" in url
    perms = discord.Permissions(int(url.split("permissions=")[1].split("&")[0]))
    assert perms == discord.Permissions(
        view_channel=True, send_messages=True, embed_links=True, read_message_history=True
    )


# -- command registration ---------------------------------------------------------------


def test_command_payloads_follow_the_declarations():
    payload = {c["name"]: c for c in command_payloads(TEST_COMMANDS)}
    assert command_problems(list(payload.values())) == []
    echo = payload["echo"]
    options = {o["name"]: o for o in echo["options"]}
    assert echo["options"][0]["name"] == "text"  # required first: Discord insists
    assert options["text"] == {
        "type": 3,
        "name": "text",
        "description": "What to say",
        "required": True,
        "max_length": 100,
    }
    assert options["count"]["type"] == 4
    assert (options["count"]["min_value"], options["count"]["max_value"]) == (1, 5)
    assert options["ratio"]["type"] == 10 and options["loud"]["type"] == 5
    assert options["kind"]["choices"] == [{"name": "A", "value": "a"}, {"name": "B", "value": "b"}]
    assert options["company"]["autocomplete"] is True
    assert "comma-separated" in options["tags"]["description"]
    assert payload["setup"]["default_member_permissions"] == 16  # Manage Channels
    assert payload["echo"]["default_member_permissions"] is None
    assert all(c["contexts"] == [0] for c in payload.values())


async def test_commands_are_registered_only_when_they_change(fake):
    box = HashBox()
    async with started(fake, box=box):
        pass
    assert [scope for scope, _ in fake.command_puts] == [str(GUILD_ID)]
    assert [c["name"] for c in fake.command_puts[0][1]] == [c.name for c in TEST_COMMANDS]
    async with started(fake, box=box):
        pass
    assert len(fake.command_puts) == 1  # same declarations: no second registration
    changed = (*TEST_COMMANDS, CommandSpec("newone", "A new command"))
    async with started(fake, box=box, commands=changed):
        pass
    assert len(fake.command_puts) == 2
    assert "newone" in [c["name"] for c in fake.command_puts[1][1]]
    async with started(fake, box=box, commands=changed, guild_ids=()):
        pass
    assert fake.command_puts[2][0] == "global"  # a different target is a change too


async def test_a_refused_registration_is_retried_at_next_start(fake):
    box = HashBox()
    fake.server_error(f"{API}/applications/{fake_app_id()}/guilds/{GUILD_ID}/commands", 403)
    async with started(fake, box=box) as platform:
        assert platform.client.is_ready()  # alerts still flow without commands
    assert box.value is None and fake.command_puts == []
    async with started(fake, box=box):
        pass
    assert len(fake.command_puts) == 1 and box.value is not None


def fake_app_id() -> int:
    from tests.fakes.discord_server import APPLICATION_ID

    return APPLICATION_ID


# -- interactions -------------------------------------------------------------------------


async def test_options_arrive_typed_with_the_caller_and_channel(fake):
    dispatch = Dispatcher()
    async with started(fake, dispatch):
        await fake.wait_until(lambda: fake.command_puts, what="registration")
        rec = await fake.slash(
            "echo", text="hi", count=3, ratio=0.5, loud=True, kind="b", tags="ml, llm"
        )
        await fake.wait_until(lambda: rec.callbacks, what="the answer")
    (command, args, ctx) = dispatch.calls[0]
    assert command == "echo"
    assert args == {
        "text": "hi",
        "count": 3,
        "ratio": 0.5,
        "loud": True,
        "kind": "b",
        "tags": "ml, llm",
    }
    assert ctx.platform == "discord" and ctx.channel == f"discord:{CHANNEL_ID}"
    assert ctx.guild_or_team == str(GUILD_ID)
    assert ctx.caller.display_name == "Casey Rivera" and not ctx.caller.can_manage_channel
    (callback,) = rec.callbacks
    assert callback["type"] == 4 and not callback["data"].get("flags", 0) & EPHEMERAL
    assert callback["data"]["allowed_mentions"] == {"parse": []}


async def test_a_slow_command_is_deferred_then_answered(fake):
    dispatch = Dispatcher()
    async with started(fake, dispatch):
        rec = await fake.slash("slowpoke")
        await fake.wait_until(lambda: rec.callbacks, what="the deferral")
        assert rec.callbacks[0] == {"type": 5}  # "thinking…", public
        dispatch.gate.set()
        original = rec.original_id
        await fake.wait_until(
            lambda: fake.messages[original]["embeds"], what="the edit of the original"
        )
    message = fake.messages[rec.original_id]
    assert message["embeds"][0]["title"] == "slowpoke done"
    assert "@\u200beveryone" in message["embeds"][0]["description"]
    assert not message["flags"] & (1 << 7)  # no longer loading


async def test_a_quick_command_that_stalls_is_deferred_before_three_seconds(fake):
    dispatch = Dispatcher()
    async with started(fake, dispatch, defer_after=0.2):
        rec = await fake.slash("stall")
        await fake.wait_until(lambda: rec.callbacks, what="the deferral")
        assert rec.callbacks[0]["type"] == 5
        dispatch.gate.set()
        await fake.wait_until(lambda: fake.messages[rec.original_id]["embeds"], what="the edit")


async def test_personal_answers_and_errors_are_ephemeral(fake):
    async with started(fake):
        mine = await fake.slash("whoami")
        oops = await fake.slash("nope")
        await fake.wait_until(lambda: mine.callbacks and oops.callbacks, what="answers")
    assert mine.callbacks[0]["data"]["flags"] & EPHEMERAL
    assert oops.callbacks[0]["type"] == 4 and oops.callbacks[0]["data"]["flags"] & EPHEMERAL


async def test_an_error_after_a_public_deferral_is_told_privately(fake):
    async with started(fake):
        rec = await fake.slash("fail")
        await fake.wait_until(lambda: rec.followups and rec.deleted_original, what="the error")
    assert rec.callbacks == [{"type": 5}]
    followup = fake.messages[rec.followups[0]]
    assert followup["flags"] & EPHEMERAL
    assert followup["embeds"][0]["color"] == 0xED4245


async def test_a_bug_in_a_handler_still_gets_an_answer(fake, caplog):
    async with started(fake):
        rec = await fake.slash("boom")
        await fake.wait_until(lambda: rec.callbacks, what="the apology")
    data = rec.callbacks[0]["data"]
    assert data["flags"] & EPHEMERAL and "went wrong" in data["embeds"][0]["description"]
    assert "a bug in a handler" in caplog.text  # logged for us, not shown to them


async def test_a_member_without_manage_channels_is_refused(fake):
    dispatch = Dispatcher()
    async with started(fake, dispatch):
        member = await fake.slash("setup", permissions=MEMBER_PERMISSIONS)
        moderator = await fake.slash("setup", permissions=MODERATOR_PERMISSIONS)
        await fake.wait_until(lambda: member.callbacks and moderator.callbacks, what="answers")
    refused = member.callbacks[0]["data"]
    assert refused["flags"] & EPHEMERAL
    assert "Manage Channels" in refused["embeds"][0]["description"]
    # Only the moderator's call reached the handlers; both were told who can.
    assert [(c, ctx.caller.can_manage_channel) for c, _, ctx in dispatch.calls] == [("setup", True)]


async def test_paging_buttons_work_after_a_restart(fake):
    async with started(fake):
        rec = await fake.slash("pages")
        await fake.wait_until(
            lambda: rec.original_id and fake.messages[rec.original_id]["components"],
            what="the first page",
        )
    page_one = fake.messages[rec.original_id]
    buttons = page_one["components"][0]["components"]
    assert [b["label"] for b in buttons] == ["◀ Previous", "Next ▶"]
    assert buttons[0]["disabled"] is True
    assert decode_custom_id(buttons[1]["custom_id"]) == ("pages", {"page": "2"})

    # A new process: nothing in memory knows the message, the custom_id carries it all.
    dispatch = Dispatcher()
    async with started(fake, dispatch):
        click = await fake.click(rec.original_id, buttons[1]["custom_id"])
        await fake.wait_until(
            lambda: fake.messages[rec.original_id]["embeds"][0]["title"] == "Role 2.0",
            what="page two in place",
        )
    assert click.callbacks[0] == {"type": 6}  # slow: deferred update, then edited
    assert dispatch.calls[0][1] == {"page": 2}
    page_two = fake.messages[rec.original_id]
    assert page_two["content"].startswith("**Open AI/ML roles**")
    assert page_two["components"][0]["components"][0]["disabled"] is False
    assert len(fake.channel_messages(CHANNEL_ID)) == 1  # edited, not posted again


async def test_someone_elses_button_is_left_alone(fake):
    async with started(fake):
        rec = await fake.slash("echo", text="x")
        await fake.wait_until(lambda: rec.callbacks, what="answer")
        click = await fake.click(rec.original_id, "another-bot:thing")
        probe = await fake.slash("echo", text="after")
        await fake.wait_until(lambda: probe.callbacks, what="the next answer")
    assert click.callbacks == []


async def test_company_autocomplete_suggests_stored_names(fake):
    async with started(fake):
        rec = await fake.autocomplete("echo", "company", "n")
        await fake.wait_until(lambda: rec.callbacks, what="suggestions")
    (callback,) = rec.callbacks
    assert callback["type"] == 8
    assert callback["data"]["choices"] == [
        {"name": "Netflix", "value": "Netflix"},
        {"name": "NBCUniversal", "value": "NBCUniversal"},
        {"name": "Nvidia", "value": "Nvidia"},
    ]


# -- delivery ----------------------------------------------------------------------------


def alert(title: str, *, pay: str = "$315k–$560k/yr", status: str | None = None) -> Reply:
    fields = [Field("Pay", pay), Field("Location", "San Francisco, CA · Remote")]
    if status:
        fields.append(Field("Status", status))
    return Reply(
        title="New AI/ML role",
        severity="success",
        items=(
            Item(
                title=title,
                url="https://boards.greenhouse.io/anthropic/jobs/4020305008",
                author="Anthropic",
                fields=tuple(fields),
                footer="anthropic · #12",
                timestamp=datetime(2026, 3, 4, 15, 30, tzinfo=UTC),
                colour=0xE91E63,
            ),
        ),
    )


async def test_an_alert_is_sent_and_then_edited_in_place(fake):
    async with started(fake) as platform:
        ref = await platform.send(
            str(CHANNEL_ID), alert("Research Engineer"), idempotency_key="mq17"
        )
        await platform.edit(
            str(CHANNEL_ID), ref, alert("Research Engineer", status="Closed — no longer listed")
        )
    (message,) = fake.channel_messages(CHANNEL_ID)
    assert message["id"] == ref and message["nonce"] == "mq17"
    assert message["edited_timestamp"] is not None
    assert [f["name"] for f in message["embeds"][0]["fields"]][-1] == "Status"
    (create,) = [r for r in fake.requests if r.method == "POST" and r.path == MESSAGES]
    assert create.json()["enforce_nonce"] is True
    assert create.json()["allowed_mentions"] == {"parse": []}
    (patch,) = [r for r in fake.requests if r.method == "PATCH"]
    assert patch.json()["allowed_mentions"] == {"parse": []}


async def test_a_resend_of_the_same_row_does_not_post_twice(fake):
    async with started(fake) as platform:
        fake.lose_response(MESSAGES)  # created, but the answer never arrives
        with pytest.raises(TransientDeliveryError):
            await platform.send(str(CHANNEL_ID), alert("ML Engineer"), idempotency_key="mq18")
        ref = await platform.send(str(CHANNEL_ID), alert("ML Engineer"), idempotency_key="mq18")
    (message,) = fake.channel_messages(CHANNEL_ID)
    assert message["id"] == ref


async def test_a_rate_limit_is_waited_out_by_discord_py(fake):
    async with started(fake) as platform:
        fake.rate_limit(MESSAGES, 0.05)
        ref = await platform.send(str(CHANNEL_ID), alert("ML Engineer"), idempotency_key="mq19")
    posts = [r for r in fake.requests if r.method == "POST" and r.path == MESSAGES]
    assert len(posts) == 2
    assert posts[0].json()["nonce"] == posts[1].json()["nonce"] == "mq19"
    assert [m["id"] for m in fake.channel_messages(CHANNEL_ID)] == [ref]


async def test_rate_limits_too_long_to_wait_go_back_to_the_outbox(fake):
    async with started(fake) as platform:
        # Longer than discord.py may sleep (max_ratelimit_wait, 30 s): raised, not slept.
        fake.rate_limit(MESSAGES, 120.0)
        with pytest.raises(TransientDeliveryError) as long_wait:
            await platform.send(str(CHANNEL_ID), alert("A"), idempotency_key="mq22")
        assert long_wait.value.retry_after == 120.0
        # A 429 from the edge (no Via header, text body): not retried by discord.py.
        edge = Fault("status", status=429, body=b"error code: 1015", headers={"Retry-After": "60"})
        fake.fail(MESSAGES, edge)
        with pytest.raises(TransientDeliveryError) as banned:
            await platform.send(str(CHANNEL_ID), alert("B"), idempotency_key="mq23")
        assert banned.value.retry_after == 60.0
    assert fake.channel_messages(CHANNEL_ID) == []


async def test_server_errors_and_timeouts_are_transient(fake):
    # 2 s: room for a loaded machine's answer to the 503, short of discord.py's retries
    async with started(fake, request_timeout=2) as platform:
        fake.server_error(MESSAGES, 503)  # not retried by discord.py: straight back to us
        with pytest.raises(TransientDeliveryError, match="503"):
            await platform.send(str(CHANNEL_ID), alert("A"), idempotency_key="mq20")
        # A 500 that goes on: discord.py keeps retrying; our time budget ends it.
        fake.server_error(MESSAGES, 500, times=5)
        with pytest.raises(TransientDeliveryError, match=r"did not answer within 2 s"):
            await platform.send(str(CHANNEL_ID), alert("B"), idempotency_key="mq21")
    assert fake.channel_messages(CHANNEL_ID) == []


@pytest.mark.parametrize(
    ("break_it", "reason"),
    [
        (lambda fake: fake.deny(OTHER_CHANNEL_ID), "Missing Access"),
        (lambda fake: fake.deny(OTHER_CHANNEL_ID, code=50013), "Missing Permissions"),
        (lambda fake: fake.delete_channel(OTHER_CHANNEL_ID), "Unknown Channel"),
    ],
)
async def test_access_problems_are_permanent_with_a_reason(fake, break_it, reason):
    async with started(fake) as platform:
        ref = await platform.send(str(OTHER_CHANNEL_ID), alert("A"), idempotency_key="mq30")
        break_it(fake)
        with pytest.raises(PermanentDeliveryError, match=reason):
            await platform.send(str(OTHER_CHANNEL_ID), alert("B"), idempotency_key="mq31")
        with pytest.raises(PermanentDeliveryError, match=reason):
            await platform.edit(str(OTHER_CHANNEL_ID), ref, alert("A", status="Closed"))


async def test_a_revoked_token_is_permanent(fake):
    async with started(fake) as platform:
        fake.token = "rotated"
        with pytest.raises(PermanentDeliveryError, match="401"):
            await platform.send(str(CHANNEL_ID), alert("A"), idempotency_key="mq40")


async def test_an_edit_of_a_deleted_alert_says_so(fake):
    async with started(fake) as platform:
        ref = await platform.send(str(CHANNEL_ID), alert("A"), idempotency_key="mq41")
        fake.deleted.add(int(ref))
        with pytest.raises(PermanentDeliveryError, match="Unknown Message"):
            await platform.edit(str(CHANNEL_ID), ref, alert("A", status="Closed"))


async def test_hostile_titles_never_ping(fake):
    hostile = [
        "@everyone Staff ML Engineer",
        "<@123> ML Lead @here",
        "<@&987654321098765432> **urgent** `rm -rf` [apply](https://evil.example)",
        "__Research__ ~~Scientist~~ ||hidden||",
    ]
    async with started(fake) as platform:
        for i, title in enumerate(hostile):
            reply = Reply(title=title, items=(Item(title=title, author=title, footer=title),))
            await platform.send(str(CHANNEL_ID), reply, idempotency_key=f"mq5{i}")
    # The fixture asserts fake.pings == [] (mentions Discord would have notified).
    for message in fake.channel_messages(CHANNEL_ID):
        shown = message["content"] + message["embeds"][0]["title"]
        assert "@everyone" not in shown and "@here" not in shown and "<@123>" not in shown
        # Markup arrives escaped: shown as typed, never rendered.
        assert not re.search(r"(?<!\\)\*\*urgent|(?<!\\)\[apply\]\(|(?<!\\)__Research", shown)


async def test_a_digest_too_big_for_one_message_is_split_and_edited_as_a_whole(fake):
    items = tuple(
        Item(f"Role {i}", text="Train and serve large models. " * 100, url="https://jobs.test/x")
        for i in range(14)
    )
    async with started(fake) as platform:
        ref = await platform.send(
            str(CHANNEL_ID), Reply(title="Digest", items=items), idempotency_key="mq60"
        )
        parts = ref.split(",")
        assert len(parts) >= 2
        await platform.edit(
            str(CHANNEL_ID), ref, Reply(title="Digest (corrected)", items=items[:1])
        )
    messages = fake.channel_messages(CHANNEL_ID)
    assert [m["id"] for m in messages] == parts
    assert messages[0]["content"] == "**Digest (corrected)**"
    assert all(m["edited_timestamp"] for m in messages)
    nonces = [m["nonce"] for m in messages]
    assert nonces[0] == "mq60" and len(set(nonces)) == len(nonces)
    assert all(len(n) <= 25 for n in nonces)


async def test_the_token_never_reaches_the_logs(fake, caplog):
    caplog.set_level(logging.DEBUG)
    async with started(fake, Dispatcher()) as platform:
        rec = await fake.slash("echo", text="hi")
        await fake.wait_until(lambda: rec.callbacks, what="answer")
        await platform.send(str(CHANNEL_ID), alert("A"), idempotency_key="mq70")
    assert caplog.records, "debug logging was captured"
    for record in caplog.records:
        assert fake.token not in record.getMessage()
