"""The CLI's subcommands, one function each (argument parsing lives in ``bot.cli``)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.app import App, open_app, poll_now
from bot.cli import dump_json
from bot.config import Config
from bot.delivery import Delivery
from bot.errors import CommandError, ConfigError
from bot.models import ListingFilter, StoredPosting, StoredStory
from bot.pipeline import PollSummary
from bot.platforms.console import ConsolePlatform
from bot.platforms.wiring import handler_settings
from bot.render.console import render, sanitize
from bot.sources.base import PollContext
from handlers.alerts import posting_item, story_item
from handlers.reply import Reply

__all__ = [
    "chat",
    "digest",
    "discord_invite",
    "listings",
    "news",
    "poll_once",
    "posting_json",
    "slack_manifest",
    "sources",
    "story_json",
]


def _console(config: Config) -> ConsolePlatform:
    return ConsolePlatform(colour=config.alerts.console_colour)


async def deliver_console(app: App, platform: ConsolePlatform) -> int:
    """Print the console's due alerts (``poll --once`` and the demo)."""
    return await Delivery(app.store, {"console": platform}).run_once()


async def poll_once(
    config: Config, names: Sequence[str] | None, *, backfill: bool, as_json: bool
) -> int:
    """``marquee poll --once``: one cycle, alerts to the console, then a summary.

    Exits 0 when at least one source was polled successfully, 1 when every one failed.
    """
    async with open_app(config) as app:
        console_alerts = not (config.discord_enabled or config.slack_enabled)
        if console_alerts:
            await app.ensure_console_subscription()
        summaries = await poll_now(app, names, backfill=backfill)
        if console_alerts and not as_json:
            await deliver_console(app, _console(config))
    if as_json:
        print(dump_json([s.to_json() for s in summaries]))
    else:
        print(format_summary(summaries))
    failed = [s for s in summaries if s.error]
    return 1 if summaries and len(failed) == len(summaries) else 0


def format_summary(summaries: Sequence[PollSummary]) -> str:
    """The per-source table of ``poll --once``."""
    header = (
        f"{'source':<22} {'kind':<15} {'fetched':>7} {'new':>5} {'updated':>7} "
        f"{'closed':>6}  status"
    )
    lines = [header, "-" * len(header)]
    for s in summaries:
        if s.error:
            status = f"ERROR: {s.error}"
        elif s.skipped:
            status = f"skipped: {s.skipped}"
        elif s.not_modified:
            status = "unchanged"
        elif s.baseline:
            status = "baseline (silent first poll)"
        else:
            status = "ok"
        if s.warnings:
            status += f" ({len(s.warnings)} warning{'s' if len(s.warnings) > 1 else ''})"
        lines.append(
            f"{s.source[:22]:<22} {s.kind:<15} {s.fetched:>7} {s.new:>5} "
            f"{s.updated:>7} {s.closed:>6}  {sanitize(status)}"
        )
    errors = sum(1 for s in summaries if s.error)
    lines.append(f"{len(summaries)} source(s), {errors} error(s)")
    return "\n".join(lines)


def posting_json(stored: StoredPosting) -> dict[str, Any]:
    """One posting as ``marquee listings --json`` prints it."""
    p = stored.posting
    salary = None
    if p.salary is not None:
        s = p.salary
        salary = {
            "min": s.min,
            "max": s.max,
            "currency": s.currency,
            "period": s.period,
            "kind": s.kind,
            "annual_usd_min": s.annual_usd_min,
            "annual_usd_max": s.annual_usd_max,
            "text": s.text,
        }
    ai = {"score": round(p.ai.score, 3), "reasons": list(p.ai.reasons)} if p.ai else None
    return {
        "id": stored.id,
        "source": p.source,
        "company": p.company,
        "title": p.title.strip(),
        "url": p.url,
        "location": p.location,
        "remote": p.remote,
        "salary": salary,
        "ai": ai,
        "first_seen": stored.first_seen,
        "status": stored.status,
    }


