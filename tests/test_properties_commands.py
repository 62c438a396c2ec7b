"""Promise 4 of issue 7, for slash commands: text of any shape gets a clear answer.

Hypothesis types commands at both platforms as people (and attackers) do: unbalanced
quotes, unknown keys, repeated keys, values of the wrong type, mentions and markup,
control and bidi characters, very long words. On Slack the text goes through the real
slack-bolt app over signed HTTP; on Discord the option values go through a real
INTERACTION_CREATE to discord.py, whatever type the option was declared with. Either
way the real handlers answer from a real Store. The properties: every command is
answered (within Slack's and Discord's deadlines), the answer says something (an error
says what was wrong, never "something went wrong on Marquee's side"), a mistake is
shown only to the caller, and nothing in any answer pings or breaks a limit.
"""

from __future__ import annotations

import functools
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import handlers
from bot.platforms.discord import DiscordPlatform
from bot.platforms.slack import SlackPlatform, SlackSettings
from storage import Store, open_store
from tests.fakes.discord_server import MODERATOR_PERMISSIONS, FakeDiscord, settings_for
from tests.fakes.slack_server import BOT_TOKEN, SIGNING_SECRET, FakeSlack, SlackSigner
from tests.test_properties_hostile import HOSTILE, hostile_text

_EPHEMERAL, _LOADING = 1 << 6, 1 << 7
_INTERNAL = "Something went wrong"
_MISTAKE = "That didn't work"  # the title of handlers.reply.Reply.error
NAMES = [c.name for c in handlers.COMMANDS]

_WORD = st.one_of(
    hostile_text(),
    st.sampled_from(
        [
            'company:"netflix',
            "company:",
            ":",
            "min_salary:-1",
            "min_salary:1e309",
            "min_salary:300k",
            "page:99999999999999999999",
            "days:7,7,7",
            "tz:Mars/Olympus",
            "digest_time:24:60",
            "kind:jobs",
            "kind:everything",
            "id:all",
            "“smart quotes”",
            "'",
            '"',
            "\\",
            "=",
            "a" * 300,
        ]
    ),
)
_TEXT = st.lists(_WORD, max_size=6).map(" ".join)
_OPTION_VALUES = st.one_of(
    hostile_text(),
    st.integers(min_value=-(2**63), max_value=2**63),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.sampled_from(["300k", "", " ", "0", "-5", "netflix", *HOSTILE]),
)


@pytest.fixture
async def store(sqlite_url) -> AsyncIterator[Store]:
    async with open_store(sqlite_url) as s:
        yield s


# -- Slack -------------------------------------------------------------------------------


@pytest.fixture
async def slack(store) -> AsyncIterator[tuple[FakeSlack, SlackSigner]]:
    async with FakeSlack() as fake:
        settings = SlackSettings(
            bot_token=BOT_TOKEN,
            signing_secret=SIGNING_SECRET,
            port=0,
            api_base=fake.api_base,
            pace_seconds=0.0,
        )
        dispatch = functools.partial(handlers.dispatch, store, settings=handlers.HandlerSettings())
        async with SlackPlatform(
            settings,
            commands=handlers.COMMANDS,
            dispatch=dispatch,
            parse_args=handlers.parse_text_args,
        ) as platform:
            yield fake, SlackSigner(platform.url + settings.path)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])  # one app, on purpose
@given(name=st.sampled_from([*NAMES, "ailisting", "SUBSCRIBE"]), text=_TEXT)
async def test_any_slack_command_text_gets_a_clear_answer(slack, name, text):
    fake, signer = slack
    fake.violations.clear()
    payload = fake.command_payload(f"/{name}", text)
    response = await signer.command(payload)
    assert response.status == 200, response.text
    answer = response.json() if response.text else {}
    if not answer.get("blocks") or str(answer.get("text", "")).startswith("Working on"):
        posts = await fake.wait_for(lambda: fake.posts_to(payload["response_url"]), within=10)
        answer = posts[-1]
    shown = json.dumps(answer, ensure_ascii=False)
    assert answer.get("text") or answer.get("blocks"), answer
    assert _INTERNAL not in shown, shown[:500]
    if _MISTAKE in shown:  # a mistake is the caller's business only, and says what it was
        assert answer.get("response_type") == "ephemeral", answer
        assert len(shown.split(_MISTAKE, 1)[1]) > 40, shown
    assert fake.violations == []


# -- Discord -----------------------------------------------------------------------------


@pytest.fixture
async def discord(store) -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as fake:
        settings = settings_for(fake, request_timeout=5)
        platform = DiscordPlatform(
            settings,
            commands=handlers.COMMANDS,
            dispatch=functools.partial(
                handlers.dispatch, store, settings=handlers.HandlerSettings()
            ),
            complete_company=functools.partial(handlers.complete_company, store),
        )
        async with platform:
            yield fake


def _answer(fake: FakeDiscord, rec: Any) -> dict[str, Any] | None:
    if not rec.callbacks:
        return None
    if rec.followups:
        return fake.messages[rec.followups[-1]]
    if rec.callbacks[0].get("type") == 4:
        return {**rec.callbacks[0]["data"], "flags": rec.callbacks[0]["data"].get("flags") or 0}
    message = fake.messages.get(rec.original_id or 0)
    if message is None or message["flags"] & _LOADING:
        return None
    return message


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])  # one app, on purpose
@given(
    name=st.sampled_from(NAMES),
    options=st.dictionaries(
        st.sampled_from(
            ["company", "min_salary", "kind", "query", "page", "id", "days", "tz", "topic",
             "digest_time", "remote", "keywords", "bogus"]
        ),
        _OPTION_VALUES,
        max_size=4,
    ),
    moderator=st.booleans(),
)  # fmt: skip
async def test_any_discord_option_values_get_a_clear_answer(discord, name, options, moderator):
    fake = discord
    fake.violations.clear()
    fake.pings.clear()
    permissions = {"permissions": MODERATOR_PERMISSIONS} if moderator else {}
    rec = await fake.slash(name, **options, **permissions)
    await fake.wait_until(lambda: _answer(fake, rec) is not None, within=10, what=f"/{name}")
    answer = _answer(fake, rec)
    assert answer is not None
    assert len(rec.callbacks) == 1  # answered once, within Discord's 3 seconds
    shown = json.dumps(answer, ensure_ascii=False)
    assert answer.get("content") or answer.get("embeds"), answer
    assert _INTERNAL not in shown, shown[:500]
    if _MISTAKE in shown:
        assert answer["flags"] & _EPHEMERAL, answer
        (embed,) = answer["embeds"]
        assert len(embed.get("description", "")) > 10, embed
    assert fake.violations == [] and fake.pings == []
