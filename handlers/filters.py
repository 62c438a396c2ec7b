"""What a subscription asks for, compiled once into a fast predicate.

Shared by instant matching (``bot.matching``, thousands of subscriptions against each
poll's events) and digests (one subscription against a day's postings), so an alert and
a digest never disagree about what a channel wanted.

Words are compared as tokens, not substrings: keyword "ai" matches "AI Engineer" and
"Gen-AI" but not "Maintenance"; "machine learning" matches the phrase. Each event's
text is tokenised once (:func:`posting_text`, :func:`story_text`) and every filter
checks against that, so 10,000 subscriptions cost set lookups, not regex scans.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.models import Posting, Story, Subscription
from handlers.args import fold
from handlers.companies import company_key

__all__ = [
    "EventText",
    "SubscriptionFilter",
    "compile_filter",
    "phrase",
    "posting_company_key",
    "posting_text",
    "story_text",
]

_TOKEN = re.compile(r"[0-9a-z]+(?:[+#]+)?")
_KEYS: dict[str, str] = {}
_KEYS_MAX = 4096


def posting_company_key(name: str) -> str:
    """:func:`company_key`, remembered: matching asks it of the same few company names
    for each of a poll's postings and each subscription that names companies."""
    key = _KEYS.get(name)
    if key is None:
        if len(_KEYS) >= _KEYS_MAX:
            _KEYS.clear()
        key = _KEYS[name] = company_key(name)
    return key


def phrase(text: str) -> str:
    """Normalised tokens joined by single spaces: ``"Gen-AI / ML"`` -> ``"gen ai ml"``."""
    return " ".join(_TOKEN.findall(fold(text)))


def _term_pattern(term: str) -> re.Pattern[str]:
    """A search for ``term``'s tokens, one after another, in folded (not tokenised) text.

    The same answer as looking for ``" {term} "`` in the padded phrase of the text: a
    token starts at a letter or digit not preceded by one, and runs through the letters
    and digits and then any ``+``/``#`` after them; between two tokens lie only other
    characters. So each word must start on such a bound and end where its token ends
    (``"c"`` is not the token of ``"c++"``, ``"ai"`` not that of ``"maintain"``).
    """
    parts = []
    for word in term.split(" "):
        end = "(?![+#])" if word[-1] in "+#" else "(?![0-9a-z+#])"
        parts.append(re.escape(word) + end)
    # The first word's bound is tested behind it, so the search runs on its letters.
    first = len(term.split(" ")[0])
    parts[0] += f"(?<![0-9a-z].{{{first}}})"
    return re.compile("[^0-9a-z]*".join(parts), re.DOTALL)


_PATTERNS: dict[str, re.Pattern[str]] = {}


class EventText:
    """One event's text, folded once; terms are searched in it as tokens.

    Tokenising a 5 KB description (every token, a set, a padded phrase) cost more than
    the few keyword tests a posting meets (``python -m bench``, cold ingest): a term's
    words are first looked for as substrings, and only text holding all of them is
    searched with the term's pattern (:func:`_term_pattern`), which gives the answer
    the tokens would.
    """

    __slots__ = ("folded",)

    def __init__(self, folded: str) -> None:
        self.folded = folded

    @classmethod
    def of(cls, *parts: str) -> EventText:
        return cls(fold(" \n ".join(p for p in parts if p)))

    @property
    def words(self) -> frozenset[str]:
        return frozenset(_TOKEN.findall(self.folded))

    @property
    def padded(self) -> str:
        """ " w1 w2 ... " so a phrase test is a substring test on word bounds"""
        return f" {' '.join(_TOKEN.findall(self.folded))} "

    def has(self, term: str) -> bool:
        """``term`` is a normalised phrase (see :func:`phrase`)."""
        folded = self.folded
        if " " not in term:
            if term not in folded:
                return False
        elif not all(w in folded for w in term.split(" ")):
            return False
        pattern = _PATTERNS.get(term)
        if pattern is None:
            if len(_PATTERNS) >= _KEYS_MAX:
                _PATTERNS.clear()
            pattern = _PATTERNS[term] = _term_pattern(term)
        return pattern.search(folded) is not None


