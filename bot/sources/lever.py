"""Lever postings: ``GET /v0/postings/{site}?mode=json&skip=N&limit=M``.

The answer is a JSON array of postings (https://github.com/lever/postings-api).
Accounts on Lever's EU instance are served by ``api.eu.lever.co``: set ``region =
"eu"`` or a ``base_url``. ``createdAt`` is when the requisition was created, not when
the posting went up, so it is kept in ``extra`` and never used as ``posted_at``.

Paging and conditional GET: each page is asked conditionally. A 304 carries no body,
so when one page changed and another answered 304, the 304 page is fetched again
unconditionally; and an unchanged page (a 304, or the same bytes as last time) is
followed by the next one only if the last successful poll fetched that next page (its
validator is still remembered). The
validators of pages past the end are forgotten, so a board that shrank does not make
later polls walk stale pages. A server that ignores ``skip``/``limit`` (a proxy, a saved
copy of the board) is noticed by a page longer than asked or one repeating the last.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import quote

from bot.errors import ConfigError, ParseError
from bot.models import Period, Posting, Salary
from bot.sources._common import clean as _clean
from bot.sources._common import company_from_name as _company_from_name
from bot.sources._common import json_body
from bot.sources._common import required_option as _option
from bot.sources.base import Fetched, PollContext, SourceConfig
from bot.text import html_to_text, normalize_space

if TYPE_CHECKING:
    from bot.http import Response

__all__ = ["LeverSource"]

_REGIONS = {
    "global": "https://api.lever.co",
    "us": "https://api.lever.co",
    "eu": "https://api.eu.lever.co",
}
_HOSTED = {
    "global": "https://jobs.lever.co",
    "us": "https://jobs.lever.co",
    "eu": "https://jobs.eu.lever.co",
}
_INTERVALS: dict[str, Period] = {
    "per-hour-wage": "hour",
    "per-day-wage": "day",
    "per-week-salary": "week",
    "per-month-salary": "month",
    "per-year-salary": "year",
}
_WORKPLACE = {"remote": True, "hybrid": False, "on-site": False, "onsite": False}
_REMOTE = re.compile(r"\bremote\b", re.IGNORECASE)
# In a title, "remote" counts only as a location qualifier: "ML Engineer (Remote)",
# "Engineer - Remote, US"; a "Remote Production Engineer" works on site in broadcasting.
_REMOTE_TITLE = re.compile(r"[(\[,|/–—-]\s*remote\b", re.IGNORECASE)
_CURRENCY = re.compile(r"^[A-Za-z]{3}$")
_OTE = re.compile(r"\bOTE\b|on[- ]target earnings", re.IGNORECASE)


class LeverSource:
    """One Lever site (the name in ``jobs.lever.co/<site>``)."""

    kind: ClassVar[str] = "lever"
    required_options: ClassVar[tuple[str, ...]] = ("site",)
    optional_options: ClassVar[tuple[str, ...]] = ("region",)
    default_base_url: ClassVar[str] = "https://api.lever.co"
    #: postings asked per page; Lever has no documented maximum, 100 keeps pages small
    page_size: int = 100
    #: a safety stop: 100 pages of 100 is far beyond any real board
    max_pages: int = 100

    def __init__(self, config: SourceConfig) -> None:
        self.config = config
        self.site = _option(config, "site")
        region = config.option("region", "global")
        if not isinstance(region, str) or region.strip().lower() not in _REGIONS:
            raise ConfigError(
                f"sources.{config.name}.region",
                f"expected one of {', '.join(sorted(_REGIONS))}, got {region!r}",
            )
        self.region = region.strip().lower()
        self.company = config.company or _company_from_name(config.name)
        self.base_url = (config.base_url or _REGIONS[self.region]).rstrip("/")

    def page_url(self, skip: int) -> str:
        """The URL of the page starting at ``skip`` (also its validator key)."""
        site = quote(self.site, safe="")
        return f"{self.base_url}/v0/postings/{site}?mode=json&skip={skip}&limit={self.page_size}"

    async def fetch(self, ctx: PollContext) -> Fetched:
        """Fetch every page; an unchanged board (all pages unchanged) is not parsed.

        A changed page is parsed as it arrives, off the loop (its ids tell whether the
        server pages at all); an unchanged one (a 304, or the same bytes as last time)
        is parsed at the end only if another page changed.
        """
        # url, the answer when its body must be parsed later, the parsed page
        pages: list[tuple[str, Response | None, _Page | None]] = []
        warnings: list[str] = []
        seen: set[object] = set()
        changed = False
        skip = 0
        while True:
            url = self.page_url(skip)
            response = await ctx.get(url, conditional=True)
            if response.status == 304 or response.not_modified:
                # Identical to last time: go on only if last time the board went on.
                # (Decoding an unchanged page for its ids cost more CPU than the rest of
                # an unchanged re-poll of a Lever board: bench/README.md, re-poll.)
                pages.append((url, None if response.status == 304 else response, None))
                more = self.page_url(skip + self.page_size) in ctx.validators
            else:
                page = await ctx.parse_listing(self._parse_page, response.content, response.url)
                count, ids = page.count, page.ids
                if pages and ids and ids <= seen:
                    # The server ignores skip (a proxy, a saved copy): we have the board.
                    skip -= self.page_size
                    break
                seen |= ids
                changed = True
                pages.append((url, None, page))
                # A short page ends the board; a longer one means the server does not page.
                more = count == self.page_size
            if not more:
                break
            if len(pages) >= self.max_pages:
                warnings.append(f"stopped after {len(pages)} pages of {self.page_size}")
                break
            skip += self.page_size
        self._forget_pages_after(skip, ctx)
        if not changed:
            return Fetched(not_modified=True)
        postings: list[Posting] = []
        hashes: list[str] | None = []  # None once a page came without them
        known: set[str] = set()
        first = 0  # the index of the page's first posting on the board, for warnings
        for url, answer, page in pages:
            if page is None:
                if answer is None:  # a 304 among changed pages: its body is needed now
                    answer = await ctx.get(url)
                page = await ctx.parse_listing(self._parse_page, answer.content, answer.url)
            warnings.extend(f"posting #{first + i} skipped: {err}" for i, err in page.skipped)
            first += page.count
            if page.hashes is None:
                hashes = None
            for index, posting in enumerate(page.postings):
                # A posting can move to the next page while we page: keep its first copy.
                if posting.external_id not in known:
                    known.add(posting.external_id)
                    postings.append(posting)
                    if hashes is not None and page.hashes is not None:
                        hashes.append(page.hashes[index])
        return Fetched(
            postings=tuple(postings),
            warnings=tuple(warnings),
            hashes=tuple(hashes) if hashes is not None else None,
        )

    async def details(self, ctx: PollContext, postings: Sequence[Posting]) -> list[Posting]:
        """The listing already carries description and pay: nothing more to fetch."""
        return list(postings)

    def _forget_pages_after(self, skip: int, ctx: PollContext) -> None:
        later = skip + self.page_size
        while (key := self.page_url(later)) in ctx.validators:
            del ctx.validators[key]
            later += self.page_size

    # -- parsing ------------------------------------------------------------------
    def _parse_page(self, body: bytes, url: str) -> _Page:
        items = _items(body, url)
        postings: list[Posting] = []
        skipped: list[tuple[int, str]] = []
        for index, item in enumerate(items):
            try:
                postings.append(self._posting(item))
            except ParseError as err:
                skipped.append((index, str(err)))
        return _Page(len(items), _ids(items), postings, skipped)

    def _posting(self, item: object) -> Posting:
        if not isinstance(item, dict):
            raise ParseError(f"expected an object, got {type(item).__name__}")
        posting_id = item.get("id")
        if not isinstance(posting_id, str) or not posting_id.strip():
            raise ParseError(f"missing or invalid 'id' ({posting_id!r})")
        posting_id = posting_id.strip()
        title = _clean(item.get("text"))
        if not title:
            raise ParseError(f"posting {posting_id} has no title ('text')")
        categories = item.get("categories")
        if not isinstance(categories, dict):
            categories = {}
        location = _location(categories)
        url = item.get("hostedUrl")
        if not isinstance(url, str) or not url.startswith(("https://", "http://")):
            url = f"{_HOSTED[self.region]}/{quote(self.site, safe='')}/{quote(posting_id)}"
        extra = {
            key: value
            for key, value in (
                ("commitment", _clean(categories.get("commitment"))),
                ("apply_url", _clean(item.get("applyUrl"))),
                ("requisition_created", _epoch_ms(item.get("createdAt"))),
            )
            if value
        }
        return Posting(
            source=self.config.name,
            external_id=posting_id,
            company=self.company,
            title=title,
            url=url.strip(),
            location=location,
            remote=_remote(item.get("workplaceType"), location, title),
            department=" / ".join(_unique(categories.get("department"), categories.get("team"))),
            description=_description(item),
            posted_at=None,  # see the module docstring: createdAt is the requisition's
            pay=_pay(item.get("salaryRange"), item),
            extra=extra,
        )


@dataclass(frozen=True, slots=True)
class _Page:
    """One page parsed: how many items, their ids, the postings read, the items
    skipped (index on the page, why) and, when the worker finished the page
    (:meth:`PollContext.parse_listing`), the postings' listing hashes."""

    count: int
    ids: frozenset[object]
    postings: Sequence[Posting]
    skipped: list[tuple[int, str]]
    hashes: tuple[str, ...] | None = None


