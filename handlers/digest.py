"""Daily digests: when each subscription's digest falls, and what it says.

A digest covers the window from the subscription's previous scheduled time to this
one, so consecutive digests neither overlap nor leave gaps (a Monday digest of a
``mon-fri`` subscription covers the weekend). Local times come from ``ZoneInfo``; a
time that does not exist on a spring-forward day is read with the offset before the
jump (02:30 becomes 03:30 daylight time), and one that happens twice on a fall-back
day means its first occurrence, so every scheduled day has exactly one instant.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from bot.errors import CommandError
from bot.models import ListingFilter, StoredPosting, StoredStory, Subscription
from handlers.alerts import format_money, posting_item, story_item
from handlers.filters import compile_filter, posting_text, story_text
from handlers.news import one_per_cluster
from handlers.reply import Reply
from handlers.settings import HandlerSettings
from handlers.spec import Context
from handlers.subscriptions import summarize

if TYPE_CHECKING:
    from storage import Store

__all__ = [
    "build_digest",
    "digest",
    "digest_window",
    "last_occurrence",
    "occurrence",
    "previous_occurrence",
]

MAX_POSTINGS_SCANNED = 500
MAX_STORIES_SCANNED = 300
_SEARCH_DAYS = 8  # a weekly schedule's previous day is at most 7 days back


def _hhmm(sub: Subscription) -> time:
    hour, minute = sub.digest_time.split(":")
    return time(int(hour), int(minute))


def occurrence(sub: Subscription, local_date: date) -> datetime:
    """The instant (UTC) of ``sub``'s digest on ``local_date`` in its time zone."""
    local = datetime.combine(local_date, _hhmm(sub), tzinfo=ZoneInfo(sub.tz))
    # fold=0: a gap time takes the offset before the jump, a doubled time its first pass.
    return local.astimezone(UTC)


def last_occurrence(sub: Subscription, now: datetime) -> tuple[date, datetime] | None:
    """The latest scheduled (local date, instant) at or before ``now``."""
    today = now.astimezone(ZoneInfo(sub.tz)).date()
    for back in range(_SEARCH_DAYS):
        day = today - timedelta(days=back)
        if day.isoweekday() in sub.days:
            when = occurrence(sub, day)
            if when <= now:
                return day, when
    return None


def previous_occurrence(sub: Subscription, local_date: date) -> datetime:
    """The scheduled instant before the one on ``local_date`` (24 h earlier if none)."""
    for back in range(1, _SEARCH_DAYS):
        day = local_date - timedelta(days=back)
        if day.isoweekday() in sub.days:
            return occurrence(sub, day)
    return occurrence(sub, local_date) - timedelta(days=1)


def digest_window(sub: Subscription, now: datetime) -> tuple[datetime, datetime]:
    """The window a digest built ``now`` would cover: since the last scheduled digest
    (or the one before it if that is within the last minute), at most a week back."""
    last = last_occurrence(sub, now)
    start = last[1] if last else now - timedelta(days=1)
    if now - start < timedelta(minutes=1) and last:
        start = previous_occurrence(sub, last[0])
    return max(start, now - timedelta(days=7)), now


def _utc(ts: datetime) -> datetime:
    return ts if ts.tzinfo else ts.replace(tzinfo=UTC)


def _pay(stored: StoredPosting) -> float:
    salary = stored.posting.salary
    top = salary.top_usd if salary is not None else None
    return top if top is not None else -1.0


async def _postings(
    store: Store, sub: Subscription, start: datetime, end: datetime
) -> tuple[list[StoredPosting], bool]:
    check = compile_filter(sub)
    if not check.wants_postings:
        return [], False
    where = ListingFilter(
        min_usd=sub.min_salary_usd,
        remote=True if sub.remote is True else None,
        ai_only=sub.ai_only,
        since=start,
    )
    rows = await store.listings(where, limit=MAX_POSTINGS_SCANNED)
    kept = [
        r
        for r in rows
        if start <= _utc(r.first_seen) < end and check.posting(r.posting, posting_text(r.posting))
    ]
    kept.sort(key=lambda r: (-_pay(r), r.id))
    return kept, len(rows) >= MAX_POSTINGS_SCANNED


async def _stories(
    store: Store, sub: Subscription, start: datetime, end: datetime, now: datetime
) -> list[StoredStory]:
    check = compile_filter(sub)
    if not check.wants_stories:
        return []
    days = max(1, min(30, math.ceil((now - start).total_seconds() / 86400)))
    rows = await store.stories(
        days=days, limit=MAX_STORIES_SCANNED, now=now, include_baseline=False
    )
    kept = [
        r
        for r in rows
        if start <= _utc(r.first_seen) < end and check.story(r.story, story_text(r.story))
    ]
    clusters = one_per_cluster(kept)
    clusters.sort(
        key=lambda r: (-r.cluster_size, -max(r.story.topics.values(), default=0.0), -r.id)
    )
    return clusters


