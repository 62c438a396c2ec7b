"""A fake Lever Postings API on a :class:`FakeHTTPServer`.

``GET /v0/postings/{site}?mode=json&skip=N&limit=M`` answers a JSON array of postings
with the real field names (``text``, ``categories``, ``hostedUrl``, ``createdAt`` in
epoch milliseconds, ``lists``, ``salaryRange``, the HTML fields and their ``...Plain``
twins). Without ``mode=json`` it answers HTML, as Lever does. ``skip``/``limit`` page
the array. ``etag=True`` adds a weak ETag and 304 answers (whether Lever sends one was
not verified; by default the client's body hash is what notices "unchanged").
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from typing import Any

from aiohttp import web

from tests.fakes.http import FakeHTTPServer

__all__ = ["FakeLever", "bulk", "posting", "salary", "sample_postings"]


def _plain(markup: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", markup)).strip()


def posting(
    posting_id: str,
    title: str,
    *,
    site: str = "acme",
    location: str = "New York, NY",
    all_locations: Iterable[str] | None = None,
    team: str = "Engineering",
    department: str = "R&D",
    commitment: str = "Full-time",
    workplace: str = "hybrid",
    description_html: str = "<div><b>About the role</b></div><div>Join the team.</div>",
    lists: Iterable[tuple[str, str]] = (("What you'll do", "<li>Build things</li>"),),
    additional_html: str = "",
    salary: dict[str, Any] | None = None,
    salary_description_html: str = "",
    created_at: int = 1_761_955_200_000,  # 2025-11-01: requisitions are often old
    country: str | None = "US",
) -> dict[str, Any]:
    """A posting with every field the real list endpoint sends in JSON mode."""
    hosted = f"https://jobs.lever.co/{site}/{posting_id}"
    item: dict[str, Any] = {
        "additionalPlain": _plain(additional_html),
        "additional": additional_html,
        "categories": {
            "commitment": commitment,
            "department": department,
            "location": location,
            "team": team,
            "allLocations": list(all_locations) if all_locations is not None else [location],
        },
        "createdAt": created_at,
        "descriptionPlain": _plain(description_html),
        "description": description_html,
        "descriptionBody": description_html,
        "descriptionBodyPlain": _plain(description_html),
        "opening": "",
        "openingPlain": "",
        "id": posting_id,
        "lists": [{"text": name, "content": content} for name, content in lists],
        "text": title,
        "country": country,
        "workplaceType": workplace,
        "hostedUrl": hosted,
        "applyUrl": f"{hosted}/apply",
    }
    if salary is not None:
        item["salaryRange"] = salary
    if salary_description_html:
        item["salaryDescription"] = salary_description_html
        item["salaryDescriptionPlain"] = _plain(salary_description_html)
    return item


def salary(
    low: float, high: float, currency: str = "USD", interval: str = "per-year-salary"
) -> dict[str, Any]:
    """A ``salaryRange`` object."""
    return {"currency": currency, "interval": interval, "min": low, "max": high}


def sample_postings(site: str = "acme") -> list[dict[str, Any]]:
    """A realistic board: yearly, hourly, CAD, monthly EUR and OTE pay; remote and not."""
    return [
        posting(
            "2193db3f-77c5-43b8-b030-8f92c9882bf1",
            "Machine Learning Engineer - Personalization ",
            site=site,
            location="New York, NY",
            all_locations=["New York, NY", "Boston, MA"],
            team="Personalization",
            department="Technology",
            description_html=(
                "<div><b>Personalization</b> makes listening feel yours.</div>"
                "<div>We use <i>deep learning</i> &amp; bandits at scale.</div>"
            ),
            lists=(
                ("What You'll Do", "<li>Train recommendation models</li><li>Run A/B tests</li>"),
                ("Who You Are", "<li>3+ years with PyTorch or TensorFlow</li>"),
            ),
            additional_html="<div>We are proud to be an equal opportunity employer.</div>",
            salary=salary(176_000, 252_000),
            salary_description_html=(
                "<div>The United States base range for this position is $176,000 - $252,000 "
                "plus equity.</div>"
            ),
        ),
        posting(
            "4b7f5e2a-1d3c-4e8f-9a6b-0c2d4e6f8a01",
            "Audio Data Labeler (Contract)",
            site=site,
            location="Remote - US",
            team="Data Operations",
            commitment="Contract",
            workplace="remote",
            salary=salary(28, 35, interval="per-hour-wage"),
        ),
        posting(
            "7c9e1f3a-5b7d-4c2e-8f0a-1b3d5f7a9c02",
            "Senior Backend Engineer, Ads",
            site=site,
            location="Toronto, ON",
            workplace="on-site",
            salary=salary(140_000, 200_000, currency="CAD"),
            country="CA",
        ),
        posting(
            "9d1f3b5c-7e9a-4b1d-8c3e-5f7a9b1d3e03",
            "Podcast Producer",
            site=site,
            location="London",
            team="Studios",
            department="Content",
            country="GB",
        ),
        posting(
            "af3b5d7e-9c1e-4d3f-8a5b-7c9e1f3b5d04",
            "Research Scientist, Generative Audio",
            site=site,
            location="Berlin",
            team="Research",
            workplace="unspecified",
            salary=salary(7_500, 9_500, currency="EUR", interval="per-month-salary"),
            country="DE",
        ),
        posting(
            "c15d7f9a-1b3e-4f5a-8b7c-9d1f3a5b7c05",
            "Account Executive, Advertising",
            site=site,
            location="Los Angeles, CA",
            team="Sales",
            department="Business",
            salary=salary(120_000, 240_000),
            salary_description_html="<div>OTE range: $120,000 - $240,000 (50/50 split).</div>",
        ),
    ]


def bulk(count: int, site: str = "acme") -> list[dict[str, Any]]:
    """``count`` distinct small postings, for paging."""
    return [
        posting(f"00000000-0000-4000-8000-{n:012d}", f"Engineer {n}", site=site)
        for n in range(count)
    ]


class FakeLever:
    """One Lever site mounted on ``server`` at ``/v0/postings/<site>``."""

    def __init__(
        self,
        server: FakeHTTPServer,
        site: str = "acme",
        *,
        postings: list[Any] | None = None,
        etag: bool = False,
    ) -> None:
        self.server = server
        self.site = site
        self.etag = etag
        self.postings: list[Any] = sample_postings(site) if postings is None else postings
        server.route("GET", self.path, self._handle)

    @property
    def path(self) -> str:
        return f"/v0/postings/{self.site}"

    def find(self, posting_id: str) -> dict[str, Any]:
        return next(p for p in self.postings if isinstance(p, dict) and p["id"] == posting_id)

    def remove(self, posting_id: str) -> None:
        self.postings[:] = [
            p for p in self.postings if not (isinstance(p, dict) and p.get("id") == posting_id)
        ]

    def page(self, skip: int = 0, limit: int | None = None) -> bytes:
        end = None if limit is None else skip + limit
        return json.dumps(self.postings[skip:end]).encode()

    async def _handle(self, request: web.Request) -> web.Response:
        if request.query.get("mode") != "json":
            return web.Response(text="<div class='lever'><ul></ul></div>", content_type="text/html")
        try:
            skip = int(request.query.get("skip", "0"))
            limit = int(request.query["limit"]) if "limit" in request.query else None
        except ValueError:
            return web.json_response({"ok": False, "error": "Invalid skip or limit"}, status=400)
        body = self.page(skip, limit)
        headers = {"Content-Type": "application/json; charset=utf-8"}
        if self.etag:
            tag = f'W/"{hashlib.sha1(body).hexdigest()[:27]}"'
            headers["ETag"] = tag
            if request.headers.get("If-None-Match") == tag:
                return web.Response(status=304, headers={"ETag": tag})
        return web.Response(body=body, headers=headers)
