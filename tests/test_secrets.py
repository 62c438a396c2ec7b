"""Promise 5 of issue 7: tokens and signing secrets never appear in logs, errors or
``/sources``.

``marquee run`` runs as a real process at DEBUG level with every secret in its
environment, against the local Discord, Slack and a board, and does what makes
libraries talk: logs in, registers commands, answers slash commands (Discord
interactions; Slack signed requests in HTTP mode, envelopes in Socket Mode), refuses a
forged request, meets 429s and 5xx, delivers alerts, answers ``/sources`` with a failing
source, and stops. Everything it wrote (stdout and stderr: every log record, warning
and traceback) is searched for each secret, and so are its answers and the database.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest
from aiohttp import web

from storage import open_store
from tests.crash_soak import free_port
from tests.fakes.boards_greenhouse import FakeGreenhouse, job, pay_range
from tests.fakes.discord_server import (
    API,
    CHANNEL_ID,
    GUILD_ID,
    MODERATOR_PERMISSIONS,
    FakeDiscord,
)
from tests.fakes.http import FakeHTTPServer
from tests.fakes.slack_server import (
    APP_TOKEN,
    BOT_TOKEN,
    SIGNING_SECRET,
    FakeSlack,
    SlackSigner,
)
from tests.test_e2e_poll import marquee

CLIENT_SECRET = "3f1e2d4c5b6a798812345678deadbeef"


def _config(path: Path, db_url: str, boards: str, discord: FakeDiscord, slack: FakeSlack) -> int:
    port = free_port()
    path.write_text(f"""
[database]
url = "{db_url}"

[http]
per_host_spacing = 0
read_timeout = 2
total_timeout = 4

[polling]
check_every = 0.5

[discord]
api_base = "{discord.api_base}"
gateway_url = "{discord.gateway_url}"
guild_ids = [{GUILD_ID}]

[slack]
host = "127.0.0.1"
port = {port}
api_base = "{slack.api_base}"

[[sources]]
name = "acme-gh"
kind = "greenhouse"
company = "Acme Studios"
board = "acme"
base_url = "{boards}"

