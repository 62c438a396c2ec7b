"""Discord sharding across processes (issue 9, item 3).

Two ``marquee run --role discord`` processes, one with ``shard_ids = [0]`` and one with
``[1]`` of ``shard_count = 2``, connect to the local gateway. Discord (here the fake)
sends each server's interactions to the shard ``(guild_id >> 22) % 2``: each process
identifies as its shard, learns only its servers, and answers their commands; once the
process of shard 1 stops, nothing serves that shard's server while shard 0's still gets
its answers. A ``--role worker`` process beside them delivers alerts over REST and
opens no gateway session (it takes no shard).
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest

from bot.config import load_config
from bot.errors import ConfigError
from bot.models import OutboxEntry
from handlers.reply import Reply, reply_to_json
from storage import open_store
from tests.fakes.discord_server import (
    CHANNEL_ID,
    GUILD_ID,
    SECOND_CHANNEL_ID,
    SECOND_GUILD_ID,
    FakeDiscord,
)


def _config(path: Path, db_url: str, fake: FakeDiscord, shard: int) -> Path:
    path.write_text(f"""
include_default_sources = false

[database]
url = "{db_url}"

[discord]
api_base = "{fake.api_base}"
gateway_url = "{fake.gateway_url}"
guild_ids = [{GUILD_ID}, {SECOND_GUILD_ID}]
shard_count = 2
shard_ids = [{shard}]
""")
    return path


async def _start(
    config: Path, token: str, role: str = "discord", *extra: str
) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "--config",
        str(config),
        "--log-level",
        "INFO",
        "run",
        "--role",
        role,
        *extra,
        cwd=config.parent,
        env={**os.environ, "DISCORD_TOKEN": token},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def _stop(proc: asyncio.subprocess.Process) -> str:
    if proc.returncode is None:
        proc.send_signal(signal.SIGTERM)
    _out, err = await asyncio.wait_for(proc.communicate(), timeout=30)
    return err.decode()


def test_the_guilds_sit_on_different_shards():
    # the premise of the test below
    assert (GUILD_ID >> 22) % 2 == 1
    assert (SECOND_GUILD_ID >> 22) % 2 == 0


@pytest.mark.postgres
async def test_two_processes_each_answer_only_their_shards_servers(pg_url, tmp_path):
    async with open_store(pg_url) as store:
        await store.enqueue(
            [
                OutboxEntry(
                    channel=f"discord:{SECOND_CHANNEL_ID}",
                    item_kind="notice",
                    event="notice",
                    dedupe_key="sharding-test|notice",
                    payload=reply_to_json(Reply(title="Marquee is now on two shards")),
                )
            ]
        )
    async with FakeDiscord(guilds={SECOND_GUILD_ID: [SECOND_CHANNEL_ID]}) as fake:
        # one config file (shard_ids = [0]); the second process picks its shard on the
        # command line, as a systemd template unit would
        config = _config(tmp_path / "marquee.toml", pg_url, fake, 0)
        procs = [
            await _start(config, fake.token),
            await _start(config, fake.token, "discord", "--shard-ids", "1"),
        ]
        stopped_err = ""
        try:
            await fake.wait_until(
                lambda: fake.connected_shards() == [(0, 2), (1, 2)],
                within=40,
                what="both shards identified",
            )
            assert sorted(tuple(i["shard"]) for i in fake.identifies) == [(0, 2), (1, 2)]

            # a worker delivers over REST, without a gateway session of its own
            worker = await _start(config, fake.token, "worker")
            procs.append(worker)
            await fake.wait_until(
                lambda: fake.channel_messages(SECOND_CHANNEL_ID), within=30, what="the notice"
            )
            (notice,) = fake.channel_messages(SECOND_CHANNEL_ID)
            assert notice["embeds"][0]["title"] == "Marquee is now on two shards"

            first = await fake.slash("sources", channel_id=CHANNEL_ID)
            second = await fake.slash("sources", channel_id=SECOND_CHANNEL_ID)
            assert first.shard == (1, 2) and second.shard == (0, 2)
            await fake.wait_until(
                lambda: first.callbacks and second.callbacks,
                within=10,
                what="both servers' /sources answered",
            )

            # Shard 1's process goes away: its server has no one left to answer it...
            stopped_err = await _stop(procs[1])
            assert procs[1].returncode == 0, stopped_err[-3000:]
            await fake.wait_until(
                lambda: fake.connected_shards() == [(0, 2)], within=10, what="shard 1 gone"
            )
            with pytest.raises(AssertionError, match=f"serving server {GUILD_ID}"):
                await fake.slash("help", channel_id=CHANNEL_ID)
            # ...while shard 0's process goes on answering its own.
            again = await fake.slash("help", channel_id=SECOND_CHANNEL_ID)
            await fake.wait_until(lambda: again.callbacks, within=10, what="/help on shard 0")
        finally:
            errors = [await _stop(p) for p in procs]
    assert all(p.returncode == 0 for p in procs), errors
    assert "shard(s) 0 of 2" in errors[0] and "shard(s) 1 of 2" in stopped_err
    assert "REST only" in errors[2]
    # one session per shard: the worker opened none
    assert len(fake.identifies) == 2
    assert fake.violations == [] and fake.pings == []
    assert fake.token not in "".join(errors)


@pytest.mark.parametrize(
    ("table", "key", "reason"),
    [
        ("shard_ids = [0]", "discord.shard_ids", "needs discord.shard_count"),
        ("shard_count = 2\nshard_ids = [2]", "discord.shard_ids[0]", "shard 2 does not exist"),
        ("shard_count = 2\nshard_ids = [1, 1]", "discord.shard_ids[1]", "listed twice"),
        ("shard_count = 0", "discord.shard_count", "at least 1"),
        ("shard_count = 2\nshard_ids = []", "discord.shard_ids", "non-empty list"),
    ],
)
def test_shard_settings_are_checked_with_the_exact_key(tmp_path, table, key, reason):
    path = tmp_path / "marquee.toml"
    path.write_text(f"[discord]\n{table}\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path, env={})
    assert caught.value.key == key and reason in str(caught.value)


@pytest.mark.parametrize(
    ("discord", "shards", "reason"),
    [
        ({"shard_count": 2}, (2,), "shard 2 does not exist"),
        ({}, (0,), "needs [discord] shard_count"),
    ],
)
async def test_shard_ids_on_the_command_line_are_checked(discord, shards, reason):
    from bot.app import run
    from bot.config import parse_config

    config = parse_config({"discord": discord}, env={"DISCORD_TOKEN": "x"})
    with pytest.raises(ConfigError) as caught:
        await run(config, role="discord", shard_ids=shards)
    assert caught.value.key == "--shard-ids" and reason in str(caught.value)