@dataclass(frozen=True, slots=True)
class PostingText:
    all: EventText  # title, team and description: what keywords look in
    head: EventText  # title and team: what a role *is*, for exclusions


def posting_text(posting: Posting) -> PostingText:
    """Tokenise a posting once for every subscription's keyword and exclude tests."""
    head = EventText.of(posting.title, posting.department)
    full = EventText.of(posting.title, posting.department, posting.description)
    return PostingText(full, head)


def story_text(story: Story) -> EventText:
    """Tokenise a story once (title, summary, outlet)."""
    return EventText.of(story.title, story.summary)


def _terms(values: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(t for t in (phrase(v) for v in values) if t))


class SubscriptionFilter:
    """A subscription's conditions, normalised for repeated use."""

    __slots__ = (
        "companies",
        "company_terms",
        "exclude",
        "keywords",
        "sub",
        "topics",
    )

    def __init__(self, sub: Subscription) -> None:
        self.sub = sub
        self.companies = frozenset(company_key(c) for c in sub.companies if company_key(c))
        self.company_terms = _terms(sub.companies)
        self.keywords = _terms(sub.keywords)
        self.exclude = _terms(sub.exclude)
        self.topics = tuple(t.strip().lower() for t in sub.topics if t.strip())

    @property
    def needs_text(self) -> bool:
        """Whether :meth:`posting` reads the text (so callers tokenise it once)."""
        return bool(self.keywords or self.exclude)

    @property
    def wants_postings(self) -> bool:
        return self.sub.kind in ("jobs", "all")

    @property
    def wants_stories(self) -> bool:
        return self.sub.kind in ("news", "all")

    def posting(self, posting: Posting, text: PostingText | None = None) -> bool:
        """Does this posting (as it is now) belong to the subscription?"""
        sub = self.sub
        if not self.wants_postings:
            return False
        if self.companies and posting_company_key(posting.company) not in self.companies:
            return False
        if sub.ai_only and not (posting.ai is not None and posting.ai.is_ai):
            return False
        if sub.min_salary_usd:
            top = posting.salary.top_usd if posting.salary is not None else None
            # Unknown pay never passes a minimum: "$300k+" means stated and at least.
            if top is None or top < sub.min_salary_usd:
                return False
        if sub.remote is True and posting.remote is not True:
            return False
        if sub.remote is False and posting.remote is True:
            return False
        if self.keywords or self.exclude:
            text = text or posting_text(posting)
            if self.keywords and not any(text.all.has(k) for k in self.keywords):
                return False
            if self.exclude and any(text.head.has(k) for k in self.exclude):
                return False
        return True

    def story(self, story: Story, text: EventText | None = None) -> bool:
        """Does this story belong to the subscription?"""
        sub = self.sub
        if not self.wants_stories:
            return False
        topics = story.topics
        if self.topics:
            floor = sub.min_score if sub.min_score > 0 else 1e-9
            if not any(topics.get(t, 0.0) >= floor for t in self.topics):
                return False
        elif sub.min_score > 0 and max(topics.values(), default=0.0) < sub.min_score:
            return False
        if self.company_terms or self.keywords or self.exclude:
            text = text or story_text(story)
            # An "all" subscription about some companies wants news about them only.
            if self.company_terms and not any(text.has(c) for c in self.company_terms):
                return False
            if self.keywords and not any(text.has(k) for k in self.keywords):
                return False
            if self.exclude and any(text.has(k) for k in self.exclude):
                return False
        return True


def compile_filter(sub: Subscription) -> SubscriptionFilter:
    """The subscription's predicate over postings and stories."""
    return SubscriptionFilter(sub)