def _ids(items: list[Any]) -> frozenset[object]:
    # ids are compared only: one that is not a string (a list, say) is ignored
    return frozenset(
        item["id"]
        for item in items
        if isinstance(item, dict) and isinstance(item.get("id"), str | int)
    )


def _items(body: bytes, url: str) -> list[Any]:
    data = json_body(body, url)
    if not isinstance(data, list):
        got = f"an object with keys {sorted(data)[:5]}" if isinstance(data, dict) else None
        raise ParseError(
            f"lever: expected a JSON array of postings, got {got or type(data).__name__}"
        )
    return data


def _pay(salary: object, item: dict[str, Any]) -> Salary | None:
    """``salaryRange`` {min, max, currency, interval} as stated; none for ``one-time``
    or an interval Lever has not documented (the text parser then reads the posting)."""
    if not isinstance(salary, dict):
        return None
    period = _INTERVALS.get(str(salary.get("interval") or "").strip().lower())
    currency = salary.get("currency")
    if period is None or not isinstance(currency, str) or not _CURRENCY.match(currency.strip()):
        return None
    low, high = _amount(salary.get("min")), _amount(salary.get("max"))
    if low is None and high is None:
        return None
    if low is not None and high is not None and low > high:
        low, high = high, low
    note = _plain(item, "salaryDescription")
    figures = " – ".join(_money(v) for v in (low, high) if v is not None)
    text = f"{figures} {currency.strip().upper()} per {period}"
    return Salary(
        min=low,
        max=high,
        currency=currency.strip().upper(),
        period=period,
        kind="ote" if _OTE.search(note) else "base",
        text=f"{text} ({note})" if note else text,
    )


