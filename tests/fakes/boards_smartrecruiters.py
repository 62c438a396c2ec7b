"""A fake SmartRecruiters Posting API on top of :class:`FakeHTTPServer`.

Like the real one: ``limit`` at most 100 (more is a 400), ``offset`` paging with an
honest ``totalFound``, an unknown company answered with an empty board rather than a
404, and job-ad sections whose ``text`` is HTML with entities.

    board = FakeSmartRecruitersBoard(server)   # company id "NBCUniversal3"
    board.add("Machine Learning Engineer, Peacock", pay="$150,000 - $190,000")
    board.job(board.jobs[0].id).pay = "$160,000 - $200,000"
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.fakes.http import FakeHTTPServer, Recorded

__all__ = ["FakeSmartRecruitersBoard", "SmartRecruitersJob"]

PAGE_LIMIT = 100


@dataclass
class SmartRecruitersJob:
    """One posting; edit the fields and the next request shows the change."""

    id: str
    name: str
    city: str = "New York"
    region: str = "NY"
    country: str = "us"
    remote: bool = False
    hybrid: bool = False
    department: str = "Technology"
    pay: str | None = None  # e.g. "$150,000 - $190,000"
    summary: str = "Build the streaming platform millions of viewers rely on."
    released: str = "2026-09-14T16:03:56.092Z"
    ref_number: str = ""
    visibility: str = "PUBLIC"
    company_name: str = "NBCUniversal"
    extra_fields: dict[str, Any] = field(default_factory=dict)

    def full_location(self) -> str:
        country = {"us": "United States", "gb": "United Kingdom", "ca": "Canada"}
        return f"{self.city}, {self.region}, {country.get(self.country, self.country.upper())}"

    def listing_entry(self, company_id: str, api: str) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "uuid": f"3b8c1d2e-0000-4000-8000-{int(self.id) % 10**12:012d}",
            "jobAdId": f"{self.id}0",
            "defaultJobAd": True,
            "refNumber": self.ref_number or f"REF{int(self.id) % 100000:05d}N",
            "company": {"identifier": company_id, "name": self.company_name},
            "releasedDate": self.released,
            "location": {
                "city": self.city,
                "region": self.region,
                "country": self.country,
                "remote": self.remote,
                "hybrid": self.hybrid,
                "latitude": "40.7127753",
                "longitude": "-74.0059728",
                "fullLocation": self.full_location(),
            },
            "industry": {"id": "entertainment", "label": "Entertainment"},
            "department": {"id": "868639", "label": self.department},
            "function": {"id": "engineering", "label": "Engineering"},
            "typeOfEmployment": {"id": "permanent", "label": "Full-time"},
            "experienceLevel": {"id": "mid_senior_level", "label": "Mid-Senior Level"},
            "customField": [
                {
                    "fieldId": "58d3e1bde4b0d41d10fc4f59",
                    "fieldLabel": "Business Segment",
                    "valueId": "b1d1f2e4",
                    "valueLabel": "Peacock & Direct-to-Consumer",
                }
            ],
            "visibility": self.visibility,
            "ref": f"{api}/{self.id}",
            "creator": {"name": "Talent Acquisition"},
            "language": {"code": "en", "label": "English", "labelNative": "English (US)"},
        }
        entry.update(self.extra_fields)
        return entry

    def detail(self, company_id: str, api: str) -> dict[str, Any]:
        doc = self.listing_entry(company_id, api)
        pay = ""
        if self.pay:
            pay = (
                "<p>This position is eligible for company sponsored benefits. "
                "<strong>Pay range:</strong>&nbsp;<span>" + self.pay + "</span> (base pay). "
                "Medical, dental &amp; vision insurance; 401(k) match up to $1,000/year.</p>"
            )
        slug = self.name.lower().replace(",", "").replace(" ", "-")
        doc.update(
            {
                "active": True,
                "postingUrl": f"https://jobs.smartrecruiters.com/{company_id}/{self.id}-{slug}",
                "applyUrl": f"https://jobs.smartrecruiters.com/{company_id}/{self.id}-{slug}?oga=true",
                "referralUrl": f"https://jobs.smartrecruiters.com/{company_id}/{self.id}?dcr_id=1",
                "jobAd": {
                    "sections": {
                        "companyDescription": {
                            "title": "Company Description",
                            "text": "<p>NBCUniversal owns and operates a valuable portfolio "
                            "of news, sports and entertainment networks &amp; Peacock.</p>",
                        },
                        "jobDescription": {
                            "title": "Job Description",
                            "text": f"<p>{self.summary}</p><ul><li>Own R&amp;D models "
                            "end&#8211;to&#8211;end</li><li>Partner with product</li></ul>",
                        },
                        "qualifications": {
                            "title": "Qualifications",
                            "text": "<ul><li>5+ years of Python</li><li>PyTorch</li></ul>",
                        },
                        "additionalInformation": {
                            "title": "Additional Information",
                            "text": pay + "<p>NBCUniversal is an equal opportunity employer.</p>",
                        },
                    }
                },
            }
        )
        return doc


class FakeSmartRecruitersBoard:
    """One company on a :class:`FakeHTTPServer`."""

    def __init__(self, server: FakeHTTPServer, *, company_id: str = "NBCUniversal3") -> None:
        self.server = server
        self.company_id = company_id
        self.api_path = f"/v1/companies/{company_id}/postings"
        self.jobs: list[SmartRecruitersJob] = []
        #: raw entries appended to the listing as is (malformed postings for tests)
        self.raw_entries: list[Any] = []
        self.detail_latency = 0.0
        self.in_flight = 0
        self.max_in_flight = 0
        self._next_id = 744000130043700
        server.route("GET", self.api_path, self._list)
        server.route("GET", f"{self.api_path}/*", self._detail)
        server.route("GET", "/v1/companies/*", self._unknown_company)

    def add(self, name: str, **fields: Any) -> SmartRecruitersJob:
        self._next_id += 17
        job = SmartRecruitersJob(str(self._next_id), name, **fields)
        self.jobs.append(job)
        return job

    def job(self, job_id: str) -> SmartRecruitersJob:
        return next(j for j in self.jobs if j.id == job_id)

    def remove(self, job_id: str) -> None:
        self.jobs.remove(self.job(job_id))

    def detail_path(self, job_id: str) -> str:
        return f"{self.api_path}/{job_id}"

    def list_requests(self) -> list[Recorded]:
        return self.server.requests_to(self.api_path)

    def detail_requests(self) -> list[Recorded]:
        prefix = f"{self.api_path}/"
        return [r for r in self.server.requests if r.path.startswith(prefix)]

    def _api_url(self, request: web.Request) -> str:
        return f"https://api.smartrecruiters.com{self.api_path}"

    async def _list(self, request: web.Request) -> web.Response:
        try:
            limit = int(request.query.get("limit", "10"))
            offset = int(request.query.get("offset", "0"))
        except ValueError:
            return _json({"message": "Invalid query parameter"}, status=400)
        if not 0 < limit <= PAGE_LIMIT or offset < 0:
            return _json({"message": "limit must be between 1 and 100"}, status=400)
        api = self._api_url(request)
        entries = [j.listing_entry(self.company_id, api) for j in self.jobs]
        entries += list(self.raw_entries)
        return _json(
            {
                "offset": offset,
                "limit": limit,
                "totalFound": len(entries),
                "content": entries[offset : offset + limit],
            }
        )

    async def _detail(self, request: web.Request) -> web.Response:
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.detail_latency:
                await asyncio.sleep(self.detail_latency)  # the fake server is slow on purpose
            job_id = request.path.rsplit("/", 1)[-1]
            for job in self.jobs:
                if job.id == job_id:
                    return _json(job.detail(self.company_id, self._api_url(request)))
            return _json({"message": f"Posting {job_id} not found"}, status=404)
        finally:
            self.in_flight -= 1

    async def _unknown_company(self, request: web.Request) -> web.Response:
        # The real API answers an unknown (or wrongly cased) company with an empty board.
        if request.path.endswith("/postings"):
            return _json({"offset": 0, "limit": 100, "totalFound": 0, "content": []})
        return _json({"message": "Not found"}, status=404)


def _json(payload: Any, *, status: int = 200) -> web.Response:
    return web.Response(
        body=json.dumps(payload).encode(), status=status, content_type="application/json"
    )
