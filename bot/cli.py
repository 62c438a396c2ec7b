"""``marquee`` — the command line.

Every subcommand loads and validates the config once, opens what it needs through
``bot.app.open_app`` and exits with 0 on success, 1 when work failed (a source error
in ``poll --once``), 2 for bad usage or configuration.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.config import Config, load_config
from bot.errors import ConfigError, MarqueeError
from bot.logs import setup_logging

__all__ = ["main"]

log = logging.getLogger("marquee")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="marquee",
        description="Alerts for high-paying AI/ML roles and Hollywood strike / AI news, "
        "on Discord, Slack or the console.",
    )
    p.add_argument(
        "--config",
        "-c",
        help="TOML config file (default: ./marquee.toml if present, else built-in defaults)",
    )
    p.add_argument("--database", help="database URL, overriding [database] url")
    p.add_argument(
        "--log-level",
        default="WARNING",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="default: WARNING",
    )
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    r = sub.add_parser("run", help="poll, deliver, post digests and serve the platforms")
    r.add_argument(
        "--role",
        default="all",
        choices=["all", "poller", "worker", "discord", "slack"],
        help="which part of Marquee this process runs (default: all)",
    )
    r.add_argument(
        "--health-port",
        type=int,
        metavar="PORT",
        help="serve /healthz and /metrics on this port (overrides [health] port; 0: any free)",
    )
    r.add_argument(
        "--shard-ids",
        type=_shard_ids,
        metavar="N[,N...]",
        help="the Discord shards this process runs (overrides [discord] shard_ids)",
    )

    po = sub.add_parser("poll", help="poll the sources once and print a summary")
    po.add_argument(
        "--once",
        action="store_true",
        required=True,
        help="one cycle, then exit (required: 'marquee run' polls forever)",
    )
    po.add_argument(
        "--source", action="append", metavar="NAME", help="only this source (repeatable)"
    )
    po.add_argument(
        "--backfill",
        action="store_true",
        help="alert on what a new source already lists instead of a silent baseline",
    )
    po.add_argument("--json", action="store_true", help="print the summary as JSON")

    li = sub.add_parser("listings", help="stored postings, highest pay first")
    li.add_argument("company", nargs="?", help="company or source name")
    li.add_argument(
        "--min-salary",
        metavar="N",
        help="top of range at least N a year in USD: 300000, 300k, $300,000, 0.3m",
    )
    li.add_argument("--query", "-q", help="text in title, company or description")
    li.add_argument(
        "--ai-only",
        action="store_true",
        help="only roles classified as AI/ML (each posting's 'ai' says why)",
    )
    li.add_argument("--closed", action="store_true", help="closed postings instead of open")
    li.add_argument("--limit", type=int, default=50, help="default: 50")
    li.add_argument("--json", action="store_true", help="print JSON")

    ne = sub.add_parser("news", help="recent strike and AI stories, one per story cluster")
    ne.add_argument("--days", type=int, default=7, help="default: 7")
    ne.add_argument("--topic", help="only stories with this topic (strike, ai, ...)")
    ne.add_argument("--limit", type=int, default=50, help="default: 50")
    ne.add_argument("--json", action="store_true", help="print JSON")

    dg = sub.add_parser("digest", help="build a channel's digest now")
    dg.add_argument("--channel", required=True, help="e.g. console:main, discord:123, slack:C01")
    dg.add_argument("--dry-run", action="store_true", help="print it instead of queueing it")

    sub.add_parser("chat", help="type slash commands into a console channel")

    so = sub.add_parser("sources", help="the configured sources and their health")
    so.add_argument(
        "--check", action="store_true", help="fetch each listing once now (stores nothing)"
    )
    so.add_argument("--json", action="store_true", help="print JSON")

    db = sub.add_parser("db", help="database maintenance")
    db_sub = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    db_sub.add_parser("upgrade", help="apply the schema migrations")

    sub.add_parser(
        "demo",
        help="offline: serve sample boards and feeds locally and run the whole flow to the console",
    )

    dc = sub.add_parser("discord", help="Discord set-up helpers")
    dc_sub = dc.add_subparsers(dest="discord_command", required=True, metavar="ACTION")
    inv = dc_sub.add_parser("invite", help="print the bot's OAuth2 invite URL")
    inv.add_argument("--application-id", help="default: [discord] application_id")

    sl = sub.add_parser("slack", help="Slack set-up helpers")
    sl_sub = sl.add_subparsers(dest="slack_command", required=True, metavar="ACTION")
    man = sl_sub.add_parser("manifest", help="print the Slack app manifest")
    man.add_argument("--url", help="public base URL Slack calls (default: [slack] public_url)")
    return p


def _shard_ids(text: str) -> tuple[int, ...]:
    try:
        ids = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected shard numbers like 0,1 - got {text!r}"
        ) from None
    if not ids or any(i < 0 for i in ids):
        raise argparse.ArgumentTypeError(f"expected shard numbers like 0,1 - got {text!r}")
    return ids


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``marquee`` console script and ``python -m bot``."""
    args = _parser().parse_args(argv)
    setup_logging(args.log_level)
    try:
        config = load_config(args.config)
        if args.database:
            from dataclasses import replace

            from bot.config import DatabaseConfig

            config = replace(config, database=DatabaseConfig(args.database))
        return asyncio.run(_dispatch(args, config))
    except ConfigError as err:
        print(f"marquee: {err}", file=sys.stderr)
        return 2
    except MarqueeError as err:
        print(f"marquee: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


async def _dispatch(args: argparse.Namespace, config: Config) -> int:
    from bot import commands

    match args.command:
        case "run":
            from bot.app import run

            await run(
                config, role=args.role, health_port=args.health_port, shard_ids=args.shard_ids
            )
            return 0
        case "poll":
            return await commands.poll_once(
                config, args.source, backfill=args.backfill, as_json=args.json
            )
        case "listings":
            return await commands.listings(config, args)
        case "news":
            return await commands.news(config, args)
        case "digest":
            return await commands.digest(config, args.channel, dry_run=args.dry_run)
        case "chat":
            return await commands.chat(config)
        case "sources":
            return await commands.sources(config, check=args.check, as_json=args.json)
        case "db":
            from storage import upgrade

            await upgrade(config.database.url)
            print(f"database is up to date ({_redact_url(config.database.url)})")
            return 0
        case "demo":
            from bot.demo import run_demo

            return await run_demo()
        case "discord":
            return commands.discord_invite(config, args.application_id)
        case "slack":
            return commands.slack_manifest(config, args.url)
    raise AssertionError(args.command)


def _redact_url(url: str) -> str:
    """A database URL without its password."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        user = creds.split(":", 1)[0]
        return f"{scheme}://{user}:***@{host}" if ":" in creds else url
    return url


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    raise TypeError(type(value).__name__)


def dump_json(data: Any) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False, default=_json_default)
