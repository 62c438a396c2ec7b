"""A fake Workday career site (the CXS JSON API) on top of :class:`FakeHTTPServer`.

It behaves like the real one where that matters to a client: 20 postings a page at
most (a bigger ``limit`` is a 400), ``total`` only on the first page (later pages say
0), and a request past the end of a board whose size is a whole number of pages gets
page one again. Descriptions are HTML with entities, as Workday stores them.

    board = FakeWorkdayBoard(server)
    board.add("Senior Deep Learning Engineer", "JR2001234", pay="184,000 USD - 287,500 USD")
    board.job("JR2001234").title = "Principal Deep Learning Engineer"
    board.remove("JR2001234")
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fakes.http import FakeHTTPServer, Recorded

__all__ = ["FakeWorkdayBoard", "WorkdayJob"]

PAGE_LIMIT = 20


def _slug(text: str) -> str:
    return re.sub(r"-+", "-", re.sub(r"[^A-Za-z0-9]+", "-", text)).strip("-")


@dataclass
class WorkdayJob:
    """One posting; edit the fields and the next request shows the change."""

    title: str
    req_id: str
    location: str = "US, CA, Santa Clara"
    additional_locations: list[str] = field(default_factory=list)
    pay: str | None = None  # e.g. "184,000 USD - 287,500 USD" (base, per year)
    summary: str = "Join the team that builds accelerated computing for AI."
    remote_type: str | None = None
    posted_on: str = "Posted 30+ Days Ago"
    start_date: str = "2026-09-01"
    time_type: str = "Full time"
    posting_id: str = ""  # Workday's jobPostingId; derived from title + req id if empty

    def __post_init__(self) -> None:
        if not self.posting_id:
            self.posting_id = f"{_slug(self.title)}_{self.req_id}"

    @property
    def external_path(self) -> str:
        return f"/job/{_slug(self.location)}/{self.posting_id}"

    def listing_entry(self) -> dict[str, Any]:
        count = 1 + len(self.additional_locations)
        entry: dict[str, Any] = {
            "title": self.title,
            "externalPath": self.external_path,
            "locationsText": f"{count} Locations" if count > 1 else self.location,
            "postedOn": self.posted_on,
            "bulletFields": [self.req_id],
        }
        if self.remote_type:
            entry["remoteType"] = self.remote_type
        return entry

    def description_html(self) -> str:
        pay = ""
        if self.pay:
            pay = (
                "<p><span>Your base salary will be determined based on your location, "
                "experience, and the pay of employees in similar positions. The base salary "
                f"range is </span><span>{self.pay}</span><span>.</span></p>"
                '<p>You will also be eligible for equity and <a href="https://example.com/b">'
                "benefits</a>.</p>"
            )
        return (
            f"<p><span>{self.summary}</span></p>"
            "<p><b>What you&#39;ll be doing:</b></p><ul>"
            "<li><p>Design and train models for R&amp;D&nbsp;teams.</p></li>"
            "<li><p>Ship production systems &lt;at scale&gt;.</p></li></ul>"
            f"{pay}"
            "<p>We are an equal opportunity employer.</p>"
        )

    def detail(self, *, host: str, tenant: str, site: str) -> dict[str, Any]:
        info: dict[str, Any] = {
            "id": hashlib.md5(self.req_id.encode()).hexdigest(),
            "title": self.title,
            "jobDescription": self.description_html(),
            "location": self.location,
            "postedOn": self.posted_on,
            "startDate": self.start_date,
            "timeType": self.time_type,
            "jobReqId": self.req_id,
            "jobPostingId": self.posting_id,
            "jobPostingSiteId": site,
            "country": {"descriptor": "United States of America", "id": "bc33aa3152ec42d4"},
            "canApply": True,
            "posted": True,
            "jobRequisitionLocation": {
                "descriptor": self.location,
                "country": {"descriptor": "United States of America", "alpha2Code": "US"},
            },
            "externalUrl": f"https://{host}/{site}{self.external_path}",
            "questionnaireId": "2f2764b3a82910064296831695150000",
        }
        if self.additional_locations:
            info["additionalLocations"] = list(self.additional_locations)
        if self.remote_type:
            info["remoteType"] = self.remote_type
        return {
            "jobPostingInfo": info,
            "hiringOrganization": {"name": f"2100 {tenant.upper()} USA"},
            "similarJobs": [],
            "userAuthenticated": False,
        }


class FakeWorkdayBoard:
    """One tenant/site on a :class:`FakeHTTPServer`."""

    def __init__(
        self,
        server: FakeHTTPServer,
        *,
        host: str = "nvidia.wd5.myworkdayjobs.com",
        tenant: str = "nvidia",
        site: str = "NVIDIAExternalCareerSite",
    ) -> None:
        self.server = server
        self.host = host
        self.tenant = tenant
        self.site = site
        self.api = f"/wday/cxs/{tenant}/{site}"
        self.jobs: list[WorkdayJob] = []
        #: raw entries appended to the listing as is (malformed postings for tests)
        self.raw_entries: list[Any] = []
        #: what page one says ``total`` is, when a test wants it wrong
        self.total_override: int | None = None
        #: seconds each detail answer takes (a slow server, to observe concurrency)
        self.detail_latency = 0.0
        self.in_flight = 0
        self.max_in_flight = 0
        server.route("POST", self.list_path, self._list)
        server.route("GET", f"{self.api}/job/*", self._detail)

    @property
    def list_path(self) -> str:
        return f"{self.api}/jobs"

    def detail_path(self, job: WorkdayJob | str) -> str:
        job = self.job(job) if isinstance(job, str) else job
        return f"{self.api}{job.external_path}"

    def add(self, title: str, req_id: str, **fields: Any) -> WorkdayJob:
        job = WorkdayJob(title, req_id, **fields)
        self.jobs.append(job)
        return job

    def job(self, req_id: str) -> WorkdayJob:
        return next(j for j in self.jobs if j.req_id == req_id)

    def remove(self, req_id: str) -> None:
        self.jobs.remove(self.job(req_id))

    def list_requests(self) -> list[Recorded]:
        return self.server.requests_to(self.list_path)

    def detail_requests(self) -> list[Recorded]:
        prefix = f"{self.api}/job/"
        return [r for r in self.server.requests if r.path.startswith(prefix)]

    async def _list(self, request: web.Request) -> web.Response:
        try:
            body = json.loads(await request.read())
            limit, offset = int(body["limit"]), int(body["offset"])
        except (ValueError, KeyError, TypeError):
            return _json({"errorCode": "HTTP_400", "message": "Bad request"}, status=400)
        if limit > PAGE_LIMIT or limit < 1 or offset < 0:
            return _json({"errorCode": "HTTP_400", "message": "Invalid limit"}, status=400)
        entries = [j.listing_entry() for j in self.jobs] + list(self.raw_entries)
        if entries and offset >= len(entries):
            offset = 0  # Workday's quirk: past the end comes page one again
        total = len(entries) if self.total_override is None else self.total_override
        return _json(
            {
                "total": total if body["offset"] == 0 else 0,
                "jobPostings": entries[offset : offset + limit],
                "facets": [{"facetParameter": "locationMainGroup", "values": []}],
                "userAuthenticated": False,
            }
        )

    async def _detail(self, request: web.Request) -> web.Response:
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.detail_latency:
                await asyncio.sleep(self.detail_latency)  # the fake server is slow on purpose
            for job in self.jobs:
                if request.path == self.detail_path(job):
                    return _json(job.detail(host=self.host, tenant=self.tenant, site=self.site))
            return _json({"errorCode": "HTTP_404", "message": "Not Found"}, status=404)
        finally:
            self.in_flight -= 1


def _json(payload: Any, *, status: int = 200) -> web.Response:
    return web.Response(
        body=json.dumps(payload).encode(), status=status, content_type="application/json"
    )
