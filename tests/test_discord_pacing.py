"""Discord's global rate limit (50 requests a second, never announced before it is
broken) is kept by a token bucket in front of every REST request but the interaction
endpoints, and the delivery worker keeps each channel's per-channel bucket busy without
breaking it: a burst of alerts to several channels goes out with no 429 at all, each
channel's alerts in the order they were queued.

The bucket itself runs on an injected clock; the rest is the real delivery worker, the
real Store (SQLite and PostgreSQL) and the real discord.py against the local Discord
enforcing both limits (scaled down, so a burst of 64 alerts is a few seconds).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.delivery import Delivery
from bot.errors import ConfigError
from bot.models import OutboxEntry
from bot.platforms._pacing import TokenBucket
from bot.platforms.discord import DiscordPlatform, DiscordSettings, _global_bucket, rate_key
from bot.rate_share import RateShare
from handlers import reply_to_json
from handlers.reply import Reply
from handlers.spec import CommandSpec
from storage import Store, open_store
from tests.fakes.discord_server import (
    API,
    CHANNEL_ID,
    OTHER_CHANNEL_ID,
    FakeDiscord,
    settings_for,
)

CHANNELS = (CHANNEL_ID, OTHER_CHANNEL_ID, *(CHANNEL_ID + 10 + i for i in range(6)))

# -- the bucket, on a clock of its own ---------------------------------------------------


class FakeTime:
    """A clock that only moves when the bucket sleeps (or the test says so)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def starts(bucket: TokenBucket, clock: FakeTime, count: int) -> list[float]:
    """When each of ``count`` callers asking at once may send."""
    return [clock.now + bucket.reserve() for _ in range(count)]


def test_a_burst_goes_at_once_then_one_slot_per_interval():
    clock = FakeTime()
    bucket = TokenBucket(4.0, 3, clock=clock)
    assert [t - 1000.0 for t in starts(bucket, clock, 7)] == [0, 0, 0, 0.25, 0.5, 0.75, 1.0]
    assert bucket.taken == 7


def test_no_second_holds_more_than_rate_plus_burst_less_one():
    clock = FakeTime()
    bucket = TokenBucket(48.0, 2, clock=clock)
    sent: list[float] = []
    for step in range(400):  # callers arriving unevenly: idle spells, then crowds
        clock.now += (step % 7) * 0.013 if step % 50 else 1.5
        sent.extend(starts(bucket, clock, 1 + step % 4))
    sent.sort()
    busiest = max(sum(1 for t in sent if start <= t < start + 1.0 - 1e-9) for start in sent)
    assert busiest <= 48 + 2 - 1


def test_an_idle_bucket_refills_only_up_to_its_burst():
    clock = FakeTime()
    bucket = TokenBucket(10.0, 2, clock=clock)
    starts(bucket, clock, 5)
    clock.now += 60  # a long quiet spell
    assert [round(t - clock.now, 3) for t in starts(bucket, clock, 4)] == [0, 0, 0.1, 0.2]


def test_acquire_sleeps_exactly_until_its_slot():
    clock = FakeTime()
    bucket = TokenBucket(2.0, 1, clock=clock, sleep=clock.sleep)

    async def three() -> None:
        for _ in range(3):
            await bucket.acquire()

    asyncio.run(three())
    assert clock.slept == [0.5, 0.5]  # the first goes at once
    assert clock.now == 1001.0


@pytest.mark.parametrize("rate, burst", [(0, 1), (-5, 1), (10, 0)])
def test_a_bucket_that_could_never_send_is_refused(rate, burst):
    with pytest.raises(ValueError):
        TokenBucket(rate, burst)


@pytest.mark.parametrize(
    ("key", "kw"),
    [
        ("discord.global_rate", {"global_rate": 0}),
        ("discord.global_rate", {"global_rate": "fast"}),
        ("discord.global_burst", {"global_burst": 0}),
        ("discord.global_burst", {"global_burst": 2.5}),
    ],
)
def test_a_pace_that_could_never_send_names_the_key(key, kw):
    with pytest.raises(ConfigError) as caught:
        DiscordSettings(token="t", **kw)
    assert caught.value.key == key


# -- against the local Discord -----------------------------------------------------------


