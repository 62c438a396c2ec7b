"""Marquee's domain records: immutable, typed, shared by every stage.

A stage takes records in and gives records out; none of them knows how another stage
is implemented (see ../shared/STYLE.md, habit 1). Records are frozen dataclasses, so
enrichment returns new values with :func:`dataclasses.replace` instead of mutating.

The flow::

    Source  --Posting / Story-->  enrich  --Posting(salary, ai) / Story(topics)-->
    storage.diff  --PostingEvent / StoryEvent-->  matching --> outbox --> delivery
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

Period = Literal["hour", "day", "week", "month", "year"]
PayKind = Literal["base", "total", "ote"]
EventKind = Literal["new", "updated", "closed"]
PostingStatus = Literal["open", "closed"]

PERIODS: tuple[Period, ...] = ("hour", "day", "week", "month", "year")
PAY_KINDS: tuple[PayKind, ...] = ("base", "total", "ote")


@dataclass(frozen=True, slots=True)
class Salary:
    """A pay range as the posting states it, plus its annual value in US dollars.

    ``min``/``max`` are in ``currency`` per ``period``; either may be ``None`` for
    "up to $X" or "from $X". ``text`` is the snippet it was read from (or a description
    of the structured field, e.g. ``"greenhouse pay_input_ranges"``). The ``annual_usd_*``
    figures are filled by enrichment from the configured rate table; ``None`` when the
    currency has no rate.
    """

    min: float | None
    max: float | None
    currency: str  # ISO 4217, upper case
    period: Period = "year"
    kind: PayKind = "base"
    text: str = ""
    annual_usd_min: float | None = None
    annual_usd_max: float | None = None

    @property
    def top_usd(self) -> float | None:
        """The top of the range in annual USD: what "high salary" compares."""
        if self.annual_usd_max is not None:
            return self.annual_usd_max
        return self.annual_usd_min


@dataclass(frozen=True, slots=True)
class AIMatch:
    """Why a posting is (or is not) an AI/ML role."""

    is_ai: bool
    score: float
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Posting:
    """One job posting as a source reports it, after enrichment when ``ai`` is set.

    Identity is ``(source, external_id)``. ``description`` is plain text (sources turn
    HTML into text); ``pay`` is what a structured API field said, before the text
    parser and annualisation run; enrichment sets ``salary`` (from ``pay`` or the text)
    and ``ai``.
    """

    source: str
    external_id: str
    company: str
    title: str
    url: str
    location: str = ""
    remote: bool | None = None
    department: str = ""
    description: str = ""
    posted_at: datetime | None = None
    pay: Salary | None = None
    # Anything the source knows that the listing alone shows (for change detection of
    # sources whose list endpoint lacks pay: Workday, SmartRecruiters, Eightfold).
    extra: Mapping[str, str] = field(default_factory=dict)
    salary: Salary | None = None
    ai: AIMatch | None = None

    @property
    def key(self) -> tuple[str, str]:
        return (self.source, self.external_id)


@dataclass(frozen=True, slots=True)
class StoredPosting:
    """A posting as the database holds it."""

    id: int
    posting: Posting
    first_seen: datetime
    last_seen: datetime
    status: PostingStatus
    closed_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class PostingEvent:
    """What a poll changed about one posting. ``changes`` names the fields (``title``,
    ``salary``) for an update, with before/after in ``previous``."""

    kind: EventKind
    posting: StoredPosting
    changes: tuple[str, ...] = ()
    previous: Posting | None = None


@dataclass(frozen=True, slots=True)
class Story:
    """One news item. Identity is ``(source, guid)``, guid being the entry id, else the
    normalised link, else a hash of title and date (see ``bot.sources.feed``)."""

    source: str
    guid: str
    title: str
    url: str
    outlet: str
    published: datetime | None = None
    summary: str = ""  # plain text
    author: str = ""
    # filled by enrichment: topic -> score (0..1), and the reasons for them
    topics: Mapping[str, float] = field(default_factory=dict)
    reasons: tuple[str, ...] = ()

    @property
    def key(self) -> tuple[str, str]:
        return (self.source, self.guid)


@dataclass(frozen=True, slots=True)
class StoredStory:
    id: int
    story: Story
    first_seen: datetime
    cluster_id: int
    cluster_size: int = 1
    cluster_outlets: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class StoryEvent:
    """``new``: a story that starts a cluster; ``updated``: its content changed or
    another outlet joined its cluster (``also_covered_by``)."""

    kind: Literal["new", "updated"]
    story: StoredStory
    changes: tuple[str, ...] = ()
