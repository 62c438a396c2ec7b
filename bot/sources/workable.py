"""Workable accounts through the public widget API:
``GET /api/v1/widget/accounts/{account}?details=true``.

One request returns the whole account, ``{"name", "description", "jobs": [...]}``,
with no paging. The same ``shortcode`` appears once per location a job is posted in,
so rows are merged into one posting whose location lists them all. With
``details=true`` each row carries the description as HTML; a job listed without one
is completed in :meth:`WorkableSource.details` from the public job endpoint
``GET /api/v2/accounts/{account}/jobs/{shortcode}``, only when it is new or changed.
Workable has no structured pay: the text parser reads the description later.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, ClassVar
from urllib.parse import quote

from bot.errors import ParseError, SourceError
from bot.models import Posting
from bot.sources._common import clean as _clean
from bot.sources._common import company_from_name as _company_from_name
from bot.sources._common import json_body
from bot.sources._common import required_option as _option
from bot.sources.base import Fetched, PollContext, SourceConfig
from bot.text import html_to_text

__all__ = ["WorkableSource"]

log = logging.getLogger(__name__)

_TEXT_FIELDS = ("description", "requirements", "benefits")
_REMOTE_WORKPLACES = {"remote"}
_OFFICE_WORKPLACES = {"hybrid", "on_site", "onsite", "on-site"}


class WorkableSource:
    """One Workable account (the name in ``apply.workable.com/<account>/``)."""

    kind: ClassVar[str] = "workable"
    required_options: ClassVar[tuple[str, ...]] = ("account",)
    optional_options: ClassVar[tuple[str, ...]] = ()
    default_base_url: ClassVar[str] = "https://apply.workable.com"

    def __init__(self, config: SourceConfig) -> None:
        self.config = config
        self.account = _option(config, "account")
        self.base_url = (config.base_url or self.default_base_url).rstrip("/")
        account = quote(self.account, safe="")
        self.listing_url = f"{self.base_url}/api/v1/widget/accounts/{account}?details=true"

    def detail_url(self, shortcode: str) -> str:
        account = quote(self.account, safe="")
        return f"{self.base_url}/api/v2/accounts/{account}/jobs/{quote(shortcode, safe='')}"

    async def fetch(self, ctx: PollContext) -> Fetched:
        """Fetch the account's jobs; an unchanged listing (304 or same bytes) is not parsed."""
        response = await ctx.get(self.listing_url, conditional=True)
        if response.not_modified:
            return Fetched(not_modified=True)
        # Decoding and HTML-to-text of a whole board is CPU work: off the loop.
        return await ctx.parse_listing(
            self._parse, response.content, response.url, complete=_has_description
        )

    async def details(self, ctx: PollContext, postings: Sequence[Posting]) -> list[Posting]:
        """Fill the description of postings the listing gave without one; a failed
        detail keeps the listing's version and does not fail the others."""
        return list(await asyncio.gather(*(self._detail(ctx, p) for p in postings)))

    async def _detail(self, ctx: PollContext, posting: Posting) -> Posting:
        if posting.description:
            return posting
        try:
            response = await ctx.get(self.detail_url(posting.external_id))
            data = await asyncio.to_thread(response.json)
            if not isinstance(data, dict):
                raise ParseError(f"expected an object, got {type(data).__name__}")
        except SourceError as err:
            log.warning("%s: detail of %s failed: %s", self.config.name, posting.external_id, err)
            return posting
        return replace(posting, description=_description([data]))

    # -- parsing ------------------------------------------------------------------
    def _parse(self, body: bytes, url: str) -> Fetched:
        data = json_body(body, url)
        jobs = data.get("jobs") if isinstance(data, dict) else None
        if not isinstance(jobs, list):
            got = f"an object with keys {sorted(data)[:5]}" if isinstance(data, dict) else None
            raise ParseError(
                f"workable account {self.account!r}: expected an object with a 'jobs' list, "
                f"got {got or type(data).__name__}"
            )
        company = self.config.company or _clean(data.get("name"))
        company = company or _company_from_name(self.config.name)
        warnings: list[str] = []
        rows_by_code: dict[str, list[dict[str, Any]]] = {}
        for index, row in enumerate(jobs):
            code = row.get("shortcode") if isinstance(row, dict) else None
            if not isinstance(code, str) or not code.strip():
                warnings.append(f"job #{index} skipped: no shortcode")
                continue
            rows_by_code.setdefault(code.strip(), []).append(row)
        postings: list[Posting] = []
        for code, rows in rows_by_code.items():
            try:
                postings.append(self._posting(code, rows, company, warnings))
            except ParseError as err:
                warnings.append(f"job {code} skipped: {err}")
        return Fetched(postings=tuple(postings), warnings=tuple(warnings))

    def _posting(
        self, code: str, rows: list[dict[str, Any]], company: str, warnings: list[str]
    ) -> Posting:
        """One posting from every row that shares ``code`` (one row per location)."""
        title = next((t for t in (_clean(r.get("title")) for r in rows) if t), "")
        if not title:
            raise ParseError("no title")
        first = rows[0]
        url = next(
            (
                u.strip()
                for r in rows
                for u in (r.get("url"), r.get("shortlink"))
                if isinstance(u, str) and u.strip().startswith(("https://", "http://"))
            ),
            f"https://apply.workable.com/{quote(self.account, safe='')}/j/{quote(code)}/",
        )
        posted_at = None
        published = first.get("published_on") or first.get("published")
        if published is not None:
            posted_at = _date(published)
            if posted_at is None:
                warnings.append(f"job {code}: unreadable published_on date")
        extra = {
            key: value
            for key, value in (
                ("employment_type", _clean(first.get("employment_type"))),
                ("apply_url", _clean(first.get("application_url"))),
            )
            if value
        }
        return Posting(
            source=self.config.name,
            external_id=code,
            company=company,
            title=title,
            url=url,
            location="; ".join(_locations(rows)),
            remote=_remote(rows),
            department=_department(first.get("department")),
            description=_description(rows),
            posted_at=posted_at,
            pay=None,  # no structured pay on Workable: the text parser reads the description
            extra=extra,
        )


