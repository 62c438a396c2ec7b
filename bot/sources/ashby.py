"""Ashby job boards: ``GET /posting-api/job-board/{board}?includeCompensation=true``.

One request returns the whole board, ``{"apiVersion": "1", "jobs": [...]}``
(https://developers.ashbyhq.com/docs/public-job-posting-api). Postings marked
``isListed: false`` are hidden from the public board and skipped. Pay comes from the
``Salary`` components of ``compensation`` (equity, bonus and commission components are
not pay); the human summaries are kept as the pay text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
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
from bot.text import html_to_text, normalize_space

__all__ = ["AshbySource"]

_INTERVALS: dict[str, Period] = {
    "1 HOUR": "hour",
    "1 DAY": "day",
    "1 WEEK": "week",
    "1 MONTH": "month",
    "1 YEAR": "year",
}
_WORKPLACE = {"remote": True, "hybrid": False, "onsite": False, "on-site": False}
_REMOTE = re.compile(r"\bremote\b", re.IGNORECASE)
# In a title, "remote" counts only as a location qualifier: "ML Engineer (Remote)",
# "Engineer - Remote, US"; a "Remote Production Engineer" works on site in broadcasting.
_REMOTE_TITLE = re.compile(r"[(\[,|/–—-]\s*remote\b", re.IGNORECASE)
_CURRENCY = re.compile(r"^[A-Za-z]{3}$")


class AshbySource:
    """One Ashby job board (the name in ``jobs.ashbyhq.com/<board>``)."""

    kind: ClassVar[str] = "ashby"
    required_options: ClassVar[tuple[str, ...]] = ("board",)
    optional_options: ClassVar[tuple[str, ...]] = ()
    default_base_url: ClassVar[str] = "https://api.ashbyhq.com"

    def __init__(self, config: SourceConfig) -> None:
        self.config = config
        self.board = _option(config, "board")
        self.company = config.company or _company_from_name(config.name)
        base = (config.base_url or self.default_base_url).rstrip("/")
        self.listing_url = (
            f"{base}/posting-api/job-board/{quote(self.board, safe='')}?includeCompensation=true"
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
            got = f"an object with keys {sorted(data)[:5]}" if isinstance(data, dict) else None
            raise ParseError(
                f"ashby board {self.board!r}: expected an object with a 'jobs' list, "
                f"got {got or type(data).__name__}"
            )
        postings: list[Posting] = []
        warnings: list[str] = []
        seen: set[str] = set()
        for index, job in enumerate(jobs):
            if isinstance(job, dict) and job.get("isListed") is False:
                continue  # hidden from the public board: not a posting to alert on
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
            raise ParseError(f"expected an object, got {type(job).__name__}")
        job_id = job.get("id")
        if not isinstance(job_id, str) or not job_id.strip():
            raise ParseError(f"missing or invalid 'id' ({job_id!r})")
        job_id = job_id.strip()
        title = _clean(job.get("title"))
        if not title:
            raise ParseError(f"job {job_id} has no title")
        url = job.get("jobUrl")
        if not isinstance(url, str) or not url.startswith(("https://", "http://")):
            url = f"https://jobs.ashbyhq.com/{quote(self.board, safe='')}/{quote(job_id)}"
        secondary = job.get("secondaryLocations")
        places = [job.get("location")]
        if isinstance(secondary, list):
            places += [s.get("location") for s in secondary if isinstance(s, dict)]
        location = "; ".join(_unique(*places))
        posted_at = None
        if job.get("publishedAt") is not None:
            posted_at = _timestamp(job.get("publishedAt"))
            if posted_at is None:
                warnings.append(f"job {job_id}: unreadable publishedAt date")
        pay = None
        if job.get("shouldDisplayCompensationOnJobPostings") is not False:
            # The employer chose not to show pay on this posting: neither do we.
            pay = _pay(job.get("compensation"))
        extra = {
            key: value
            for key, value in (
                ("employment_type", _clean(job.get("employmentType"))),
                ("apply_url", _clean(job.get("applyUrl"))),
            )
            if value
        }
        return Posting(
            source=self.config.name,
            external_id=job_id,
            company=self.company,
            title=title,
            url=url.strip(),
            location=location,
            remote=_remote(job.get("workplaceType"), job.get("isRemote"), location, title),
            department=" / ".join(_unique(job.get("department"), job.get("team"))),
            description=_description(job),
            posted_at=posted_at,
            pay=pay,
            extra=extra,
        )


def _pay(compensation: object) -> Salary | None:
    """The Salary component(s) of ``compensation``.

    ``summaryComponents`` already spans every tier; without it, the Salary components
    of all tiers sharing the first one's currency and interval are spanned here.
    """
    if not isinstance(compensation, dict):
        return None
    salaries = _salary_components(compensation.get("summaryComponents"))
    tiers = compensation.get("compensationTiers")
    tiers = [t for t in tiers if isinstance(t, dict)] if isinstance(tiers, list) else []
    if not salaries:
        for tier in tiers:
            salaries += _salary_components(tier.get("components"))
    if not salaries:
        return None
    currency, period = salaries[0][0], salaries[0][1]
    same = [s for s in salaries if (s[0], s[1]) == (currency, period)]
    lows = [s[2] for s in same if s[2] is not None]
    highs = [s[3] for s in same if s[3] is not None]
    return Salary(
        min=min(lows) if lows else None,
        max=max(highs) if highs else None,
        currency=currency,
        period=period,
        kind="base",
        text=_pay_text(compensation, tiers),
    )


def _salary_components(components: object) -> list[tuple[str, Period, float | None, float | None]]:
    out: list[tuple[str, Period, float | None, float | None]] = []
    if not isinstance(components, list):
        return out
    for c in components:
        if not isinstance(c, dict) or c.get("compensationType") != "Salary":
            continue
        period = _INTERVALS.get(str(c.get("interval") or "").strip().upper())
        currency = c.get("currencyCode")
        if period is None or not isinstance(currency, str) or not _CURRENCY.match(currency):
            continue
        low, high = _amount(c.get("minValue")), _amount(c.get("maxValue"))
        if low is None and high is None:
            continue
        if low is not None and high is not None and low > high:
            low, high = high, low
        out.append((currency.upper(), period, low, high))
    return out


def _pay_text(compensation: Mapping[str, Any], tiers: list[dict[str, Any]]) -> str:
    """Every tier's summary ("Zone A: $81K – $87K • 0.5% – 1.75%"), else the overall one."""
    lines = []
    for tier in tiers:
        summary, title = _clean(tier.get("tierSummary")), _clean(tier.get("title"))
        if summary:
            lines.append(f"{title}: {summary}" if title and len(tiers) > 1 else summary)
    if lines:
        return "; ".join(lines)
    return _clean(compensation.get("compensationTierSummary")) or _clean(
        compensation.get("scrapeableCompensationSalarySummary")
    )


def _remote(workplace: object, is_remote: object, location: str, title: str) -> bool | None:
    # workplaceType is the employer's explicit choice; isRemote is older and coarser.
    if isinstance(workplace, str) and workplace.strip().lower() in _WORKPLACE:
        return _WORKPLACE[workplace.strip().lower()]
    if isinstance(is_remote, bool):
        return is_remote
    if _REMOTE.search(location) or _REMOTE_TITLE.search(title):
        return True
    return None


def _description(job: dict[str, Any]) -> str:
    markup = job.get("descriptionHtml")
    if isinstance(markup, str) and markup.strip():
        return html_to_text(markup)
    plain = job.get("descriptionPlain")
    return normalize_space(plain) if isinstance(plain, str) else ""


def _timestamp(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        when = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _amount(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        return None
    return float(value)


def _unique(*values: object) -> list[str]:
    out: list[str] = []
    for value in values:
        text = _clean(value)
        if text and text not in out:
            out.append(text)
    return out
