"""Alerts as neutral replies: one posting or one story, as every platform shows it.

Renderers (console, Discord, Slack) turn these into their payloads. Everything here is
plain text; external strings are passed through untouched and escaped by renderers.
"""

from __future__ import annotations

from bot.models import PostingEvent, Salary, StoredPosting, StoredStory, StoryEvent
from handlers.reply import Field, Item, Reply

__all__ = [
    "TIER_COLOURS",
    "format_money",
    "format_salary",
    "pay_colour",
    "posting_alert",
    "posting_item",
    "story_alert",
    "story_item",
]

# Pay tiers by top of range in annual USD: (floor, colour). The top tier is the reason
# Marquee exists ($300k-$900k for a product manager in 2023), so it stands out.
TIER_COLOURS: tuple[tuple[float, int], ...] = (
    (500_000, 0xE91E63),  # pink
    (300_000, 0xF1C40F),  # gold
    (200_000, 0x2ECC71),  # green
    (0, 0x3498DB),  # blue
)
CLOSED_COLOUR = 0x95A5A6  # grey
NEWS_COLOUR = 0xE67E22  # orange

_SYMBOLS = {"USD": "$", "GBP": "£", "EUR": "€", "CAD": "CA$", "AUD": "A$", "INR": "₹", "JPY": "¥"}
_PERIOD_WORDS = {"hour": "/hr", "day": "/day", "week": "/wk", "month": "/mo", "year": "/yr"}
_KIND_WORDS = {"base": "", "total": " total comp", "ote": " OTE"}


def format_money(amount: float, currency: str = "USD", *, compact: bool = True) -> str:
    """``300000 -> "$300k"``, ``28.5 -> "$28.50"``, ``1250000 -> "$1.25M"``."""
    symbol = _SYMBOLS.get(currency, "")
    suffix = "" if symbol else f" {currency}"
    if compact and amount >= 1_000_000:
        text = f"{amount / 1_000_000:.2f}".rstrip("0").rstrip(".") + "M"
    elif compact and amount >= 10_000:
        text = f"{amount / 1000:.1f}".rstrip("0").rstrip(".") + "k"
    elif amount != int(amount):
        text = f"{amount:,.2f}"
    else:
        text = f"{int(amount):,}"
    return f"{symbol}{text}{suffix}"


def _range(low: float | None, high: float | None, currency: str) -> str:
    if low is not None and high is not None and low != high:
        return f"{format_money(low, currency)}–{format_money(high, currency)}"
    if low is not None and high is None:
        return f"from {format_money(low, currency)}"
    if high is not None and low is None:
        return f"up to {format_money(high, currency)}"
    return format_money(low if low is not None else high or 0, currency)


def format_salary(salary: Salary) -> str:
    """Pay as given, e.g. ``"$300k–$900k/yr total comp"``."""
    text = _range(salary.min, salary.max, salary.currency)
    return f"{text}{_PERIOD_WORDS.get(salary.period, '')}{_KIND_WORDS.get(salary.kind, '')}"


def format_annual_usd(salary: Salary) -> str | None:
    """Annual USD when it differs from what is given (hourly, other currency)."""
    if salary.annual_usd_min is None and salary.annual_usd_max is None:
        return None
    if salary.currency == "USD" and salary.period == "year":
        return None
    return f"≈ {_range(salary.annual_usd_min, salary.annual_usd_max, 'USD')} a year"


def pay_colour(salary: Salary | None) -> int:
    top = salary.top_usd if salary else None
    for floor, colour in TIER_COLOURS:
        if top is not None and top >= floor:
            return colour
    return TIER_COLOURS[-1][1]


def posting_item(stored: StoredPosting) -> Item:
    """One posting as a reply item: used by alerts, /ailistings and digests."""
    p = stored.posting
    fields: list[Field] = []
    if p.salary is not None:
        fields.append(Field("Pay", format_salary(p.salary)))
        annual = format_annual_usd(p.salary)
        if annual:
            fields.append(Field("Annual USD", annual))
    location = p.location or "—"
    if p.remote:
        location = (
            f"{location} · Remote"
            if p.location and "remote" not in location.lower()
            else (p.location or "Remote")
        )
    fields.append(Field("Location", location))
    if p.department:
        fields.append(Field("Team", p.department))
    if stored.status == "closed":
        fields.append(Field("Status", "Closed — no longer listed"))
    colour = CLOSED_COLOUR if stored.status == "closed" else pay_colour(p.salary)
    return Item(
        title=p.title.strip(),
        url=p.url or None,
        author=p.company or None,
        fields=tuple(fields),
        footer=f"{p.source} · #{stored.id}",
        timestamp=p.posted_at or stored.first_seen,
        colour=colour,
    )


def posting_alert(stored: StoredPosting, event: PostingEvent | None = None) -> Reply:
    """The alert for a posting event: new, updated (pay or title) or closed."""
    item = posting_item(stored)
    kind = event.kind if event else "new"
    if kind == "closed" or stored.status == "closed":
        title, severity = "Posting closed", "warning"
    elif kind == "updated":
        changed = ", ".join(event.changes) if event and event.changes else "details"
        title, severity = f"Posting updated: {changed}", "info"
    else:
        title, severity = "New AI/ML role", "success"
    text = ""
    if event and event.previous is not None and "salary" in event.changes:
        before = event.previous.salary
        text = f"Pay was {format_salary(before)}" if before else "Pay was not stated before"
    return Reply(title=title, text=text, items=(item,), severity=severity)  # type: ignore[arg-type]


def story_item(stored: StoredStory) -> Item:
    s = stored.story
    fields: list[Field] = []
    topics = sorted(s.topics.items(), key=lambda kv: -kv[1])
    if topics:
        fields.append(
            Field("Topics", ", ".join(f"{name} {score:.0%}" for name, score in topics[:4]))
        )
    others = [o for o in stored.cluster_outlets if o and o != s.outlet]
    if others:
        fields.append(Field("Also covered by", ", ".join(others[:10]), inline=False))
    summary = s.summary.strip()
    if len(summary) > 400:
        summary = summary[:399].rstrip() + "…"
    return Item(
        title=s.title.strip(),
        url=s.url or None,
        text=summary,
        author=s.outlet or None,
        fields=tuple(fields),
        footer=f"{s.source} · story #{stored.id}",
        timestamp=s.published or stored.first_seen,
        colour=NEWS_COLOUR,
    )


def story_alert(stored: StoredStory, event: StoryEvent | None = None) -> Reply:
    """The alert for a story: the first outlet's, later edited with "also covered by"."""
    title = "Story update" if event and event.kind == "updated" else "Strike & AI news"
    return Reply(title=title, items=(story_item(stored),), severity="info")
