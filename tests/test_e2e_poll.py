"""End to end through the real CLI: ``marquee poll --once`` as a process, against local
fake boards, with the database on SQLite and on PostgreSQL.

Baseline first, then exactly the new posting once; a pay change is one update; a
posting gone twice is one closure; a failing board leaves the others untouched and
records its error.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from aiohttp import web

from storage import open_store
from tests.fakes.boards_greenhouse import FakeGreenhouse, job, pay_range
from tests.fakes.boards_lever import FakeLever
from tests.fakes.http import FakeHTTPServer


async def marquee(config: Path, *args: str) -> tuple[int, str, str]:
    """Run ``python -m bot --config CONFIG ARGS`` and return (code, stdout, stderr)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DISCORD_TOKEN", "SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN")
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "--config",
        str(config),
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=config.parent,
        env=env,
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout=60)
    return proc.returncode or 0, out.decode(), err.decode()


def write_config(path: Path, db_url: str, base_url: str) -> Path:
    path.write_text(f"""
[database]
url = "{db_url}"

[http]
per_host_spacing = 0

[alerts]
console_colour = false

[[sources]]
name = "acme-gh"
kind = "greenhouse"
company = "Acme Studios"
board = "acme"
base_url = "{base_url}"

[[sources]]
name = "acme-lever"
kind = "lever"
company = "Acme Audio"
site = "acme"
base_url = "{base_url}"

[[sources]]
name = "broken"
kind = "greenhouse"
company = "Broken Co"
board = "broken"
base_url = "{base_url}"
""")
    return path


def summary_row(stdout: str, source: str) -> list[str]:
    for line in stdout.splitlines():
        if line.startswith(source + " "):
            return line.split()
    raise AssertionError(f"no summary row for {source} in:\n{stdout}")


async def test_poll_once_baseline_new_update_close_and_a_failing_board(db_url, tmp_path):
    async with FakeHTTPServer() as server:
        gh = FakeGreenhouse(server, "acme")
        FakeLever(server, "acme")

        async def broken(request: web.Request) -> web.Response:
            return web.Response(status=500, text="upstream exploded")

        server.route("GET", "/v1/boards/broken/jobs", broken)
        config = write_config(tmp_path / "marquee.toml", db_url, server.url)

        # 1. baseline: everything stored, nothing alerted
        code, out, err = await marquee(config, "poll", "--once")
        assert code == 0, err
        assert "baseline" in " ".join(summary_row(out, "acme-gh"))
        assert "New AI/ML role" not in out
        assert "ERROR: HTTP 500" in out and "broken" in out

        # 2. a new AI posting appears: alerted exactly once
        gh.jobs.append(
            job(
                4011199001,
                "Product Manager – Machine Learning Platform",
                content_html="<p>Own the ML platform.</p>",
                pay=[pay_range(300_000, 900_000, title="US Salary Range")],
            )
        )
        code, out, err = await marquee(config, "poll", "--once")
        assert code == 0, err
        assert out.count("Product Manager – Machine Learning Platform") == 1
        assert summary_row(out, "acme-gh")[2:6] == ["7", "1", "0", "0"]
        assert summary_row(out, "acme-lever")[3:6] == ["0", "0", "0"]

        code, out, err = await marquee(config, "listings", "acme studios", "--json")
        assert code == 0, err
        rows = json.loads(out)
        pm = next(r for r in rows if r["title"].startswith("Product Manager"))
        assert pm["salary"]["min"] == 300_000 and pm["salary"]["max"] == 900_000
        assert pm["salary"]["currency"] == "USD" and pm["salary"]["annual_usd_max"] == 900_000
        assert pm["ai"]["score"] > 0 and pm["ai"]["reasons"]
        assert pm["status"] == "open" and pm["company"] == "Acme Studios"
        assert set(pm) >= {
            "id",
            "source",
            "company",
            "title",
            "url",
            "location",
            "remote",
            "salary",
            "ai",
            "first_seen",
            "status",
        }
        # every open posting is listed, with its AI verdict; --ai-only keeps the AI roles
        modeler = next(r for r in rows if r["title"] == "Character Modeler")
        assert modeler["ai"]["score"] < 0.5 and modeler["salary"] is None
        code, out, err = await marquee(config, "listings", "acme studios", "--ai-only", "--json")
        assert code == 0, err
        ai_titles = {r["title"] for r in json.loads(out)}
        assert pm["title"] in ai_titles and "Character Modeler" not in ai_titles

        # 3. its pay changes: one update, and polling again changes nothing more
        gh.find(4011199001)["pay_input_ranges"] = [pay_range(320_000, 950_000)]
        code, out, _ = await marquee(config, "poll", "--once")
        assert summary_row(out, "acme-gh")[3:6] == ["0", "1", "0"]
        code, out, _ = await marquee(config, "poll", "--once")
        assert summary_row(out, "acme-gh")[3:6] == ["0", "0", "0"]

        # 4. it disappears: closed only after the second absent poll, once
        gh.remove(4011199001)
        code, out, _ = await marquee(config, "poll", "--once")
        assert summary_row(out, "acme-gh")[3:6] == ["0", "0", "0"]
        code, out, _ = await marquee(config, "poll", "--once")
        assert summary_row(out, "acme-gh")[3:6] == ["0", "0", "1"]
        assert "Posting closed" in out
        code, out, _ = await marquee(config, "poll", "--once")
        assert summary_row(out, "acme-gh")[3:6] == ["0", "0", "0"]

        # 5. the failing board's error is recorded; the others are healthy
        code, out, _ = await marquee(config, "sources", "--json")
        states = {s["name"]: s for s in json.loads(out)}
        assert "HTTP 500" in states["broken"]["last_error"]
        assert states["broken"]["failures"] >= 1
        assert states["acme-gh"]["last_error"] is None and states["acme-gh"]["items"] == 6


