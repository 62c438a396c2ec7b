"""Slack in many workspaces (issue 9, item 4): the OAuth install flow, then commands and
alerts with each workspace's own token.

A browser (aiohttp, no cookie jar: cookies are passed by hand as a browser behind TLS
would send them) opens ``/slack/install``, is sent to the local Slack's consent page,
which approves for workspace ``T0SECOND`` and sends it back to
``/slack/oauth_redirect`` with a code; Marquee trades the code at ``oauth.v2.access``
and keeps the install in its database (SQLite and PostgreSQL). A signed command from
that workspace is then answered with that workspace's token, and a sending-only
instance (the worker) posts there with it too.
"""

from __future__ import annotations

import contextlib
import functools
import json
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest

from bot.config import parse_config
from bot.errors import ConfigError, PermanentDeliveryError
from bot.platforms.slack import SlackPlatform, SlackSettings
from bot.platforms.slack_manifest import scopes_for
from bot.platforms.slack_oauth import StoreInstallations, StoreOAuthStates
from handlers import COMMANDS, HandlerSettings, dispatch, parse_text_args
from handlers.reply import Reply
from storage import Store, open_store
from tests.fakes.slack_server import (
    BOT_TOKEN,
    CLIENT_ID,
    CLIENT_SECRET,
    SIGNING_SECRET,
    FakeSlack,
    SlackSigner,
    message_problems,
)

# slack_sdk sends the client credentials with aiohttp's BasicAuth, deprecated in aiohttp
pytestmark = pytest.mark.filterwarnings("ignore:BasicAuth is deprecated:DeprecationWarning")

TEAM = "T0SECOND"
COOKIE = "slack-app-oauth-state"


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    async with FakeSlack() as slack:
        slack.add_user("U0ADMIN", admin=True)
        slack.add_user("U0MEMBER")
        yield slack
        assert slack.violations == [], slack.violations[:5]


@pytest.fixture
async def store(db_url) -> AsyncIterator[Store]:
    async with open_store(db_url) as db:
        yield db


def _settings(fake: FakeSlack, **overrides: Any) -> SlackSettings:
    values: dict[str, Any] = {
        "signing_secret": SIGNING_SECRET,
        "port": 0,
        "api_base": fake.api_base,
        "pace_seconds": 0.0,
        "who_may_subscribe": "admins",
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "scopes": tuple(scopes_for("admins")),
    }
    values.update(overrides)
    return SlackSettings(**values)


@contextlib.asynccontextmanager
async def slack(fake: FakeSlack, store: Store, **overrides: Any) -> AsyncIterator[SlackPlatform]:
    settings = _settings(fake, **overrides)
    platform = SlackPlatform(
        settings,
        commands=COMMANDS,
        dispatch=functools.partial(dispatch, store, settings=HandlerSettings()),
        parse_args=parse_text_args,
        installations=StoreInstallations(store),
        oauth_states=StoreOAuthStates(store),
    )
    async with platform:
        if settings.serve:
            # the Redirect URL configured in the app's settings at Slack
            fake.redirect_url = platform.url + settings.redirect_path
        yield platform


async def _get(session: aiohttp.ClientSession, url: str, **kw: Any) -> tuple[int, Any, str]:
    async with session.get(url, allow_redirects=False, **kw) as resp:
        return resp.status, resp.headers, await resp.text()


async def install(platform: SlackPlatform) -> tuple[str, str, int, str]:
    """An admin's browser through the install: returns the consent URL, the way back
    (with its state cookie), and Marquee's final answer."""
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as browser:
        status, headers, _ = await _get(browser, platform.url + "/slack/install")
        assert status == 302
        consent = headers["Location"]
        cookie = next(c for c in headers.getall("Set-Cookie") if c.startswith(COOKIE))
        cookie = cookie.split(";", 1)[0]
        status, headers, _ = await _get(browser, consent)
        assert status == 302
        back = headers["Location"]
        status, _, page = await _get(browser, back, headers={"Cookie": cookie})
    return consent, f"{back}\n{cookie}", status, page


def _command(fake: FakeSlack, command: str, text: str, *, team: str, user: str) -> dict:
    payload = fake.command_payload(command, text, user_id=user, user_name=user.lower())
    payload["team_id"] = team
    return payload


