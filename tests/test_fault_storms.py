"""Promise 2 of issue 7: platform faults are waited out, permanent refusals pause.

The real delivery worker, the real Store (SQLite and PostgreSQL) and the real
discord.py / slack_sdk clients talk to the local Discord and Slack, which answer storms
of 429s (Discord's and the edge's), 5xx, resets, timeouts before and after the message
was created, and Slack's transient ``ok: false`` codes. The worker's clock is a test
clock, so its backoff is skipped instead of slept: what the tests measure is that
nothing is lost, nothing is doubled (on Discord: the row's nonce), and each channel
keeps its order. Permanent refusals (unknown channel, missing access, archived, revoked
token) pause the channel's subscriptions with the reason, visible in ``/subscriptions``
and ``/sources``, and are not retried.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import random
import re
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.delivery import MAX_RETRY_DELAY, Delivery
from bot.errors import PermanentDeliveryError
from bot.models import OutboxEntry, Subscription
from bot.platforms.discord import DiscordPlatform
from bot.platforms.slack import SlackPlatform, SlackSettings
from handlers import COMMANDS, Caller, Context, HandlerSettings, dispatch, reply_to_json
from handlers.reply import Field, Item, Reply
from storage import Store, open_store
from tests.crash_soak import HoldingDiscord, HoldingSlack
from tests.fakes.discord_server import API, CHANNEL_ID, OTHER_CHANNEL_ID, settings_for
from tests.fakes.http import Fault
from tests.fakes.slack_server import BOT_TOKEN, SIGNING_SECRET, TEAM_ID

T0 = datetime(2026, 11, 28, 17, 0, tzinfo=UTC)
HOSTILE = "@everyone <@&42> **bold** <!channel> & <script>"


class Clock:
    """The delivery worker's time: backoff waits are skipped, not slept."""

    def __init__(self, start: datetime = T0) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def alert(channel: str, n: int) -> OutboxEntry:
    reply = Reply(
        title=f"Alert {n:03d}",
        text=f"Story {n} {HOSTILE}",
        items=(
            Item(
                title=f"Role {n} {HOSTILE}",
                url=f"https://jobs.example.com/{n}",
                text=HOSTILE,
                fields=(Field("Pay", "$300k–$900k"),),
                author="Acme Studios",
            ),
        ),
    )
    return OutboxEntry(
        channel=channel,
        item_kind="digest",
        event="digest",
        dedupe_key=f"{channel}|storm:{n}",
        payload=reply_to_json(reply),
    )


@pytest.fixture
async def store(db_url) -> AsyncIterator[Store]:
    async with open_store(db_url) as s:
        yield s


@asynccontextmanager
async def discord_platform(**kw: Any) -> AsyncIterator[tuple[HoldingDiscord, DiscordPlatform]]:
    async with HoldingDiscord() as fake:
        settings = settings_for(
            fake, sync_commands=False, request_timeout=kw.pop("request_timeout", 5.0), **kw
        )
        async with DiscordPlatform(settings, commands=COMMANDS, dispatch=_no_commands) as p:
            yield fake, p
        assert fake.violations == [] and fake.pings == []


@asynccontextmanager
async def slack_platform(**kw: Any) -> AsyncIterator[tuple[HoldingSlack, SlackPlatform]]:
    async with HoldingSlack() as fake:
        settings = SlackSettings(
            bot_token=BOT_TOKEN,
            signing_secret=SIGNING_SECRET,
            port=0,
            api_base=fake.api_base,
            pace_seconds=kw.pop("pace_seconds", 0.0),
            request_timeout=kw.pop("request_timeout", 5.0),
            **kw,
        )
        async with SlackPlatform(
            settings, commands=COMMANDS, dispatch=_no_commands, parse_args=lambda *_: {}
        ) as p:
            yield fake, p
        assert fake.violations == []


async def _no_commands(*_: object) -> Reply:
    raise AssertionError("no command is run in these tests")


async def drain(delivery: Delivery, store: Store, clock: Clock, *, rounds: int = 80) -> int:
    """Deliver until the outbox is empty, skipping each backoff; returns the rounds."""
    for n in range(1, rounds + 1):
        await delivery.run_once()
        if await store.outbox_backlog() == 0:
            return n
        clock.advance(MAX_RETRY_DELAY + 1)
    raise AssertionError(f"the outbox still holds {await store.outbox_backlog()} alerts")


_TITLE = re.compile(r"Alert \d{3}")


def _title(message: dict[str, Any]) -> str:
    (title,) = set(_TITLE.findall(json.dumps(message)))
    return title


