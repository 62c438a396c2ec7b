"""``/strikenews``: recent strike and AI-in-entertainment story clusters, newest first."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from bot.models import StoredStory
from handlers.alerts import story_item
from handlers.args import shorten
from handlers.listings import page_buttons
from handlers.reply import Reply
from handlers.settings import HandlerSettings
from handlers.spec import Context

if TYPE_CHECKING:
    from storage import Store

__all__ = ["one_per_cluster", "story_time", "strikenews"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def story_time(stored: StoredStory) -> datetime:
    """When a story happened for ordering: published if known, else first seen."""
    when = stored.story.published or stored.first_seen or _EPOCH
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def one_per_cluster(stories: list[StoredStory]) -> list[StoredStory]:
    """The first story of each cluster in the given order (outlets that joined later are
    shown as "also covered by" on it)."""
    seen: set[int] = set()
    out = []
    for stored in stories:
        if stored.cluster_id in seen:
            continue
        seen.add(stored.cluster_id)
        out.append(stored)
    return out


async def strikenews(
    store: Store,
    ctx: Context,
    settings: HandlerSettings,
    *,
    days: int | None = None,
    query: str | None = None,
    topic: str | None = None,
    page: int = 1,
) -> Reply:
    """``/strikenews``: story clusters of the last ``days`` days, newest first, paged."""
    days = days or settings.news_days
    size = settings.page_size
    # One extra row tells whether there is a next page without counting them all.
    rows = await store.stories(
        days=days,
        topic=topic,
        query=query,
        limit=size + 1,
        offset=(page - 1) * size,
        now=settings.now(),
    )
    rows = one_per_cluster(rows)
    has_next = len(rows) > size
    rows = sorted(rows[:size], key=story_time, reverse=True)
    what = f"{topic} news" if topic else "Strike & AI news"
    title = f"{what}, last {days} day{'s' if days != 1 else ''}"
    if query:
        title += f", matching “{shorten(query)}”"
    if not rows:
        text = "Nothing found." if page == 1 else f"No stories on page {page}."
        if days < 30 and page == 1:
            text += f" Try days:{min(30, days * 4)}."
        return Reply(title=title, text=text)
    args: list[tuple[str, str]] = [("days", str(days))]
    if query:
        args.append(("query", query))
    if topic:
        args.append(("topic", topic))
    return Reply(
        title=title,
        items=tuple(story_item(r) for r in rows),
        buttons=page_buttons("strikenews", tuple(args), page, has_next=has_next),
        footer=f"Page {page} · newest first · one card per story, with the outlets covering it",
    )