def story_json(stored: StoredStory) -> dict[str, Any]:
    """One story (cluster lead) as ``marquee news --json`` prints it."""
    s = stored.story
    return {
        "id": stored.id,
        "source": s.source,
        "outlet": s.outlet,
        "title": s.title,
        "url": s.url,
        "published": s.published,
        "topics": dict(s.topics),
        "reasons": list(s.reasons),
        "cluster": {
            "id": stored.cluster_id,
            "size": stored.cluster_size,
            "outlets": list(stored.cluster_outlets),
        },
    }


def parse_min_salary(text: str | None) -> float | None:
    if text is None:
        return None
    from handlers import parse_salary_input

    try:
        return parse_salary_input(text)
    except CommandError as err:
        raise ConfigError("--min-salary", str(err)) from err


async def listings(config: Config, args: argparse.Namespace) -> int:
    """``marquee listings``: stored postings, highest pay first."""
    min_usd = parse_min_salary(args.min_salary)
    async with open_app(config) as app:
        company: str | tuple[str, ...] | None = args.company
        if args.company and args.company not in app.sources:
            from handlers.companies import resolve_companies

            # loose, like /ailistings: "netflix", "Netflix", "NFLX" (alias), "acme"
            company = await resolve_companies(
                app.store, args.company, config.commands.aliases, strict=False
            )
        where = ListingFilter(
            company=company,
            min_usd=min_usd,
            query=args.query,
            ai_only=args.ai_only,
            status="closed" if args.closed else "open",
        )
        rows = await app.store.listings(where, limit=max(1, args.limit))
    if args.json:
        print(dump_json([posting_json(r) for r in rows]))
        return 0
    if not rows:
        print("No postings match. (Run 'marquee poll --once' first, or widen the filters.)")
        return 0
    for r in rows:
        print(render(Reply(items=(posting_item(r),)), colour=_colour(config)))
        print()
    print(f"{len(rows)} posting(s)")
    return 0


async def news(config: Config, args: argparse.Namespace) -> int:
    """``marquee news``: recent story clusters, newest first."""
    async with open_app(config) as app:
        rows = await app.store.stories(
            days=max(1, args.days), topic=args.topic, limit=max(1, args.limit)
        )
    if args.json:
        print(dump_json([story_json(r) for r in rows]))
        return 0
    if not rows:
        print(f"No stories in the last {args.days} day(s).")
        return 0
    for r in rows:
        print(render(Reply(items=(story_item(r),)), colour=_colour(config)))
        print()
    print(f"{len(rows)} story cluster(s)")
    return 0


async def digest(config: Config, channel: str, *, dry_run: bool) -> int:
    """``marquee digest --channel ID``: build each of the channel's digests now."""
    from bot.models import OutboxEntry
    from handlers import build_digest
    from handlers.reply import reply_to_json

    async with open_app(config) as app:
        subs = [s for s in await app.store.subscriptions(channel) if s.mode != "instant"]
        subs = subs or await app.store.subscriptions(channel)
        if not subs:
            raise ConfigError("--channel", f"{channel!r} has no subscriptions")
        now = datetime.now(UTC)
        queued = 0
        for sub in subs:
            reply = await build_digest(app.store, sub, now - timedelta(days=1), now)
            if reply is None:
                print(f"subscription {sub.id}: nothing new for a digest")
                continue
            if dry_run or channel.startswith("console:"):
                print(render(reply, colour=_colour(config)))
                continue
            key = f"{channel}|digest:{sub.id}|manual:{now:%Y%m%dT%H%M%S}"
            queued += await app.store.enqueue(
                [
                    OutboxEntry(
                        channel,
                        "digest",
                        "digest",
                        key,
                        subscription_id=sub.id,
                        payload=reply_to_json(reply),
                    )
                ]
            )
        if queued:
            print(f"queued {queued} digest(s); 'marquee run' delivers them")
    return 0


async def chat(config: Config) -> int:
    """``marquee chat``: a console channel for slash commands."""
    from bot.platforms.console_chat import run_chat

    async with open_app(config) as app:
        await app.ensure_console_subscription()
        return await run_chat(
            app.store,
            stdin=sys.stdin,
            stdout=sys.stdout,
            settings=handler_settings(config),
            colour=_colour(config),
        )


