"""A fake Eightfold career site on top of :class:`FakeHTTPServer`.

Like Netflix's explore.jobs.netflix.net ("apply v2"): ten positions a page whatever
``num`` asks, a ``count`` that need not be true (set ``count``), an empty
``job_description`` in the listing and the HTML one in the per-position document, and
a refusal instead of positions for a wrong ``domain``. With ``pcsx=True`` it is a site
like jobs.nvidia.com instead: the apply-v2 listing answers 403 "Not authorized for
PCSX" and the listing lives at ``/api/pcsx/search`` (``data.positions``, camelCase
fields), the description at ``/api/pcsx/position_details``.

    board = FakeEightfoldBoard(server)            # host explore.jobs.netflix.net
    board.count = 999                             # what the listing claims
    job = board.add("Product Manager – Machine Learning Platform",
                    pay="$300,000 - $900,000")
    job.pay = "$350,000 - $950,000"
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fakes.http import FakeHTTPServer, Recorded

__all__ = ["EightfoldJob", "FakeEightfoldBoard"]

PAGE_CAP = 10


@dataclass
class EightfoldJob:
    """One position; edit the fields and the next request shows the change."""

    id: int
    name: str
    ats_job_id: str
    locations: list[str] = field(
        default_factory=lambda: ["Los Gatos,California,United States of America"]
    )
    department: str = "Engineering"
    business_unit: str = "Streaming"
    work_location_option: str = "onsite"
    pay: str | None = None  # e.g. "$300,000 - $900,000" (Netflix total compensation)
    summary: str = "Netflix is one of the world's leading entertainment services."
    t_create: int = 1789430400  # 2026-09-15
    t_update: int = 1789430400
    is_private: bool = False

    def position(self, host: str, *, with_description: bool) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "location": self.locations[0] if self.locations else "",
            "locations": list(self.locations),
            "hot": 0,
            "department": self.department,
            "business_unit": self.business_unit,
            "t_update": self.t_update,
            "t_create": self.t_create,
            "ats_job_id": self.ats_job_id,
            "display_job_id": self.ats_job_id,
            "type": "ATS",
            "id_locale": f"{self.ats_job_id}-en-US",
            "job_description": self.description_html() if with_description else "",
            "locale": "en-US",
            "stars": 0,
            "medallionProgram": None,
            "location_flexibility": None,
            "work_location_option": self.work_location_option,
            "canonicalPositionUrl": f"https://{host}/careers/job/{self.id}",
            "isPrivate": self.is_private,
        }

    def pcsx_position(self, *, with_description: bool) -> dict[str, Any]:
        doc: dict[str, Any] = {
            "id": self.id,
            "displayJobId": self.ats_job_id,
            "name": self.name,
            "locations": [", ".join(reversed(loc.split(","))) for loc in self.locations],
            "standardizedLocations": ["Santa Clara, CA, US"],
            "postedTs": self.t_update,
            "creationTs": self.t_create,
            "department": self.department,
            "workLocationOption": self.work_location_option,
            "locationFlexibility": None,
            "isHot": 0,
            "atsJobId": self.ats_job_id,
            "positionUrl": f"/careers/job/{self.id}",
        }
        if with_description:
            doc["jobDescription"] = self.description_html()
            doc["efcustomTextTimeType"] = ["Full time"]
        return doc

    def description_html(self) -> str:
        pay = ""
        if self.pay:
            pay = (
                "<p>At Netflix, we carefully consider a wide range of compensation factors "
                "to determine your personal top of market. We rely on market indicators to "
                "determine compensation and consider your specific job family, background, "
                "skills, and experience to get it right.</p>"
                f"<p>The overall market range for roles in this area of Netflix is typically "
                f"{self.pay}.</p>"
                "<p>This market range is based on total compensation (vs. only base salary), "
                "which is in line with our compensation philosophy.</p>"
            )
        return (
            f"<p>{self.summary}</p><p><strong>The Opportunity</strong></p><ul>"
            "<li>Partner with studio &amp; product teams&nbsp;across the company</li>"
            "<li>Set direction for the next &lt;generation&gt; of tools</li></ul>"
            f"{pay}"
            "<p>Netflix is a unique culture and environment. Learn more "
            '<a href="https://jobs.netflix.com/culture">here</a>.</p>'
        )


class FakeEightfoldBoard:
    """One Eightfold site on a :class:`FakeHTTPServer`."""

    def __init__(
        self,
        server: FakeHTTPServer,
        *,
        host: str = "explore.jobs.netflix.net",
        domain: str = "netflix.com",
        pcsx: bool = False,
    ) -> None:
        self.server = server
        self.host = host
        self.domain = domain
        self.pcsx = pcsx
        self.list_path = "/api/apply/v2/jobs"
        self.pcsx_search_path = "/api/pcsx/search"
        self.pcsx_detail_path = "/api/pcsx/position_details"
        self.jobs: list[EightfoldJob] = []
        #: raw positions appended to the listing as is (malformed ones for tests)
        self.raw_positions: list[Any] = []
        #: what the listing claims the total is; None means the truth
        self.count: int | None = None
        self.detail_latency = 0.0
        self.in_flight = 0
        self.max_in_flight = 0
        self._next_id = 790313345400
        server.route("GET", self.list_path, self._list)
        server.route("GET", f"{self.list_path}/*", self._detail)
        if pcsx:
            server.route("GET", self.pcsx_search_path, self._pcsx_search)
            server.route("GET", self.pcsx_detail_path, self._pcsx_detail)

    def add(self, name: str, **fields: Any) -> EightfoldJob:
        self._next_id += 37
        ats = fields.pop("ats_job_id", f"JR{41000 + len(self.jobs)}")
        job = EightfoldJob(self._next_id, name, ats, **fields)
        self.jobs.append(job)
        return job

    def job(self, position_id: int) -> EightfoldJob:
        return next(j for j in self.jobs if j.id == position_id)

    def remove(self, position_id: int) -> None:
        self.jobs.remove(self.job(position_id))

    def detail_path(self, position_id: int) -> str:
        return f"{self.list_path}/{position_id}"

    def list_requests(self) -> list[Recorded]:
        return self.server.requests_to(self.list_path)

    def detail_requests(self) -> list[Recorded]:
        if self.pcsx:
            return self.server.requests_to(self.pcsx_detail_path)
        prefix = f"{self.list_path}/"
        return [r for r in self.server.requests if r.path.startswith(prefix)]

    def pcsx_requests(self) -> list[Recorded]:
        return self.server.requests_to(self.pcsx_search_path)

    async def _list(self, request: web.Request) -> web.Response:
        if self.pcsx or request.query.get("domain") != self.domain:
            return _json({"message": "Not authorized for PCSX"}, status=403)
        try:
            start = max(0, int(request.query.get("start", "0")))
            num = int(request.query.get("num", "10"))
        except ValueError:
            return _json({"message": "Invalid request"}, status=400)
        page = max(1, min(num, PAGE_CAP))
        positions = [j.position(self.host, with_description=False) for j in self.jobs]
        positions += list(self.raw_positions)
        return _json(
            {
                "domain": self.domain,
                "positions": positions[start : start + page],
                "count": len(positions) if self.count is None else self.count,
                "countFilterByMatchScore": None,
                "location_user": [],
                "facets": {"Teams": {}, "Locations": {}},
                "isThinProfile": False,
            }
        )

    async def _detail(self, request: web.Request) -> web.Response:
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.detail_latency:
                await asyncio.sleep(self.detail_latency)  # the fake server is slow on purpose
            if request.query.get("domain") != self.domain:
                return web.Response(status=404, text="<html>Not Found</html>")
            position_id = request.path.rsplit("/", 1)[-1]
            for job in self.jobs:
                if str(job.id) == position_id:
                    return _json(job.position(self.host, with_description=True))
            return _json({"message": f"Job with ID {position_id} not found"}, status=404)
        finally:
            self.in_flight -= 1

    async def _pcsx_search(self, request: web.Request) -> web.Response:
        if request.query.get("domain") != self.domain:
            return _json({"status": 422, "error": {"message": "domain is required"}}, status=422)
        start = max(0, int(request.query.get("start", "0") or 0))
        positions = [j.pcsx_position(with_description=False) for j in self.jobs]
        positions += list(self.raw_positions)
        return _json(
            {
                "status": 200,
                "error": {"message": "", "body": ""},
                "data": {
                    "positions": positions[start : start + PAGE_CAP],
                    "count": len(positions) if self.count is None else self.count,
                    "filterDef": {},
                    "resultsMetaData": {},
                    "appliedFilters": [],
                    "sortBy": "timestamp",
                },
                "metadata": None,
            }
        )

    async def _pcsx_detail(self, request: web.Request) -> web.Response:
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.detail_latency:
                await asyncio.sleep(self.detail_latency)  # the fake server is slow on purpose
            position_id = request.query.get("position_id", "")
            for job in self.jobs:
                if str(job.id) == position_id and request.query.get("domain") == self.domain:
                    data = job.pcsx_position(with_description=True)
                    data["publicUrl"] = f"https://{self.host}/careers/job/{job.id}"
                    return _json({"status": 200, "error": {"message": ""}, "data": data})
            return _json({"status": 404, "error": {"message": "Position not found"}, "data": {}})
        finally:
            self.in_flight -= 1


def _json(payload: Any, *, status: int = 200) -> web.Response:
    return web.Response(
        body=json.dumps(payload).encode(), status=status, content_type="application/json"
    )