def discord_titles(fake: HoldingDiscord, channel_id: int) -> list[str]:
    """The alerts' titles in the channel, in the order they were posted."""
    return [_title(m) for m in fake.channel_messages(channel_id)]


def slack_titles(fake: HoldingSlack, channel: str) -> list[str]:
    sent = sorted(fake.messages.get(channel, {}).items(), key=lambda kv: float(kv[0]))
    return [_title(message) for _ts, message in sent]


# -- storms ---------------------------------------------------------------------------


DISCORD_FAULTS = ("429-short", "429-long", "429-edge", "503", "lost", "timeout", "held", "reset")


def _discord_fault(fake: HoldingDiscord, path: str, kind: str) -> str:
    """Queue one fault for a coming message create on ``path``."""
    if kind == "429-short":  # discord.py waits it out by itself
        fake.rate_limit(path, 0.05)
    elif kind == "429-long":  # too long to wait in-process: back to the outbox
        fake.rate_limit(path, 600.0)
    elif kind == "429-edge":  # Cloudflare's: no Via header, a text body
        fake.fail(path, Fault("status", status=429, body=b"error code: 1015"))
    elif kind == "503":
        fake.server_error(path, 503)
    elif kind == "lost":  # created, but the answer is a 503
        fake.lose_response(path)
    elif kind == "timeout":  # no answer at all in time (nothing created)
        fake.fail(path, Fault.drip(0.5, b"{}" * 10))
    elif kind == "held":  # created, and the answer never comes
        fake.hold += 1
    else:
        fake.fail(path, Fault.reset())
    return kind


async def test_a_discord_storm_delays_but_loses_and_doubles_nothing(store):
    rng = random.Random(7)
    clock = Clock()
    channels = {
        CHANNEL_ID: f"discord:{CHANNEL_ID}",
        OTHER_CHANNEL_ID: f"discord:{OTHER_CHANNEL_ID}",
    }
    entries = [alert(channels[cid], n) for n in range(24) for cid in channels if n % 2 == (cid % 2)]
    entries += [alert(channels[CHANNEL_ID], n) for n in range(24, 30)]
    await store.enqueue(entries, at=T0)
    async with discord_platform(request_timeout=0.5) as (fake, platform):  # "held", "timeout"
        delivery = Delivery(store, {"discord": platform}, clock=clock, worker="storm")
        kinds = []
        for cid in channels:  # every kind of fault, in a random order, then at random
            path = f"{API}/channels/{cid}/messages"
            kinds += [_discord_fault(fake, path, k) for k in rng.sample(DISCORD_FAULTS, 8)]
        # and a 500, which discord.py retries itself after a second (once: it is slept)
        fake.server_error(f"{API}/channels/{CHANNEL_ID}/messages", 500)
        rounds = 0
        for _ in range(4):  # the storm goes on while some alerts get through
            await delivery.run_once()
            clock.advance(MAX_RETRY_DELAY + 1)
            rounds += 1
            for cid in channels:
                path = f"{API}/channels/{cid}/messages"
                kinds.append(_discord_fault(fake, path, rng.choice(DISCORD_FAULTS)))
        rounds += await drain(delivery, store, clock)
        for cid, channel in channels.items():
            want = sorted(e.payload["title"] for e in entries if e.channel == channel)  # type: ignore[index]
            assert discord_titles(fake, cid) == want  # each once, in order
        assert rounds > 4  # it was delayed
        assert fake.nonce_repeats() >= 1  # resends of created messages were dropped
    assert await store.subscriptions() == []  # nothing was paused


SLACK_FAULTS = ("429", "500", "503", "internal_error", "timeout", "reset", "held")


def _slack_fault(fake: HoldingSlack, kind: str) -> str:
    if kind == "429":
        fake.rate_limit("chat.postMessage", "30")
    elif kind in ("500", "503"):
        fake.server_error("chat.postMessage", int(kind))
    elif kind == "internal_error":
        fake.error("chat.postMessage", "internal_error")
    elif kind == "timeout":
        fake.fault("chat.postMessage", Fault.drip(0.5, b"{}" * 10))
    elif kind == "reset":
        fake.fault("chat.postMessage", Fault.reset())
    else:  # posted, and the answer never comes: Slack has no idempotency
        fake.hold += 1
    return kind


