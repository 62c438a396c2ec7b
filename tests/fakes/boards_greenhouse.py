"""A fake Greenhouse Job Board API on a :class:`FakeHTTPServer`.

It renders ``GET /v1/boards/{board}/jobs`` the way boards-api.greenhouse.io does:
``{"jobs": [...], "meta": {"total": N}}`` with ``content`` HTML-escaped as text (and
double-escaped where a job asks for it), ``departments``/``offices`` only with
``content=true`` and ``pay_input_ranges`` only with ``pay_transparency=true``.

Jobs are plain dicts in ``fake.jobs``: tests add, edit or remove them between polls.
With ``etag=True`` the board sends a weak ETag and answers ``If-None-Match`` with 304
(Greenhouse's board API is a Rails app, whose default is to do so; not verified live,
the client's body hash covers a server that does not).
"""

from __future__ import annotations

import hashlib
import html
import json
from collections.abc import Iterable
from typing import Any

from aiohttp import web

from tests.fakes.http import FakeHTTPServer

__all__ = ["FakeGreenhouse", "job", "pay_range", "sample_jobs"]


def pay_range(
    low: float, high: float, currency: str = "USD", title: str = "", blurb: str = ""
) -> dict[str, Any]:
    """One ``pay_input_ranges`` entry; amounts in currency units, sent as cents."""
    return {
        "min_cents": round(low * 100),
        "max_cents": round(high * 100),
        "currency_type": currency,
        "title": title,
        "blurb": blurb,
    }


def job(
    job_id: int,
    title: str,
    *,
    board: str = "acme",
    location: str = "New York, NY",
    content_html: str = "<p>Join the team.</p>",
    double_escaped: bool = False,
    departments: Iterable[str] = ("Engineering",),
    offices: Iterable[tuple[str, str]] = (("New York", "New York, NY, United States"),),
    pay: Iterable[dict[str, Any]] = (),
    first_published: str | None = "2026-10-01T09:30:00-04:00",
    updated_at: str = "2026-11-20T12:00:00-05:00",
    metadata: list[dict[str, Any]] | None = None,
    company_name: str = "Acme Studios",
) -> dict[str, Any]:
    """A job object with every field the real list endpoint sends with ``content=true``."""
    content = html.escape(content_html)
    if double_escaped:
        content = html.escape(content)
    return {
        "absolute_url": f"https://job-boards.greenhouse.io/{board}/jobs/{job_id}",
        "data_compliance": [
            {
                "type": "gdpr",
                "requires_consent": False,
                "requires_processing_consent": False,
                "requires_retention_consent": False,
                "retention_period": None,
            }
        ],
        "internal_job_id": job_id // 1000,
        "location": {"name": location},
        "metadata": metadata,
        "id": job_id,
        "updated_at": updated_at,
        "requisition_id": f"REQ-{job_id % 10000}",
        "title": title,
        "company_name": company_name,
        "first_published": first_published,
        "language": "en",
        "content": content,
        "departments": [
            {"id": 4000000 + i, "name": name, "parent_id": None, "child_ids": []}
            for i, name in enumerate(departments)
        ],
        "offices": [
            {"id": 4100000 + i, "name": name, "location": where, "parent_id": None, "child_ids": []}
            for i, (name, where) in enumerate(offices)
        ],
        "pay_input_ranges": list(pay),
    }


_BLURB = (
    "The expected base salary range for this role is listed below. Actual pay is based on "
    "skills, experience and location. Total compensation also includes equity and benefits."
)


