"""Workday boards, through the JSON API behind every ``*.myworkdayjobs.com`` site (CXS).

The listing is a POST, 20 postings a page (Workday answers 400 to a larger ``limit``)::

    POST {base}/wday/cxs/{tenant}/{site}/jobs
         {"appliedFacets": {}, "limit": 20, "offset": N, "searchText": ""}
    ->   {"total": 45, "jobPostings": [{"title", "externalPath", "locationsText",
          "postedOn", "bulletFields", "remoteType"?}, ...], "facets": [...]}

``total`` is only true on the first page (later pages say 0), and asking past the end
of a board whose size is a whole number of pages can return page one again; so paging
stops at page one's ``total``, at a short page, at a page with nothing new, or at the
page cap. Workday never reports more than 2,000 (its search cap).

The listing has no description and no pay, so :meth:`WorkdaySource.details` fetches
``GET {base}/wday/cxs/{tenant}/{site}{externalPath}`` for the postings the pipeline
asks about: ``{"jobPostingInfo": {"jobDescription" (HTML), "location",
"additionalLocations", "startDate", "externalUrl", "jobReqId", "remoteType"?, ...},
"hiringOrganization": {"name"}}``. Pay is read later from the description text.

``postedOn`` is relative text ("Posted 30+ Days Ago") that ticks every day, so it is
neither a date nor part of ``extra`` (which drives detail re-fetches).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar

from bot.errors import ConfigError, ParseError
from bot.models import Posting
from bot.sources._common import (
    fetch_details,
    forget_pages,
    json_body,
    page_json,
    unchanged_pages,
)
from bot.sources._common import required_option as _option
from bot.sources.base import Fetched, PollContext, SourceConfig
from bot.text import html_to_text, normalize_space

if TYPE_CHECKING:
    from bot.http import Response

__all__ = ["WorkdaySource"]

log = logging.getLogger(__name__)

_PAGE_SIZE = 20  # Workday's maximum; 50 is refused with HTTP 400
_MAX_PAGES = 100  # 2,000 postings: Workday's own search cap
_TOTAL_CAP = 2000
# A path from the listing is appended to our API URL: only accept Workday's own shape.
_PATH = re.compile(r"^/job/[^?#\\\s]+$")
_HOST = re.compile(r"^[A-Za-z0-9.-]+(:\d+)?$")
_SEGMENT = re.compile(r"^[A-Za-z0-9_.~-]+$")
_REMOTE = {"remote", "fully remote", "virtual"}
_NOT_REMOTE = {"hybrid", "on-site", "onsite", "on site", "in office", "office"}


class WorkdaySource:
    """A Workday career site: options ``host``, ``tenant``, ``site`` (``search_text``)."""

    kind: ClassVar[str] = "workday"
    required_options: ClassVar[tuple[str, ...]] = ("host", "tenant", "site")
    #: ``search_text`` narrows a board bigger than Workday's 2,000-posting search cap
    optional_options: ClassVar[tuple[str, ...]] = ("search_text",)
    default_base_url: ClassVar[str] = ""  # https://{host}

    def __init__(self, config: SourceConfig) -> None:
        self.config = config
        self.host = _host(config)
        self.tenant = _segment(config, "tenant")
        self.site = _segment(config, "site")
        search = config.option("search_text", "")
        if not isinstance(search, str):
            raise ConfigError(f"sources.{config.name}.search_text", "expected a string")
        self.search_text = search.strip()
        self.base_url = (config.base_url or f"https://{self.host}").rstrip("/")
        self.api = f"{self.base_url}/wday/cxs/{self.tenant}/{self.site}"
        self.jobs_url = f"{self.api}/jobs"
        self.company = config.company or config.name
        self.label = f"{self.tenant}/{self.site}"

    async def fetch(self, ctx: PollContext) -> Fetched:
        """Page through the listing; ``not_modified`` only when every page was."""
        answers: dict[int, Response] = {}
        if await unchanged_pages(
            ctx,
            lambda offset: self._ask(ctx, offset),
            lambda offset: ctx.asked_last_time(self.jobs_url, payload=self._payload(offset)),
            step=_PAGE_SIZE,
            max_pages=_MAX_PAGES,
            answers=answers,
        ):
            return Fetched(not_modified=True)
        postings: dict[str, Posting] = {}
        warnings: list[str] = []
        unchanged = True
        total: int | None = None
        seen_entries = 0
        offset = 0
        for page in range(_MAX_PAGES):
            body, same = await self._page(ctx, offset, answers)
            unchanged = unchanged and same
            entries, page_total = _listing(body, offset)
            if page == 0:
                total = page_total
            seen_entries += len(entries)
            repeated = 0
            for index, entry in enumerate(entries, start=offset):
                try:
                    posting = self._posting(entry)
                except ValueError as err:
                    warnings.append(f"workday {self.label}: posting {index} skipped: {err}")
                    continue
                if posting.external_id in postings:
                    repeated += 1  # pages shifted while we read them; the first copy stands
                    continue
                postings[posting.external_id] = posting
            offset += _PAGE_SIZE
            if len(entries) < _PAGE_SIZE or (total is not None and offset >= total):
                break
            if repeated == len(entries):
                warnings.append(
                    f"workday {self.label}: page at offset {offset - _PAGE_SIZE}"
                    " repeated earlier postings; stopped paging"
                )
                break
        else:
            warnings.append(
                f"workday {self.label}: stopped after {_MAX_PAGES} pages; "
                "the listing may be incomplete"
            )
        forget_pages(
            lambda o: ctx.forget(self.jobs_url, payload=self._payload(o)), offset, _PAGE_SIZE
        )
        if total is not None and total >= _TOTAL_CAP:
            warnings.append(
                f"workday {self.label}: the board reports {total} postings, "
                "Workday's search cap; set search_text to narrow it"
            )
        elif total is not None and seen_entries < total:
            warnings.append(
                f"workday {self.label}: listed {seen_entries} of the {total} "
                "postings page one announced (postings changed while paging?)"
            )
        if unchanged:
            return Fetched(not_modified=True)
        return Fetched(postings=tuple(postings.values()), warnings=tuple(warnings))

    async def details(self, ctx: PollContext, postings: Sequence[Posting]) -> list[Posting]:
        """Fill description, places, start date and public URL from each posting's detail."""
        return await fetch_details(
            ctx, postings, self._ask_detail, self._detail, label=f"workday {self.config.name}"
        )

    # -- listing ---------------------------------------------------------------------
    def _payload(self, offset: int) -> dict[str, Any]:
        return {
            "appliedFacets": {},
            "limit": _PAGE_SIZE,
            "offset": offset,
            "searchText": self.search_text,
        }

    async def _ask(self, ctx: PollContext, offset: int) -> Response:
        return await ctx.post_json(self.jobs_url, self._payload(offset), conditional=True)

    async def _page(
        self, ctx: PollContext, offset: int, answers: dict[int, Response]
    ) -> tuple[Any, bool]:
        return await page_json(
            answers,
            offset,
            lambda o: self._ask(ctx, o),
            lambda o: ctx.post_json(self.jobs_url, self._payload(o)),
        )

    def _posting(self, entry: object) -> Posting:
        if not isinstance(entry, Mapping):
            raise ValueError(f"expected an object, got {type(entry).__name__}")
        title = _text(entry.get("title"))
        path = entry.get("externalPath")
        if not title:
            raise ValueError("no title")
        if not isinstance(path, str) or not _PATH.match(path) or "/../" in f"{path}/":
            raise ValueError(f"externalPath {str(path)[:80]!r} is not a /job/... path")
        external_id = path.rstrip("/").rsplit("/", 1)[-1]
        locations = _text(entry.get("locationsText"))
        bullets = entry.get("bulletFields")
        bullet_text = (
            " | ".join(_text(b) for b in bullets if _text(b)) if isinstance(bullets, list) else ""
        )
        remote_type = _text(entry.get("remoteType"))
        extra = {"path": path, "locations_text": locations}
        if bullet_text:
            extra["bullet_fields"] = bullet_text
        if remote_type:
            extra["remote_type"] = remote_type
        return Posting(
            source=self.config.name,
            external_id=external_id,
            company=self.company,
            title=title,
            url=f"https://{self.host}/{self.site}{path}",
            location=locations,
            remote=_remote(remote_type),
            extra=extra,
        )

    # -- detail ----------------------------------------------------------------------
    async def _ask_detail(self, ctx: PollContext, posting: Posting) -> Response | None:
        path = posting.extra.get("path", "")
        return await ctx.get(f"{self.api}{path}") if _PATH.match(path) else None

    def _detail(self, posting: Posting, body: bytes, url: str) -> Posting:
        path = posting.extra.get("path", "")
        data = json_body(body, url)
        info = data.get("jobPostingInfo") if isinstance(data, Mapping) else None
        if not isinstance(info, Mapping):
            raise ParseError(f"workday detail {path!r}: no jobPostingInfo object")
        description = html_to_text(_raw(info.get("jobDescription")))
        places = [_text(info.get("location"))]
        more = info.get("additionalLocations")
        if isinstance(more, list):
            places.extend(_text(p) for p in more)
        location = "; ".join(dict.fromkeys(p for p in places if p)) or posting.location
        remote = _remote(_text(info.get("remoteType")))
        url = _text(info.get("externalUrl"))
        return replace(
            posting,
            description=description or posting.description,
            location=location,
            remote=posting.remote if remote is None else remote,
            url=url if url.startswith(("https://", "http://")) else posting.url,
            posted_at=_date(info.get("startDate")) or posting.posted_at,
        )