async def test_a_slack_storm_delays_but_loses_nothing(store):
    rng = random.Random(11)
    clock = Clock()
    channels = ("C0JOBS", "C0NEWS")
    entries = [alert(f"slack:{TEAM_ID}/{channels[n % 2]}", n) for n in range(24)]
    await store.enqueue(entries, at=T0)
    # retries by slack_sdk itself would sleep for real: here the outbox does them all
    async with slack_platform(
        rate_limit_retries=0, server_error_retries=0, request_timeout=0.5
    ) as (fake, platform):
        delivery = Delivery(store, {"slack": platform}, clock=clock, worker="storm")
        kinds = [_slack_fault(fake, k) for k in rng.sample(SLACK_FAULTS, len(SLACK_FAULTS))]
        rounds = 0
        for _ in range(4):
            await delivery.run_once()
            clock.advance(MAX_RETRY_DELAY + 1)
            rounds += 1
            kinds.append(_slack_fault(fake, rng.choice(SLACK_FAULTS)))
        rounds += await drain(delivery, store, clock)
        held = kinds.count("held")
        for n, channel in enumerate(channels):
            want = [f"Alert {i:03d}" for i in range(n, 24, 2)]
            got = slack_titles(fake, channel)
            assert sorted(set(got)) == want
            # in order; a post whose answer never came may show twice, next to itself
            assert [t for t, _ in itertools.groupby(got)] == want
        duplicates = sum(len(slack_titles(fake, c)) for c in channels) - 24
        assert duplicates <= held
        assert rounds > 4


async def test_within_a_batch_a_channel_waits_behind_its_failed_alert(store):
    """A transient failure of one alert holds back that channel's later alerts in the
    same claim (other channels go on), so they never overtake it."""
    clock = Clock()
    first, other = f"discord:{CHANNEL_ID}", f"discord:{OTHER_CHANNEL_ID}"
    await store.enqueue(
        [alert(first, 1), alert(other, 2), alert(first, 3), alert(first, 4), alert(other, 5)],
        at=T0,
    )
    async with discord_platform() as (fake, platform):
        fake.server_error(f"{API}/channels/{CHANNEL_ID}/messages", 503)
        delivery = Delivery(store, {"discord": platform}, clock=clock, worker="w")
        assert await delivery.run_once() == 2  # the other channel's two
        assert discord_titles(fake, CHANNEL_ID) == []
        assert discord_titles(fake, OTHER_CHANNEL_ID) == ["Alert 002", "Alert 005"]
        clock.advance(MAX_RETRY_DELAY + 1)
        assert await delivery.run_once() == 3
        assert discord_titles(fake, CHANNEL_ID) == ["Alert 001", "Alert 003", "Alert 004"]


async def test_an_outage_of_hours_delays_alerts_and_one_of_days_gives_up(store):
    clock = Clock()
    channel = f"discord:{CHANNEL_ID}"
    await store.enqueue([alert(channel, 1)], at=T0)
    async with discord_platform() as (fake, platform):
        path = f"{API}/channels/{CHANNEL_ID}/messages"
        delivery = Delivery(store, {"discord": platform}, clock=clock, worker="w")
        waits = []
        for _ in range(14):  # 14 failures in a row: more than the old 12-attempt limit
            fake.server_error(path, 503)
            await delivery.run_once()
            (row,) = [r for r in [await store.outbox_row(1)] if r is not None]
            assert row.status == "pending"
            waits.append((row.next_attempt_at - clock()).total_seconds())  # type: ignore[operator]
            clock.now = row.next_attempt_at  # type: ignore[assignment]
        assert waits[:3] == [5.0, 10.0, 20.0] and max(waits) == MAX_RETRY_DELAY
        assert clock() - T0 < timedelta(hours=3)
        await delivery.run_once()
        assert discord_titles(fake, CHANNEL_ID) == ["Alert 001"]

        await store.enqueue([alert(channel, 2)], at=clock())
        clock.advance(2 * 86400 + 60)  # Discord answers 503 for two days
        fake.server_error(path, 503)
        await delivery.run_once()
        row = await store.outbox_row(2)
        assert row is not None and row.status == "failed" and "gave up" in (row.last_error or "")


