"""Match a poll's events against every subscription, in bulk, into outbox entries.

:func:`build_router` compiles the subscriptions once (per poll cycle) into an index:
job subscriptions by company key, plus those for any company; news subscriptions in
a list. An event then only meets the subscriptions that could want it, and a channel
that already matched skips its other subscriptions, so one posting against 10,000
subscriptions is a few milliseconds, not a scan of regexes.

Exactly one entry per (channel, event), whatever number of a channel's subscriptions
match. The entry's ``dedupe_key`` makes the same alert impossible to queue twice (the
outbox keys on it): ``"{channel}|posting:{id}|new"``; a closure carries its time
(``|closed|20260304T170000``) because a posting may reopen and close again; updates carry
a version, ``"{channel}|posting:{id}|updated|{fields}|{fingerprint}"``, where the
fingerprint hashes the values before and after, so a second pay change is a new alert
but the same change routed twice is not.

Paused subscriptions and digest-only ones get no instant alerts (digests read the
database at their time instead). An update or closure goes to channels whose
subscription matched the posting before or after the change, so a pay cut below a
channel's minimum still edits that channel's alert, and to every channel that was
alerted about the posting (``PostingEvent.alerted``, from the outbox), so the closure
after that cut does too.
"""

from __future__ import annotations

import hashlib
import json
from bisect import bisect_right
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import cast

from bot.models import OutboxEntry, Posting, PostingEvent, StoryEvent, Subscription
from handlers.filters import (
    EventText,
    PostingText,
    SubscriptionFilter,
    compile_filter,
    posting_company_key,
    posting_text,
    story_text,
)

__all__ = ["Router", "build_router", "dedupe_key"]