def sample_jobs(board: str = "acme") -> list[dict[str, Any]]:
    """A realistic board: several pay ranges, hourly and CAD pay, remote, double escaping."""
    return [
        job(
            4011122008,
            "  Research Engineer, Machine Learning Systems ",
            board=board,
            location="San Francisco, CA | New York City, NY",
            content_html=(
                "<h2>About the role</h2><p>Build training infrastructure for our R&amp;D "
                "teams&nbsp;&mdash; large-scale <strong>PyTorch</strong> and JAX.</p>"
                "<ul><li>5+ years of ML systems</li><li>Distributed training</li></ul>"
            ),
            departments=("Research", "Machine Learning"),
            pay=[
                pay_range(300_000, 405_000, title="Zone A (SF, NYC)", blurb=_BLURB),
                pay_range(255_000, 345_000, title="Zone B", blurb=_BLURB),
            ],
        ),
        job(
            4011122009,
            "Senior Software Engineer, Recommendations",
            board=board,
            location="Remote - US",
            content_html="<p>Personalise what 200M viewers watch next.</p>",
            departments=("Engineering",),
            offices=(("Remote", "United States"),),
            pay=[pay_range(190_000, 260_000, title="US Salary Range", blurb=_BLURB)],
        ),
        job(
            4011122010,
            "Data Annotation Specialist (Contract)",
            board=board,
            location="Los Angeles, CA",
            content_html="<p>Label audio for our speech models. Part-time, flexible hours.</p>",
            departments=("Operations",),
            pay=[pay_range(28, 47, title="Hourly Pay Range")],
        ),
        job(
            4011122011,
            "Machine Learning Engineer, Generative Audio",
            board=board,
            location="Toronto, ON",
            content_html="<p>Ship generative audio models to millions of creators.</p>",
            departments=("Machine Learning",),
            offices=(("Toronto", "Toronto, ON, Canada"),),
            pay=[pay_range(150_000, 210_000, currency="CAD", title="Canada Salary Range")],
        ),
        job(
            4011122012,
            "Character Modeler",
            board=board,
            location="Burbank, CA",
            content_html=(
                "<p>Sculpt hero characters for feature animation &mdash; ZBrush, Maya "
                "&amp; Substance.</p>"
            ),
            double_escaped=True,
            departments=("Animation",),
            offices=(("Burbank", "Burbank, CA, United States"),),
        ),
        job(
            4011122013,
            "Production Coordinator",
            board=board,
            location="Atlanta, GA",
            content_html="<p>Keep our live-action slate on schedule.</p>",
            departments=("Production",),
            offices=(("Atlanta", "Atlanta, GA, United States"),),
            first_published=None,
        ),
    ]


class FakeGreenhouse:
    """One Greenhouse board mounted on ``server`` at ``/v1/boards/<board>/jobs``."""

    def __init__(
        self,
        server: FakeHTTPServer,
        board: str = "acme",
        *,
        jobs: list[dict[str, Any]] | None = None,
        etag: bool = True,
    ) -> None:
        self.server = server
        self.board = board
        self.etag = etag
        self.jobs: list[dict[str, Any]] = sample_jobs(board) if jobs is None else jobs
        server.route("GET", self.path, self._handle)

    @property
    def path(self) -> str:
        return f"/v1/boards/{self.board}/jobs"

    def find(self, job_id: int) -> dict[str, Any]:
        return next(j for j in self.jobs if j["id"] == job_id)

    def remove(self, job_id: int) -> None:
        self.jobs[:] = [j for j in self.jobs if j["id"] != job_id]

    def render(self, *, content: bool = True, pay: bool = True) -> bytes:
        """The response body, as the real endpoint shapes it for those query flags."""
        jobs = []
        for j in self.jobs:
            if not isinstance(j, dict):  # tests plant malformed entries as they are
                jobs.append(j)
                continue
            j = dict(j)
            if not content:
                for key in ("content", "departments", "offices"):
                    j.pop(key, None)
            if not pay:
                j.pop("pay_input_ranges", None)
            jobs.append(j)
        return json.dumps({"jobs": jobs, "meta": {"total": len(jobs)}}).encode()

    async def _handle(self, request: web.Request) -> web.Response:
        body = self.render(
            content=request.query.get("content") == "true",
            pay=request.query.get("pay_transparency") == "true",
        )
        headers = {"Content-Type": "application/json; charset=utf-8"}
        if self.etag:
            tag = f'W/"{hashlib.sha1(body).hexdigest()}"'
            headers["ETag"] = tag
            if request.headers.get("If-None-Match") == tag:
                return web.Response(status=304, headers={"ETag": tag})
        return web.Response(body=body, headers=headers)
