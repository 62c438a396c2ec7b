"""``/ailistings`` (open AI/ML roles, best paid first, paged) and ``/salaries``."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING
from urllib.parse import quote

from bot.errors import CommandError
from bot.models import ListingFilter
from handlers.alerts import format_money, posting_item
from handlers.args import shorten
from handlers.companies import resolve_companies
from handlers.reply import Button, Field, Item, Reply
from handlers.settings import HandlerSettings
from handlers.spec import Context

if TYPE_CHECKING:
    from storage import Store

__all__ = ["BUTTON_ARGS_BUDGET", "ailistings", "encoded_len", "page_buttons", "salaries"]

#: Characters a paging button's command and arguments may take together (see
#: :func:`encoded_len`), so that a platform's encoding (Discord ``custom_id``: at most
#: 100) has room for its own framing.
BUTTON_ARGS_BUDGET = 90
MAX_SALARY_ROWS = 10
#: ``/ailistings`` counts matches up to this many (or through the page asked for, if
#: further) and says "1,000+ roles" beyond (issue 8). Without query words the count is
#: read from an index; with them each posting's text is searched until the cap is
#: reached, so the cap is lower ("100+ roles"): an exact count of a common word reads
#: every open posting's description (seconds at 200,000 postings), 100 matches take
#: milliseconds (on PostgreSQL each description read from TOAST costs ~70 µs).
COUNT_CAP = 1000
QUERY_COUNT_CAP = 100


def encoded_len(command: str, args: tuple[tuple[str, str], ...]) -> int:
    """A button's size as platforms encode it: the command plus each ``key=value`` with
    the value percent-encoded (spaces and non-ASCII grow), and a separator each."""
    return len(command) + sum(len(quote(k, safe="")) + len(quote(v, safe="")) + 2 for k, v in args)


def page_buttons(
    command: str, args: tuple[tuple[str, str], ...], page: int, *, has_next: bool
) -> tuple[Button, ...]:
    """Previous/next buttons that re-run ``command`` with ``args`` at another page: all
    state is in the arguments, so a click works after a restart. Empty when one page
    suffices or the arguments would not fit a platform's button id."""
    if page <= 1 and not has_next:
        return ()
    if encoded_len(command, (*args, ("page", str(page + 1)))) > BUTTON_ARGS_BUDGET:
        return ()
    return (
        Button(
            "◀ Previous",
            command=command,
            args=(*args, ("page", str(max(1, page - 1)))),
            disabled=page <= 1,
        ),
        Button(
            "Next ▶",
            command=command,
            args=(*args, ("page", str(page + 1))),
            disabled=not has_next,
        ),
    )


def _compact_usd(amount: float) -> str:
    """A salary as short as the parser reads back: ``300000 -> "300k"``, ``1.2m``."""
    if amount >= 1_000_000 and amount % 10_000 == 0:
        return f"{amount / 1_000_000:g}m"
    if amount % 1000 == 0:
        return f"{amount / 1000:g}k"
    return f"{amount:g}"


def _pages(total: int, size: int, page: int) -> int:
    pages = max(1, math.ceil(total / size))
    if page > pages:
        raise CommandError(
            f"There {'is only 1 page' if pages == 1 else f'are only {pages} pages'} "
            f"of results (asked for page {page})."
        )
    return pages


def _count_text(total: int, capped: bool) -> str:
    """``"70"``, or ``"1,000+"`` when counting stopped there."""
    return f"{total:,}+" if capped else str(total)


