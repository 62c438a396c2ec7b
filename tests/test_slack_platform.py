"""Slack end to end: the real slack-bolt AsyncApp, the real command layer and a SQLite
store, talking to the local fake Slack over real HTTP and a real websocket.

Requests are signed like Slack signs them (tests.fakes.slack_server.SlackSigner); every
message Marquee sends (ack bodies, response_url posts, chat.postMessage / chat.update,
Socket Mode acks) is checked against Slack's published limits and for unescaped markup by
the fake, and the ``fake`` fixture fails a test that left any violation behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import itertools
import json
import logging
import time
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest

from bot.config import parse_config
from bot.errors import ConfigError, PermanentDeliveryError, TransientDeliveryError
from bot.models import AIMatch, ListingFilter, Posting, Salary
from bot.platforms.base import Platform
from bot.platforms.slack import SlackPlatform, SlackSettings
from handlers import COMMANDS, HandlerSettings, dispatch, parse_text_args
from handlers.alerts import posting_alert
from handlers.reply import Field, Item, Reply
from handlers.spec import CommandSpec, Context
from storage import Store, open_store
from tests.fakes.http import Fault
from tests.fakes.slack_server import (
    APP_TOKEN,
    BOT_TOKEN,
    SIGNING_SECRET,
    TEAM_ID,
    FakeSlack,
    SignedResponse,
    SlackSigner,
    message_problems,
)

HOSTILE = "<!channel> <@U024BE7LH> & <!here> @everyone"
NOW = datetime(2026, 11, 28, 17, 0, tzinfo=UTC)


# -- fixtures ------------------------------------------------------------------------


@pytest.fixture
async def fake() -> AsyncIterator[FakeSlack]:
    async with FakeSlack() as slack:
        yield slack
        assert slack.violations == [], slack.violations[:5]


def _posting(i: int, company: str, title: str, top: float) -> Posting:
    salary = Salary(
        min=top * 0.7,
        max=top,
        currency="USD",
        text=f"${top * 0.7:,.0f} - ${top:,.0f}",
        annual_usd_min=top * 0.7,
        annual_usd_max=top,
    )
    return Posting(
        source=f"greenhouse:{company.lower()}",
        external_id=str(4_000_000 + i),
        company=company,
        title=title,
        url=f"https://boards.greenhouse.io/{company.lower()}/jobs/{4_000_000 + i}?gh_jid=1&src=x",
        location="Los Gatos, CA" if i % 2 else "Remote, US",
        remote=not i % 2,
        department="Machine Learning & AI <Platform>",
        description="Build recommendation models &amp; ranking. <b>Compensation</b>: see range.",
        posted_at=NOW - timedelta(hours=i),
        salary=salary,
        ai=AIMatch(True, 0.95, ("machine learning",)),
    )


@pytest.fixture
async def store(sqlite_url: str) -> AsyncIterator[Store]:
    async with open_store(sqlite_url) as db:
        netflix = [
            _posting(i, "Netflix", f"Staff ML Engineer {i} {HOSTILE}", 300_000 + 50_000 * i)
            for i in range(8)
        ]
        disney = [_posting(20 + i, "Disney", f"Applied Scientist {i}", 210_000) for i in range(2)]
        for batch in (netflix, disney):
            await db.apply_postings(batch[0].source, batch, at=NOW, baseline=False)
        yield db


class Recorder:
    """Wraps the real dispatch so tests can see whether and how it ran."""

    def __init__(self, store: Store, settings: HandlerSettings) -> None:
        self.calls: list[tuple[str, Mapping[str, object], Context]] = []
        self._run = functools.partial(dispatch, store, settings=settings)

    async def __call__(self, command: str, args: Mapping[str, object], ctx: Context) -> Reply:
        self.calls.append((command, dict(args), ctx))
        return await self._run(command, args, ctx)


def _settings(fake: FakeSlack, **overrides: Any) -> SlackSettings:
    values: dict[str, Any] = {
        "bot_token": BOT_TOKEN,
        "signing_secret": SIGNING_SECRET,
        "port": 0,
        "api_base": fake.api_base.rstrip("/"),  # the platform must add the slash
        "pace_seconds": 0.0,
    }
    values.update(overrides)
    return SlackSettings(**values)


@contextlib.asynccontextmanager
async def running(
    fake: FakeSlack,
    store: Store | None = None,
    *,
    dispatcher: Any = None,
    commands: tuple[CommandSpec, ...] = COMMANDS,
    **overrides: Any,
) -> AsyncIterator[tuple[SlackPlatform, Any, SlackSigner]]:
    if dispatcher is None:
        assert store is not None
        dispatcher = Recorder(store, HandlerSettings(page_size=3, clock=lambda: NOW))
    settings = _settings(fake, **overrides)
    async with SlackPlatform(
        settings, commands=commands, dispatch=dispatcher, parse_args=parse_text_args
    ) as platform:
        yield platform, dispatcher, SlackSigner(platform.url + settings.path)


def _ack(response: SignedResponse) -> dict[str, Any]:
    assert response.status == 200, response.text
    body = response.json()
    assert message_problems(body) == [], message_problems(body)
    return body


def _words(message: Mapping[str, Any]) -> str:
    return json.dumps(message, ensure_ascii=False)


# -- HTTP mode: every command ------------------------------------------------------

COMMAND_TEXT = {
    "ailistings": "netflix min_salary:300k",
    "strikenews": "7",
    "subscribe": "jobs company:netflix company:disney tz:America/Los_Angeles digest_time:09:00",
    "unsubscribe": "all",
    "subscriptions": "",
    "digest": "",
    "salaries": "netflix",
    "sources": "",
    "help": "subscribe",
}


def test_the_examples_cover_every_declared_command():
    assert set(COMMAND_TEXT) == {spec.name for spec in COMMANDS}


@pytest.mark.parametrize("name", sorted(COMMAND_TEXT))
async def test_every_command_is_answered_over_signed_http(fake, store, name):
    spec = next(s for s in COMMANDS if s.name == name)
    async with running(fake, store) as (platform, recorder, signer):
        payload = fake.command_payload(f"/{name}", COMMAND_TEXT[name])
        started = time.monotonic()
        ack = _ack(await signer.command(payload))
        assert time.monotonic() - started < 3.0  # Slack's window
        if spec.slow:
            assert ack == {"response_type": "ephemeral", "text": f"Working on /{name}…"}
            posts = await fake.wait_for(lambda: fake.posts_to(payload["response_url"]))
            answer = posts[0]
        else:
            answer = ack
        assert "Something went wrong" not in _words(answer)
        assert answer["blocks"], answer
        expected_type = "ephemeral" if spec.personal else "in_channel"
        assert answer["response_type"] == expected_type
        (command, _, ctx) = recorder.calls[0]
        assert command == name
        assert ctx.platform == "slack"
        assert ctx.channel == f"slack:{TEAM_ID}/C0JOBS"
        assert ctx.guild_or_team == TEAM_ID
        assert ctx.caller.user_id == "U0ALICE" and ctx.caller.display_name == "alice"
        assert (
            platform.metrics.value("marquee_slack_commands_total", command=name, outcome="ok")
            + (
                platform.metrics.value(
                    "marquee_slack_commands_total", command=name, outcome="refused"
                )
            )
            == 1
        )


async def test_subscribe_then_subscriptions_then_unsubscribe(fake, store):
    async with running(fake, store) as (_, recorder, signer):
        text = COMMAND_TEXT["subscribe"]
        ack = _ack(await signer.command(fake.command_payload("/subscribe", text)))
        assert ack["response_type"] == "in_channel"
        assert recorder.calls[0][1] == {
            "kind": "jobs",
            "company": ["netflix", "disney"],
            "tz": "America/Los_Angeles",
            "digest_time": "09:00",
        }
        subs = await store.subscriptions(f"slack:{TEAM_ID}/C0JOBS")
        assert len(subs) == 1 and subs[0].tz == "America/Los_Angeles"
        listing = _ack(await signer.command(fake.command_payload("/subscriptions")))
        assert f"#{subs[0].id}" in _words(listing)
        gone = _ack(await signer.command(fake.command_payload("/unsubscribe", str(subs[0].id))))
        assert gone["response_type"] == "in_channel"
        assert await store.subscriptions(f"slack:{TEAM_ID}/C0JOBS") == []


async def test_bad_input_gets_a_specific_private_error(fake, store):
    async with running(fake, store) as (_, recorder, signer):
        unknown = fake.command_payload("/ailistings", "netflix salary:300k")
        _ack(await signer.command(unknown))
        (post,) = await fake.wait_for(lambda: fake.posts_to(unknown["response_url"]))
        assert post["response_type"] == "ephemeral"
        assert "has no option `salary`" in post["text"] and "min_salary" in post["text"]
        assert recorder.calls == []  # the parser refused it before any dispatch
        quote = _ack(await signer.command(fake.command_payload("/help", 'command:"subscribe')))
        assert quote["response_type"] == "ephemeral" and "never closed" in quote["text"]
        missing = _ack(await signer.command(fake.command_payload("/unsubscribe", "")))
        assert missing["response_type"] == "ephemeral" and "needs `id`" in missing["text"]


# -- signatures ----------------------------------------------------------------------


async def test_forged_and_stale_requests_get_401_and_never_run(fake, store):
    async with running(fake, store) as (platform, recorder, signer):
        body = urlencode(fake.command_payload("/subscribe", "jobs"))
        now = int(time.time())
        forged = SlackSigner(signer.url, signing_secret="not-the-secret")
        attempts = [
            await signer.post(body, signature="v0=" + "0" * 64),
            await forged.post(body),
            await signer.post(body, timestamp=now - 6 * 60),  # replayed 6 minutes later
            await signer.post(body, timestamp=now + 6 * 60),
            await signer.post(body, signature=""),
            await signer.post(
                body.replace("text=jobs", "text=all"),
                signature=signer.sign(body, now),
                timestamp=now,
            ),
        ]
        assert [a.status for a in attempts] == [401] * len(attempts)
        # a genuine request four minutes old is still inside Slack's five-minute window
        fresh = await signer.post(urlencode(fake.command_payload("/help")), timestamp=now - 240)
        assert fresh.status == 200
        assert [c[0] for c in recorder.calls] == ["help"]
        assert not fake.response_posts
        assert await store.subscriptions(f"slack:{TEAM_ID}/C0JOBS") == []
        assert (
            platform.metrics.value(
                "marquee_slack_commands_total", command="subscribe", outcome="ok"
            )
            == 0
        )


# -- acks and response_url -----------------------------------------------------------


async def test_a_fast_command_that_overruns_acks_first_then_answers(fake):
    release = asyncio.Event()

    async def sluggish(command: str, args: Mapping[str, object], ctx: Context) -> Reply:
        await release.wait()
        return Reply(title="Done at last", text=f"{HOSTILE} for {ctx.caller.user_id}")

    async with running(fake, dispatcher=sluggish, ack_deadline=0.2) as (_, _, signer):
        payload = fake.command_payload("/help")
        ack = _ack(await signer.command(payload))
        assert ack == {"response_type": "ephemeral", "text": "Working on /help…"}
        assert fake.posts_to(payload["response_url"]) == []
        release.set()
        (post,) = await fake.wait_for(lambda: fake.posts_to(payload["response_url"]))
        assert post["blocks"][0]["text"]["text"] == "Done at last"
        assert "&lt;!channel&gt;" in _words(post)


async def test_a_handler_crash_still_gets_an_answer(fake, caplog):
    async def broken(command: str, args: Mapping[str, object], ctx: Context) -> Reply:
        raise RuntimeError("boom")

    async with running(fake, dispatcher=broken) as (platform, _, signer):
        ack = _ack(await signer.command(fake.command_payload("/sources")))
        assert ack["response_type"] == "ephemeral"
        assert "Something went wrong" in ack["text"]
        assert platform.metrics.value("marquee_slack_errors_total", kind="handler") == 1


async def test_a_long_answer_is_split_over_ack_and_response_url(fake):
    async def digest_like(command: str, args: Mapping[str, object], ctx: Context) -> Reply:
        items = tuple(
            Item(
                title=f"Role {i} {HOSTILE}", url=f"https://x.test/{i}", fields=(Field("Pay", "$1"),)
            )
            for i in range(60)
        )
        return Reply(title="Big digest", items=items)

    async with running(fake, dispatcher=digest_like) as (_, _, signer):
        payload = fake.command_payload("/subscriptions")
        ack = _ack(await signer.command(payload))

        def items() -> list[dict[str, Any]]:
            messages = [ack, *fake.posts_to(payload["response_url"])]
            return [
                b
                for m in messages
                for b in m["blocks"]
                if b.get("block_id", "").startswith("item-")
            ]

        # the follow-ups are posts of their own: wait for all of them, however slow
        await fake.wait_for(lambda: len(items()) >= 60, within=30)
    # the platform has stopped: a (wrong) extra post would be here by now
    posts = fake.posts_to(payload["response_url"])
    assert len(items()) == 60 and len(posts) >= 1
    assert len(posts) <= 5  # a response_url takes at most five posts


async def test_paging_buttons_redispatch_and_replace_the_message(fake, store):
    async with running(fake, store) as (_, recorder, signer):
        payload = fake.command_payload("/ailistings", "netflix")
        _ack(await signer.command(payload))
        (first,) = await fake.wait_for(lambda: fake.posts_to(payload["response_url"]))
        buttons = [e for b in first["blocks"] if b["type"] == "actions" for e in b["elements"]]
        nxt = next(b for b in buttons if b["text"]["text"].startswith("Next"))
        click = fake.block_actions_payload(
            {
                "action_id": nxt["action_id"],
                "block_id": "actions-0",
                "text": nxt["text"],
                "value": nxt["value"],
                "type": "button",
            },
            message={"type": "message", "ts": "1700000000.000100", "blocks": first["blocks"]},
        )
        started = time.monotonic()
        response = await signer.interaction(click)
        assert response.status == 200 and time.monotonic() - started < 3.0
        (page2,) = await fake.wait_for(lambda: fake.posts_to(click["response_url"]))
        assert page2["replace_original"] is True
        assert page2["response_type"] == "in_channel"
        assert recorder.calls[-1][0] == "ailistings"
        assert recorder.calls[-1][1] == {"company": "Netflix", "page": "2"}
        first_items = {
            b["text"]["text"] for b in first["blocks"] if "item-" in b.get("block_id", "")
        }
        second_items = {
            b["text"]["text"] for b in page2["blocks"] if "item-" in b.get("block_id", "")
        }
        assert len(first_items) == len(second_items) == 3  # page_size=3
        assert not first_items & second_items


async def test_a_command_missing_from_the_declarations_gets_a_hint(fake, store):
    async with running(fake, store) as (_, recorder, signer):
        ack = _ack(await signer.command(fake.command_payload("/jobs <!channel>")))
        assert ack["response_type"] == "ephemeral"
        assert "no /jobs &lt;!channel&gt; command" in ack["text"] and "/ailistings" in ack["text"]
        assert recorder.calls == []


async def test_link_buttons_are_acknowledged_and_run_nothing(fake, store):
    async with running(fake, store) as (_, recorder, signer):
        click = fake.block_actions_payload(
            {"action_id": "marquee:link:i0", "block_id": "item-0", "type": "button", "value": ""}
        )
        response = await signer.interaction(click)
        assert response.status == 200
        forged = fake.block_actions_payload(
            {"action_id": "marquee:run:0", "block_id": "a", "type": "button", "value": "{nope"}
        )
        assert (await signer.interaction(forged)).status == 200
        assert recorder.calls == []


# -- who may subscribe ---------------------------------------------------------------


async def test_admins_only_checks_users_info_and_refuses_others(fake, store):
    fake.add_user("U0BOB")
    fake.add_user("U0ADA", admin=True)
    async with running(fake, store, who_may_subscribe="admins") as (_, recorder, signer):
        text = "jobs company:netflix"
        refused = _ack(
            await signer.command(fake.command_payload("/subscribe", text, user_id="U0BOB"))
        )
        assert refused["response_type"] == "ephemeral"
        assert "needs the Manage" in refused["text"] or "permission" in refused["text"]
        assert recorder.calls[-1][2].caller.can_manage_channel is False
        assert await store.subscriptions(f"slack:{TEAM_ID}/C0JOBS") == []
        again = _ack(
            await signer.command(fake.command_payload("/subscribe", text, user_id="U0BOB"))
        )
        assert again["response_type"] == "ephemeral"
        assert [c.params["user"] for c in fake.calls_to("users.info")] == ["U0BOB"]  # cached
        ok = _ack(await signer.command(fake.command_payload("/subscribe", text, user_id="U0ADA")))
        assert ok["response_type"] == "in_channel"
        assert len(await store.subscriptions(f"slack:{TEAM_ID}/C0JOBS")) == 1
        # reading commands never ask Slack who the caller is
        _ack(await signer.command(fake.command_payload("/subscriptions", user_id="U0CAROL")))
        assert len(fake.calls_to("users.info")) == 2
        # users.info failing is said as such, not as a refusal
        fake.error("users.info", "missing_scope")
        failed = _ack(
            await signer.command(fake.command_payload("/unsubscribe", "all", user_id="U0DAN"))
        )
        assert "missing_scope" in failed["text"] and failed["response_type"] == "ephemeral"


async def test_a_list_of_user_ids_needs_no_api_call(fake, store):
    async with running(fake, store, who_may_subscribe=["U0ALICE"]) as (_, _, signer):
        bob = _ack(
            await signer.command(fake.command_payload("/subscribe", "news", user_id="U0BOB"))
        )
        assert bob["response_type"] == "ephemeral"
        alice = _ack(await signer.command(fake.command_payload("/subscribe", "news")))
        assert alice["response_type"] == "in_channel"
        assert fake.calls_to("users.info") == []


# -- delivery: alerts, edits, faults ---------------------------------------------------


async def test_an_alert_and_its_edit(fake, store):
    (stored,) = await store.listings(ListingFilter(company="Netflix"), limit=1)
    async with running(fake, store) as (platform, _, _):
        assert isinstance(platform, Platform)
        ts = await platform.send(f"{TEAM_ID}/C0JOBS", posting_alert(stored), idempotency_key="mq17")
        (call,) = fake.calls_to("chat.postMessage")
        assert call.token == BOT_TOKEN and call.content_type.startswith("application/json")
        assert call.params["channel"] == "C0JOBS"
        assert call.params["metadata"]["event_payload"] == {"key": "mq17"}
        assert call.params["unfurl_links"] is False
        posted = fake.messages["C0JOBS"][ts]
        assert "&lt;!channel&gt;" in posted["text"] and "<!channel>" not in _words(posted)
        closed = dataclasses.replace(stored, status="closed")
        await platform.edit(f"{TEAM_ID}/C0JOBS", ts, posting_alert(closed))
        (update,) = fake.calls_to("chat.update")
        assert update.params["ts"] == ts and update.params["channel"] == "C0JOBS"
        assert "Posting closed" in _words(fake.messages["C0JOBS"][ts])
        # the alert was deleted in Slack: the update is posted as a new message instead
        await platform.edit("C0JOBS", "1.000001", posting_alert(closed))
        assert len(fake.calls_to("chat.postMessage")) == 2
        assert platform.metrics.value("marquee_slack_messages_total", method="chat.update") == 1


async def test_a_429_with_retry_after_is_waited_out(fake):
    fake.rate_limit("chat.postMessage", retry_after="1")
    async with running(fake, dispatcher=_never) as (platform, _, _):
        started = time.monotonic()
        ts = await platform.send("C0JOBS", Reply(title="Hello"), idempotency_key="mq1")
        assert time.monotonic() - started >= 1.0  # Retry-After honoured
        assert ts in fake.messages["C0JOBS"]
        assert fake.attempts("chat.postMessage") == 2


async def test_long_or_endless_rate_limits_go_back_to_the_outbox(fake):
    async with running(fake, dispatcher=_never, max_retry_after=30) as (platform, _, _):
        fake.rate_limit("chat.postMessage", retry_after="120")
        started = time.monotonic()
        with pytest.raises(TransientDeliveryError) as err:
            await platform.send("C0JOBS", Reply(title="x"), idempotency_key="mq1")
        assert err.value.retry_after == 120
        assert time.monotonic() - started < 60  # not slept in-process (120 s were asked)
        fake.rate_limit("chat.postMessage", retry_after="0", times=3)  # retries: 2
        with pytest.raises(TransientDeliveryError) as err:
            await platform.send("C0JOBS", Reply(title="x"), idempotency_key="mq2")
        assert err.value.retry_after == 0
        assert fake.attempts("chat.postMessage") == 1 + 3
        fake.rate_limit("chat.postMessage", retry_after="soon")
        with pytest.raises(TransientDeliveryError):
            await platform.send("C0JOBS", Reply(title="x"), idempotency_key="mq3")
        assert fake.attempts("chat.postMessage") == 1 + 3 + 1
        assert fake.messages == {}


async def test_server_errors_resets_and_timeouts_are_transient(fake):
    async with running(fake, dispatcher=_never, server_error_retries=1, request_timeout=1.0) as (
        platform,
        _,
        _,
    ):
        fake.server_error("chat.postMessage", 503)
        assert await platform.send("C0JOBS", Reply(title="retried"), idempotency_key="a")
        fake.server_error("chat.postMessage", 500, times=2)
        with pytest.raises(TransientDeliveryError, match="HTTP 500"):
            await platform.send("C0JOBS", Reply(title="x"), idempotency_key="b")
        fake.server_error("chat.postMessage", 502)
        with pytest.raises(TransientDeliveryError):
            await platform.send("C0JOBS", Reply(title="x"), idempotency_key="c")
        fake.fault("chat.postMessage", Fault.drip(0.5, b'{"ok": true, "ts": "1.1"}'))
        with pytest.raises(TransientDeliveryError):
            await platform.send("C0JOBS", Reply(title="x"), idempotency_key="d")
        fake.fault("chat.update", Fault.reset(), Fault.reset())
        with pytest.raises(TransientDeliveryError):
            await platform.edit("C0JOBS", "1.1", Reply(title="x"))
        assert platform.metrics.value("marquee_slack_errors_total", kind="transient") >= 4


@pytest.mark.parametrize(
    "code", ["channel_not_found", "not_in_channel", "is_archived", "invalid_auth",
             "account_inactive", "token_revoked"],
)  # fmt: skip
async def test_permanent_errors_pause_with_the_reason(fake, code):
    async with running(fake, dispatcher=_never) as (platform, _, _):
        if code == "channel_not_found":
            fake.missing.add("C0GONE")
        elif code == "not_in_channel":
            fake.not_in_channel.add("C0GONE")
        elif code == "is_archived":
            fake.archived.add("C0GONE")
        else:
            fake.error("chat.postMessage", code)
        with pytest.raises(PermanentDeliveryError) as err:
            await platform.send(f"{TEAM_ID}/C0GONE", Reply(title="x"), idempotency_key="k")
        assert str(err.value).startswith(f"{code}: ")
        assert BOT_TOKEN not in str(err.value)
        assert len(fake.calls_to("chat.postMessage")) == 1  # no retry of a refusal


async def test_posting_is_paced_per_channel(fake):
    async with running(fake, dispatcher=_never, pace_seconds=0.3) as (platform, _, _):
        sends = [
            platform.send("C0ONE", Reply(title=f"one {i}"), idempotency_key=f"o{i}")
            for i in range(3)
        ]
        sends.append(platform.send("C0TWO", Reply(title="two"), idempotency_key="t"))
        await asyncio.gather(*sends)
    one = [c for c in fake.calls_to("chat.postMessage") if c.params["channel"] == "C0ONE"]
    two = [c for c in fake.calls_to("chat.postMessage") if c.params["channel"] == "C0TWO"]
    assert [c.params["text"] for c in one] == ["one 0", "one 1", "one 2"]  # in order
    gaps = [b.at - a.at for a, b in itertools.pairwise(one)]
    assert all(gap >= 0.28 for gap in gaps), gaps
    assert two[0].at < one[-1].at  # another channel does not wait behind this one


# -- Socket Mode -----------------------------------------------------------------------


async def test_socket_mode_round_trip(fake, store):
    async with running(fake, store, app_token=APP_TOKEN, signing_secret=None) as (
        platform,
        recorder,
        _,
    ):
        await fake.wait_for(lambda: fake.sockets, within=10)
        (opened,) = fake.calls_to("apps.connections.open")
        assert opened.token == APP_TOKEN
        health = await _get_json(platform.url + "/healthz")
        assert health["mode"] == "socket"
        await fake.wait_for(lambda: fake.sockets)  # hello received by the client
        envelope = await fake.send_envelope("slash_commands", fake.command_payload("/help"))
        ack = await fake.wait_for(lambda: fake.acks.get(envelope))
        assert ack["payload"]["response_type"] == "ephemeral"
        assert ack["payload"]["blocks"][0]["type"] == "header"
        slow = fake.command_payload("/ailistings", "netflix")
        envelope = await fake.send_envelope("slash_commands", slow)
        ack = await fake.wait_for(lambda: fake.acks.get(envelope))
        assert ack["payload"]["text"] == "Working on /ailistings…"
        (post,) = await fake.wait_for(lambda: fake.posts_to(slow["response_url"]))
        assert "Open AI/ML roles" in _words(post)
        # a paging click arrives as an "interactive" envelope
        buttons = [e for b in post["blocks"] if b["type"] == "actions" for e in b["elements"]]
        nxt = next(b for b in buttons if b["text"]["text"].startswith("Next"))
        click = fake.block_actions_payload(
            {"action_id": nxt["action_id"], "block_id": "actions-0", "value": nxt["value"]}
        )
        envelope = await fake.send_envelope("interactive", click)
        assert await fake.wait_for(lambda: fake.acks.get(envelope))
        (page2,) = await fake.wait_for(lambda: fake.posts_to(click["response_url"]))
        assert page2["replace_original"] is True
        assert [c[0] for c in recorder.calls] == ["help", "ailistings", "ailistings"]
        # the HTTP events path is not served in Socket Mode
        async with (
            aiohttp.ClientSession() as session,
            session.post(platform.url + "/slack/events", data=b"x") as resp,
        ):
            assert resp.status in (404, 405)
    assert not fake.sockets  # closed cleanly on exit


# -- operations ------------------------------------------------------------------------


async def _get_json(url: str) -> Any:
    async with aiohttp.ClientSession() as session, session.get(url) as resp:
        body = await resp.json()
        body["_status"] = resp.status
        return body


async def test_healthz_and_metrics(fake, store):
    async with running(fake, store) as (platform, _, signer):
        platform.metrics.gauge("marquee_outbox_backlog", "Alerts waiting", store.outbox_backlog)
        platform.metrics.gauge("marquee_up", "Always one", lambda: 1)
        platform.metrics.gauge("marquee_broken", "Raises", lambda: 1 / 0)
        _ack(await signer.command(fake.command_payload("/sources")))
        await signer.post("x=1", signature="v0=bad")
        health = await _get_json(platform.url + "/healthz")
        assert health == {
            "ok": True,
            "platform": "slack",
            "mode": "http",
            "team": TEAM_ID,
            "_status": 200,
        }
        async with (
            aiohttp.ClientSession() as session,
            session.get(platform.url + "/metrics") as resp,
        ):
            assert resp.status == 200 and resp.content_type == "text/plain"
            text = await resp.text()
    assert "# TYPE marquee_slack_commands_total counter" in text
    assert 'marquee_slack_commands_total{command="sources",outcome="ok"} 1' in text
    assert "marquee_outbox_backlog 0" in text and "marquee_up 1" in text
    assert "\nmarquee_broken " not in text  # a failing gauge is skipped, the scrape survives
    assert BOT_TOKEN not in text


async def test_secrets_stay_out_of_logs_errors_and_repr(fake, store, caplog):
    caplog.set_level(logging.DEBUG)
    async with running(fake, store) as (platform, _, signer):
        _ack(await signer.command(fake.command_payload("/help")))
        await signer.command(fake.command_payload("/help"), signature="v0=" + "1" * 64)
        fake.error("chat.postMessage", "invalid_auth")
        with pytest.raises(PermanentDeliveryError):
            await platform.send("C0JOBS", Reply(title="x"), idempotency_key="k")
        settings_repr = repr(platform.settings)
    fake.error("auth.test", "invalid_auth")
    with pytest.raises(ConfigError) as err:
        async with running(fake, store):
            pass
    assert err.value.key == "SLACK_BOT_TOKEN" and "invalid_auth" in str(err.value)
    for secret in (BOT_TOKEN, SIGNING_SECRET, APP_TOKEN):
        assert secret not in caplog.text
        assert secret not in settings_repr
        assert secret not in str(err.value)
    assert "gIkuvaNzQIHg97ATvDxqgjtO" not in caplog.text  # bolt's body dump, filtered


async def test_missing_scopes_are_named_at_start(fake, caplog):
    fake.scopes = "commands,chat:write"
    async with running(fake, dispatcher=_never, who_may_subscribe="admins"):
        pass
    assert "lacks users:read" in caplog.text
    caplog.clear()
    async with running(fake, dispatcher=_never):
        pass
    assert "lacks" not in caplog.text


async def test_a_refused_app_token_or_busy_port_fails_the_start(fake):
    fake.error("apps.connections.open", "invalid_auth")
    with pytest.raises(ConfigError) as err:
        async with running(fake, dispatcher=_never, app_token=APP_TOKEN, signing_secret=None):
            pass
    assert err.value.key == "SLACK_APP_TOKEN" and APP_TOKEN not in str(err.value)
    async with running(fake, dispatcher=_never) as (platform, _, _):
        with pytest.raises(ConfigError, match=r"slack\.port"):
            async with running(fake, dispatcher=_never, port=platform.port):
                pass


def test_settings_are_validated_once():
    base = {"bot_token": BOT_TOKEN, "signing_secret": SIGNING_SECRET}
    assert SlackSettings(**base, api_base="http://proxy.local/api").api_base == (
        "http://proxy.local/api/"
    )
    with pytest.raises(ConfigError, match="SLACK_SIGNING_SECRET"):
        SlackSettings(bot_token=BOT_TOKEN)
    assert SlackSettings(bot_token=BOT_TOKEN, app_token=APP_TOKEN).socket_mode
    with pytest.raises(ConfigError, match="who_may_subscribe"):
        SlackSettings(**base, who_may_subscribe="mods")
    with pytest.raises(ConfigError, match=r"slack\.path"):
        SlackSettings(**base, path="slack")
    assert SlackSettings(**base, who_may_subscribe=["U1"]).who_may_subscribe == ("U1",)


def test_settings_from_the_config_file_and_environment():
    config = parse_config(
        {
            "slack": {
                "port": 3100,
                "api_base": "http://slack-proxy.internal/api",
                "who_may_subscribe": ["U0ALICE", "U0BOB"],
            },
            "include_default_sources": False,
        },
        env={"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET},
    )
    settings = SlackSettings.from_config(config, pace_seconds=0.5)
    assert settings.bot_token == BOT_TOKEN and settings.signing_secret == SIGNING_SECRET
    assert settings.port == 3100 and settings.pace_seconds == 0.5
    assert settings.api_base == "http://slack-proxy.internal/api/"
    assert settings.who_may_subscribe == ("U0ALICE", "U0BOB")
    assert not settings.socket_mode


async def _never(command: str, args: Mapping[str, object], ctx: Context) -> Reply:
    raise AssertionError("no command expected")
