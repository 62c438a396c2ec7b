"""News relevance: which topics a story is about, how strongly, and why.

``score_story(story)`` returns the story with ``topics`` (``strike``, ``ai``,
``likeness``, ``videogames``, ``jobs``: a score in 0..1 each, only those that matched)
and ``reasons`` ("ai: 'AI' in title", ...). Subscriptions filter on both.

How a score is made:

* every term has weights per topic; a term counts once, in the title (full weight) or
  else in the summary (half weight);
* a topic's raw sum becomes 0..1 with ``1 - exp(-sum)``: one strong title term is
  ~0.6, two are ~0.85, and nothing is ever certain;
* co-occurrence (issue 3): "AI" together with a union, a strike or a studio is the
  story this bot exists for, so it scores above either half alone.

Matching is on word boundaries, and "AI" must be the upper-case word (or "A.I."), so
"said", "Thailand", "Haiti" and "Aileen" never count. Only the terms a word can begin
are tried, at the words that start with one of their first three letters (found in one
regex pass over the text, not by visiting every word): pure and fast.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from bot.enrich.cluster import prepare_headline
from bot.models import Story, content_hash

__all__ = [
    "TOPICS",
    "finish_fetched",
    "finish_stories",
    "score_story",
    "score_text",
]

TOPICS = ("strike", "ai", "likeness", "videogames", "jobs")

R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class _Term:
    label: str
    pattern: str
    weights: dict[str, float]
    kind: str = ""  # "union", "labor", "studio", "ai": for co-occurrence
    # the words a match can start with (lower case; only their first 3 letters are used
    # to index the term, see _INDEX)
    first: tuple[str, ...] = ()


# Longer phrases first: the alternation takes the first branch that matches at a position.
_TERMS: tuple[_Term, ...] = (
    # -- video games
    _Term(
        "Interactive Media Agreement",
        r"interactive\s+media\s+agreement",
        {"videogames": 1.2, "strike": 0.4},
        "labor",
        first=("interactive",),
    ),
    _Term(
        "video game performers",
        r"video[\s-]?game\s+(?:performers?|actors?|voice\s+actors?)",
        {"videogames": 1.2},
        first=("video",),
    ),
    _Term("video game", r"video[\s-]?games?", {"videogames": 0.7}, first=("video",)),
    # -- likeness and AI performance
    _Term(
        "digital replica",
        r"digital\s+(?:replicas?|doubles?)",
        {"likeness": 1.2, "ai": 0.8},
        "ai",
        first=("digital",),
    ),
    _Term(
        "synthetic performer",
        r"synthetic\s+(?:performers?|actors?|actress(?:es)?)",
        {"likeness": 1.0, "ai": 0.9},
        "ai",
        first=("synthetic",),
    ),
    _Term(
        "voice clone",
        r"voice\s+(?:clon(?:e|es|ed|ing)|replicas?)|(?:cloned|ai)\s+voices?",
        {"likeness": 1.0, "ai": 0.8},
        "ai",
        first=("voice", "cloned", "ai"),
    ),
    _Term(
        "deepfake", r"deep[\s-]?fak(?:e|es|ed)", {"likeness": 1.0, "ai": 0.7}, "ai", first=("deep",)
    ),
    _Term(
        "cloned",
        r"clon(?:e|es|ed|ing)",
        {"likeness": 0.6, "ai": 0.3},
        first=("clone", "clones", "cloned", "cloning"),
    ),
    _Term("NO FAKES Act", r"no\s+fakes\s+act", {"likeness": 1.2, "ai": 0.5}, "ai", first=("no",)),
    _Term("likeness", r"likeness(?:es)?", {"likeness": 1.0}, first=("likeness",)),
    _Term("right of publicity", r"right\s+of\s+publicity", {"likeness": 0.9}, first=("right",)),
    _Term(
        "scanning",
        r"(?:body|digital|3d)\s+scan(?:s|ning|ned)?|scanning",
        {"likeness": 0.6},
        first=("body", "digital", "3d", "scanning"),
    ),
    # -- AI
    _Term(
        "artificial intelligence",
        r"artificial\s+intelligence",
        {"ai": 1.0},
        "ai",
        first=("artificial",),
    ),
    _Term(
        "generative AI",
        r"gen(?:erative)?[\s-]?ai|genai",
        {"ai": 1.1},
        "ai",
        first=("gen", "genai", "generative"),
    ),
    _Term("generative", r"generative", {"ai": 0.6}, "ai", first=("generative",)),
    # Case matters only here: "AI" the word, not "ai" in "said" nor "Ai" the name.
    _Term("AI", r"(?-i:AI)|(?-i:A\.I\.?)", {"ai": 1.0}, "ai", first=("ai", "a")),
    _Term("machine learning", r"machine[\s-]learning", {"ai": 0.7}, "ai", first=("machine",)),
    _Term(
        "AI company",
        r"openai|chatgpt|sora|midjourney|stability\s+ai|elevenlabs",
        {"ai": 0.8},
        "ai",
        first=("openai", "chatgpt", "sora", "midjourney", "stability", "elevenlabs"),
    ),
    # -- unions and the studios' side
    _Term(
        "SAG-AFTRA",
        r"sag[\s-]?aftra|screen\s+actors\s+guild",
        {"strike": 0.5},
        "union",
        first=("sag", "screen"),
    ),
    _Term(
        "WGA",
        r"wga|writers\s+guild(?:\s+of\s+america)?",
        {"strike": 0.5},
        "union",
        first=("wga", "writers"),
    ),
    _Term(
        "AMPTP",
        r"amptp|alliance\s+of\s+motion\s+picture",
        {"strike": 0.7},
        "union",
        first=("amptp", "alliance"),
    ),
    _Term("IATSE", r"iatse|i\.a\.t\.s\.e\.", {"strike": 0.5}, "union", first=("iatse", "i")),
    _Term("Teamsters", r"teamsters?", {"strike": 0.4}, "union", first=("teamsters",)),
    _Term(
        "guild",
        r"dga|directors\s+guild|animation\s+guild|actors'?\s+equity",
        {"strike": 0.3},
        "union",
        first=("dga", "directors", "animation", "actors"),
    ),
    _Term("union", r"unions?|guilds?", {"strike": 0.2}, "union", first=("union", "guild")),
    # -- labor action
    _Term(
        "tentative agreement",
        r"tentative\s+(?:agreement|deal|contract)",
        {"strike": 1.0},
        "labor",
        first=("tentative",),
    ),
    _Term(
        "strike authorization",
        r"strike[\s-]authorization",
        {"strike": 1.3},
        "labor",
        first=("strike",),
    ),
    _Term(
        "strike",
        r"strik(?:e|es|ing)|strikers?",
        {"strike": 1.0},
        "labor",
        first=("strike", "striking", "strikers"),
    ),
    _Term("picket", r"picket(?:s|ed|ing|\s+lines?)?", {"strike": 1.0}, "labor", first=("picket",)),
    _Term("walkout", r"walk[\s-]?outs?", {"strike": 1.0}, "labor", first=("walk",)),
    _Term(
        "work stoppage",
        r"work\s+stoppages?|lockouts?",
        {"strike": 1.0},
        "labor",
        first=("work", "lockout"),
    ),
    _Term(
        "ratification",
        r"ratif(?:y|ies|ied|ying|ication)",
        {"strike": 0.8},
        "labor",
        first=("ratify", "ratified"),
    ),
    _Term(
        "negotiations",
        r"negotiat(?:e|es|ed|ing|ions?|ors?)|bargaining|contract\s+talks",
        {"strike": 0.5},
        "labor",
        first=("negotiate", "bargaining", "contract"),
    ),
    _Term("contract", r"contracts?", {"strike": 0.3}, first=("contract",)),
    # -- studios (co-occurrence only, and a little "ai" context)
    _Term(
        "studio",
        r"studios?|hollywood|disney|netflix|warner\s+bros\.?|paramount|universal|"
        r"sony\s+pictures|amazon\s+mgm|lionsgate|nbcuniversal|hbo|pixar|marvel",
        {},
        "studio",
        first=(
            "studio",
            "hollywood",
            "disney",
            "netflix",
            "warner",
            "paramount",
            "universal",
            "sony",
            "amazon",
            "lionsgate",
            "nbcuniversal",
            "hbo",
            "pixar",
            "marvel",
        ),
    ),
    # -- jobs
    _Term("who is hiring", r"who\s+is\s+hiring|who's\s+hiring", {"jobs": 1.2}, first=("who",)),
    _Term(
        "layoffs",
        r"lay[\s-]?offs?|laid\s+off|job\s+cuts?|staff\s+cuts?|redundanc(?:y|ies)",
        {"jobs": 1.0},
        first=("lay", "laid", "job", "staff", "redundancy"),
    ),
    _Term(
        "hiring",
        r"hir(?:e|es|ed|ing)|jobs?|entry[\s-]level|workforce|employment",
        {"jobs": 0.6},
        first=("hire", "jobs", "job", "entry", "workforce", "employment"),
    ),
)


_WORD = re.compile(r"[A-Za-z0-9]+")


def _index() -> dict[str, tuple[tuple[int, _Term, re.Pattern[str]], ...]]:
    """Terms by the first three letters of the words they start with, so a text is
    split into words once and only the few terms a word could begin are tried."""
    index: dict[str, list[tuple[int, _Term, re.Pattern[str]]]] = {}
    for order, term in enumerate(_TERMS):
        regex = re.compile(rf"(?:{term.pattern})(?![\w])", re.I)
        keys = {_WORD.match(word).group(0)[:3] for word in term.first}  # type: ignore[union-attr]
        for key in keys:
            index.setdefault(key, []).append((order, term, regex))
    return {k: tuple(v) for k, v in index.items()}


_INDEX = _index()
_ALNUM = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")


def _trie(words: Sequence[str], *, whole_below: int = 0) -> str:
    """A pattern matching any of ``words``, as a trie: one branch per first letter, so
    the regex engine tries a handful of alternatives at a position, not all seventy.
    A word shorter than ``whole_below`` matches only where no ASCII letter or digit
    follows it."""
    root: dict[str, dict] = {}
    for word in words:
        node = root
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}

    def branch(node: dict[str, dict], depth: int) -> str:
        alternatives = [re.escape(c) + branch(node[c], depth + 1) for c in sorted(node) if c]
        end = "(?![A-Za-z0-9])" if depth < whole_below else ""
        if not alternatives:
            return end if "" in node else ""
        body = alternatives[0] if len(alternatives) == 1 else f"(?:{'|'.join(alternatives)})"
        if "" not in node:
            return body
        return f"(?:{body}|{end})" if end else f"(?:{body})?"

    return branch(root, 0)


# Where a key starts a word (nothing alphanumeric or "_" before it: ``\w``, which
# lower-casing never changes), found in one pass of the regex engine over the lower-case
# text. It replaced a substring search per key (70 of them), which took ~55 us of a
# ~700-character summary (bench feeds: 20,000 stories, ~1.1 s of the worker's time); the
# pass takes ~30 us with the checks below. The key found at a position is the longest
# there, which is the only one that can be followed by the word end a key shorter than
# three needs, or be three letters.
#
# A key shorter than three letters must end its word ("a", "i", "no": half the keys the
# pass found in the bench's summaries were those letters starting a longer word): the
# pattern says so itself, on the lower-case text, so those never reach the loop below.
# Only the Kelvin sign lower-cases to an ASCII letter without moving the others ("k"),
# and no term's next character after a short key can be a "k", so the check on the
# lower-case text rejects nothing the terms would have matched.
_KEYS = re.compile(r"(?<!\w)" + _trie(sorted(_INDEX), whole_below=3))
# The same pass for an ASCII text (nearly all of them), where \w is ASCII's: a word
# boundary tested in ASCII mode is ~25 % cheaper than the look-behind (22 against 30 us
# over a 700-character summary), and it finds the same keys. In such a text lower case
# moves nothing, so the checks of the loop below are the pattern's own.
_ASCII_KEYS = re.compile(r"\b" + _trie(sorted(_INDEX), whole_below=3), re.A)
_SUMMARY_FACTOR = 0.5
_COOCCURRENCE_BONUS = 0.8  # added to the raw "ai" (and "strike") sum: "AI" + union/strike/studio
_MAX_TEXT = 4000  # a summary longer than this is scanned only this far


def _matches(text: str) -> dict[str, _Term]:
    text = text[:_MAX_TEXT]
    spans: list[tuple[int, int, int, _Term]] = []
    low = text.lower()
    if len(low) != len(text):  # lower-casing moved the letters: walk the words instead
        return _matches_by_word(text)
    index = _INDEX
    if text.isascii():
        for found in _ASCII_KEYS.finditer(low):
            terms = index.get(found.group())  # None: the prefix of a longer key only
            if terms is not None:
                at = found.start()
                for order, term, regex in terms:
                    m = regex.match(text, at)
                    if m:
                        spans.append((at, order, m.end(), term))
        return _resolve(spans)
    size = len(text)
    for found in _KEYS.finditer(low):
        key = found.group()
        terms = index.get(key)  # None: the prefix of a longer key only
        if terms is None:
            continue
        at = found.start()
        width = len(key)
        # ASCII letters in the text itself (lower-casing can make ASCII: the Kelvin
        # sign), and, for a key shorter than three, where the word ends
        if text[at : at + width].isascii() and (
            width == 3 or at + width == size or text[at + width] not in _ALNUM
        ):
            for order, term, regex in terms:
                m = regex.match(text, at)
                if m:
                    spans.append((at, order, m.end(), term))
    return _resolve(spans)


def _matches_by_word(text: str) -> dict[str, _Term]:
    spans: list[tuple[int, int, int, _Term]] = []
    for word in _WORD.finditer(text):
        start = word.start()
        if start and (text[start - 1].isalnum() or text[start - 1] == "_"):
            continue
        for order, term, regex in _INDEX.get(word.group(0)[:3].lower(), ()):
            m = regex.match(text, start)
            if m:
                spans.append((start, order, m.end(), term))
    return _resolve(spans)


def _resolve(spans: list[tuple[int, int, int, _Term]]) -> dict[str, _Term]:
    # Where matches overlap, the earlier one wins, and at one position the term listed
    # first (the longer phrase): "video game performers" over "video game".
    spans.sort(key=lambda s: (s[0], s[1]))
    found: dict[str, _Term] = {}
    end = -1
    for start, _order, stop, term in spans:
        if start < end:
            continue
        end = stop
        found.setdefault(term.label, term)
    return found


def score_text(title: str, summary: str = "") -> tuple[dict[str, float], tuple[str, ...]]:
    """Topic scores and reasons for a title and summary (plain text)."""
    in_title = _matches(title)
    in_summary = {k: v for k, v in _matches(summary).items() if k not in in_title}
    raw: dict[str, float] = {}
    reasons: list[str] = []
    for where, found, factor in (
        ("title", in_title, 1.0),
        ("summary", in_summary, _SUMMARY_FACTOR),
    ):
        for term in found.values():
            for topic, weight in term.weights.items():
                raw[topic] = raw.get(topic, 0.0) + weight * factor
                reasons.append(f"{topic}: {term.label!r} in {where}")

    kinds_title = {t.kind for t in in_title.values()}
    kinds_all = kinds_title | {t.kind for t in in_summary.values()}
    if "ai" in kinds_all:
        partners = [k for k in ("union", "labor", "studio") if k in kinds_all]
        if partners:
            # Both halves in the title count fully; one of them only in the summary, less.
            together = "ai" in kinds_title and any(k in kinds_title for k in partners)
            bonus = _COOCCURRENCE_BONUS * (1.0 if together else _SUMMARY_FACTOR)
            raw["ai"] = raw.get("ai", 0.0) + bonus
            if "union" in partners or "labor" in partners:
                raw["strike"] = raw.get("strike", 0.0) + bonus / 2
            where = "title" if together else "title and summary"
            names = {"union": "a union", "labor": "a strike or contract", "studio": "a studio"}
            reasons.append(
                f"co-occurrence: AI with {', '.join(names[k] for k in partners)} in {where}"
            )

    topics = {topic: round(1.0 - math.exp(-value), 3) for topic, value in raw.items() if value > 0}
    return {t: topics[t] for t in TOPICS if t in topics}, tuple(reasons)


def finish_stories(parse: Callable[..., R], /, *args: Any) -> R:
    """``parse(*args)`` (a source's document: a dataclass with ``stories``, ``prepared``
    and ``hashes``, see :class:`bot.sources.base.Fetched`) with its stories scored, each
    headline prepared for clustering and each content hash made: a feed's whole share of
    CPU work in one hand-over to a worker process, as ``bot.finish.finish_listing`` is a
    board page's. The pipeline stores what comes back as it is."""
    page = parse(*args)
    stories: Sequence[Story] = page.stories  # type: ignore[attr-defined]
    if not stories:
        return page
    scored, prepared = [], []
    for story in stories:
        topics, reasons = score_text(story.title, story.summary)
        scored.append(replace(story, topics=topics, reasons=reasons))
        prepared.append(prepare_headline(story.title, story.outlet))
    return replace(
        page,  # type: ignore[type-var]
        stories=tuple(scored),
        prepared=tuple(prepared),
        hashes=tuple(map(content_hash, scored)),
    )


def finish_fetched(page: R) -> R:
    """:func:`finish_stories` of a document a source parsed by other means (it pickles
    by name, and a worker process that runs it imports only this module's)."""
    return finish_stories(_itself, page)


def _itself(page: R) -> R:
    return page


def score_story(story: Story) -> Story:
    """The story with ``topics`` and ``reasons`` filled in."""
    topics, reasons = score_text(story.title, story.summary)
    return replace(story, topics=topics, reasons=reasons)