def _description(item: dict[str, Any]) -> str:
    """Opening and body, the extra lists (requirements, benefits), the closing part and
    the salary note: everything the hosted posting page shows, as plain text."""
    parts = [_plain(item, "description")]
    lists = item.get("lists")
    if isinstance(lists, list):
        for entry in lists:
            if not isinstance(entry, dict):
                continue
            heading = _clean(entry.get("text"))
            content = entry.get("content")
            body = html_to_text(content) if isinstance(content, str) else ""
            parts.append("\n".join(p for p in (heading, body) if p))
    parts.append(_plain(item, "additional"))
    parts.append(_plain(item, "salaryDescription"))
    return "\n\n".join(p for p in parts if p)


def _plain(item: dict[str, Any], field: str) -> str:
    """A field's HTML as text, else its ``...Plain`` twin."""
    markup = item.get(field)
    if isinstance(markup, str) and markup.strip():
        return html_to_text(markup)
    plain = item.get(f"{field}Plain")
    return normalize_space(plain) if isinstance(plain, str) else ""


def _location(categories: dict[str, Any]) -> str:
    every = categories.get("allLocations")
    names = _unique(*every) if isinstance(every, list) else []
    return "; ".join(names) or _clean(categories.get("location"))


def _remote(workplace: object, location: str, title: str) -> bool | None:
    if isinstance(workplace, str) and workplace.strip().lower() in _WORKPLACE:
        return _WORKPLACE[workplace.strip().lower()]
    if _REMOTE.search(location) or _REMOTE_TITLE.search(title):
        return True
    return None  # "unspecified" or missing


def _epoch_ms(value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        return ""
    try:
        return datetime.fromtimestamp(value / 1000, UTC).isoformat()
    except (OverflowError, OSError, ValueError):
        return ""


def _amount(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        return None
    return float(value)


def _money(value: float) -> str:
    return f"{value:,.0f}" if value == int(value) else f"{value:,.2f}"


def _unique(*values: object) -> list[str]:
    out: list[str] = []
    for value in values:
        text = _clean(value)
        if text and text not in out:
            out.append(text)
    return out
