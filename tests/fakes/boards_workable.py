"""A fake Workable widget API on a :class:`FakeHTTPServer`.

``GET /api/v1/widget/accounts/{account}`` answers ``{"name", "description", "jobs"}``
where ``jobs`` holds one row per job *and location*: the same ``shortcode`` repeats
for a job posted in several places, as on apply.workable.com. The HTML
``description`` (with ``requirements`` and ``benefits`` where a job has them) is sent
only with ``details=true``, and not at all when ``details_in_listing`` is false, to
exercise the per-job endpoint ``GET /api/v2/accounts/{account}/jobs/{shortcode}``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Any

from aiohttp import web

from tests.fakes.http import FakeHTTPServer

__all__ = ["FakeWorkable", "rows", "sample_rows"]

_TEXT_FIELDS = ("description", "requirements", "benefits")
_NYC = ("New York", "New York", "United States", "US")


def rows(
    shortcode: str,
    title: str,
    places: Iterable[tuple[str, str, str, str]] = (_NYC,),
    *,
    department: str = "Engineering",
    employment: str = "Full-time",
    telecommuting: bool = False,
    published: str = "2026-11-02",
    description: str = "<p>Join the team.</p>",
    requirements: str = "",
    benefits: str = "",
) -> list[dict[str, Any]]:
    """The rows the widget lists for one job: one per (city, region, country, code)."""
    url = f"https://apply.workable.com/j/{shortcode}"
    out = []
    for city, region, country, code in places:
        row: dict[str, Any] = {
            "title": title,
            "shortcode": shortcode,
            "code": "",
            "employment_type": employment,
            "telecommuting": telecommuting,
            "department": department,
            "url": url,
            "shortlink": url,
            "application_url": f"{url}/apply",
            "published_on": published,
            "created_at": published,
            "country": country,
            "city": city,
            "state": region,
            "education": "",
            "experience": "Mid-Senior level",
            "function": "Engineering",
            "industry": "Computer Software",
            "locations": [
                {
                    "country": country,
                    "countryCode": code,
                    "city": city,
                    "region": region,
                    "hidden": False,
                }
            ],
            "description": description,
        }
        if requirements:
            row["requirements"] = requirements
        if benefits:
            row["benefits"] = benefits
        out.append(row)
    return out


PARIS = ("Paris", "Île-de-France", "France", "FR")
NYC = _NYC
SF = ("San Francisco", "California", "United States", "US")
LONDON = ("London", "England", "United Kingdom", "GB")


def sample_rows() -> list[dict[str, Any]]:
    """A realistic account: a remote job repeated per location, pay only in the text."""
    return [
        *rows(
            "81B46579FE",
            "Machine Learning Engineer - Open Source ",
            [PARIS, NYC, LONDON],
            department="Open Source",
            telecommuting=True,
            description=(
                "<h3>About the role</h3><p>Maintain <strong>transformers</strong> &amp; "
                "diffusers with the community.</p>"
            ),
            requirements="<ul><li>Strong PyTorch</li><li>Open-source contributions</li></ul>",
            benefits="<p>US base salary: $180,000 - $240,000 per year, plus equity.</p>",
        ),
        *rows(
            "C7389E54B7",
            "Developer Advocate, Video Generation",
            [PARIS],
            department="Developer Relations",
            description="<p>Show creators what open video models can do.</p>",
        ),
        *rows(
            "5EA5DDE797",
            "Office Manager",
            [SF],
            department="Operations",
            description="<p>Run our San Francisco office.</p>",
            published="2026-10-15",
        ),
        *rows(
            "97904BAC90",
            "Research Scientist, Audio",
            [LONDON, PARIS],
            department="Science",
            description="<p>Train open speech and music models.</p>",
        ),
    ]


class FakeWorkable:
    """One Workable account mounted on ``server``."""

    def __init__(
        self,
        server: FakeHTTPServer,
        account: str = "acme",
        *,
        jobs: list[Any] | None = None,
        name: str = "Acme Labs",
        details_in_listing: bool = True,
        etag: bool = False,
    ) -> None:
        self.server = server
        self.account = account
        self.name = name
        self.details_in_listing = details_in_listing
        self.etag = etag
        self.jobs: list[Any] = sample_rows() if jobs is None else jobs
        server.route("GET", self.path, self._listing)
        server.route("GET", self.detail_prefix + "*", self._detail)

    @property
    def path(self) -> str:
        return f"/api/v1/widget/accounts/{self.account}"

    @property
    def detail_prefix(self) -> str:
        return f"/api/v2/accounts/{self.account}/jobs/"

    def rows_of(self, shortcode: str) -> list[dict[str, Any]]:
        return [j for j in self.jobs if isinstance(j, dict) and j.get("shortcode") == shortcode]

    def remove(self, shortcode: str) -> None:
        self.jobs[:] = [
            j for j in self.jobs if not (isinstance(j, dict) and j.get("shortcode") == shortcode)
        ]

    def render(self, *, details: bool = True) -> bytes:
        jobs = []
        for job in self.jobs:
            if isinstance(job, dict) and not (details and self.details_in_listing):
                job = {k: v for k, v in job.items() if k not in _TEXT_FIELDS}
            jobs.append(job)
        return json.dumps({"name": self.name, "description": None, "jobs": jobs}).encode()

    async def _listing(self, request: web.Request) -> web.Response:
        body = self.render(details=request.query.get("details") == "true")
        headers = {"Content-Type": "application/json; charset=utf-8"}
        if self.etag:
            tag = f'W/"{hashlib.sha1(body).hexdigest()}"'
            headers["ETag"] = tag
            if request.headers.get("If-None-Match") == tag:
                return web.Response(status=304, headers={"ETag": tag})
        return web.Response(body=body, headers=headers)

    async def _detail(self, request: web.Request) -> web.Response:
        found = self.rows_of(request.path.removeprefix(self.detail_prefix))
        if not found:
            return web.json_response({"error": "Not found"}, status=404)
        row = found[0]
        return web.json_response(
            {
                "id": abs(hash(row["shortcode"])) % 10_000_000,
                "shortcode": row["shortcode"],
                "title": row["title"],
                "remote": row.get("telecommuting", False),
                "location": found[0]["locations"][0] if found[0].get("locations") else {},
                "locations": [loc for r in found for loc in r.get("locations", [])],
                "published": f"{row['published_on']}T00:00:00.000Z",
                "type": "full",
                "department": [row["department"]] if row.get("department") else [],
                "workplace": "remote" if row.get("telecommuting") else "on_site",
                **{field: row.get(field, "") for field in _TEXT_FIELDS},
                "language": "en",
                "state": "published",
                "isInternal": False,
            }
        )