def _has_description(posting: Posting) -> bool:
    """Whether the listing gave the posting's description (else a detail request does)."""
    return bool(posting.description)


def _locations(rows: list[dict[str, Any]]) -> list[str]:
    """Every public location of the job's rows, once each, in order of appearance."""
    out: list[str] = []
    for row in rows:
        places = row.get("locations")
        if isinstance(places, list) and places:
            found = [
                _place(p.get("city"), p.get("region"), p.get("country"))
                for p in places
                if isinstance(p, dict) and not p.get("hidden")
            ]
        else:
            found = [_place(row.get("city"), row.get("state"), row.get("country"))]
        out.extend(f for f in found if f and f not in out)
    return out


def _place(*parts: object) -> str:
    names: list[str] = []
    for part in parts:
        name = _clean(part)
        if name and name not in names:  # "New York, New York" reads as one place
            names.append(name)
    return ", ".join(names)


def _remote(rows: list[dict[str, Any]]) -> bool | None:
    workplaces = {
        _clean(r.get(key)).lower() for r in rows for key in ("workplace", "workplace_type")
    }
    flags = [r.get("telecommuting") for r in rows if isinstance(r.get("telecommuting"), bool)]
    if workplaces & _REMOTE_WORKPLACES or any(flags):
        return True
    if workplaces & _OFFICE_WORKPLACES or flags:
        return False  # telecommuting: false on every row
    return None


def _department(value: object) -> str:
    if isinstance(value, list):  # newer Workable APIs send a list of names
        return " / ".join(n for n in (_clean(v) for v in value) if n)
    return _clean(value)


def _description(rows: list[dict[str, Any]]) -> str:
    """Description, requirements and benefits of the first row that has any."""
    for row in rows:
        parts = [row.get(field) for field in _TEXT_FIELDS]
        texts = [html_to_text(p) for p in parts if isinstance(p, str) and p.strip()]
        if texts:
            return "\n\n".join(t for t in texts if t)
    return ""


def _date(value: object) -> datetime | None:
    """``published_on`` is a date ("2026-06-01"); newer APIs send a full timestamp."""
    if not isinstance(value, str):
        return None
    try:
        when = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)