async def test_install_then_a_command_and_an_alert_use_the_workspaces_token(fake, store):
    async with slack(fake, store) as platform:
        consent, _, status, page = await install(platform)
        assert status == 200, page

        # Slack was asked for exactly Marquee's bot scopes and no user scopes
        query = parse_qs(urlsplit(consent).query)
        assert consent.startswith(fake.url + "/oauth/v2/authorize?")
        assert query["client_id"] == [CLIENT_ID]
        assert query["scope"] == ["commands,chat:write,chat:write.public,users:read"]
        assert "user_scope" not in query or query["user_scope"] == [""]
        (token,) = fake.tokens_of(TEAM)
        assert token != BOT_TOKEN
        (access,) = fake.calls_to("oauth.v2.access")
        assert access.params["code"] and "client_secret" not in access.params  # Basic auth
        installed = await store.slack_installation(team_id=TEAM)
        assert installed is not None and installed.bot_token == token
        assert installed.team_name == "Second Studio" and "users:read" in installed.bot_scopes
        assert platform.metrics.value("marquee_slack_installs_total", outcome="ok") == 1

        # A workspace admin subscribes a channel there: bolt authorises the request with
        # the workspace's token, and users.info is asked with it.
        signer = SlackSigner(platform.url + "/slack/events")
        response = await signer.command(
            _command(fake, "/subscribe", "jobs company:netflix", team=TEAM, user="U0ADMIN")
        )
        assert response.status == 200, response.text
        answer = response.json()
        assert message_problems(answer) == []
        assert "Subscribed" in json.dumps(answer), answer
        assert [c.token for c in fake.calls_to("users.info")] == [token]
        assert {c.token for c in fake.calls_to("auth.test")} == {token}
        (sub,) = await store.subscriptions(f"slack:{TEAM}/C0JOBS")

        # a member who is not an admin there is refused, asked about with the same token
        response = await signer.command(
            _command(fake, "/subscribe", "news", team=TEAM, user="U0MEMBER")
        )
        assert response.status == 200 and "admin" in response.text.lower()
        assert [c.token for c in fake.calls_to("users.info")] == [token, token]

    # A worker (sending only, another process in production) posts the alert there
    # with the workspace's token, found in the database.
    async with slack(fake, store, serve=False, signing_secret=None) as worker:
        ts = await worker.send(
            f"{TEAM}/C0JOBS", Reply(title="Staff ML Engineer, Netflix"), idempotency_key="mq1"
        )
        assert ts
        (post,) = fake.calls_to("chat.postMessage")
        assert post.token == token and post.params["channel"] == "C0JOBS"
        assert worker.url.endswith(":0")  # it serves nothing

        # uninstalled: nothing to post with, so the subscription is paused with why
        await store.delete_slack_installation(team_id=TEAM)
        worker._team_clients.clear()  # what the cache would forget within a minute
        with pytest.raises(PermanentDeliveryError, match="not_installed"):
            await worker.send(f"{TEAM}/C0JOBS", Reply(title="x"), idempotency_key="mq2")
    assert sub.channel == f"slack:{TEAM}/C0JOBS"


async def test_a_workspace_without_an_install_is_told_so_and_nothing_runs(fake, store):
    async with slack(fake, store) as platform:
        signer = SlackSigner(platform.url + "/slack/events")
        payload = _command(fake, "/subscribe", "jobs", team="T0NOBODY", user="U0ADMIN")
        response = await signer.command(payload)
        assert response.status == 200
        posts = await fake.wait_for(lambda: fake.posts_to(payload["response_url"]))
        assert "not installed in this workspace" in posts[0]["text"]
        assert await store.subscriptions("slack:T0NOBODY/C0JOBS") == []
        assert fake.calls_to("users.info") == []
        # and a forged request never gets that far
        forged = await signer.command(payload, signature="v0=" + "0" * 64)
        assert forged.status == 401


async def test_a_state_is_good_once_and_only_in_the_browser_it_was_given_to(fake, store):
    async with slack(fake, store) as platform:
        _, way_back, status, _ = await install(platform)
        assert status == 200
        back, cookie = way_back.split("\n")
        async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as browser:
            # the same redirect again (a replayed link): the state was used
            status, _, _ = await _get(browser, back, headers={"Cookie": cookie})
            assert status == 401
            # a fresh install, finished in another browser (no cookie): refused
            status, headers, _ = await _get(browser, platform.url + "/slack/install")
            status, headers, _ = await _get(browser, headers["Location"])
            status, _, _ = await _get(browser, headers["Location"])
            assert status == 400
            # a made-up state with a matching cookie: refused
            status, _, _ = await _get(
                browser,
                platform.url + "/slack/oauth_redirect?code=1.2&state=made-up",
                headers={"Cookie": f"{COOKIE}=made-up"},
            )
            assert status == 401
        assert len(await store.slack_installations()) == 1
        assert platform.metrics.value("marquee_slack_installs_total", outcome="refused") == 3


