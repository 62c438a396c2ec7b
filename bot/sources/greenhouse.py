"""Greenhouse job boards: ``GET /v1/boards/{board}/jobs?content=true&pay_transparency=true``.

One request returns the whole board (Greenhouse does not page this endpoint).
``content`` is the description as HTML escaped into text, and some boards escape it
twice; ``pay_input_ranges`` holds pay in cents, often one range per zone, city or
level (https://developers.greenhouse.io/job-board.html).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar
from urllib.parse import quote

from bot.errors import ParseError
from bot.models import Period, Posting, Salary
from bot.sources._common import clean as _clean
from bot.sources._common import company_from_name as _company_from_name
from bot.sources._common import json_body
from bot.sources._common import required_option as _option
from bot.sources.base import Fetched, PollContext, SourceConfig
from bot.text import html_to_text

__all__ = ["GreenhouseSource"]

_REMOTE = re.compile(r"\bremote\b", re.IGNORECASE)
_NOT_REMOTE = re.compile(r"\b(?:non|not|no)[- ]remote\b", re.IGNORECASE)
# In a title, "remote" counts only as a location qualifier: "ML Engineer (Remote)",
# "Engineer - Remote, US"; a "Remote Production Engineer" works on site in broadcasting.
_REMOTE_TITLE = re.compile(r"[(\[,|/–—-]\s*remote\b", re.IGNORECASE)
_CURRENCY = re.compile(r"^[A-Za-z]{3}$")
# A range title names its period when it is not a year ("Hourly Pay Range", "NYC per hour").
_PERIOD_WORDS: tuple[tuple[re.Pattern[str], Period], ...] = (
    (re.compile(r"\bhour(?:ly)?\b|/\s*hr\b", re.IGNORECASE), "hour"),
    (re.compile(r"\b(?:day|daily)\b", re.IGNORECASE), "day"),
    (re.compile(r"\bweek(?:ly)?\b", re.IGNORECASE), "week"),
    (re.compile(r"\bmonth(?:ly)?\b", re.IGNORECASE), "month"),
)
_OTE = re.compile(r"\bOTE\b|on[- ]target", re.IGNORECASE)
_TOTAL = re.compile(r"\btotal (?:comp|compensation|cash|rewards)\b", re.IGNORECASE)


class GreenhouseSource:
    """One Greenhouse job board (``board`` is the token in ``boards.greenhouse.io/<token>``)."""

    kind: ClassVar[str] = "greenhouse"
    required_options: ClassVar[tuple[str, ...]] = ("board",)
    optional_options: ClassVar[tuple[str, ...]] = ()
    default_base_url: ClassVar[str] = "https://boards-api.greenhouse.io"

    def __init__(self, config: SourceConfig) -> None:
        self.config = config
        self.board = _option(config, "board")
        self.company = config.company or _company_from_name(config.name)
        base = (config.base_url or self.default_base_url).rstrip("/")
        self.listing_url = (
            f"{base}/v1/boards/{quote(self.board, safe='')}/jobs?content=true&pay_transparency=true"
        )

    async def fetch(self, ctx: PollContext) -> Fetched:
        """Fetch the board; an unchanged board (304 or same bytes) is not parsed."""
        response = await ctx.get(self.listing_url, conditional=True)
        if response.not_modified:
            return Fetched(not_modified=True)
        # Decoding and HTML-to-text of a whole board is CPU work: off the loop.
        return await ctx.parse_listing(self._parse, response.content, response.url)

    async def details(self, ctx: PollContext, postings: Sequence[Posting]) -> list[Posting]:
        """The listing already carries description and pay: nothing more to fetch."""
        return list(postings)

    # -- parsing ------------------------------------------------------------------
    def _parse(self, body: bytes, url: str) -> Fetched:
        data = json_body(body, url)
        jobs = data.get("jobs") if isinstance(data, dict) else None
        if not isinstance(jobs, list):
            raise ParseError(
                f"greenhouse board {self.board!r}: expected an object with a 'jobs' list, "
                f"got {_shape(data)}"
            )
        postings: list[Posting] = []
        warnings: list[str] = []
        seen: set[str] = set()
        for index, job in enumerate(jobs):
            try:
                posting = self._posting(job, warnings)
            except ParseError as err:
                warnings.append(f"job #{index} skipped: {err}")
                continue
            if posting.external_id in seen:
                warnings.append(f"job {posting.external_id} listed twice; kept the first")
                continue
            seen.add(posting.external_id)
            postings.append(posting)
        return Fetched(postings=tuple(postings), warnings=tuple(warnings))

    def _posting(self, job: object, warnings: list[str]) -> Posting:
        if not isinstance(job, dict):
            raise ParseError(f"expected an object, got {_shape(job)}")
        job_id = job.get("id")
        if isinstance(job_id, bool) or not isinstance(job_id, int | str) or not str(job_id):
            raise ParseError(f"missing or invalid 'id' ({job_id!r})")
        external_id = str(job_id)
        title = _clean(job.get("title"))
        if not title:
            raise ParseError(f"job {external_id} has no title")
        url = job.get("absolute_url")
        if not isinstance(url, str) or not url.startswith(("https://", "http://")):
            # Greenhouse's own page for the post, when the board gives no usable link.
            board = quote(self.board, safe="")
            url = f"https://job-boards.greenhouse.io/{board}/jobs/{quote(external_id)}"
        location_field = job.get("location")
        location = _clean(location_field.get("name")) if isinstance(location_field, dict) else ""
        departments = _names(job.get("departments"))
        posted_at = None
        if job.get("first_published") is not None:
            posted_at = _timestamp(job.get("first_published"))
            if posted_at is None:
                warnings.append(f"job {external_id}: unreadable first_published date")
        return Posting(
            source=self.config.name,
            external_id=external_id,
            company=self.company,
            title=title,
            url=url.strip(),
            location=location,
            remote=_remote(title, location, _names(job.get("offices")), job.get("metadata")),
            department=" / ".join(departments),
            description=html_to_text(_str(job.get("content")), escaped=True),
            posted_at=posted_at,
            pay=_pay(job.get("pay_input_ranges")),
        )


# -- pay --------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class _Range:
    title: str
    low: float | None
    high: float | None
    currency: str
    period: Period

    def describe(self) -> str:
        figures = " – ".join(_money(v) for v in (self.low, self.high) if v is not None)
        label = f"{self.title}: " if self.title else ""
        return f"{label}{figures} {self.currency} per {self.period}"


def _pay(ranges: object) -> Salary | None:
    """The posting's pay from ``pay_input_ranges``.

    Several ranges (zones, cities, levels) become one span from the lowest minimum to
    the highest maximum of those sharing the first range's currency and period, so
    "high salary" sees the top a candidate can reach; the text keeps every range.
    """
    if not isinstance(ranges, list):
        return None
    parsed: list[_Range] = []
    for item in ranges:
        if not isinstance(item, dict):
            continue
        currency = item.get("currency_type")
        low, high = _cents(item.get("min_cents")), _cents(item.get("max_cents"))
        if not isinstance(currency, str) or not _CURRENCY.match(currency.strip()):
            continue
        if low is None and high is None:
            continue
        if low is not None and high is not None and low > high:
            low, high = high, low
        title = _clean(item.get("title"))
        parsed.append(_Range(title, low, high, currency.strip().upper(), _period(title, low, high)))
    if not parsed:
        return None
    first = parsed[0]
    same = [r for r in parsed if (r.currency, r.period) == (first.currency, first.period)]
    lows = [r.low for r in same if r.low is not None]
    highs = [r.high for r in same if r.high is not None]
    titles = " ".join(r.title for r in same)
    kind = "ote" if _OTE.search(titles) else "total" if _TOTAL.search(titles) else "base"
    return Salary(
        min=min(lows) if lows else None,
        max=max(highs) if highs else None,
        currency=first.currency,
        period=first.period,
        kind=kind,
        text="; ".join(r.describe() for r in parsed),
    )


def _period(title: str, low: float | None, high: float | None) -> Period:
    for pattern, period in _PERIOD_WORDS:
        if pattern.search(title):
            return period
    # Greenhouse has no period field; a top under 1,000 is an hourly rate, never a salary.
    top = high if high is not None else low
    return "hour" if top is not None and top < 1000 else "year"


def _cents(value: object) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, int | float) and value > 0:
        return value / 100
    return None


def _money(value: float) -> str:
    return f"{value:,.0f}" if value == int(value) else f"{value:,.2f}"


# -- small helpers ------------------------------------------------------------------
def _remote(title: str, location: str, offices: list[str], metadata: object) -> bool | None:
    """Remote when the location, title or an office says so, or a custom field
    ("Remote", "Workplace Type", "Location Type") does; otherwise unknown."""
    flag = _remote_metadata(metadata)
    if flag is not None:
        return flag
    for text in (location, *offices):
        if _REMOTE.search(text) and not _NOT_REMOTE.search(text):
            return True
    return True if _REMOTE_TITLE.search(title) else None


def _remote_metadata(metadata: object) -> bool | None:
    if not isinstance(metadata, list):
        return None
    for field in metadata:
        if not isinstance(field, dict):
            continue
        name = _clean(field.get("name")).lower()
        if not re.search(r"remote|workplace|work location|location type|work type", name):
            continue
        value = field.get("value")
        values = value if isinstance(value, list) else [value]
        for v in values:
            if isinstance(v, bool) and "remote" in name:
                return v
            if isinstance(v, str):
                text = v.strip().lower()
                if "remote" in name and text in ("yes", "true"):
                    return True
                if "remote" in name and text in ("no", "false"):
                    return False
                if _REMOTE.search(text) and not _NOT_REMOTE.search(text):
                    return True
                if re.search(r"\b(?:on[- ]?site|in[- ]office|hybrid)\b", text):
                    return False
    return None


def _names(items: object) -> list[str]:
    out: list[str] = []
    if isinstance(items, list):
        for item in items:
            name = _clean(item.get("name")) if isinstance(item, dict) else ""
            if name and name not in out:
                out.append(name)
    return out


def _timestamp(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        when = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _str(value: object) -> str:
    return value if isinstance(value, str) else ""


def _shape(value: Any) -> str:
    if isinstance(value, Mapping):
        return f"an object with keys {sorted(value)[:5]}"
    return type(value).__name__