def _listing(body: object, offset: int) -> tuple[list[Any], int | None]:
    if not isinstance(body, Mapping):
        raise ParseError(f"workday listing at offset {offset}: expected an object")
    entries = body.get("jobPostings")
    if entries is None and body.get("errorCode"):
        raise ParseError(f"workday listing refused: {_text(body.get('message'))[:200]!r}")
    if not isinstance(entries, list):
        raise ParseError(f"workday listing at offset {offset}: no jobPostings array")
    total = body.get("total")
    if isinstance(total, bool) or not isinstance(total, int) or total < 0:
        total = None
    return entries, total


def _host(config: SourceConfig) -> str:
    host = re.sub(r"^https?://", "", _option(config, "host")).rstrip("/")
    if not _HOST.match(host):
        raise ConfigError(
            f"sources.{config.name}.host",
            f"expected a host name such as 'nvidia.wd5.myworkdayjobs.com', got {host!r}",
        )
    return host


def _segment(config: SourceConfig, key: str) -> str:
    value = _option(config, key)
    if not _SEGMENT.match(value):
        raise ConfigError(f"sources.{config.name}.{key}", f"not a Workday {key} name: {value!r}")
    return value


def _raw(value: object) -> str:
    return value if isinstance(value, str) else ""


def _text(value: object) -> str:
    return normalize_space(value) if isinstance(value, str) else ""


def _remote(remote_type: str) -> bool | None:
    kind = remote_type.strip().lower()
    if kind in _REMOTE:
        return True
    if kind in _NOT_REMOTE:
        return False
    return None


def _date(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        day = datetime.strptime(value[:10], "%Y-%m-%d")
    except ValueError:
        return None
    return day.replace(tzinfo=UTC)
