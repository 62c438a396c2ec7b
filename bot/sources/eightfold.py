"""Eightfold career sites: Netflix's explore.jobs.netflix.net and others.

Eightfold serves two public listing APIs, both ten positions a page whatever ``num``
asks for. The classic "apply v2" one (Netflix)::

    GET {base}/api/apply/v2/jobs?domain={domain}&start=N&num=10
    ->  {"positions": [{"id", "name", "location", "locations", "department",
         "business_unit", "t_create", "t_update" (epoch seconds), "ats_job_id",
         "display_job_id", "work_location_option", "canonicalPositionUrl",
         "isPrivate"?, "job_description": ""}, ...], "count": 609, ...}

and the newer "PCSX" one (jobs.nvidia.com, apply.careers.microsoft.com), used by sites
whose apply-v2 listing answers ``403 {"message": "Not authorized for PCSX"}``::

    GET {base}/api/pcsx/search?domain={domain}&start=N&num=10
    ->  {"status": 200, "data": {"positions": [{"id", "name", "locations",
         "postedTs", "creationTs", "department", "workLocationOption", "atsJobId",
         "displayJobId", "positionUrl"}, ...], "count": 2674}}

A source starts with apply v2 and, when page one is refused, tries PCSX, then keeps
whichever answered. ``count`` is not to be trusted, so paging goes on until a short
page (or a page with nothing new, or the page cap).

Neither listing carries the description, so :meth:`EightfoldSource.details` fetches
``GET {base}/api/apply/v2/jobs/{id}?domain={domain}`` (``job_description``, HTML) or,
for PCSX sites, ``GET {base}/api/pcsx/position_details?position_id={id}&domain=...``
(``data.jobDescription``). Pay is read later from that text (Netflix states total
compensation: "The overall market range for roles in this area of Netflix is typically
$X - $Y ... based on total compensation (vs. only base salary)").
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from bot.errors import (
    ConfigError,
    FetchError,
    HTTPStatusError,
    ParseError,
    SourceError,
)
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

__all__ = ["EightfoldSource"]

log = logging.getLogger(__name__)

Api = Literal["apply_v2", "pcsx"]

_PAGE_SIZE = 10  # the server's cap: a larger num still returns ten
_MAX_PAGES = 300
_ID = re.compile(r"^\d{1,20}$")
_HOST = re.compile(r"^[A-Za-z0-9.-]+(:\d+)?$")
_DOMAIN = re.compile(r"^[A-Za-z0-9.-]+$")
_REMOTE = {"remote", "remote_local", "remote_global", "fully remote"}
_NOT_REMOTE = {"onsite", "on-site", "hybrid", "office"}
# 2000-01-01 .. 2100-01-01: anything else is not a posting date
_EPOCH_RANGE = (946_684_800, 4_102_444_800)
# What a site says when this listing API is not the one it serves.
_REFUSED_STATUSES = frozenset({401, 403, 404, 422})


class _Refused(SourceError):
    """Page one of a listing API was refused: the other API may be the right one."""


class EightfoldSource:
    """An Eightfold career site: options ``host`` and ``domain`` (e.g. ``netflix.com``)."""

    kind: ClassVar[str] = "eightfold"
    required_options: ClassVar[tuple[str, ...]] = ("host", "domain")
    optional_options: ClassVar[tuple[str, ...]] = ()
    default_base_url: ClassVar[str] = ""  # https://{host}

    def __init__(self, config: SourceConfig) -> None:
        self.config = config
        host = re.sub(r"^https?://", "", _option(config, "host")).rstrip("/")
        if not _HOST.match(host):
            raise ConfigError(
                f"sources.{config.name}.host",
                f"expected a host name such as 'explore.jobs.netflix.net', got {host!r}",
            )
        domain = _option(config, "domain")
        if not _DOMAIN.match(domain):
            raise ConfigError(
                f"sources.{config.name}.domain",
                f"expected a domain such as 'netflix.com', got {domain!r}",
            )
        self.host = host
        self.domain = domain
        self.base_url = (config.base_url or f"https://{host}").rstrip("/")
        self.api = f"{self.base_url}/api/apply/v2/jobs"
        self.pcsx_api = f"{self.base_url}/api/pcsx"
        self.company = config.company or config.name
        #: the listing API this site answered last; the other is tried when it refuses
        self.listing_api: Api = "apply_v2"

    async def fetch(self, ctx: PollContext) -> Fetched:
        """Page until a short page; ``not_modified`` only when every page was."""
        try:
            return await self._fetch(ctx, self.listing_api)
        except _Refused as refused:
            other: Api = "pcsx" if self.listing_api == "apply_v2" else "apply_v2"
            try:
                fetched = await self._fetch(ctx, other)
            except SourceError as err:
                raise FetchError(
                    f"eightfold {self.host}: the {self.listing_api} listing was refused "
                    f"({refused}) and the {other} one failed too ({err})"
                ) from err
            log.info("eightfold %s: listing through the %s API from now on", self.host, other)
            # The refused API's pages are not this listing's any more (unchanged_pages
            # would not vouch for a board with their validators kept).
            refused_url = self._listing_url(self.listing_api)
            forget_pages(lambda o: ctx.forget(refused_url, params=self._params(o)), 0, _PAGE_SIZE)
            self.listing_api = other
            return fetched

    async def details(self, ctx: PollContext, postings: Sequence[Posting]) -> list[Posting]:
        """Fill each posting's description from its position document."""
        return await fetch_details(
            ctx, postings, self._ask_detail, self._detail, label=f"eightfold {self.config.name}"
        )

    # -- listing ---------------------------------------------------------------------
    async def _fetch(self, ctx: PollContext, api: Api) -> Fetched:
        url = self._listing_url(api)
        answers: dict[int, Response] = {}
        if await unchanged_pages(
            ctx,
            lambda start: self._ask(ctx, api, start),
            lambda start: ctx.asked_last_time(url, params=self._params(start)),
            step=_PAGE_SIZE,
            max_pages=_MAX_PAGES,
            answers=answers,
        ):
            return Fetched(not_modified=True)
        postings: dict[str, Posting] = {}
        warnings: list[str] = []
        unchanged = True
        start = 0
        for _ in range(_MAX_PAGES):
            body, same = await self._page(ctx, api, start, answers)
            unchanged = unchanged and same
            entries = _positions(body, api, start)
            repeated = 0
            for index, entry in enumerate(entries, start=start):
                try:
                    posting = self._posting(entry)
                except ValueError as err:
                    warnings.append(f"eightfold {self.host}: position {index} skipped: {err}")
                    continue
                if posting is None:
                    continue
                if posting.external_id in postings:
                    repeated += 1
                    continue
                postings[posting.external_id] = posting
            start += _PAGE_SIZE
            if len(entries) < _PAGE_SIZE:
                break
            if repeated == len(entries):
                # A server that ignores ``start`` would otherwise be paged forever.
                warnings.append(
                    f"eightfold {self.host}: the page at start={start - _PAGE_SIZE} repeated "
                    "earlier positions; stopped paging"
                )
                break
        else:
            warnings.append(
                f"eightfold {self.host}: stopped after {_MAX_PAGES} pages; "
                "the listing may be incomplete"
            )
        forget_pages(lambda o: ctx.forget(url, params=self._params(o)), start, _PAGE_SIZE)
        if unchanged:
            return Fetched(not_modified=True)
        return Fetched(postings=tuple(postings.values()), warnings=tuple(warnings))

    def _listing_url(self, api: Api) -> str:
        return self.api if api == "apply_v2" else f"{self.pcsx_api}/search"

    def _params(self, start: int) -> dict[str, str | int]:
        return {"domain": self.domain, "start": start, "num": _PAGE_SIZE}

    async def _ask(self, ctx: PollContext, api: Api, start: int) -> Response:
        try:
            url, params = self._listing_url(api), self._params(start)
            return await ctx.get(url, params=params, conditional=True)
        except HTTPStatusError as err:
            if start == 0 and err.status in _REFUSED_STATUSES:
                raise _Refused(str(err)) from err
            raise

    async def _page(
        self, ctx: PollContext, api: Api, start: int, answers: dict[int, Response]
    ) -> tuple[Any, bool]:
        """A page (:func:`page_json`); the first one may say this API is refused."""
        body, same = await page_json(
            answers,
            start,
            lambda s: self._ask(ctx, api, s),
            lambda s: ctx.get(self._listing_url(api), params=self._params(s)),
        )
        if start == 0 and _refusal(body, api):
            raise _Refused(f"the server says {_refusal(body, api)[:200]!r}")
        return body, same

    def _posting(self, entry: object) -> Posting | None:
        if not isinstance(entry, Mapping):
            raise ValueError(f"expected an object, got {type(entry).__name__}")
        raw_id = entry.get("id")
        if isinstance(raw_id, int) and not isinstance(raw_id, bool):
            raw_id = str(raw_id)
        if not isinstance(raw_id, str) or not _ID.match(raw_id):
            raise ValueError(f"id {str(raw_id)[:40]!r} is not a position id")
        title = _text(entry.get("name")) or _text(entry.get("posting_name"))
        if not title:
            raise ValueError("no name")
        if entry.get("isPrivate") is True:
            return None  # a private position has no public page to alert about
        places = entry.get("locations")
        names = [_place(p) for p in places] if isinstance(places, list) else []
        names = [n for n in dict.fromkeys(names) if n] or [_place(entry.get("location"))]
        location = "; ".join(n for n in names if n)
        option = _text(entry.get("work_location_option") or entry.get("workLocationOption"))
        ats_id = _first_text(entry, "ats_job_id", "display_job_id", "atsJobId", "displayJobId")
        updated = entry.get("t_update") or entry.get("postedTs")
        extra = {
            "ats_job_id": ats_id,
            "updated": str(updated) if isinstance(updated, int | float) else "",
            "work_location_option": option,
        }
        url = entry.get("canonicalPositionUrl") or entry.get("positionUrl")
        return Posting(
            source=self.config.name,
            external_id=raw_id,
            company=self.company,
            title=title,
            url=self._public_url(url, raw_id),
            location=location,
            remote=_remote(option),
            department=_text(entry.get("department")) or _text(entry.get("business_unit")),
            posted_at=_epoch(entry.get("t_create") or entry.get("postedTs")),
            extra={k: v for k, v in extra.items() if v},
        )

    def _public_url(self, value: object, position_id: str) -> str:
        url = _text(value)
        if url.startswith(("https://", "http://")):
            return url
        if url.startswith("/") and not url.startswith("//"):
            return f"https://{self.host}{url}"
        return f"https://{self.host}/careers/job/{position_id}"

    # -- detail ----------------------------------------------------------------------
    async def _ask_detail(self, ctx: PollContext, posting: Posting) -> Response | None:
        if not _ID.match(posting.external_id):
            return None
        if self.listing_api == "pcsx":
            params = {"position_id": posting.external_id, "domain": self.domain, "hl": "en"}
            return await ctx.get(f"{self.pcsx_api}/position_details", params=params)
        return await ctx.get(f"{self.api}/{posting.external_id}", params={"domain": self.domain})

    def _detail(self, posting: Posting, body: bytes, url: str) -> Posting:
        if self.listing_api == "pcsx":
            document = json_body(body, url)
            data = document.get("data") if isinstance(document, Mapping) else None
            key = "jobDescription"
        else:
            data = json_body(body, url)
            key = "job_description"
        if not isinstance(data, Mapping):
            raise ParseError(f"eightfold detail {posting.external_id}: expected an object")
        markup = data.get(key)
        if not isinstance(markup, str) or not markup.strip():
            message = _text(data.get("message"))
            raise ParseError(
                f"eightfold detail {posting.external_id}: no {key}"
                + (f" (the server says {message[:200]!r})" if message else "")
            )
        return replace(posting, description=html_to_text(markup) or posting.description)


