"""SmartRecruiters boards, through the public Posting API.

The listing pages by offset, at most 100 a page::

    GET {base}/v1/companies/{company_id}/postings?limit=100&offset=N
    ->  {"offset": 0, "limit": 100, "totalFound": 436, "content": [{"id", "name",
         "uuid", "refNumber", "company": {"identifier", "name"}, "releasedDate",
         "location": {"city", "region", "country", "remote", "hybrid"?, "fullLocation"?},
         "department": {"label"}, "function", "typeOfEmployment", "experienceLevel",
         "visibility"?, "ref", "customField": [...]}, ...]}

The company identifier is case-sensitive, and an unknown one is not a 404 but an empty
board (``totalFound: 0``), so an empty first page is reported as a warning.

The listing has no description, so :meth:`SmartRecruitersSource.details` fetches
``GET {base}/v1/companies/{company_id}/postings/{id}``, whose ``jobAd.sections``
(``companyDescription``, ``jobDescription``, ``qualifications``,
``additionalInformation``: ``{"title", "text"}`` with HTML text) become the plain-text
description, and whose ``postingUrl`` is the public page. The API has no structured
pay: it is read later from the text.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import quote

from bot.errors import ConfigError, ParseError
from bot.models import Posting
from bot.sources._common import (
    fetch_details,
    forget_pages,
    json_body,
    page_json,
    unchanged_pages,
)
from bot.sources.base import Fetched, PollContext, SourceConfig
from bot.text import html_to_text, normalize_space

if TYPE_CHECKING:
    from bot.http import Response

__all__ = ["SmartRecruitersSource"]

log = logging.getLogger(__name__)

_PAGE_SIZE = 100  # the API's maximum
_MAX_PAGES = 50
_PUBLIC = "https://jobs.smartrecruiters.com"
_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_SECTIONS = ("companyDescription", "jobDescription", "qualifications", "additionalInformation")


class SmartRecruitersSource:
    """A SmartRecruiters company board: option ``company_id`` (e.g. ``NBCUniversal3``)."""

    kind: ClassVar[str] = "smartrecruiters"
    required_options: ClassVar[tuple[str, ...]] = ("company_id",)
    optional_options: ClassVar[tuple[str, ...]] = ()
    default_base_url: ClassVar[str] = "https://api.smartrecruiters.com"

    def __init__(self, config: SourceConfig) -> None:
        self.config = config
        company_id = config.option("company_id")
        if not isinstance(company_id, str) or not company_id.strip():
            raise ConfigError(f"sources.{config.name}.company_id", "required: a non-empty string")
        self.company_id = company_id.strip()
        if not _ID.match(self.company_id):
            raise ConfigError(
                f"sources.{config.name}.company_id",
                f"not a SmartRecruiters company identifier: {self.company_id!r}",
            )
        self.base_url = (config.base_url or self.default_base_url).rstrip("/")
        self.api = f"{self.base_url}/v1/companies/{quote(self.company_id, safe='')}/postings"
        self.company = config.company or config.name

    async def fetch(self, ctx: PollContext) -> Fetched:
        """Page through the listing; ``not_modified`` only when every page was."""
        answers: dict[int, Response] = {}
        if await unchanged_pages(
            ctx,
            lambda offset: self._ask(ctx, offset),
            lambda offset: ctx.asked_last_time(self.api, params=_params(offset)),
            step=_PAGE_SIZE,
            max_pages=_MAX_PAGES,
            answers=answers,
        ):
            return Fetched(not_modified=True)
        postings: dict[str, Posting] = {}
        warnings: list[str] = []
        unchanged = True
        offset = 0
        for _ in range(_MAX_PAGES):
            body, same = await self._page(ctx, offset, answers)
            unchanged = unchanged and same
            entries, total = _listing(body, offset)
            repeated = 0
            for index, entry in enumerate(entries, start=offset):
                try:
                    posting = self._posting(entry)
                except ValueError as err:
                    warnings.append(
                        f"smartrecruiters {self.company_id}: posting {index} skipped: {err}"
                    )
                    continue
                if posting is None:
                    continue
                if posting.external_id in postings:
                    repeated += 1
                    continue
                postings[posting.external_id] = posting
            offset += len(entries)
            if len(entries) < _PAGE_SIZE or (total is not None and offset >= total):
                break
            if repeated == len(entries):
                warnings.append(
                    f"smartrecruiters {self.company_id}: a page repeated earlier postings; "
                    "stopped paging"
                )
                break
        else:
            warnings.append(
                f"smartrecruiters {self.company_id}: stopped after {_MAX_PAGES} pages; "
                "the listing may be incomplete"
            )
        forget_pages(lambda o: ctx.forget(self.api, params=_params(o)), offset, _PAGE_SIZE)
        if offset == 0:
            warnings.append(
                f"smartrecruiters {self.company_id}: the board is empty; an unknown company "
                "identifier looks the same (identifiers are case-sensitive)"
            )
        if unchanged:
            return Fetched(not_modified=True)
        return Fetched(postings=tuple(postings.values()), warnings=tuple(warnings))

    async def details(self, ctx: PollContext, postings: Sequence[Posting]) -> list[Posting]:
        """Fill the description and public URL from each posting's job ad."""
        return await fetch_details(
            ctx,
            postings,
            self._ask_detail,
            self._detail,
            label=f"smartrecruiters {self.config.name}",
        )

    # -- listing ---------------------------------------------------------------------
    async def _ask(self, ctx: PollContext, offset: int) -> Response:
        return await ctx.get(self.api, params=_params(offset), conditional=True)

    async def _page(
        self, ctx: PollContext, offset: int, answers: dict[int, Response]
    ) -> tuple[Any, bool]:
        return await page_json(
            answers,
            offset,
            lambda o: self._ask(ctx, o),
            lambda o: ctx.get(self.api, params=_params(o)),
        )

    def _posting(self, entry: object) -> Posting | None:
        if not isinstance(entry, Mapping):
            raise ValueError(f"expected an object, got {type(entry).__name__}")
        raw_id = entry.get("id")
        if isinstance(raw_id, int) and not isinstance(raw_id, bool):
            raw_id = str(raw_id)
        if not isinstance(raw_id, str) or not _ID.match(raw_id):
            raise ValueError(f"id {str(raw_id)[:40]!r} is not a posting id")
        title = _text(entry.get("name"))
        if not title:
            raise ValueError("no name")
        visibility = entry.get("visibility")
        if isinstance(visibility, str) and visibility.upper() not in ("PUBLIC", ""):
            return None  # internal or private ads are not ours to alert on
        place = entry.get("location") if isinstance(entry.get("location"), Mapping) else {}
        location = _location(place)
        extra = {
            "ref_number": _text(entry.get("refNumber")),
            "released": _text(entry.get("releasedDate")),
            "location": location,
            "employment": _label(entry.get("typeOfEmployment")),
            "experience": _label(entry.get("experienceLevel")),
        }
        owner = entry.get("company")
        listed_name = _text(owner.get("name")) if isinstance(owner, Mapping) else ""
        return Posting(
            source=self.config.name,
            external_id=raw_id,
            company=self.config.company or listed_name or self.company,
            title=title,
            url=f"{_PUBLIC}/{quote(self.company_id, safe='')}/{raw_id}",
            location=location,
            remote=_remote(place),
            department=_label(entry.get("department")) or _label(entry.get("function")),
            posted_at=_timestamp(entry.get("releasedDate")),
            extra={k: v for k, v in extra.items() if v},
        )

    # -- detail ----------------------------------------------------------------------
    async def _ask_detail(self, ctx: PollContext, posting: Posting) -> Response | None:
        if not _ID.match(posting.external_id):
            return None
        return await ctx.get(f"{self.api}/{posting.external_id}")

    def _detail(self, posting: Posting, body: bytes, url: str) -> Posting:
        data = json_body(body, url)
        if not isinstance(data, Mapping):
            raise ParseError(f"smartrecruiters detail {posting.external_id}: expected an object")
        job_ad = data.get("jobAd")
        sections = job_ad.get("sections") if isinstance(job_ad, Mapping) else None
        if not isinstance(sections, Mapping):
            raise ParseError(f"smartrecruiters detail {posting.external_id}: no jobAd.sections")
        parts: list[str] = []
        for key in _SECTIONS:
            section = sections.get(key)
            if not isinstance(section, Mapping):
                continue
            body = html_to_text(section.get("text") if isinstance(section.get("text"), str) else "")
            if not body:
                continue
            heading = _text(section.get("title"))
            parts.append(f"{heading}\n{body}" if heading else body)
        url = _text(data.get("postingUrl"))
        return replace(
            posting,
            description="\n\n".join(parts) or posting.description,
            url=url if url.startswith(("https://", "http://")) else posting.url,
        )