async def ailistings(
    store: Store,
    ctx: Context,
    settings: HandlerSettings,
    *,
    company: str | None = None,
    min_salary: float | None = None,
    query: str | None = None,
    remote: bool | None = None,
    page: int = 1,
) -> Reply:
    """``/ailistings``: open AI/ML postings, highest top-of-range pay first, paged."""
    companies = await resolve_companies(store, company, settings.aliases) if company else None
    where = ListingFilter(
        company=tuple(companies) if companies else None,
        min_usd=min_salary,
        query=query,
        remote=remote,
    )
    size = settings.page_size
    # Count to the cap, or through the page asked for when it lies beyond: one more
    # than that says whether there are more (capped), and paging works at any depth.
    counted = max(QUERY_COUNT_CAP if query else COUNT_CAP, page * size)
    total, rows = await store.listing_page(
        where, limit=size, offset=(page - 1) * size, count_limit=counted + 1
    )
    capped = total > counted
    if capped:
        total = counted
    pages = _pages(total, size, page)

    scope = ["Open AI/ML roles"]
    if companies:
        scope.append(f"at {companies[0]}")
    if min_salary:
        scope.append(f"paying {format_money(min_salary)}+")
    if remote is True:
        scope.append("(remote)")
    elif remote is False:
        scope.append("(on-site)")
    if query:
        scope.append(f"matching “{shorten(query)}”")
    title = " ".join(scope)
    if not rows:
        hints = []
        if min_salary:
            hints.append("a lower min_salary")
        if query:
            hints.append("fewer query words")
        if remote is not None:
            hints.append("no remote filter")
        hint = f" Try {' or '.join(hints)}." if hints else ""
        return Reply(title=title, text=f"No open roles match.{hint}", severity="info")

    args: list[tuple[str, str]] = []
    if companies:
        args.append(("company", companies[0]))
    if min_salary:
        args.append(("min_salary", _compact_usd(min_salary)))
    if query:
        args.append(("query", query))
    if remote is not None:
        args.append(("remote", "yes" if remote else "no"))
    first = (page - 1) * size + 1
    noun = "role" if total == 1 and not capped else "roles"
    has_next = page < pages or capped
    buttons = page_buttons("ailistings", tuple(args), page, has_next=has_next)
    of_pages = f"{pages:,}+" if capped else str(pages)
    footer = (
        f"Page {page} of {of_pages} · {first}–{first + len(rows) - 1} "
        f"of {_count_text(total, capped)}"
    )
    if not buttons and has_next:
        footer += f" · add page:{page + 1} for more"
    return Reply(
        title=title,
        text=f"{_count_text(total, capped)} {noun}, highest pay first (top of range, annual USD).",
        items=tuple(posting_item(r) for r in rows),
        buttons=buttons,
        footer=footer,
    )


async def salaries(
    store: Store, ctx: Context, settings: HandlerSettings, *, company: str | None = None
) -> Reply:
    """``/salaries``: AI/ML pay per company — count, median, 90th percentile, highest."""
    names: tuple[str | None, ...] = (None,)
    if company:
        names = await resolve_companies(store, company, settings.aliases)
    rows = []
    for name in names:
        rows.extend(await store.salary_stats(company=name, ai_only=True))
    if not rows:
        where = f" at {names[0]}" if company else ""
        return Reply(
            title="AI/ML pay",
            text=f"No open AI/ML roles with stated pay{where} yet.",
        )
    rows.sort(key=lambda r: (-(r[2] or 0), str(r[0]).lower()))
    items = tuple(
        Item(
            title=str(name),
            fields=(
                Field("Roles with pay", str(count)),
                Field("Median", format_money(median) if median is not None else "—"),
                Field("90th percentile", format_money(p90) if p90 is not None else "—"),
                Field("Highest", format_money(top) if top is not None else "—"),
            ),
        )
        for name, count, median, p90, top in rows[:MAX_SALARY_ROWS]
    )
    more = len(rows) - len(items)
    footer = "Top of each posted range, as annual USD; open AI/ML roles only."
    if more > 0:
        footer += f" {more} more companies: /salaries company:<name>."
    return Reply(
        title="AI/ML pay by company" if not company else f"AI/ML pay at {rows[0][0]}",
        text=f"{sum(r[1] for r in rows)} roles with stated pay across {len(rows)} "
        f"compan{'y' if len(rows) == 1 else 'ies'}, by median.",
        items=items,
        footer=footer,
    )