async def test_an_alert_that_cannot_be_made_holds_up_no_other_and_gives_up(store, caplog):
    """A row whose alert raises (here a payload no version of Marquee writes) is retried
    with backoff like a transient failure and given up by age: before, it ended every
    delivery run, was never settled, and the rows claimed with it waited behind it."""
    clock = Clock()
    first, other = f"discord:{CHANNEL_ID}", f"discord:{OTHER_CHANNEL_ID}"
    poison = OutboxEntry(
        channel=first, item_kind="digest", event="digest", dedupe_key="poison", payload={"items": 7}
    )
    await store.enqueue([poison, alert(first, 2), alert(other, 3), alert(other, 4)], at=T0)
    async with discord_platform() as (fake, platform):
        delivery = Delivery(store, {"discord": platform}, clock=clock, worker="w")
        assert await delivery.run_once() == 2  # the other channel's; Alert 002 follows the poison
        assert discord_titles(fake, OTHER_CHANNEL_ID) == ["Alert 003", "Alert 004"]
        row = await store.outbox_row(1)
        assert row is not None and row.status == "pending"
        assert "unexpected error: TypeError" in (row.last_error or "")
        clock.advance(2 * 86400 + 60)  # two days of failing
        assert await delivery.run_once() == 1
        row = await store.outbox_row(1)
        assert row is not None and row.status == "failed" and "gave up" in (row.last_error or "")
        assert discord_titles(fake, CHANNEL_ID) == ["Alert 002"]
    assert "delivering alert 1 to discord:" in caplog.text  # with its traceback, for a report


# -- permanent refusals ---------------------------------------------------------------


def _ctx(channel: str) -> Context:
    platform = channel.split(":", 1)[0]
    return Context(platform=platform, channel=channel, caller=Caller("U1", "casey"))  # type: ignore[arg-type]


async def _visible(store: Store, channel: str, reason: str) -> None:
    """The reason shows in the channel's /subscriptions and /sources."""
    settings = HandlerSettings(clock=lambda: T0)
    for command in ("subscriptions", "sources"):
        reply = await dispatch(store, command, {}, _ctx(channel), settings=settings)
        shown = " ".join(
            [reply.title, reply.text]
            + [f"{i.title} {i.text} {' '.join(f.value for f in i.fields)}" for i in reply.items]
        )
        assert reason in shown, (command, shown)


async def _subscribe(store: Store, *channels: str) -> None:
    for channel in channels:
        await store.add_subscription(Subscription(id=0, channel=channel, kind="jobs"))


DISCORD_REFUSALS: list[tuple[str, Callable[[HoldingDiscord], None], str]] = [
    ("missing access", lambda f: f.deny(OTHER_CHANNEL_ID), "Missing Access"),
    ("missing permissions", lambda f: f.deny(OTHER_CHANNEL_ID, code=50013), "Missing Permissions"),
    ("unknown channel", lambda f: f.delete_channel(OTHER_CHANNEL_ID), "Unknown Channel"),
]


@pytest.mark.parametrize(
    ("case", "refuse", "reason"), DISCORD_REFUSALS, ids=[c[0] for c in DISCORD_REFUSALS]
)
async def test_a_discord_channel_refused_for_good_is_paused_not_retried(
    store, case, refuse, reason
):
    clock = Clock()
    bad, good = f"discord:{OTHER_CHANNEL_ID}", f"discord:{CHANNEL_ID}"
    await _subscribe(store, bad, good)
    await store.enqueue([alert(bad, 1), alert(good, 2), alert(bad, 3), alert(good, 4)], at=T0)
    async with discord_platform() as (fake, platform):
        refuse(fake)
        delivery = Delivery(store, {"discord": platform}, clock=clock, worker="w")
        await delivery.run_once()
        path = f"{API}/channels/{OTHER_CHANNEL_ID}/messages"
        tried = len(fake.requests_to(path))
        assert tried == 2  # each alert once
        assert discord_titles(fake, CHANNEL_ID) == ["Alert 002", "Alert 004"]
        clock.advance(3 * 86400)
        await delivery.run_once()
        assert len(fake.requests_to(path)) == tried  # not retried
    assert await store.outbox_backlog() == 0
    (paused,) = [s for s in await store.subscriptions(bad)]
    assert paused.paused_reason and reason in paused.paused_reason
    (ok,) = await store.subscriptions(good)
    assert ok.paused_reason is None
    await _visible(store, bad, reason)


async def test_a_revoked_discord_token_pauses_and_does_not_retry(store):
    clock = Clock()
    channel = f"discord:{CHANNEL_ID}"
    await _subscribe(store, channel)
    await store.enqueue([alert(channel, 1), alert(channel, 2)], at=T0)
    async with discord_platform() as (fake, platform):
        fake.token = "reset-in-the-developer-portal"  # the old one is refused from now on
        delivery = Delivery(store, {"discord": platform}, clock=clock, worker="w")
        await delivery.run_once()
        clock.advance(3 * 86400)
        await delivery.run_once()
        path = f"{API}/channels/{CHANNEL_ID}/messages"
        assert len(fake.requests_to(path)) == 2
    (sub,) = await store.subscriptions(channel)
    assert sub.paused_reason and "token" in sub.paused_reason
    assert "reset-in-the-developer-portal" not in sub.paused_reason
    await _visible(store, channel, "rejected the bot token")