def _params(offset: int) -> dict[str, str | int]:
    return {"limit": _PAGE_SIZE, "offset": offset}


def _listing(body: object, offset: int) -> tuple[list[Any], int | None]:
    if not isinstance(body, Mapping):
        raise ParseError(f"smartrecruiters listing at offset {offset}: expected an object")
    entries = body.get("content")
    if not isinstance(entries, list):
        message = _text(body.get("message"))
        hint = f" (the server says {message[:200]!r})" if message else ""
        raise ParseError(f"smartrecruiters listing at offset {offset}: no content array{hint}")
    total = body.get("totalFound")
    if isinstance(total, bool) or not isinstance(total, int) or total < 0:
        total = None
    return entries, total


def _text(value: object) -> str:
    return normalize_space(value) if isinstance(value, str) else ""


def _label(value: object) -> str:
    return _text(value.get("label")) if isinstance(value, Mapping) else ""


def _location(place: Mapping[str, Any]) -> str:
    full = _text(place.get("fullLocation"))
    if full:
        # Blank parts come through as ", ," ("Dubai, , United Arab Emirates").
        return ", ".join(p.strip() for p in full.split(",") if p.strip())
    parts = [_text(place.get(k)) for k in ("city", "region")]
    country = _text(place.get("country"))
    parts.append(country.upper() if len(country) == 2 else country)
    text = ", ".join(p for p in parts if p)
    if not text and place.get("remote") is True:
        return "Remote"
    return text


def _remote(place: Mapping[str, Any]) -> bool | None:
    remote = place.get("remote")
    return remote if isinstance(remote, bool) else None


def _timestamp(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)