[[sources]]
name = "broken"
kind = "greenhouse"
company = "Broken Co"
board = "broken"
base_url = "{boards}"
""")
    return port


def _secrets(discord: FakeDiscord, socket_mode: bool) -> dict[str, str]:
    env = {
        "DISCORD_TOKEN": discord.token,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_CLIENT_SECRET": CLIENT_SECRET,
    }
    if socket_mode:
        env["SLACK_APP_TOKEN"] = APP_TOKEN
    return env


def _leaks(text: str, secrets: dict[str, str]) -> list[str]:
    """Each secret found whole, or a long enough piece of it to be one."""
    found = []
    for name, value in secrets.items():
        pieces = {value} | {value[i : i + 16] for i in range(0, max(1, len(value) - 15), 4)}
        if any(p in text for p in pieces):
            found.append(name)
    return found


@pytest.mark.parametrize("socket_mode", [False, True], ids=["http-mode", "socket-mode"])
async def test_a_full_run_writes_no_secret_anywhere(sqlite_url, tmp_path, socket_mode):
    async with FakeHTTPServer() as boards, FakeDiscord() as discord, FakeSlack() as slack:
        board = FakeGreenhouse(boards, "acme")

        async def broken(request: web.Request) -> web.Response:
            # a board that echoes what it was sent: nothing of ours is a secret there
            return web.Response(status=500, text=f"upstream error for {dict(request.headers)}")

        boards.route("GET", "/v1/boards/broken/jobs", broken)
        config = tmp_path / "marquee.toml"
        port = _config(config, sqlite_url, boards.url, discord, slack)
        secrets = _secrets(discord, socket_mode)
        code, _out, err = await marquee(config, "poll", "--once")  # the silent baseline
        assert code == 0, err

        env = {**os.environ, **secrets}
        # to a file, not a pipe: at DEBUG the libraries fill a pipe's buffer in seconds,
        # and a process blocked writing its log stops answering
        log_path = tmp_path / "run.log"
        logf = log_path.open("wb")
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "--config",
            str(config),
            "--log-level",
            "DEBUG",
            "run",
            cwd=tmp_path,
            env=env,
            stdout=logf,
            stderr=logf,
        )
        logf.close()
        answers: list[str] = []
        try:
            await discord.wait_until(
                lambda: discord.command_puts and discord.identifies, within=30, what="Discord ready"
            )
            if socket_mode:
                await slack.wait_for(lambda: slack.sockets, within=30)
            else:
                await slack.wait_for(lambda: slack.calls_to("auth.test"), within=30)

            # commands on both platforms, a forged one refused
            rec = await discord.slash("subscribe", kind="jobs", permissions=MODERATOR_PERMISSIONS)
            await discord.wait_until(lambda: rec.callbacks, within=10, what="/subscribe")
            payload = slack.command_payload("/subscribe", "jobs")
            if socket_mode:
                envelope = await slack.send_envelope("slash_commands", payload)
                await slack.wait_for(lambda: envelope in slack.acks, within=10)
            else:
                signer = SlackSigner(f"http://127.0.0.1:{port}/slack/events")
                await _wait_listening(signer)
                answers.append((await signer.command(payload)).text)
                forged = SlackSigner(signer.url, signing_secret="not-the-secret-0123456789")
                assert (await forged.command(payload)).status == 401

            # an alert, through a 429 and a 500 on Discord and a 429 on Slack
            if not socket_mode:  # (once is enough: they cost real seconds)
                discord.rate_limit(f"{API}/channels/{CHANNEL_ID}/messages", 0.05)
                discord.server_error(f"{API}/channels/{CHANNEL_ID}/messages", 500)
                slack.rate_limit("chat.postMessage", "1")
            board.jobs.append(
                job(
                    4011199001,
                    "Machine Learning Engineer, Voice",
                    pay=[pay_range(250_000, 400_000)],
                )
            )
            code, out, err = await marquee(config, "poll", "--once")
            answers.append(out + err)

            def delivered() -> bool:
                return any(
                    "Machine Learning Engineer" in str(m)
                    for m in discord.channel_messages(CHANNEL_ID)
                ) and any("Machine Learning Engineer" in str(m) for _c, _ts, m in slack.iter_sent())

            await _either(discord, slack, delivered, within=30)

            # /sources, with the failing board in it, on both platforms
            rec = await discord.slash("sources")
            await discord.wait_until(
                lambda: rec.callbacks and (rec.followups or rec.original_id), within=10
            )
            answers += [str(discord.messages.get(m)) for m in [rec.original_id, *rec.followups]]
            answers.append(str(rec.callbacks))
            sources = slack.command_payload("/sources")
            if socket_mode:
                envelope = await slack.send_envelope("slash_commands", sources)
                await slack.wait_for(lambda: envelope in slack.acks, within=10)
                answers.append(str(slack.acks[envelope]))
            else:
                answers.append((await signer.command(sources)).text)
            if not socket_mode:
                code, out, err = await marquee(config, "sources", "--json")
                answers.append(out + err)
        finally:
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
            await asyncio.wait_for(proc.wait(), timeout=30)
        output = log_path.read_bytes().decode(errors="replace")
        assert proc.returncode == 0, output[-3000:]
        # the run did talk: DEBUG lines from the libraries, our own lines, the failures
        assert "DEBUG" in output and "discord" in output and "slack" in output.lower()
        assert "broken" in output and "HTTP 500" in output
        assert socket_mode or "rate limited" in output.lower()
        assert _leaks(output, secrets) == [], [
            line for line in output.splitlines() if _leaks(line, secrets)
        ][:5]
        answers += [str(m) for m in discord.messages.values()]
        answers += [str(c.params) for c in slack.calls]
        answers += [str(p) for posts in slack.response_posts.values() for p in posts]
        assert "broken" in " ".join(answers)
        assert _leaks("\n".join(answers), secrets) == []

    async with open_store(sqlite_url) as store:
        stored = [str(s) for s in await store.source_states()]
        stored += [str(s) for s in await store.subscriptions()]
    assert _leaks("\n".join(stored), secrets) == []


async def _wait_listening(signer: SlackSigner) -> None:
    """The Slack endpoint is up once ``auth.test`` was called; a first request may
    still race the listener, so retry a refused connection within a deadline."""
    import aiohttp

    deadline = asyncio.get_running_loop().time() + 10
    while True:
        try:
            async with (
                aiohttp.ClientSession() as session,
                session.get(signer.url.replace("/slack/events", "/healthz")) as resp,
            ):
                if resp.status < 500:
                    return
        except aiohttp.ClientConnectionError:
            if asyncio.get_running_loop().time() > deadline:
                raise
        await asyncio.sleep(0.05)  # polling a condition with a deadline


async def _either(discord: FakeDiscord, slack: FakeSlack, predicate, *, within: float) -> None:
    """Wait until ``predicate`` holds after a request to either fake."""
    waits = [
        asyncio.ensure_future(discord.wait_until(predicate, within=within)),
        asyncio.ensure_future(slack.wait_for(predicate, within=within)),
    ]
    _done, pending = await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    for w in pending:
        w.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    assert predicate(), "waited in vain"


@pytest.mark.parametrize("refused", ["DISCORD_TOKEN", "SLACK_BOT_TOKEN"])
async def test_a_refused_token_is_named_never_shown(sqlite_url, tmp_path, refused):
    """A token the platform refuses at start: the error names the variable, at DEBUG
    level too, and shows no part of the token."""
    async with FakeDiscord() as discord, FakeSlack() as slack:
        config = tmp_path / "marquee.toml"
        _config(config, sqlite_url, "http://127.0.0.1:9", discord, slack)
        wrong = "wrong-token-6f1d2c3b4a59687766554433"
        env = {**os.environ, **_secrets(discord, socket_mode=False), refused: wrong}
        if refused == "SLACK_BOT_TOKEN":
            env.pop("DISCORD_TOKEN")
            env[refused] = "xoxb-" + wrong
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "--config",
            str(config),
            "--log-level",
            "DEBUG",
            "run",
            cwd=tmp_path,
            env=env,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        _out, err_b = await asyncio.wait_for(proc.communicate(), timeout=60)
    err = err_b.decode(errors="replace")
    assert proc.returncode == 2, err[-2000:]
    assert f"marquee: config: {refused}:" in err
    assert _leaks(err, {refused: wrong}) == [], [ln for ln in err.splitlines() if wrong[:16] in ln]
