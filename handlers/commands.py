"""Every command, declared once, and the one entry point platforms call: :func:`dispatch`.

Discord builds its app commands, Slack its slash commands and manifest, and the console
its help from :data:`COMMANDS`. :func:`dispatch` checks the arguments against the
declaration and the caller's permission server-side (a platform's own permission
setting is a convenience, not the guard), runs the handler and turns a user's mistake
into a friendly, ephemeral :meth:`Reply.error` instead of an exception.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import replace
from typing import TYPE_CHECKING

from bot.errors import CommandError, StorageError
from handlers.args import coerce_args, parse_text_args, shorten, usage
from handlers.digest import digest
from handlers.listings import ailistings, salaries
from handlers.news import strikenews
from handlers.reply import Field, Item, Reply
from handlers.settings import HandlerSettings
from handlers.sources import sources
from handlers.spec import Choice, CommandSpec, Context, Option
from handlers.subscriptions import subscribe, subscriptions, unsubscribe

if TYPE_CHECKING:
    from storage import Store

__all__ = ["COMMANDS", "TOPICS", "dispatch", "dispatch_text", "find_command"]

log = logging.getLogger(__name__)

#: News topics stories are scored on (see the news enrichment).
TOPICS: tuple[str, ...] = ("strike", "ai", "likeness", "videogames", "jobs")

_COMPANY = Option(
    "company",
    "Company name, e.g. Netflix (loose: netflix, NFLX)",
    max_length=60,
    autocomplete="company",
)
_MIN_SALARY = Option(
    "min_salary",
    "Lowest top-of-range annual pay in USD, e.g. 300k, $250,000, 0.3m",
    type="salary",
    max_length=20,
)
_PAGE = Option("page", "Page of results", type="integer", min_value=1, max_value=500)


async def _help(
    store: Store, ctx: Context, settings: HandlerSettings, *, command: str | None = None
) -> Reply:
    """``/help``: the commands and their options, from the declarations."""
    if command:
        spec = _BY_NAME.get(command.strip().lower().lstrip("/"))
        if spec is None:
            raise CommandError(
                f"There is no /{shorten(command, 30)} command. "
                f"Commands: {', '.join('/' + c.name for c in COMMANDS)}."
            )
        fields = []
        for opt in spec.options:
            detail = opt.description
            if opt.choices:
                detail += " — one of: " + ", ".join(c.value for c in opt.choices)
            if opt.repeat:
                detail += " (several allowed: repeat it or separate with commas)"
            if opt.required:
                detail += " (required)"
            fields.append(Field(opt.name, detail, inline=False))
        notes = []
        if spec.permission == "manage_channel":
            notes.append("Needs the Manage Channels permission.")
        if spec.personal:
            notes.append("The answer is shown only to you.")
        return Reply(
            title=f"/{spec.name}",
            text=f"{spec.description}\nUsage: {usage(spec)}"
            + ("\n" + " ".join(notes) if notes else ""),
            items=(Item(title="Options", fields=tuple(fields)),) if fields else (),
        )
    lines = [f"/{spec.name} — {spec.description}" for spec in COMMANDS]
    return Reply(
        title="Marquee commands",
        text="\n".join(lines),
        footer="Options as key:value, e.g. /ailistings netflix min_salary:300k · "
        "/help command:subscribe for details",
    )


COMMANDS: tuple[CommandSpec, ...] = (
    CommandSpec(
        "ailistings",
        "Open AI/ML roles, highest pay first",
        options=(
            _COMPANY,
            _MIN_SALARY,
            Option("query", "Words in the title, company or description", max_length=40),
            Option("remote", "Remote roles only (yes) or on-site only (no)", type="boolean"),
            _PAGE,
        ),
        slow=True,
        handler=ailistings,
        positional=("company",),
    ),
    CommandSpec(
        "strikenews",
        "Recent strike and AI-in-entertainment news, newest first",
        options=(
            Option("days", "How many days back (1-30)", type="integer", min_value=1, max_value=30),
            Option("query", "Text in the headline", max_length=40),
            Option(
                "topic",
                "Only this topic",
                type="choice",
                choices=tuple(Choice(t, t) for t in TOPICS),
            ),
            _PAGE,
        ),
        slow=True,
        handler=strikenews,
        positional=("days", "query"),
    ),
    CommandSpec(
        "subscribe",
        "Alert this channel about new AI/ML roles and/or news",
        options=(
            Option(
                "kind",
                "What to follow",
                type="choice",
                choices=(Choice("jobs", "jobs"), Choice("news", "news"), Choice("all", "all")),
            ),
            Option(
                "company",
                "Only these companies (several: comma-separated)",
                max_length=200,
                autocomplete="company",
                repeat=True,
            ),
            _MIN_SALARY,
            Option("keywords", "Any of these words (comma-separated)", max_length=200, repeat=True),
            Option("exclude", "None of these words in the title", max_length=200, repeat=True),
            Option("remote", "Remote roles only (yes) or on-site only (no)", type="boolean"),
            Option(
                "topics",
                "News topics (comma-separated)",
                type="choice",
                choices=tuple(Choice(t, t) for t in TOPICS),
                repeat=True,
            ),
            Option(
                "min_score",
                "Lowest news relevance, 0-1 (e.g. 0.6)",
                type="number",
                min_value=0,
                max_value=1,
            ),
            Option(
                "mode",
                "Instant alerts, a daily digest, or both",
                type="choice",
                choices=(
                    Choice("instant", "instant"),
                    Choice("digest", "digest"),
                    Choice("both", "both"),
                ),
            ),
            Option("digest_time", "Digest time, HH:MM 24-hour (e.g. 09:00)", max_length=10),
            Option("tz", "IANA time zone (e.g. America/Los_Angeles)", max_length=64),
            Option("days", "Digest days: mon-fri, weekends, daily, mon,wed,fri", max_length=40),
            Option("ai_only", "AI/ML roles only (default yes)", type="boolean"),
            Option("empty_digest", "Send the digest even when nothing is new", type="boolean"),
        ),
        permission="manage_channel",
        handler=subscribe,
        positional=("kind", "company"),
    ),
    CommandSpec(
        "unsubscribe",
        "Remove one of this channel's subscriptions, or all",
        options=(
            Option(
                "id",
                "Subscription number (see /subscriptions), or all",
                required=True,
                max_length=20,
            ),
        ),
        permission="manage_channel",
        handler=unsubscribe,
        positional=("id",),
    ),
    CommandSpec(
        "subscriptions",
        "This channel's subscriptions, with their ids",
        handler=subscriptions,
    ),
    CommandSpec(
        "digest",
        "Preview this channel's daily digest now (only you see it)",
        options=(
            Option(
                "id",
                "Which subscription (default: the first with a digest)",
                type="integer",
                min_value=1,
            ),
        ),
        slow=True,
        personal=True,
        handler=digest,
        positional=("id",),
    ),
    CommandSpec(
        "salaries",
        "AI/ML pay by company: count, median, 90th percentile, highest",
        options=(_COMPANY,),
        slow=True,
        handler=salaries,
        positional=("company",),
    ),
    CommandSpec(
        "sources",
        "Health of every job board and news feed",
        options=(_PAGE,),
        handler=sources,
    ),
    CommandSpec(
        "help",
        "What Marquee's commands do",
        options=(Option("command", "A command to explain", max_length=32),),
        personal=True,
        handler=_help,
        positional=("command",),
    ),
)

_BY_NAME: dict[str, CommandSpec] = {spec.name: spec for spec in COMMANDS}


def find_command(name: str) -> CommandSpec | None:
    """The declaration called ``name`` (with or without the slash), if any."""
    return _BY_NAME.get(name.strip().lower().lstrip("/"))


async def dispatch(
    store: Store,
    command: str,
    args: Mapping[str, object],
    ctx: Context,
    *,
    settings: HandlerSettings | None = None,
) -> Reply:
    """Run a command for a caller: validate, check permission, answer with a Reply.

    A user's mistake (unknown command or option, wrong type, missing value, no
    permission, bad input) comes back as :meth:`Reply.error` with what was expected; a
    database failure as a "try again" error. Nothing a user types makes this raise.
    """
    settings = settings or HandlerSettings()
    spec = find_command(command)
    if spec is None or spec.handler is None:
        names = ", ".join(f"/{c.name}" for c in COMMANDS)
        return Reply.error(f"There is no /{shorten(command, 30)} command. Try {names}.")
    if spec.permission == "manage_channel" and not ctx.caller.can_manage_channel:
        return Reply.error(
            f"/{spec.name} changes what this channel receives, so it needs the Manage "
            "Channels permission (or a workspace admin). /subscriptions shows what is set up."
        )
    try:
        values = coerce_args(spec, args)
        reply = await spec.handler(store, ctx, settings, **values)
    except CommandError as err:
        return Reply.error(str(err))
    except StorageError as err:
        log.warning("/%s in %s: storage failed: %s", spec.name, ctx.channel, err)
        return Reply.error("The database is busy or unreachable right now. Try again in a minute.")
    if spec.personal and not reply.ephemeral:
        reply = replace(reply, ephemeral=True)
    return reply


async def dispatch_text(
    store: Store,
    command: str,
    text: str,
    ctx: Context,
    *,
    settings: HandlerSettings | None = None,
) -> Reply:
    """:func:`dispatch` for typed text (Slack, console): ``text`` is everything after
    the command name, read by :func:`handlers.parse_text_args`. Never raises for user
    error either."""
    spec = find_command(command)
    if spec is None:
        return await dispatch(store, command, {}, ctx, settings=settings)
    try:
        args = parse_text_args(spec, text)
    except CommandError as err:
        return Reply.error(str(err))
    return await dispatch(store, spec.name, args, ctx, settings=settings)
