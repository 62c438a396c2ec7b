"""Slack installs and OAuth states in Marquee's database (issue 9), on both engines,
through the slack_sdk store interfaces bolt calls."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from slack_sdk.oauth.installation_store.models.bot import Bot
from slack_sdk.oauth.installation_store.models.installation import Installation

from bot.platforms.slack_oauth import StoreInstallations, StoreOAuthStates
from storage import SlackInstallation, open_store

T0 = datetime(2026, 11, 2, 17, 0, tzinfo=UTC)


@pytest.fixture
async def store(db_url):
    async with open_store(db_url) as s:
        yield s


def _installation(team: str = "T0SECOND", token: str = "xoxb-second-1", **kw) -> Installation:
    values = {
        "app_id": "A0MARQUEE",
        "team_id": team,
        "team_name": "Second Studio",
        "bot_token": token,
        "bot_id": "B0MARQUEE",
        "bot_user_id": "U0SECONDBOT",
        "bot_scopes": "commands,chat:write,chat:write.public",
        "user_id": "U0ADMIN",
        "installed_at": T0.timestamp(),
    }
    values.update(kw)
    return Installation(**values)


async def test_an_install_is_found_by_its_workspace_and_replaced_by_a_reinstall(store):
    installs = StoreInstallations(store, clock=lambda: T0)
    assert await installs.async_find_bot(enterprise_id=None, team_id="T0SECOND") is None
    await installs.async_save(_installation())
    bot = await installs.async_find_bot(enterprise_id=None, team_id="T0SECOND")
    assert bot is not None and bot.bot_token == "xoxb-second-1"
    assert bot.bot_scopes == ["commands", "chat:write", "chat:write.public"]
    assert bot.bot_user_id == "U0SECONDBOT" and bot.team_name == "Second Studio"

    await installs.async_save(_installation(token="xoxb-second-2", bot_scopes="commands"))
    bot = await installs.async_find_bot(enterprise_id=None, team_id="T0SECOND")
    assert bot.bot_token == "xoxb-second-2" and bot.bot_scopes == ["commands"]
    assert len(await store.slack_installations()) == 1

    found = await installs.async_find_installation(enterprise_id=None, team_id="T0SECOND")
    assert found is not None and found.bot_token == "xoxb-second-2"
    # no user tokens are kept, so nothing is found for a user
    assert (
        await installs.async_find_installation(
            enterprise_id=None, team_id="T0SECOND", user_id="U0ADMIN"
        )
        is None
    )
    assert await installs.async_find_bot(enterprise_id=None, team_id="T0OTHER") is None


async def test_workspaces_of_an_organisation_and_an_org_wide_install(store):
    installs = StoreInstallations(store, clock=lambda: T0)
    await installs.async_save(_installation(team="T0GRID1", enterprise_id="E0ORG", token="x1"))
    await installs.async_save(
        _installation(team=None, enterprise_id="E0ORG", is_enterprise_install=True, token="x-org")
    )
    own = await installs.async_find_bot(enterprise_id="E0ORG", team_id="T0GRID1")
    assert own.bot_token == "x1"
    # a workspace of the organisation without its own install: the org-wide one
    other = await installs.async_find_bot(enterprise_id="E0ORG", team_id="T0GRID2")
    assert other.bot_token == "x-org" and other.is_enterprise_install
    # by workspace alone (how delivery addresses a channel): only its own install
    assert (await installs.async_find_bot(enterprise_id=None, team_id="T0GRID1")).bot_token == "x1"
    org = await installs.async_find_bot(
        enterprise_id="E0ORG", team_id=None, is_enterprise_install=True
    )
    assert org.bot_token == "x-org"


async def test_uninstalling_forgets_the_token(store):
    installs = StoreInstallations(store)
    await installs.async_save(_installation())
    await installs.async_delete_all(enterprise_id=None, team_id="T0SECOND")
    assert await installs.async_find_bot(enterprise_id=None, team_id="T0SECOND") is None
    assert not await store.delete_slack_installation(team_id="T0SECOND")


async def test_a_rotated_token_is_kept_with_its_expiry(store):
    installs = StoreInstallations(store, clock=lambda: T0)
    expires = int((T0 + timedelta(hours=12)).timestamp())
    await installs.async_save_bot(
        Bot(
            team_id="T0SECOND",
            bot_token="xoxe.xoxb-1-new",
            bot_id="B0MARQUEE",
            bot_user_id="U0SECONDBOT",
            bot_refresh_token="xoxe-1-refresh",
            bot_token_expires_at=expires,
            installed_at=T0.timestamp(),
        )
    )
    bot = await installs.async_find_bot(enterprise_id=None, team_id="T0SECOND")
    assert bot.bot_refresh_token == "xoxe-1-refresh" and bot.bot_token_expires_at == expires


async def test_tokens_stay_out_of_repr(store):
    inst = SlackInstallation(team_id="T1", bot_token="xoxb-secret", bot_refresh_token="xoxe-r")
    assert "xoxb-secret" not in repr(inst) and "xoxe-r" not in repr(inst)
    with pytest.raises(ValueError):
        await store.save_slack_installation(SlackInstallation(team_id="T1"), at=T0)


async def test_a_state_is_good_once_and_only_until_it_expires(store):
    clock = [T0]
    states = StoreOAuthStates(store, expiration_seconds=600, clock=lambda: clock[0])
    first, second = await states.async_issue(), await states.async_issue()
    assert first != second and len(first) >= 40
    assert await states.async_consume(first)
    assert not await states.async_consume(first)  # replayed
    clock[0] = T0 + timedelta(seconds=601)
    assert not await states.async_consume(second)  # too late
    assert not await states.async_consume("made-up")
    assert not await states.async_consume("")
    # issuing sweeps what expired
    await states.async_issue()
    assert await store.oauth_state_count() == 1


async def test_a_state_is_consumed_by_one_of_two_instances(db_url):
    async with open_store(db_url) as one, open_store(db_url, upgrade=False) as two:
        state = await StoreOAuthStates(one).async_issue()
        results = await asyncio.gather(
            StoreOAuthStates(one).async_consume(state), StoreOAuthStates(two).async_consume(state)
        )
    assert sorted(results) == [False, True]