SLACK_REFUSALS: list[tuple[str, Callable[[HoldingSlack], None], str]] = [
    ("archived", lambda f: f.archived.add("C0NEWS"), "is_archived"),
    ("not in channel", lambda f: f.not_in_channel.add("C0NEWS"), "not_in_channel"),
    ("unknown channel", lambda f: f.missing.add("C0NEWS"), "channel_not_found"),
]


@pytest.mark.parametrize(
    ("case", "refuse", "reason"), SLACK_REFUSALS, ids=[c[0] for c in SLACK_REFUSALS]
)
async def test_a_slack_channel_refused_for_good_is_paused_not_retried(store, case, refuse, reason):
    clock = Clock()
    bad, good = f"slack:{TEAM_ID}/C0NEWS", f"slack:{TEAM_ID}/C0JOBS"
    await _subscribe(store, bad, good)
    await store.enqueue([alert(bad, 1), alert(good, 2), alert(bad, 3)], at=T0)
    async with slack_platform() as (fake, platform):
        refuse(fake)
        delivery = Delivery(store, {"slack": platform}, clock=clock, worker="w")
        await delivery.run_once()
        tried = fake.attempts("chat.postMessage")
        clock.advance(3 * 86400)
        await delivery.run_once()
        assert fake.attempts("chat.postMessage") == tried == 3  # each alert once
        assert slack_titles(fake, "C0JOBS") == ["Alert 002"]
    (paused,) = await store.subscriptions(bad)
    assert paused.paused_reason and reason in paused.paused_reason
    (ok,) = await store.subscriptions(good)
    assert ok.paused_reason is None
    await _visible(store, bad, reason)


@pytest.mark.parametrize("how", ["invalid_auth", "token_revoked", "account_inactive"])
async def test_a_revoked_slack_token_pauses_and_does_not_retry(store, how):
    clock = Clock()
    channel = f"slack:{TEAM_ID}/C0JOBS"
    await _subscribe(store, channel)
    await store.enqueue([alert(channel, 1), alert(channel, 2)], at=T0)
    async with slack_platform() as (fake, platform):
        if how == "invalid_auth":
            fake.bot_token = "xoxb-the-new-one"  # ours no longer works
        else:
            fake.error("chat.postMessage", how, times=10)
        delivery = Delivery(store, {"slack": platform}, clock=clock, worker="w")
        await delivery.run_once()
        clock.advance(3 * 86400)
        await delivery.run_once()
        assert fake.attempts("chat.postMessage") == 2
    (sub,) = await store.subscriptions(channel)
    assert sub.paused_reason and how in sub.paused_reason
    assert BOT_TOKEN not in sub.paused_reason
    await _visible(store, channel, how)


async def test_refusal_errors_name_no_secret():
    """The reasons users see are built from codes, never from the request."""
    async with discord_platform() as (fake, platform):
        fake.token = "something-else-entirely"
        with pytest.raises(PermanentDeliveryError) as caught:
            await platform.send(str(CHANNEL_ID), Reply(title="x"), idempotency_key="mq1")
        assert "fake-bot-token" not in str(caught.value)


async def test_a_stop_hands_the_backlog_back_at_once(store):
    """SIGTERM with a backlog paced at one Slack message a second: the worker finishes
    the alert it is sending, hands the rest back unclaimed and returns; the next worker
    (after a restart) takes them at once and keeps the order."""
    channel = f"slack:{TEAM_ID}/C0JOBS"
    await store.enqueue([alert(channel, n) for n in range(40)])
    async with slack_platform(pace_seconds=1.0) as (fake, platform):
        stop = asyncio.Event()
        first = Delivery(store, {"slack": platform}, worker="first")
        task = asyncio.create_task(first.run_forever(stop))
        await fake.wait_for(lambda: len(fake.calls_to("chat.postMessage")) >= 2, within=10)
        stop.set()
        started = time.monotonic()
        await asyncio.wait_for(task, timeout=5)
        assert time.monotonic() - started < 2.5  # not 38 more seconds of pacing
        sent = len(slack_titles(fake, "C0JOBS"))
        assert sent < 40 and await store.outbox_backlog() == 40 - sent
        rows = await store.claim_due(now=datetime.now(UTC), worker="peek", lease_seconds=0)
        assert len(rows) == 40 - sent  # unclaimed and due at once, not after a lease
    async with slack_platform() as (fake2, platform2):
        second = Delivery(store, {"slack": platform2}, worker="second")
        assert await second.run_once() == 40 - sent
        assert [int(t.split()[1]) for t in slack_titles(fake2, "C0JOBS")] == list(range(sent, 40))