async def test_poll_once_leaves_a_source_another_instance_is_polling(db_url, tmp_path):
    # issue 9: a manual poll beside running pollers takes each source's lease like they do
    other = "poller-host:4242:abcdef"
    now = datetime.now(UTC)
    async with FakeHTTPServer() as server:
        FakeGreenhouse(server, "acme")
        FakeLever(server, "acme")

        async def broken(request: web.Request) -> web.Response:
            return web.Response(status=500)

        server.route("GET", "/v1/boards/broken/jobs", broken)
        config = write_config(tmp_path / "marquee.toml", db_url, server.url)
        async with open_store(db_url) as store:
            assert await store.acquire_source_lease(
                "acme-gh", owner=other, now=now, until=now + timedelta(hours=1)
            )

        code, out, err = await marquee(config, "poll", "--once")
        assert code == 0, err
        row = " ".join(summary_row(out, "acme-gh"))
        assert "skipped: left to another instance, which holds its lease" in row
        assert summary_row(out, "acme-gh")[2] == "0"  # nothing fetched
        assert "baseline" in " ".join(summary_row(out, "acme-lever"))

        async with open_store(db_url) as store:
            state = await store.source_state("acme-gh")
            assert state is None or not state.baseline_done
            # the manual poll gave its own leases back: another owner takes one at once
            assert await store.acquire_source_lease(
                "acme-lever", owner=other, now=now, until=now + timedelta(minutes=1)
            )
            await store.release_source_lease("acme-lever", owner=other)
            await store.release_source_lease("acme-gh", owner=other)

        code, out, err = await marquee(config, "poll", "--once")
        assert code == 0, err
        assert "baseline" in " ".join(summary_row(out, "acme-gh"))
        assert summary_row(out, "acme-gh")[2] == "6"


async def test_backfill_alerts_what_a_new_board_already_lists(sqlite_url, tmp_path):
    async with FakeHTTPServer() as server:
        FakeGreenhouse(server, "acme")
        config = tmp_path / "marquee.toml"
        config.write_text(f"""
[database]
url = "{sqlite_url}"
[alerts]
console_colour = false
[[sources]]
name = "acme-gh"
kind = "greenhouse"
board = "acme"
base_url = "{server.url}"
""")
        code, out, err = await marquee(config, "poll", "--once", "--backfill")
        assert code == 0, err
        assert "Research Engineer, Machine Learning Systems" in out
        assert "Character Modeler" not in out  # not an AI/ML role: no alert


async def test_a_bad_config_names_the_key_and_exits_2(tmp_path):
    config = tmp_path / "marquee.toml"
    config.write_text('[[sources]]\nname = "x"\nkind = "eightfold"\nhost = "h.example"\n')
    code, _out, err = await marquee(config, "poll", "--once")
    assert code == 2
    assert "sources.x.domain" in err and "required" in err


@pytest.mark.parametrize("args", [["listings", "--json"], ["news", "--json"]])
async def test_json_commands_on_an_empty_database(sqlite_url, tmp_path, args):
    config = tmp_path / "marquee.toml"
    config.write_text(f'include_default_sources = false\n[database]\nurl = "{sqlite_url}"\n')
    code, out, err = await marquee(config, *args)
    assert code == 0, err
    assert json.loads(out) == []