async def sources(config: Config, *, check: bool, as_json: bool) -> int:
    """``marquee sources [--check]``: configuration and health of every source."""
    async with open_app(config) as app:
        states = {s.name: s for s in await app.store.source_states()}
        checks: dict[str, str] = {}
        if check:
            import asyncio

            async def probe(name: str) -> None:
                src = app.sources[name]
                try:
                    fetched = await src.fetch(PollContext(app.http))
                except Exception as err:  # any failure is reported as text, not raised
                    checks[name] = f"ERROR: {err}"
                    return
                n = len(fetched.postings) or len(fetched.stories)
                checks[name] = f"ok: {n} item(s)" + (
                    f", {len(fetched.warnings)} warning(s)" if fetched.warnings else ""
                )

            await asyncio.gather(*(probe(n) for n in app.sources))
    rows = []
    for name, src in app.sources.items():
        st = states.get(name)
        rows.append(
            {
                "name": name,
                "kind": src.config.kind,
                "company": src.config.company,
                "enabled": src.config.enabled and not (st and st.disabled_reason),
                "interval_seconds": src.config.interval,
                "last_success": st.last_success if st else None,
                "last_error": st.last_error if st else None,
                "failures": st.failure_count if st else 0,
                "next_attempt": st.next_attempt if st else None,
                "items": st.item_count if st else 0,
                "disabled_reason": st.disabled_reason if st else None,
                **({"check": checks.get(name)} if check else {}),
            }
        )
    if as_json:
        print(dump_json(rows))
        return 0
    for r in rows:
        last = r["last_success"].strftime("%Y-%m-%d %H:%M") if r["last_success"] else "never"
        health = (
            "disabled: " + r["disabled_reason"]
            if r["disabled_reason"]
            else (f"error x{r['failures']}: {r['last_error']}" if r["last_error"] else "ok")
        )
        line = f"{r['name']:<22} {r['kind']:<15} items {r['items']:>5}  last ok {last}  {health}"
        if check:
            line += f"\n{'':<22} check: {r['check']}"
        print(sanitize(line))
    return 0


def discord_invite(config: Config, application_id: str | None) -> int:
    """``marquee discord invite``: the OAuth2 URL with only the permissions needed."""
    from bot.platforms.discord import invite_url

    app_id = application_id or (
        str(config.discord.application_id) if config.discord.application_id else None
    )
    if not app_id or not app_id.isdigit():
        raise ConfigError(
            "discord.application_id",
            "needed for the invite URL: set it in the "
            "config or pass --application-id (Developer Portal → General Information)",
        )
    print(invite_url(int(app_id)))
    return 0


def slack_manifest(config: Config, url: str | None) -> int:
    """``marquee slack manifest``: the app manifest generated from the declarations."""
    from bot.platforms.slack_manifest import build_manifest, manifest_json
    from handlers import COMMANDS

    base = url or config.slack.public_url
    socket_mode = bool(config.secrets.slack_app_token)
    if not base and not socket_mode:
        raise ConfigError(
            "slack.public_url",
            "needed for the manifest in HTTP mode: the public https:// URL Slack calls "
            "(or pass --url, or set SLACK_APP_TOKEN for Socket Mode)",
        )
    redirect = None
    if config.slack_oauth:
        if not base:
            raise ConfigError(
                "slack.public_url",
                "needed for the manifest when installing through OAuth ([slack] client_id): "
                "Slack sends installers back to {public_url}/slack/oauth_redirect",
            )
        redirect = base.rstrip("/") + "/slack/oauth_redirect"
    manifest = build_manifest(
        COMMANDS,
        request_url_base=base,
        socket_mode=socket_mode,
        path=config.slack.path,
        who_may_subscribe=config.slack.who_may_subscribe,
        oauth_redirect_url=redirect,
    )
    print(manifest_json(manifest))
    return 0


def _colour(config: Config) -> bool:
    if config.alerts.console_colour is not None:
        return config.alerts.console_colour
    return sys.stdout.isatty()