def _fingerprint(values: object) -> str:
    raw = json.dumps(values, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(raw.encode()).hexdigest()[:12]


def _salary_state(posting: Posting | None) -> object:
    if posting is None:
        return None
    s = posting.salary
    pay = None if s is None else [s.min, s.max, s.currency, s.period, s.kind]
    return {"title": " ".join(posting.title.split()), "salary": pay}


def dedupe_key(channel: str, event: PostingEvent | StoryEvent) -> str:
    """The outbox key of ``event`` for ``channel``; equal only for the same alert."""
    if isinstance(event, PostingEvent):
        stored = event.posting
        base = f"{channel}|posting:{stored.id}|{event.kind}"
        if event.kind == "closed":
            # A posting can close, reopen and close again: each closure is its own alert.
            return f"{base}|{stored.closed_at:%Y%m%dT%H%M%S}" if stored.closed_at else base
        if event.kind != "updated":
            return base
        state = [
            sorted(event.changes),
            _salary_state(event.previous),
            _salary_state(stored.posting),
        ]
        if "reopened" in event.changes:
            state.append(stored.last_seen.isoformat())  # the same state again, a later poll
        version = _fingerprint(state)
        return f"{base}|{'+'.join(sorted(event.changes)) or 'details'}|{version}"
    base = f"{channel}|story:{event.story.id}|{event.kind}"
    if event.kind != "updated":
        return base
    stored = event.story
    version = _fingerprint(
        [
            sorted(event.changes),
            stored.story.title,
            stored.story.summary,
            stored.cluster_size,
            sorted(stored.cluster_outlets),
        ]
    )
    return f"{base}|{'+'.join(sorted(event.changes)) or 'details'}|{version}"


class _LazyText:
    """A posting's :class:`PostingText`, tokenised on first use.

    A subscription with keywords or exclusions reads the words only after its company,
    AI, pay and remote conditions passed, which most postings fail: tokenising every
    posting's description up front cost more than the rest of a cold poll's matching
    (about 1.8 ms a posting; ``python -m bench``, cold ingest).
    """

    __slots__ = ("_posting", "_text")

    def __init__(self, posting: Posting) -> None:
        self._posting = posting
        self._text: PostingText | None = None

    def _get(self) -> PostingText:
        if self._text is None:
            self._text = posting_text(self._posting)
        return self._text

    @property
    def all(self) -> EventText:
        return self._get().all

    @property
    def head(self) -> EventText:
        return self._get().head


@dataclass(frozen=True, slots=True)
class _Compiled:
    id: int
    channel: str
    check: SubscriptionFilter


class Router:
    """Turns a poll's events into outbox entries (see the module docstring)."""

    __slots__ = ("_any_ai", "_any_company", "_by_company", "_floors", "_news", "_paid", "size")

    def __init__(self, subscriptions: Sequence[Subscription]) -> None:
        by_company: dict[str, list[_Compiled]] = {}
        any_company: list[_Compiled] = []
        news: list[_Compiled] = []
        live = [s for s in subscriptions if not s.paused_reason and s.mode != "digest"]
        for sub in sorted(live, key=lambda s: s.id):
            compiled = _Compiled(sub.id, sub.channel, compile_filter(sub))
            if compiled.check.wants_postings:
                if compiled.check.companies:
                    for key in compiled.check.companies:
                        by_company.setdefault(key, []).append(compiled)
                else:
                    any_company.append(compiled)
            if compiled.check.wants_stories:
                news.append(compiled)
        self._by_company = by_company
        # Subscriptions for any company meet every posting; most want AI roles above a
        # pay floor, which most postings are not. Grouped by what rejects them without a
        # test: with no floor and any role, AI roles only, and by floor (ascending), so a
        # posting meets only those its AI flag and pay could pass. The result is the
        # same: a channel gets its lowest-numbered matching subscription, whatever the
        # order the tests ran in.
        plain = [s for s in any_company if not s.check.sub.min_salary_usd]
        self._any_company = [s for s in plain if not s.check.sub.ai_only]
        self._any_ai = [s for s in plain if s.check.sub.ai_only]
        paid = sorted(
            (s for s in any_company if s.check.sub.min_salary_usd),
            key=lambda s: (s.check.sub.min_salary_usd, s.id),
        )
        self._paid = paid
        self._floors = [float(s.check.sub.min_salary_usd or 0) for s in paid]
        self._news = news
        self.size = len(live)

    def __call__(self, events: Sequence[PostingEvent | StoryEvent]) -> Iterable[OutboxEntry]:
        return list(self._route(events))

    def _route(self, events: Sequence[PostingEvent | StoryEvent]) -> Iterator[OutboxEntry]:
        for event in events:
            if isinstance(event, PostingEvent):
                channels: dict[str, int | None] = dict(self._posting_channels(event))
                # channels alerted before: their alert shows the change even when they
                # no longer match (see PostingEvent.alerted)
                for channel, sub_id in event.alerted:
                    channels.setdefault(channel, sub_id)
                item_kind, item_id = "posting", event.posting.id
                payload = {"changes": list(event.changes)} if event.changes else None
            else:
                channels = self._story_channels(event)
                item_kind, item_id = "story", event.story.id
                payload = {"changes": list(event.changes)} if event.changes else None
            for channel, sub_id in channels.items():
                yield OutboxEntry(
                    channel=channel,
                    item_kind=item_kind,
                    event=event.kind,
                    dedupe_key=dedupe_key(channel, event),
                    item_id=item_id,
                    subscription_id=sub_id,
                    payload=payload,
                )

    def _posting_channels(self, event: PostingEvent) -> dict[str, int]:
        """channel -> the lowest id of its subscriptions that want this posting event."""
        current = event.posting.posting
        versions = [current]
        if event.kind == "updated" and event.previous is not None:
            versions.append(event.previous)
        matched: dict[str, int] = {}
        for posting in versions:
            candidates = self._by_company.get(posting_company_key(posting.company), [])
            text = cast(PostingText, _LazyText(posting))
            for group in (candidates, *self._any_groups(posting)):
                for sub in group:
                    if sub.channel in matched and matched[sub.channel] <= sub.id:
                        continue
                    if sub.check.posting(posting, text):
                        matched[sub.channel] = sub.id
        return dict(sorted(matched.items(), key=lambda kv: kv[1]))

    def _any_groups(self, posting: Posting) -> list[Sequence[_Compiled]]:
        """The any-company subscriptions ``posting`` could pass (see ``__init__``)."""
        groups: list[Sequence[_Compiled]] = [self._any_company]
        if posting.ai is not None and posting.ai.is_ai:
            groups.append(self._any_ai)
        top = posting.salary.top_usd if posting.salary is not None else None
        if top is not None:
            # Floors up to the top pass the pay test (NaN passes every "<" test).
            reach = len(self._paid) if top != top else bisect_right(self._floors, top)
            groups.append(self._paid[:reach])
        return groups

    def _story_channels(self, event: StoryEvent) -> dict[str, int]:
        story = event.story.story
        text = story_text(story)
        matched: dict[str, int] = {}
        for sub in self._news:
            if sub.channel in matched:
                continue
            if sub.check.story(story, text):
                matched[sub.channel] = sub.id
        return matched


def build_router(subscriptions: Sequence[Subscription]) -> Router:
    """A router over these subscriptions; rebuild it when they change (each poll cycle)."""
    return Router(subscriptions)