async def build_digest(
    store: Store,
    subscription: Subscription,
    window_start: datetime,
    window_end: datetime,
    *,
    settings: HandlerSettings | None = None,
) -> Reply | None:
    """The digest of ``[window_start, window_end)`` for one subscription: the best-paid
    new AI/ML postings, the biggest story clusters and totals. ``None`` when there is
    nothing to say, unless the subscription asked for empty digests."""
    settings = settings or HandlerSettings()
    sub = subscription
    start, end = _utc(window_start), _utc(window_end)
    postings, capped = await _postings(store, sub, start, end)
    stories = await _stories(store, sub, start, end, max(end, settings.now()))
    if not postings and not stories and not sub.send_empty_digest:
        return None

    local_end = end.astimezone(ZoneInfo(sub.tz))
    title = f"Daily digest · {local_end:%a} {local_end.day} {local_end:%b %Y}"
    lines = []
    if compile_filter(sub).wants_postings:
        high = sum(1 for p in postings if _pay(p) >= settings.high_salary_usd)
        count = f"{len(postings)}{'+' if capped else ''}"
        line = f"{count} new AI/ML role{'s' if len(postings) != 1 else ''}"
        if high:
            line += f", {high} paying {format_money(settings.high_salary_usd)}+"
        if postings and _pay(postings[0]) > 0:
            line += f"; best paid: {format_money(_pay(postings[0]))}"
        lines.append(line + ".")
    if compile_filter(sub).wants_stories:
        outlets = sum(max(1, s.cluster_size) for s in stories)
        lines.append(
            f"{len(stories)} new stor{'y' if len(stories) == 1 else 'ies'}"
            + (f" ({outlets} articles)" if outlets > len(stories) else "")
            + "."
        )
    since = start.astimezone(ZoneInfo(sub.tz))
    lines.append(f"Since {since:%a %H:%M} {since.tzname()}.")
    if not postings and not stories:
        lines.insert(0, "Nothing new today.")
    items = [posting_item(p) for p in postings[: settings.digest_postings]]
    items += [story_item(s) for s in stories[: settings.digest_stories]]
    shown_p = min(len(postings), settings.digest_postings)
    footer = f"Subscription #{sub.id} · /unsubscribe {sub.id} to stop"
    if len(postings) > shown_p:
        footer = f"Top {shown_p} roles by pay; /ailistings for the rest · " + footer
    return Reply(
        title=title,
        text="\n".join(lines),
        items=tuple(items),
        footer=footer,
        severity="info",
        extra={
            "subscription_id": str(sub.id),
            "window_start": start.isoformat(),
            "window_end": end.isoformat(),
        },
    )


async def digest(
    store: Store, ctx: Context, settings: HandlerSettings, *, id: int | None = None
) -> Reply:
    """``/digest``: a preview of this channel's digest as it would be sent now."""
    subs = sorted(await store.subscriptions(ctx.channel), key=lambda s: s.id)
    now = settings.now()
    note = ""
    if id is not None:
        chosen = next((s for s in subs if s.id == id), None)
        if chosen is None:
            raise CommandError(
                f"This channel has no subscription #{id}. /subscriptions lists this channel's."
            )
    elif subs:
        digests = [s for s in subs if s.mode != "instant"]
        chosen = (digests or subs)[0]
        if not digests:
            note = "This channel gets instant alerts only; a digest would say:\n"
    else:
        chosen = Subscription(
            id=0,
            channel=ctx.channel,
            tz=settings.default_tz,
            digest_time=settings.default_digest_time,
        )
        note = "This channel has no subscriptions; a default digest would say:\n"
    start, end = digest_window(chosen, now)
    reply = await build_digest(store, chosen, start, end, settings=settings)
    others = [s.id for s in subs if s.id != chosen.id and s.mode != "instant"]
    more = (
        f" Other digests here: {', '.join(f'#{i}' for i in others)} (/digest id:N)."
        if others
        else ""
    )
    if reply is None:
        since = start.astimezone(ZoneInfo(chosen.tz))
        return Reply(
            title="Digest preview",
            text=f"{note}Nothing new since {since:%a %H:%M} {since.tzname()}, so no digest "
            f"would be sent.{more}",
            footer=summarize(chosen) if chosen.id else None,
            ephemeral=True,
        )
    header = "Preview (only you see this). " + note + (more.strip() + "\n" if more else "")
    return Reply(
        title=reply.title + " (preview)",
        text=header + reply.text,
        items=reply.items,
        footer=reply.footer if chosen.id else None,
        severity=reply.severity,
        ephemeral=True,
        extra=reply.extra,
    )