@pytest.fixture
async def store(db_url) -> AsyncIterator[Store]:
    async with open_store(db_url) as s:
        yield s


async def _no_commands(*_: object) -> Reply:
    return Reply(title="pong")


@asynccontextmanager
async def platform_for(fake: FakeDiscord, **kw: Any) -> AsyncIterator[DiscordPlatform]:
    commands = kw.pop("commands", ())
    settings = settings_for(fake, request_timeout=30, **kw)
    async with DiscordPlatform(settings, commands=commands, dispatch=_no_commands) as platform:
        yield platform
    assert fake.violations == [] and fake.pings == []


def alert(channel: int, n: int) -> OutboxEntry:
    reply = Reply(title=f"Alert {n:03d}", text=f"For channel {channel}")
    return OutboxEntry(
        channel=f"discord:{channel}",
        item_kind="digest",
        event="digest",
        dedupe_key=f"discord:{channel}|burst:{n}",
        payload=reply_to_json(reply),
    )


async def test_a_burst_of_alerts_meets_no_429_and_keeps_each_channels_order(store):
    # Discord's limits scaled down: 20 requests a second in all, 5 messages per channel
    # per second. Eight channels could take 40 a second: the global limit binds, and
    # for the first channel's 15 alerts in a row, its own limit too.
    async with FakeDiscord(channels=CHANNELS, global_limit=20, channel_limit=(5, 1.0)) as fake:
        # Queued channel by channel for some, interleaved for others.
        entries = [alert(CHANNELS[0], n) for n in range(15)]
        entries += [alert(cid, n) for n in range(7) for cid in CHANNELS[1:]]
        assert await store.enqueue(entries, at=datetime.now(UTC)) == 64
        async with platform_for(fake, global_rate=19, global_burst=1, gateway=False) as p:
            sent = await Delivery(store, {"discord": p}).run_once()
        assert sent == 64 and await store.outbox_backlog() == 0
        assert fake.rejected_global == 0, "a global 429: the pace broke Discord's limit"
        assert fake.rejected_channel == 0, "a channel's 429: its bucket's headers were ignored"
        for cid, count in zip(CHANNELS, (15, *[7] * 7), strict=True):
            titles = [m["embeds"][0]["title"] for m in fake.channel_messages(cid)]
            assert titles == [f"Alert {n:03d}" for n in range(count)], cid
        assert len(fake.accepted) == 64


async def test_without_the_pace_the_same_local_discord_refuses_a_burst():
    # The control for the test above: the fake does refuse what breaks its global limit.
    channels = tuple(CHANNEL_ID + i for i in range(12))
    async with FakeDiscord(channels=channels, global_limit=5) as fake:
        async with platform_for(fake, global_rate=1000, global_burst=1000, gateway=False) as p:
            await asyncio.gather(
                *(
                    p.send(str(cid), Reply(title="Alert"), idempotency_key=f"mq{cid}")
                    for cid in channels
                ),
                return_exceptions=True,  # discord.py gives up after five 429s in a row
            )
        assert fake.rejected_global > 0


async def test_a_process_sharing_the_bot_paces_itself_to_its_share(store):
    """Another process delivers with the same bot token (its share is live in the
    database): this one sends at half the configured pace, and the two of them keep the
    global limit. Here the local Discord allows 10 a second, and the configured 19 would
    break it alone."""
    async with FakeDiscord(channels=CHANNELS, global_limit=10, channel_limit=(5, 1.0)) as fake:
        bucket, now = rate_key(fake.token), datetime.now(UTC)
        later = now + timedelta(minutes=5)
        await store.share_rate(bucket, owner="other-host:1:aa", now=now, until=later)
        entries = [alert(cid, n) for n in range(3) for cid in CHANNELS]
        await store.enqueue(entries, at=datetime.now(UTC))
        async with platform_for(fake, global_rate=19, global_burst=2, gateway=False) as p:
            try:
                async with RateShare(store, p, owner="this-host:2:bb") as share:
                    assert share.senders == 2 and p.global_pace == 9.5
                    sent = await Delivery(store, {"discord": p}).run_once()
                    await store.leave_rate_share(bucket, owner="other-host:1:aa")  # it stopped
                    assert await share.renew() == 1 and p.global_pace == 19
                    assert await store.share_rate(bucket, owner="x", now=now, until=later) == 2
                # given up on the way out: only "x" is left
                assert await store.share_rate(bucket, owner="x", now=now, until=later) == 1
            finally:
                p.share_global_rate(1)  # the process's bucket, for the next test
        assert sent == len(entries)
        assert fake.rejected_global == 0, "a global 429: the share was not kept"