def _positions(body: object, api: Api, start: int) -> list[Any]:
    holder = body.get("data") if api == "pcsx" and isinstance(body, Mapping) else body
    entries = holder.get("positions") if isinstance(holder, Mapping) else None
    if not isinstance(entries, list):
        message = _refusal(body, api)
        if message:
            raise ParseError(
                f"eightfold listing refused: {message[:200]!r} (check the domain option)"
            )
        raise ParseError(f"eightfold {api} listing at start={start}: no positions array")
    return entries


def _refusal(body: object, api: Api) -> str:
    """The server's message when a listing answer holds no positions, else ''."""
    if not isinstance(body, Mapping):
        return ""
    holder = body.get("data") if api == "pcsx" else body
    if isinstance(holder, Mapping) and isinstance(holder.get("positions"), list):
        return ""
    error = body.get("error")
    message = body.get("message") or (error.get("message") if isinstance(error, Mapping) else "")
    return _text(message)


def _text(value: object) -> str:
    return normalize_space(value) if isinstance(value, str) else ""


def _first_text(entry: Mapping[str, Any], *keys: str) -> str:
    for key in keys:
        text = _text(entry.get(key))
        if text:
            return text
    return ""


def _place(value: object) -> str:
    # Eightfold writes "Los Angeles,California,United States of America".
    return ", ".join(p.strip() for p in _text(value).split(",") if p.strip())


def _remote(option: str) -> bool | None:
    kind = option.strip().lower()
    if kind in _REMOTE:
        return True
    if kind in _NOT_REMOTE:
        return False
    return None


def _epoch(value: object) -> datetime | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if not _EPOCH_RANGE[0] <= value < _EPOCH_RANGE[1]:
        return None
    return datetime.fromtimestamp(value, UTC)
