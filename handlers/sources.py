"""``/sources``: every source's health, and this channel's paused subscriptions."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from bot.models import SourceState
from handlers.args import shorten
from handlers.listings import page_buttons
from handlers.reply import Field, Item, Reply
from handlers.settings import HandlerSettings
from handlers.spec import Context
from handlers.subscriptions import summarize

if TYPE_CHECKING:
    from storage import Store

__all__ = ["relative", "sources"]

# A page's lines go in the reply's text, which Discord puts in a message's content
# (2,000 characters) when failing sources add items: 15 lines of at most _LINE each,
# with the summary and the title, fit.
PAGE_LINES = 15
_LINE = 120
FAILING_COLOUR = 0xE67E22
DISABLED_COLOUR = 0xE74C3C


def relative(when: datetime | None, now: datetime) -> str:
    """``"5 min ago"``, ``"in 2 h"``, ``"never"``: short enough for a one-line summary."""
    if when is None:
        return "never"
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    seconds = (when - now).total_seconds()
    span = abs(seconds)
    if span < 60:
        text = "now" if span < 5 else f"{int(span)} s"
    elif span < 3600:
        text = f"{int(span // 60)} min"
    elif span < 2 * 86400:
        text = f"{span / 3600:.0f} h"
    else:
        text = f"{span / 86400:.0f} days"
    if text == "now":
        return text
    return f"in {text}" if seconds > 0 else f"{text} ago"


def _status(state: SourceState) -> tuple[str, str]:
    if state.disabled_reason:
        return "⛔", f"disabled: {shorten(state.disabled_reason, 120)}"
    if state.failure_count:
        return "⚠️", f"failing ({state.failure_count} in a row)"
    if state.last_success is None:
        return "⏳", "not polled yet"
    return "✅", "ok"


def _line(state: SourceState, now: datetime) -> str:
    icon, status = _status(state)
    parts = [f"{icon} {state.name}: {status}", f"{state.item_count} items"]
    parts.append(f"last success {relative(state.last_success, now)}")
    if state.next_attempt and not state.disabled_reason:
        parts.append(f"next poll {relative(state.next_attempt, now)}")
    return shorten(" · ".join(parts), _LINE)


async def sources(store: Store, ctx: Context, settings: HandlerSettings, *, page: int = 1) -> Reply:
    """``/sources``: one line per source, with details for failing and disabled ones."""
    now = settings.now()
    states = sorted(await store.source_states(), key=lambda s: s.name.lower())
    failing = [s for s in states if s.failure_count or s.disabled_reason]
    disabled = sum(1 for s in states if s.disabled_reason)
    start = (page - 1) * PAGE_LINES
    shown = states[start : start + PAGE_LINES]
    summary = f"{len(states)} sources: {len(states) - len(failing)} healthy"
    if failing:
        summary += f", {len(failing) - disabled} failing, {disabled} disabled"
    lines = [summary + "."] + [_line(s, now) for s in shown]
    if not states:
        lines = ["No source has been polled yet."]
    items: list[Item] = []
    for state in failing[:5]:
        fields = [
            Field("Last error", shorten(state.last_error or "—", 300), inline=False),
            Field("Last success", relative(state.last_success, now)),
            Field("Failures in a row", str(state.failure_count)),
        ]
        if state.next_attempt and not state.disabled_reason:
            fields.append(Field("Next try", relative(state.next_attempt, now)))
        items.append(
            Item(
                title=state.name,
                text=_status(state)[1],
                fields=tuple(fields),
                timestamp=state.last_attempt,
                colour=DISABLED_COLOUR if state.disabled_reason else FAILING_COLOUR,
            )
        )
    paused = [s for s in await store.subscriptions(ctx.channel) if s.paused_reason]
    for sub in paused[:3]:
        items.append(
            Item(
                title=f"Subscription #{sub.id} is paused",
                text=f"{sub.paused_reason}\n{summarize(sub)}",
                colour=DISABLED_COLOUR,
            )
        )
    return Reply(
        title="Source health",
        text="\n".join(lines),
        items=tuple(items),
        buttons=page_buttons("sources", (), page, has_next=start + PAGE_LINES < len(states)),
        severity="warning" if failing or paused else "info",
    )
