"""A fake Ashby posting API on a :class:`FakeHTTPServer`.

``GET /posting-api/job-board/{board}`` answers ``{"apiVersion": "1", "jobs": [...]}``
with the real field names; ``compensation`` is included only with
``includeCompensation=true``, as on api.ashbyhq.com. Hidden postings carry
``isListed: false``. ``etag=True`` adds a weak ETag and 304 answers (not verified on
the real API; by default the client's body hash is what notices "unchanged").
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterable
from typing import Any

from aiohttp import web

from tests.fakes.http import FakeHTTPServer

__all__ = [
    "FakeAshby",
    "compensation",
    "component",
    "job",
    "sample_jobs",
    "tier",
]


def component(
    kind: str,
    low: float | None,
    high: float | None,
    currency: str | None = "USD",
    interval: str = "1 YEAR",
    summary: str = "",
) -> dict[str, Any]:
    """One compensation component (``Salary``, ``EquityPercentage``, ``Bonus``...)."""
    return {
        "id": str(uuid.uuid4()),
        "summary": summary,
        "compensationType": kind,
        "interval": interval,
        "currencyCode": currency,
        "minValue": low,
        "maxValue": high,
    }


def tier(title: str, summary: str, *components: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "tierSummary": summary,
        "title": title,
        "additionalInformation": None,
        "components": list(components),
    }


def compensation(
    tiers: Iterable[dict[str, Any]],
    summary: str = "",
    salary_summary: str = "",
    summary_components: Iterable[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    return {
        "compensationTierSummary": summary,
        "scrapeableCompensationSalarySummary": salary_summary,
        "compensationTiers": list(tiers),
        "summaryComponents": list(summary_components or []),
    }


def job(
    job_id: str,
    title: str,
    *,
    board: str = "acme",
    location: str = "San Francisco",
    secondary: Iterable[str] = (),
    department: str = "Research",
    team: str = "Applied AI",
    employment: str = "FullTime",
    remote: bool = False,
    workplace: str | None = "Hybrid",
    listed: bool = True,
    description_html: str = "<p>Join the team.</p>",
    published: str = "2026-11-03T17:21:55.393+00:00",
    comp: dict[str, Any] | None = None,
    display_comp: bool = True,
) -> dict[str, Any]:
    """A job with every field the real endpoint sends."""
    url = f"https://jobs.ashbyhq.com/{board}/{job_id}"
    item = {
        "id": job_id,
        "title": title,
        "department": department,
        "team": team,
        "employmentType": employment,
        "location": location,
        "secondaryLocations": [
            {"location": name, "address": {"addressLocality": name}} for name in secondary
        ],
        "publishedAt": published,
        "isListed": listed,
        "isRemote": remote,
        "workplaceType": workplace,
        "address": {"postalAddress": {"addressLocality": location, "addressCountry": "USA"}},
        "jobUrl": url,
        "applyUrl": f"{url}/application",
        "descriptionHtml": description_html,
        "descriptionPlain": description_html.replace("<p>", "").replace("</p>", "\n"),
        "shouldDisplayCompensationOnJobPostings": display_comp,
    }
    if comp is not None:
        item["compensation"] = comp
    return item


def sample_jobs(board: str = "acme") -> list[dict[str, Any]]:
    """A realistic board: zoned, hourly and CAD pay, equity beside salary, a hidden job."""
    return [
        job(
            "1b7f3c2e-8a4d-4e6f-9b1a-2c3d4e5f6a70",
            "Research Engineer, Post-Training ",
            board=board,
            secondary=["New York"],
            description_html=(
                "<h2>About the team</h2><p>We make models <strong>helpful</strong> &amp; "
                "safe after pre-training.</p><ul><li>RLHF</li><li>Evals</li></ul>"
                "<p>Pay: <span>$280K</span> – <span>$460K</span> + equity</p>"
            ),
            comp=compensation(
                [
                    tier(
                        "Zone A",
                        "$310K – $460K • Offers Equity",
                        component("Salary", 310_000, 460_000, summary="$310K – $460K"),
                        component("EquityCashValue", None, None),
                    ),
                    tier(
                        "Zone B",
                        "$280K – $415K • Offers Equity",
                        component("Salary", 280_000, 415_000, summary="$280K – $415K"),
                    ),
                ],
                summary="$280K – $460K • Offers Equity",
                salary_summary="$280K - $460K",
                summary_components=[
                    component("Salary", 280_000, 460_000),
                    component("EquityCashValue", None, None),
                ],
            ),
        ),
        job(
            "2c8a4d3f-9b5e-4f7a-8c2b-3d4e5f6a7b81",
            "Software Engineer, Video Generation",
            board=board,
            location="Remote - US",
            department="Engineering",
            team="Sora",
            remote=True,
            workplace="Remote",
            comp=compensation(
                [
                    tier(
                        "",
                        "$245K – $385K • 0.05% – 0.1%",
                        component("Salary", 245_000, 385_000),
                        component("EquityPercentage", 0.05, 0.1, currency=None, interval="NONE"),
                    )
                ],
                summary="$245K – $385K • 0.05% – 0.1%",
            ),
        ),
        job(
            "3d9b5e4a-ac6f-4a8b-9d3c-4e5f6a7b8c92",
            "Data Labeling Contractor, Audio",
            board=board,
            location="Los Angeles",
            department="Operations",
            team="Human Data",
            employment="Contract",
            workplace="OnSite",
            comp=compensation(
                [tier("", "$40 – $65 per hour", component("Salary", 40, 65, interval="1 HOUR"))],
                summary="$40 – $65 per hour",
            ),
        ),
        job(
            "4eac6f5b-bd7a-4b9c-8e4d-5f6a7b8c9da3",
            "Applied AI Engineer",
            board=board,
            location="Toronto",
            department="Go To Market",
            team="Applied AI",
            comp=compensation(
                [
                    tier(
                        "",
                        "CA$180K – CA$240K",
                        component("Salary", 180_000, 240_000, currency="CAD"),
                    )
                ],
                summary="CA$180K – CA$240K",
            ),
        ),
        job(
            "5fbd7a6c-ce8b-4cad-9f5e-6a7b8c9daeb4",
            "Recruiting Coordinator",
            board=board,
            location="London",
            department="People",
            team="Recruiting",
            workplace=None,
            comp=compensation([]),
        ),
        job(
            "6ace8b7d-df9c-4dbe-8a6f-7b8c9daebfc5",
            "Chief of Staff (confidential search)",
            board=board,
            listed=False,
            comp=compensation([tier("", "$300K", component("Salary", 300_000, 300_000))]),
        ),
    ]


class FakeAshby:
    """One Ashby job board mounted on ``server`` at ``/posting-api/job-board/<board>``."""

    def __init__(
        self,
        server: FakeHTTPServer,
        board: str = "acme",
        *,
        jobs: list[Any] | None = None,
        etag: bool = False,
    ) -> None:
        self.server = server
        self.board = board
        self.etag = etag
        self.jobs: list[Any] = sample_jobs(board) if jobs is None else jobs
        server.route("GET", self.path, self._handle)

    @property
    def path(self) -> str:
        return f"/posting-api/job-board/{self.board}"

    def find(self, job_id: str) -> dict[str, Any]:
        return next(j for j in self.jobs if isinstance(j, dict) and j["id"] == job_id)

    def remove(self, job_id: str) -> None:
        self.jobs[:] = [j for j in self.jobs if not (isinstance(j, dict) and j["id"] == job_id)]

    def render(self, *, with_compensation: bool = True) -> bytes:
        jobs = [
            {k: v for k, v in j.items() if with_compensation or k != "compensation"}
            if isinstance(j, dict)
            else j
            for j in self.jobs
        ]
        return json.dumps({"apiVersion": "1", "jobs": jobs}).encode()

    async def _handle(self, request: web.Request) -> web.Response:
        body = self.render(with_compensation=request.query.get("includeCompensation") == "true")
        headers = {"Content-Type": "application/json; charset=utf-8"}
        if self.etag:
            tag = f'W/"{hashlib.sha1(body).hexdigest()}"'
            headers["ETag"] = tag
            if request.headers.get("If-None-Match") == tag:
                return web.Response(status=304, headers={"ETag": tag})
        return web.Response(body=body, headers=headers)