async def test_a_wrong_client_secret_installs_nothing(fake, store):
    async with slack(fake, store, client_secret="not-the-secret") as platform:
        _, _, status, _ = await install(platform)
        assert status == 401  # bolt's "invalid_code" page: the code could not be traded
    assert fake.calls_to("oauth.v2.access")
    assert await store.slack_installations() == []


def test_oauth_settings_are_checked_with_the_exact_key(fake):
    with pytest.raises(ConfigError) as caught:
        _settings(fake, client_secret=None)
    assert caught.value.key == "SLACK_CLIENT_SECRET"
    with pytest.raises(ConfigError) as caught:
        _settings(fake, bot_token=BOT_TOKEN)
    assert caught.value.key == "SLACK_BOT_TOKEN"
    with pytest.raises(ConfigError) as caught:
        _settings(fake, app_token="xapp-1-A1-1-x")
    assert caught.value.key == "SLACK_APP_TOKEN"
    with pytest.raises(ConfigError) as caught:
        _settings(fake, signing_secret=None)
    assert caught.value.key == "SLACK_SIGNING_SECRET"
    with pytest.raises(ConfigError) as caught:
        parse_config({"slack": {"client_id": "not an id"}}, env={})
    assert caught.value.key == "slack.client_id"


def test_the_config_turns_on_oauth_and_builds_the_redirect_url():
    env = {"SLACK_CLIENT_SECRET": CLIENT_SECRET, "SLACK_SIGNING_SECRET": SIGNING_SECRET}
    config = parse_config(
        {
            "slack": {
                "client_id": CLIENT_ID,
                "public_url": "https://marquee.example.org",
                "api_base": "https://slack-gov.com/api/",
            }
        },
        env=env,
    )
    assert config.slack_enabled and config.slack_oauth
    settings = SlackSettings.from_config(config)
    assert settings.oauth and settings.client_secret == CLIENT_SECRET
    assert settings.redirect_uri == "https://marquee.example.org/slack/oauth_redirect"
    assert settings.authorize_url == "https://slack-gov.com/oauth/v2/authorize"
    assert CLIENT_SECRET not in repr(settings) and CLIENT_SECRET not in repr(config)
    assert CLIENT_SECRET in config.secrets.values()  # redacted from logs


async def test_no_workspace_token_reaches_the_log_even_at_debug(fake, store):
    import io
    import logging

    from bot.logs import setup_logging

    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    stream = io.StringIO()
    try:
        setup_logging("DEBUG", stream=stream)
        async with slack(fake, store) as platform:
            _, _, status, _ = await install(platform)
            assert status == 200
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in saved[0]:
            root.addHandler(handler)
        root.setLevel(saved[1])
    (token,) = fake.tokens_of(TEAM)
    logged = stream.getvalue()
    assert "oauth.v2.access" in logged  # slack_sdk did log the exchange...
    assert token not in logged and "xox*-***" in logged  # ...without the token
    assert CLIENT_SECRET not in logged


async def test_a_worker_follows_a_reinstall_made_elsewhere(fake, store):
    async with slack(fake, store) as front:
        assert (await install(front))[2] == 200
    (old,) = fake.tokens_of(TEAM)
    async with slack(fake, store, serve=False, signing_secret=None) as worker:
        await worker.send(f"{TEAM}/C0JOBS", Reply(title="First"), idempotency_key="mq1")
        # The workspace installs again through a front end (another process), and Slack
        # revokes the token the worker still holds.
        async with slack(fake, store) as front:
            assert (await install(front))[2] == 200
        (new,) = [t for t in fake.tokens_of(TEAM) if t != old]
        del fake.workspaces[old]
        await worker.send(f"{TEAM}/C0JOBS", Reply(title="Second"), idempotency_key="mq2")
    assert [c.token for c in fake.calls_to("chat.postMessage")] == [old, old, new]
    sent = [m["text"] for _, _, m in fake.iter_sent()]
    assert len(sent) == 2 and "First" in sent[0] and "Second" in sent[1]
