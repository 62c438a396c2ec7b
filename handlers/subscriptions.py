"""``/subscribe``, ``/unsubscribe`` and ``/subscriptions``: what a channel is told.

Everything is validated before the one write, so a bad option never leaves half a
subscription behind. Company names are stored normalised (lower case, aliases
resolved), as :class:`bot.models.Subscription` documents.
"""

from __future__ import annotations

import logging
import re
from dataclasses import replace
from typing import TYPE_CHECKING

from bot.errors import CommandError
from bot.models import Subscription
from handlers.alerts import format_money
from handlers.args import fold, format_days, parse_days, parse_time, parse_tz, shorten
from handlers.companies import resolve_companies
from handlers.filters import phrase
from handlers.reply import Field, Item, Reply
from handlers.settings import HandlerSettings
from handlers.spec import Context

if TYPE_CHECKING:
    from storage import Store

__all__ = ["subscribe", "subscriptions", "summarize", "unsubscribe"]

log = logging.getLogger(__name__)

PAUSED_COLOUR = 0x95A5A6
ACTIVE_COLOUR = 0x2ECC71
MAX_ITEMS = 10


def _list(values: tuple[str, ...], limit: int = 6) -> str:
    shown = ", ".join(values[:limit])
    return shown + (f" +{len(values) - limit}" if len(values) > limit else "")


def summarize(sub: Subscription) -> str:
    """One line saying what a subscription delivers, e.g. ``"AI/ML jobs at netflix paying
    $300k+ · instant alerts + digest 09:00 America/Los_Angeles Mon–Fri"``."""
    parts: list[str] = []
    what = {"jobs": "AI/ML jobs", "news": "news", "all": "AI/ML jobs and news"}[sub.kind]
    if sub.kind != "news" and not sub.ai_only:
        what = what.replace("AI/ML jobs", "all jobs")
    if sub.companies:
        what += f" {'about' if sub.kind == 'news' else 'at'} {_list(sub.companies)}"
    parts.append(what)
    if sub.kind != "news":
        if sub.min_salary_usd:
            parts.append(f"paying {format_money(sub.min_salary_usd)}+")
        if sub.remote is True:
            parts.append("remote only")
        elif sub.remote is False:
            parts.append("not remote")
    if sub.kind != "jobs":
        if sub.topics:
            parts.append(f"topics {_list(sub.topics)}")
        if sub.min_score:
            parts.append(f"score ≥ {sub.min_score:.0%}")
    if sub.keywords:
        parts.append(f"with {_list(sub.keywords)}")
    if sub.exclude:
        parts.append(f"without {_list(sub.exclude)}")
    line = " ".join(parts[:1]) + "".join(f", {p}" for p in parts[1:])
    digest = f"daily digest at {sub.digest_time} {sub.tz} {format_days(sub.days)}"
    if sub.send_empty_digest:
        digest += " (even when empty)"
    delivery = {
        "instant": "instant alerts",
        "digest": digest,
        "both": f"instant alerts + {digest}",
    }[sub.mode]
    line = f"{line} · {delivery}"
    if sub.paused_reason:
        line += f" · PAUSED: {sub.paused_reason}"
    return line


def _same(a: Subscription, b: Subscription) -> bool:
    """Equal in everything a user chose (not id, author or time)."""
    keep = {"id": 0, "created_by": "", "created_at": None, "paused_reason": None}
    return replace(a, **keep) == replace(b, **keep)  # type: ignore[arg-type]


async def subscribe(
    store: Store,
    ctx: Context,
    settings: HandlerSettings,
    *,
    kind: str | None = None,
    company: tuple[str, ...] = (),
    min_salary: float | None = None,
    keywords: tuple[str, ...] = (),
    exclude: tuple[str, ...] = (),
    remote: bool | None = None,
    topics: tuple[str, ...] = (),
    min_score: float | None = None,
    mode: str | None = None,
    digest_time: str | None = None,
    tz: str | None = None,
    days: str | None = None,
    ai_only: bool | None = None,
    empty_digest: bool | None = None,
) -> Reply:
    """``/subscribe``: add a subscription for this channel."""
    # What the user meant when they did not say: companies or pay point at jobs,
    # topics or a score at news; otherwise both.
    if kind is None:
        jobsy = bool(company or min_salary or remote is not None or ai_only is not None)
        newsy = bool(topics or min_score)
        kind = "jobs" if jobsy and not newsy else "news" if newsy and not jobsy else "all"
    if kind == "news":
        for name, given in (
            ("min_salary", min_salary),
            ("remote", remote),
            ("ai_only", ai_only),
        ):
            if given is not None:
                raise CommandError(f"`{name}` applies to jobs; this is a news subscription.")
    if kind == "jobs" and (topics or min_score):
        raise CommandError(
            "`topics` and `min_score` apply to news; use kind:news or kind:all for stories."
        )
    digest_given = digest_time is not None or tz is not None or days is not None
    if mode is None:
        mode = "both" if digest_given or empty_digest else "instant"
    elif mode == "instant" and (digest_given or empty_digest):
        raise CommandError(
            "`digest_time`, `tz`, `days` and `empty_digest` set up a daily digest: "
            "use mode:digest or mode:both with them."
        )
    time_text = parse_time(digest_time) if digest_time else settings.default_digest_time
    tz_name = parse_tz(tz) if tz else settings.default_tz
    day_set = parse_days(days) if days else (1, 2, 3, 4, 5, 6, 7)

    companies: list[str] = []
    for name in company:
        # No match inside a name: a subscription keeps what it was given, and a stray
        # word ("6:30 pm" unquoted leaves "pm") must not become JPMorgan Chase.
        found = await resolve_companies(store, name, settings.aliases, strict=False, inside=False)
        companies.extend(f.strip().lower() for f in found)
    companies = list(dict.fromkeys(companies))

    for word in (*keywords, *exclude):
        if len(word) > 60:
            raise CommandError(f"Keywords are at most 60 characters (“{shorten(word)}”).")
        # Matching compares the letters a-z (accents folded away) and digits: a word with
        # other letters would be saved as typed and then match as if they were not there
        # ("日本語" as every posting, "Straße" as "stra e").
        if not phrase(word) or any(c.isalnum() and not c.isascii() for c in fold(word)):
            raise CommandError(
                "Keywords can hold the letters a–z (accents are ignored) and digits only: "
                f"“{shorten(word)}” would not match as written."
            )

    sub = Subscription(
        id=0,
        channel=ctx.channel,
        kind=kind,  # type: ignore[arg-type]
        companies=tuple(companies),
        min_salary_usd=min_salary,
        keywords=tuple(keywords),
        exclude=tuple(exclude),
        remote=remote,
        topics=tuple(topics),
        min_score=min_score or 0.0,
        ai_only=True if ai_only is None else ai_only,
        mode=mode,  # type: ignore[arg-type]
        digest_time=time_text,
        tz=tz_name,
        days=day_set,
        send_empty_digest=bool(empty_digest),
        created_by=ctx.caller.user_id,
        created_at=settings.now(),
    )
    existing = await store.subscriptions(ctx.channel)
    for other in existing:
        if _same(other, sub):
            return Reply(
                title=f"Already subscribed: #{other.id}",
                text=summarize(other),
                footer=f"Remove it with /unsubscribe {other.id}",
                severity="info",
            )
    if len(existing) >= settings.max_subscriptions_per_channel:
        raise CommandError(
            f"This channel has {len(existing)} subscriptions, the most allowed. "
            "Remove one with /unsubscribe <id> first (/subscriptions lists them)."
        )
    saved = await store.add_subscription(sub)
    log.info("subscription %s added to %s by %s", saved.id, saved.channel, ctx.caller.user_id)
    _changed(settings, ctx.channel)
    return Reply(
        title=f"Subscribed: #{saved.id}",
        text=summarize(saved),
        footer=f"/subscriptions lists this channel's subscriptions · /unsubscribe {saved.id}",
        severity="success",
    )


