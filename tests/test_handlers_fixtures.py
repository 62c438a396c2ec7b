"""Shared data for the command, matching, digest and chat tests (no tests here).

Postings look like what the boards publish (real title shapes, pay as stated, one
hostile title) and go into a real Store through the same ``apply_postings`` the
pipeline uses.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.models import AIMatch, ListingFilter, Posting, Salary, StoredPosting, Story, Subscription
from handlers import Caller, Context, HandlerSettings

NOW = datetime(2026, 3, 4, 17, 0, tzinfo=UTC)  # a Wednesday


def usd(low: float | None, high: float | None, *, kind: str = "base", text: str = "") -> Salary:
    return Salary(
        low,
        high,
        "USD",
        "year",
        kind,
        text or "structured",
        annual_usd_min=low,
        annual_usd_max=high,
    )  # type: ignore[arg-type]


AI = AIMatch(True, 0.92, ("title: machine learning",))
NOT_AI = AIMatch(False, 0.05, ("negative: character modeler",))


def posting(
    source: str,
    ext: str,
    company: str,
    title: str,
    salary: Salary | None,
    *,
    ai: AIMatch = AI,
    remote: bool | None = None,
    location: str = "Los Angeles, CA",
    department: str = "",
    description: str = "",
) -> Posting:
    return Posting(
        source=source,
        external_id=ext,
        company=company,
        title=title,
        url=f"https://jobs.example.test/{source}/{ext}",
        location=location,
        remote=remote,
        department=department,
        description=description
        or f"{title} at {company}. You will build machine learning systems at scale.",
        salary=salary,
        pay=salary,
        ai=ai,
    )


NETFLIX = [
    posting(
        "netflix",
        "790298012",
        "Netflix",
        "Product Manager – Machine Learning Platform",
        usd(
            300_000,
            900_000,
            kind="total",
            text="The overall market range for roles in this area of Netflix is typically "
            "$300,000 - $900,000",
        ),
        location="Los Gatos, California",
        department="Data Science and Engineering",
    ),
    posting(
        "netflix",
        "790301144",
        "Netflix",
        "Machine Learning Engineer (L5), Personalization",
        usd(100_000, 700_000, kind="total"),
        remote=True,
        location="USA - Remote",
    ),
    posting(
        "netflix",
        "790299999",
        "Netflix",
        "Senior Character Modeler",
        usd(120_000, 250_000),
        ai=NOT_AI,
        department="Animation",
    ),
]
ANTHROPIC = [
    posting(
        "anthropic",
        "4020305008",
        "Anthropic",
        "Research Engineer, Interpretability",
        usd(315_000, 560_000, text="$315,000—$560,000 USD"),
        location="San Francisco, CA",
    ),
    posting(
        "anthropic",
        "4020305111",
        "Anthropic",
        "Software Engineer, Inference",
        usd(300_000, 405_000),
        remote=True,
    ),
]
DISNEY = [
    posting(
        "disney",
        "10093324",
        "Disney",
        "Machine Learning Engineer II - Disney Entertainment & ESPN Technology",
        usd(138_900, 186_200, text="$138,900.00 - $186,200.00 per year"),
        location="Glendale, CA",
    ),
    posting(
        "disney",
        "10093399",
        "Disney",
        "@everyone <b>Lead</b> AI Researcher *urgent*",
        usd(171_600, 252_000),
    ),
]
HUGGING = [
    posting(
        "huggingface",
        "7A1B2C3D4E",
        "Hugging Face",
        "ML Engineer - Open Source LLM Tooling",
        None,
        remote=True,
        location="Remote, Europe",
    ),
]
ALL_POSTINGS = NETFLIX + ANTHROPIC + DISNEY + HUGGING


async def seed_postings(store, postings=ALL_POSTINGS, *, at: datetime = NOW - timedelta(hours=3)):
    """Store postings per source (as new: not a baseline); returns the stored rows."""
    by_source: dict[str, list[Posting]] = {}
    for p in postings:
        by_source.setdefault(p.source, []).append(p)
    for source, items in by_source.items():
        await store.apply_postings(source, items, at=at, baseline=False)
    return await store.listings(ListingFilter(ai_only=False), limit=100)


def ctx(
    channel: str = "discord:1001", *, manage: bool = True, platform: str = "discord"
) -> Context:
    return Context(
        platform=platform,  # type: ignore[arg-type]
        channel=channel,
        caller=Caller(user_id="U42", display_name="Dana", can_manage_channel=manage),
        guild_or_team="G1",
    )


def settings(**kw) -> HandlerSettings:
    kw.setdefault("clock", lambda: NOW)
    return HandlerSettings(**kw)


def stored(p: Posting, id: int, *, status: str = "open", seen: datetime = NOW) -> StoredPosting:
    return StoredPosting(id, p, seen, seen, status)  # type: ignore[arg-type]


def sub(id: int, channel: str, **kw) -> Subscription:
    return Subscription(id=id, channel=channel, **kw)


def story(source, guid, outlet, title, topics, *, published, summary=""):
    return Story(
        source=source,
        guid=guid,
        title=title,
        url=f"https://{source}.example.test/{guid}",
        outlet=outlet,
        published=published,
        summary=summary or title,
        topics=topics,
        reasons=tuple(f"{t}: title" for t in topics),
    )


STORIES = [
    story(
        "deadline",
        "deadline-1236012345",
        "Deadline",
        "SAG-AFTRA Video Game Performers Strike Against Activision, EA Over AI Protections",
        {"strike": 0.93, "ai": 0.81, "videogames": 0.9},
        published=NOW - timedelta(hours=5),
        summary="The union's interactive media agreement talks broke down over AI consent & pay.",
    ),
    story(
        "thr",
        "thr-wga-deal",
        "The Hollywood Reporter",
        "WGA Reaches Tentative Deal With AMPTP, Ending 148-Day Strike",
        {"strike": 0.88},
        published=NOW - timedelta(hours=9),
    ),
    story(
        "thewrap",
        "wrap-netflix-likeness",
        "TheWrap",
        "Netflix Tests AI Tool for Digital Replicas of Background Actors",
        {"ai": 0.72, "likeness": 0.77},
        published=NOW - timedelta(hours=2),
    ),
    story(
        "variety",
        "variety-iatse-vote",
        "Variety",
        "IATSE Members Ratify Basic Agreement With AI Guardrails",
        {"strike": 0.41, "ai": 0.52, "jobs": 0.3},
        published=NOW - timedelta(days=3),
    ),
]


async def seed_stories(store, stories=STORIES):
    """Store each story as its source's poll at the time it was published."""
    for s in stories:
        await store.apply_stories(s.source, [s], at=s.published, baseline=False)
    return await store.stories(days=30, limit=100, now=NOW)
