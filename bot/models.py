"""Marquee's domain records: immutable, typed, shared by every stage.

A stage takes records in and gives records out; none of them knows how another stage
is implemented (see ../shared/STYLE.md, habit 1). Records are frozen dataclasses, so
enrichment returns new values with :func:`dataclasses.replace` instead of mutating.

The flow::

    Source  --Posting / Story-->  enrich  --Posting(salary, ai) / Story(topics)-->
    storage.diff  --PostingEvent / StoryEvent-->  matching --> outbox --> delivery
"""

from __future__ import annotations

import hashlib
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
class ListingFilter:
    """Which stored postings a listing reads (``/ailistings``, ``/digest``,
    ``marquee listings``). Every field narrows; the defaults read the open AI/ML ones.

    ``company``: one name or several (any of them), matched as the stored company key,
    or as a source's name; ``min_usd``: top of the annual USD range at least this;
    ``query``: words that must each appear in the title, company or description;
    ``since``: reported as new since then (what a silent baseline stored is not).
    """

    company: str | tuple[str, ...] | None = None
    min_usd: float | None = None
    query: str | None = None
    remote: bool | None = None
    ai_only: bool = True
    status: PostingStatus | None = "open"
    since: datetime | None = None


@dataclass(frozen=True, slots=True)
class PostingEvent:
    """What a poll changed about one posting. ``changes`` names the fields (``title``,
    ``salary``) for an update, with before/after in ``previous``."""

    kind: EventKind
    posting: StoredPosting
    changes: tuple[str, ...] = ()
    previous: Posting | None = None
    #: for an update or a closure, the channels that were alerted about the posting
    #: (with the subscription that matched then), filled in by the store before routing:
    #: they get the edit even when their subscriptions no longer match the posting
    alerted: tuple[tuple[str, int | None], ...] = ()


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


def content_hash(story: Story) -> str:
    """What defines "the content changed": title and summary, whitespace-insensitive.
    Pure, so the worker that parsed a feed computes it (bot.enrich.news.finish_stories)."""
    text = " ".join(story.title.split()) + "\x1f" + " ".join(story.summary.split())
    # "surrogatepass": a lone surrogate (a JSON escape like "\ud800") is content too,
    # and every other text hashes as before.
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32]


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


SubscriptionKind = Literal["jobs", "news", "all"]
DeliveryMode = Literal["instant", "digest", "both"]
ItemKind = Literal["posting", "story", "digest", "notice"]


@dataclass(frozen=True, slots=True)
class Subscription:
    """What one channel asked to be told. ``channel`` is ``"<platform>:<id>"``.

    Company names are stored normalised (lower case, aliases resolved); ``days`` are
    ISO weekdays (1 = Monday ... 7 = Sunday); ``digest_time`` is local ``HH:MM`` in ``tz``.
    A subscription with ``paused_reason`` set receives nothing until resumed.
    """

    id: int
    channel: str
    kind: SubscriptionKind = "all"
    companies: tuple[str, ...] = ()
    min_salary_usd: float | None = None
    keywords: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    remote: bool | None = None
    topics: tuple[str, ...] = ()
    min_score: float = 0.0
    ai_only: bool = True
    mode: DeliveryMode = "instant"
    digest_time: str = "09:00"
    tz: str = "UTC"
    days: tuple[int, ...] = (1, 2, 3, 4, 5, 6, 7)
    send_empty_digest: bool = False
    created_by: str = ""
    created_at: datetime | None = None
    paused_reason: str | None = None

    @property
    def platform(self) -> str:
        return self.channel.split(":", 1)[0]


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    """An alert to deliver, as matching produces it.

    ``dedupe_key`` is unique in the outbox: the same event for the same channel can
    never be queued twice (e.g. ``"discord:42|posting:7|new"``, or with a version for
    updates: ``"discord:42|posting:7|updated|<fingerprint>"``). ``payload`` carries what
    a digest or notice says (JSON-able); postings and stories are rendered from the
    database at delivery time, so an alert always shows the latest state.
    """

    channel: str
    item_kind: ItemKind
    event: str  # new | updated | closed | digest | notice
    dedupe_key: str
    item_id: int | None = None
    subscription_id: int | None = None
    payload: Mapping[str, object] | None = None


@dataclass(frozen=True, slots=True)
class OutboxRow:
    """An outbox entry as stored, with its delivery state."""

    id: int
    entry: OutboxEntry
    status: Literal["pending", "sent", "failed"]
    attempts: int
    next_attempt_at: datetime
    created_at: datetime
    message_ref: str | None = None  # platform message id / ts, for later edits
    last_error: str | None = None


@dataclass(frozen=True, slots=True)
class SourceState:
    """A source's health, as ``/sources`` and ``marquee sources`` show it."""

    name: str
    last_attempt: datetime | None = None
    last_success: datetime | None = None
    last_error: str | None = None
    failure_count: int = 0
    next_attempt: datetime | None = None
    item_count: int = 0
    disabled_reason: str | None = None
    baseline_done: bool = False
    failing_since: datetime | None = None  # the first failure since the last success
