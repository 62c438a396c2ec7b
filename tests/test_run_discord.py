"""``marquee run`` as a real process, connected to the local Discord.

A member subscribes the channel with ``/subscribe``; another process (``marquee poll
--once``) finds a new posting and queues its alert; the running instance delivers it as
an embed and, after a pay change, edits that same message. SIGTERM stops it cleanly.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

from tests.fakes.boards_greenhouse import FakeGreenhouse, job, pay_range
from tests.fakes.discord_server import CHANNEL_ID, GUILD_ID, MODERATOR_PERMISSIONS, FakeDiscord
from tests.test_e2e_poll import marquee


def _config(path: Path, db_url: str, board_url: str, fake: FakeDiscord) -> Path:
    path.write_text(f"""
[database]
url = "{db_url}"

[http]
per_host_spacing = 0

[discord]
api_base = "{fake.api_base}"
gateway_url = "{fake.gateway_url}"
guild_ids = [{GUILD_ID}]

[[sources]]
name = "acme"
kind = "greenhouse"
company = "Acme Studios"
board = "acme"
base_url = "{board_url}"
""")
    return path


def _alerts(fake: FakeDiscord) -> list[dict]:
    return [
        m
        for m in fake.channel_messages(CHANNEL_ID)
        if any("Product Manager" in e.get("title", "") for e in m.get("embeds", []))
    ]


async def test_run_subscribes_delivers_and_edits_on_discord(sqlite_url, tmp_path, monkeypatch):
    async with FakeDiscord() as fake:
        board = FakeGreenhouse(fake, "acme")  # the boards share the fake's HTTP server
        config = _config(tmp_path / "marquee.toml", sqlite_url, fake.url, fake)
        monkeypatch.setenv("DISCORD_TOKEN", fake.token)

        code, _out, err = await marquee(config, "poll", "--once")  # the silent baseline
        assert code == 0, err

        env = {**os.environ, "DISCORD_TOKEN": fake.token}
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "--config",
            str(config),
            "--log-level",
            "INFO",
            "run",
            cwd=tmp_path,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            await fake.wait_until(
                lambda: fake.command_puts and fake.identifies,
                within=30,
                what="the commands to be registered and the gateway ready",
            )
            rec = await fake.slash(
                "subscribe", kind="jobs", min_salary="250k", permissions=MODERATOR_PERMISSIONS
            )
            await fake.wait_until(
                lambda: rec.callbacks and (rec.followups or rec.original_id),
                within=10,
                what="the /subscribe answer",
            )

            board.jobs.append(
                job(
                    4011199001,
                    "Product Manager – Machine Learning Platform",
                    pay=[pay_range(300_000, 900_000)],
                )
            )
            code, _out, err = await marquee(config, "poll", "--once")
            assert code == 0, err
            await fake.wait_until(lambda: _alerts(fake), within=20, what="the alert")
            (alert,) = _alerts(fake)
            embed = alert["embeds"][0]
            assert embed["author"]["name"] == "Acme Studios"
            assert any("$300k–$900k" in f["value"] for f in embed["fields"])

            board.find(4011199001)["pay_input_ranges"] = [pay_range(350_000, 950_000)]
            code, _out, err = await marquee(config, "poll", "--once")
            assert code == 0, err

            def edited() -> bool:
                msg = fake.messages[int(alert["id"])]
                return any("$350k–$950k" in f["value"] for f in msg["embeds"][0]["fields"])

            await fake.wait_until(edited, within=20, what="the alert to be edited")
            assert len(_alerts(fake)) == 1, "an update edits; it never posts again"
        finally:
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
            out_b, err_b = await asyncio.wait_for(proc.communicate(), timeout=30)
        assert proc.returncode == 0, err_b.decode()[-3000:]
        assert fake.token not in err_b.decode() + out_b.decode()
        assert fake.violations == [] and fake.pings == []