def _changed(settings: HandlerSettings, channel: str) -> None:
    if settings.on_subscriptions_changed is not None:
        try:
            settings.on_subscriptions_changed(channel)
        except Exception:  # a listener's bug must not undo the user's saved change
            log.exception("subscription listener failed for %s", channel)


_SUBSCRIPTION_ID = re.compile(r"[0-9]{1,12}")
_MAX_ID = 2**31 - 1


async def unsubscribe(store: Store, ctx: Context, settings: HandlerSettings, *, id: str) -> Reply:
    """``/unsubscribe <id | all>``: remove one or every subscription of this channel."""
    text = id.strip().lower().lstrip("#")
    if text in ("all", "*", "everything"):
        removed = await store.remove_all_subscriptions(ctx.channel)
        if removed:
            _changed(settings, ctx.channel)
        noun = "subscription" if removed == 1 else "subscriptions"
        return Reply(
            title="Unsubscribed" if removed else "Nothing to remove",
            text=f"Removed {removed} {noun} from this channel."
            if removed
            else "This channel had no subscriptions.",
            severity="success" if removed else "info",
        )
    # ASCII digits only: str.isdigit() takes "²", which int() refuses
    if _SUBSCRIPTION_ID.fullmatch(text) is None:
        raise CommandError(
            f"`id` should be a subscription number like 3, or all (got “{shorten(id)}”). "
            "/subscriptions lists this channel's."
        )
    sub_id = int(text)
    # ids are 32-bit: a larger number names no subscription (PostgreSQL would refuse it)
    if sub_id > _MAX_ID or not await store.remove_subscription(ctx.channel, sub_id):
        raise CommandError(
            f"This channel has no subscription #{sub_id}. /subscriptions lists this channel's."
        )
    _changed(settings, ctx.channel)
    return Reply(
        title=f"Unsubscribed: #{sub_id}", text="It will send nothing more.", severity="success"
    )


async def subscriptions(store: Store, ctx: Context, settings: HandlerSettings) -> Reply:
    """``/subscriptions``: this channel's subscriptions with their ids."""
    subs = sorted(await store.subscriptions(ctx.channel), key=lambda s: s.id)
    if not subs:
        return Reply(
            title="No subscriptions here",
            text="Add one with /subscribe, e.g. /subscribe jobs company:netflix min_salary:300k",
        )
    items = []
    for sub in subs:
        fields = []
        if sub.paused_reason:
            fields.append(Field("Paused", sub.paused_reason, inline=False))
        items.append(
            Item(
                title=f"#{sub.id}",
                text=summarize(sub),
                fields=tuple(fields),
                footer=f"added by {sub.created_by}" if sub.created_by else None,
                timestamp=sub.created_at,
                colour=PAUSED_COLOUR if sub.paused_reason else ACTIVE_COLOUR,
            )
        )
    paused = sum(1 for s in subs if s.paused_reason)
    text = f"{len(subs)} subscription{'s' if len(subs) != 1 else ''}"
    if paused:
        text += f", {paused} paused"
    text += "."
    if len(items) > MAX_ITEMS:
        # More than a message shows as cards (Discord: 10 embeds): one line each instead.
        text += "\n" + "\n".join(f"#{sub.id} · {summarize(sub)}" for sub in subs)
        items = []
    return Reply(
        title="This channel's subscriptions",
        text=text,
        items=tuple(items),
        footer="/unsubscribe <id> removes one · /unsubscribe all removes every one",
    )