async def test_interaction_answers_take_no_slot_of_the_global_limit():
    async with FakeDiscord() as fake:
        ping = CommandSpec("ping", "Answered after a deferral", slow=True)
        async with platform_for(fake, commands=(ping,)) as platform:
            bucket = _global_bucket(platform.settings)
            before = bucket.taken
            rec = await fake.slash("ping")
            # Deferred (the callback), then answered through the interaction's webhook.
            await fake.wait_until(
                lambda: any(r.path.startswith(f"{API}/webhooks/") for r in fake.requests),
                what="the answer",
            )
            assert rec.callbacks and bucket.taken == before
            await platform.send(str(CHANNEL_ID), Reply(title="Alert"), idempotency_key="mq1")
            assert bucket.taken == before + 1


async def test_a_channel_waiting_out_its_own_limit_holds_up_no_other(store):
    # Five messages per channel per 20 s: the first channel's fifth alert uses up its
    # window, and discord.py holds that send until the window resets. The second
    # channel's alerts, queued after all of the first's, go out meanwhile.
    first, second = CHANNEL_ID, OTHER_CHANNEL_ID
    async with FakeDiscord(channels=(first, second), channel_limit=(5, 20.0)) as fake:
        entries = [alert(first, n) for n in range(8)] + [alert(second, n) for n in range(3)]
        await store.enqueue(entries, at=datetime.now(UTC))
        async with platform_for(fake, gateway=False) as p:
            run = asyncio.create_task(Delivery(store, {"discord": p}).run_once())
            try:
                await fake.wait_until(
                    lambda: (
                        len(fake.channel_messages(second)) == 3
                        and len(fake.channel_messages(first)) == 5
                    ),
                    within=10,
                    what="the second channel's alerts while the first one waits",
                )
                assert not run.done()  # the first channel is still waiting out its window
            finally:
                run.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await run
        assert fake.rejected_channel == 0
        for cid, count in ((first, 5), (second, 3)):
            titles = [m["embeds"][0]["title"] for m in fake.channel_messages(cid)]
            assert titles == [f"Alert {n:03d}" for n in range(count)], cid


class CountingPlatform:
    """A platform at the boundary that notes how many sends it has at once."""

    name = "console"

    def __init__(self, **attrs: Any) -> None:
        self.__dict__.update(attrs)  # concurrent_sends, when it says
        self.in_flight = 0
        self.most = 0
        self.sent: list[tuple[str, str]] = []

    async def send(self, channel_id: str, reply: Reply, *, idempotency_key: str) -> str:
        self.in_flight += 1
        self.most = max(self.most, self.in_flight)
        for _ in range(3):  # a network round trip: the other lanes get their turn
            await asyncio.sleep(0)
        self.in_flight -= 1
        self.sent.append((channel_id, reply.title or ""))
        return idempotency_key

    async def edit(self, channel_id: str, message_ref: str, reply: Reply) -> None:
        raise AssertionError("no edits here")


@pytest.mark.parametrize(("attrs", "most"), [({}, 1), ({"concurrent_sends": None}, 4)])
async def test_a_platform_is_sent_to_side_by_side_only_when_it_says_so(store, attrs, most):
    channels = [f"C{i}" for i in range(4)]
    entries = [
        OutboxEntry(
            channel=f"console:{cid}",
            item_kind="digest",
            event="digest",
            dedupe_key=f"console:{cid}|{n}",
            payload=reply_to_json(Reply(title=f"Alert {n:03d}")),
        )
        for n in range(3)
        for cid in channels
    ]
    await store.enqueue(entries, at=datetime.now(UTC))
    platform = CountingPlatform(**attrs)
    assert await Delivery(store, {"console": platform}).run_once() == 12
    assert platform.most == most
    for cid in channels:
        assert [t for c, t in platform.sent if c == cid] == ["Alert 000", "Alert 001", "Alert 002"]
