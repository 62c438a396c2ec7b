"""Story clustering: the same event told by several outlets is one cluster, one alert.

Pure functions. :func:`assign_cluster` takes a new story and the recent stories (with
their cluster ids) and names the cluster it joins, or ``None`` when it starts one.

Why it is built this way (issue 3, ../shared/REAL-DATA.md News): five outlets tell one
event with five headlines, and a short headline can be a word subset of a long one
about another event. So:

* titles become **normalised tokens**: lower case, publisher suffix gone, stopwords
  out, a light stemmer ("reaches", "reached", "reaching" -> "reach"), and the names
  headlines use interchangeably folded together ("Screen Actors Guild" -> sagaftra,
  "AMPTP" -> studio, "agreement"/"pact" -> deal);
* similarity is a **weighted Jaccard** (shared weight over the *union's* weight), not
  containment: "WGA Strike" shares everything with a long WGA headline, but that
  headline's other words weigh against it;
* weights are **IDF over the recent window** (smoothed, as if the window held at least
  ``_PRIOR_DOCS`` other stories), numbers weigh more, and the words every strike story
  shares (the unions, "strike", "AI", "studio") weigh less;
* **vetoes** keep near-misses apart: at least two shared tokens, one of them specific;
  no conflicting sectors (a video-game deal is not the TV/theatrical deal) and no
  conflicting events (a strike authorised is not a strike ended);
* two stories of the **same outlet** join only when they are the same article (same
  link, or nearly the same title): a follow-up by the same outlet is a new story.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

__all__ = [
    "WINDOW",
    "Candidate",
    "ClusterIndex",
    "ClusterMatch",
    "assign_cluster",
    "outlet_key",
    "similarity",
    "title_tokens",
]

WINDOW = timedelta(hours=72)
THRESHOLD = 0.25
SAME_OUTLET_THRESHOLD = 0.8
_PRIOR_DOCS = 50


@dataclass(frozen=True, slots=True)
class Candidate:
    """A recent story, as clustering needs it."""

    story_id: int
    cluster_id: int
    title: str
    outlet: str
    when: datetime  # published, else first seen
    url: str = ""


@dataclass(frozen=True, slots=True)
class ClusterMatch:
    """The cluster a story joins, the member it matched best and how well."""

    cluster_id: int
    story_id: int
    score: float
    same_outlet: bool


def _wordset(text: str) -> frozenset[str]:
    return frozenset(text.split())


_STOPWORDS = _wordset(
    """
    a an the and or but nor of to in on at by for with from into onto over under as is are
    was were be been being has have had do does did it its this that these those their
    they them he she his her him we our you your i me my not no so than then there here
    about after before amid among against via per up down out off new says say said will
    would could should can may might just also more most very how why what when where who
    whom which while s t vs v report reports exclusive update updated breaking watch
    including include includes first last next one two three four five six seven eight nine
    ten week weeks day days year years month months today tonight now inside officially
    process set sets get gets make makes take takes
    """
)

# Names headlines use for the same thing.
_PHRASES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(p), r)
    for p, r in (
        (r"\bsag[\s-]?aftra\b|\bscreen actors guild\b", " sagaftra "),
        (r"\bwriters guild(?: of america)?(?: west| east)?\b|\bwga[ew]?\b", " wga "),
        (r"\balliance of motion picture and television producers\b|\bamptp\b", " studio "),
        (r"\bartificial intelligence\b|\ba\.i\.", " ai "),
        (r"\bvideo[\s-]?games?\b", " videogame "),
        (r"\binteractive media agreement\b", " videogame deal "),
        (r"\bi\.a\.t\.s\.e\.|\biatse\b", " iatse "),
        (r"\bu\.s\.", " us "),
        (r"\bactors'? unions?\b", " sagaftra "),
        (r"\bwriters'? unions?\b", " wga "),
        (r"\bwalk(?:ed|s|ing)?[\s-]?out\b|\bwork stoppage\b", " strike "),
    )
)
_SYNONYMS = {
    "agreement": "deal",
    "pact": "deal",
    "accord": "deal",
    "performer": "actor",
    "actress": "actor",
    "thespian": "actor",
    "struck": "strik",
    "studio": "studio",
    "guild": "union",
    "talk": "negotiat",
    "negotiation": "negotiat",
    "negotiat": "negotiat",
    "bargain": "negotiat",
    "ok": "approv",
    "okay": "approv",
    "approv": "approv",
    "replicas": "replica",
}
_WORD = re.compile(r"[a-z0-9$%][a-z0-9$%.']*")

# Words nearly every story in this bot's window shares: they say what it is about,
# not which event it is.
_GENERIC = _wordset(
    "sagaftra wga studio union strik ai hollywood actor writer iatse teamster member "
    "contract deal negotiat entertainment industry film tv"
)
# A headline's sector: a deal for one is not the deal for another.
_SECTORS: Mapping[str, str] = {
    "videogame": "games",
    "gam": "games",
    "gamer": "games",
    "theatrical": "film-tv",
    "tv": "film-tv",
    "television": "film-tv",
    # "the studios" / the AMPTP bargain for film and TV ("game studios" also name
    # games, which then share a sector with any video-game headline)
    "studio": "film-tv",
    "commercial": "commercials",
    "advertis": "commercials",
    "broadway": "stage",
    "music": "music",
    "record": "music",
    "netcod": "broadcast",
    "broadcast": "broadcast",
    "animation": "animation",
}
# What happened: a strike authorised is not a strike ended.
_EVENTS: Mapping[str, str] = {
    "authoriz": "authorize",
    "authoris": "authorize",
    "end": "end",
    "conclud": "end",
    "suspend": "end",
    "ratif": "ratify",
    "ratify": "ratify",
    "ratifi": "ratify",
    "ratification": "ratify",
    "approv": "ratify",
    "reject": "reject",
    "begin": "start",
    "open": "start",
    "start": "start",
    "launch": "start",
    "kick": "start",
    "resum": "resume",
    "reach": "deal",
    "tentative": "deal",
    "sue": "sue",
    "lawsuit": "sue",
}


def _stem(word: str) -> str:
    if word.endswith("'s"):
        word = word[:-2]
    word = word.strip(".'")
    if len(word) > 4 and word.endswith("ies"):
        word = word[:-3] + "y"
    elif len(word) > 4 and word.endswith(("ches", "shes", "sses", "xes", "zes")):
        word = word[:-2]
    elif len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    if len(word) > 5 and word.endswith("ing"):
        word = word[:-3]
    elif len(word) > 4 and word.endswith("ed"):
        word = word[:-2]
    if len(word) > 3 and word.endswith("e"):
        word = word[:-1]
    return word


# The tables above are written in plain words; tokens are stems.
_SYNONYMS = {_stem(k): _stem(v) for k, v in _SYNONYMS.items()} | {
    k: _stem(v) for k, v in _SYNONYMS.items()
}
_GENERIC = frozenset(_stem(w) for w in _GENERIC)
_SECTORS = {_stem(k): v for k, v in _SECTORS.items()}
_EVENTS = {_stem(k): v for k, v in _EVENTS.items()}


def title_tokens(title: str, outlet: str = "") -> tuple[str, ...]:
    """The normalised tokens of a headline (order kept, duplicates dropped)."""
    # Each poll rebuilds the window's index from the database, so the same headlines are
    # tokenised poll after poll: remembered here (a pure function of its arguments).
    return _title_tokens(title, outlet)


@lru_cache(maxsize=1 << 16)
def _title_tokens(title: str, outlet: str) -> tuple[str, ...]:
    text = title.strip()
    if outlet:
        for sep in (" - ", " | ", " – ", " — "):
            head, found, tail = text.rpartition(sep)
            if found and tail.strip().casefold() == outlet.strip().casefold():
                text = head
                break
    text = text.lower().replace("’", "'").replace("‘", "'")
    for pattern, replacement in _PHRASES:
        text = pattern.sub(replacement, text)
    tokens: dict[str, None] = {}
    for raw in _WORD.findall(text):
        word = raw.strip(".'")
        if not word or word in _STOPWORDS:
            continue
        stem = _stem(word)
        stem = _SYNONYMS.get(word, _SYNONYMS.get(stem, stem))
        if stem and stem not in _STOPWORDS:
            tokens[stem] = None
    return tuple(tokens)


@lru_cache(maxsize=4096)
def outlet_key(outlet: str) -> str:
    """Outlet names compared loosely: "The Hollywood Reporter" == "Hollywood Reporter"."""
    words = re.findall(r"[a-z0-9]+", outlet.casefold())
    if words and words[0] == "the":
        words = words[1:]
    return " ".join(words)


def _weight(token: str, df: int, docs: int) -> float:
    w = math.log((docs + _PRIOR_DOCS) / (df + 1))
    if any(c.isdigit() for c in token):
        w *= 1.5
    if token in _GENERIC:
        w *= 0.5
    return w


def _weights(docs: Iterable[Sequence[str]]) -> dict[str, float]:
    docs = list(docs)
    df = Counter(t for doc in docs for t in set(doc))
    return {token: _weight(token, count, len(docs)) for token, count in df.items()}


def similarity(a: Sequence[str], b: Sequence[str], weights: Mapping[str, float]) -> float:
    """Weighted Jaccard of two token sets, after the vetoes (0.0 when one applies)."""
    return _similarity(_Tokens(a), _Tokens(b), weights)


class _Tokens:
    """A headline's tokens as a set, with the sector and event classes they name:
    prepared once per story instead of once per comparison."""

    __slots__ = ("events", "sectors", "set")

    def __init__(self, tokens: Iterable[str]) -> None:
        self.set = set(tokens)
        self.sectors = {_SECTORS[t] for t in self.set if t in _SECTORS}
        self.events = {_EVENTS[t] for t in self.set if t in _EVENTS}


def _similarity(a: _Tokens, b: _Tokens, weights: Mapping[str, float]) -> float:
    sa, sb = a.set, b.set
    shared = sa & sb
    if len(shared) < 2 or not (shared - _GENERIC):
        return 0.0
    if _clash(a.sectors, b.sectors) or _clash(a.events, b.events):
        return 0.0
    default = math.log(_PRIOR_DOCS)
    inter = sum(weights.get(t, default) for t in shared)
    union = sum(weights.get(t, default) for t in sa | sb)
    return inter / union if union else 0.0


def _clash(ca: set[str], cb: set[str]) -> bool:
    """Both name classes (sectors, or events) and none in common."""
    return bool(ca and cb and not (ca & cb))


class ClusterIndex:
    """Recent stories, indexed for :meth:`match`: tokens are computed once per story,
    document frequencies are kept as stories are added, and only stories sharing a
    token with the new one are scored."""

    def __init__(self, candidates: Iterable[Candidate] = (), *, window: timedelta = WINDOW):
        self.window = window
        self._items: list[tuple[Candidate, tuple[str, ...], str, _Tokens]] = []
        self._df: Counter[str] = Counter()
        self._postings: dict[str, list[int]] = {}
        self._by_url: dict[str, list[int]] = {}
        for cand in candidates:
            self.add(cand)

    def __len__(self) -> int:
        return len(self._items)

    def add(self, cand: Candidate) -> None:
        """Make ``cand`` a candidate for the stories matched after it."""
        tokens = title_tokens(cand.title, cand.outlet)
        index = len(self._items)
        self._items.append((cand, tokens, outlet_key(cand.outlet), _Tokens(tokens)))
        for token in tokens:
            self._df[token] += 1
            self._postings.setdefault(token, []).append(index)
        if cand.url:
            self._by_url.setdefault(cand.url, []).append(index)

    def match(
        self, title: str, outlet: str, when: datetime, *, url: str = ""
    ) -> ClusterMatch | None:
        """The cluster a new story joins, or ``None`` (see :func:`assign_cluster`)."""
        mine = title_tokens(title, outlet)
        me = outlet_key(outlet)
        docs = len(self._items) + 1
        weights = {t: _weight(t, self._df.get(t, 0) + 1, docs) for t in mine}
        mine_prepared = _Tokens(mine)
        seen: set[int] = set()
        best: ClusterMatch | None = None
        # The same link is the same article: those members first, in the order added.
        for i in self._by_url.get(url, ()) if url else ():
            cand, _tokens, _key, _prepared = self._items[i]
            if abs(cand.when - when) <= self.window:
                seen.add(i)
                best = _better(best, ClusterMatch(cand.cluster_id, cand.story_id, 1.0, _key == me))
        for i in self._sharing(mine, seen, weights):
            cand, tokens, key, prepared = self._items[i]
            if abs(cand.when - when) > self.window:
                continue
            for t in tokens:
                if t not in weights:
                    weights[t] = _weight(t, self._df[t], docs)
            score = _similarity(mine_prepared, prepared, weights)
            same = key == me
            if score < (SAME_OUTLET_THRESHOLD if same else THRESHOLD):
                continue
            match = ClusterMatch(cand.cluster_id, cand.story_id, round(score, 3), same)
            best = _better(best, match)
        return best

    def _sharing(
        self, mine: tuple[str, ...], seen: set[int], weights: Mapping[str, float]
    ) -> list[int]:
        """Members that could reach the threshold, in the order a walk of ``mine``'s
        tokens would first meet them (earliest shared token, then age).

        Members sharing only generic tokens ("strike", "AI", the unions) score 0 by the
        vetoes, so those tokens' long lists are not walked; and since the union holds all
        of ``mine``, a member's score is at most the weight it shares over ``mine``'s
        weight, so members whose shared weight cannot reach :data:`THRESHOLD` are not
        scored. With thousands of recent stories, scoring them was most of a poll's time
        (``python -m bench``, feeds). The order is kept so that ties between equal
        scores go the same way as before.
        """
        position = {token: n for n, token in enumerate(mine)}
        shared: dict[int, float] = {}
        generic = 0.0
        for token in mine:
            weight = weights[token]
            if token in _GENERIC:
                generic += weight
                continue
            for i in self._postings.get(token, ()):
                shared[i] = shared.get(i, 0.0) + weight
        # A margin keeps float rounding from dropping a member right at the threshold.
        floor = THRESHOLD * sum(weights[t] for t in mine) * (1 - 1e-9) - generic
        ranked = []
        for i, weight in shared.items():
            if weight < floor or i in seen:
                continue
            tokens = self._items[i][1]
            ranked.append((min(position[t] for t in tokens if t in position), i))
        ranked.sort()
        return [i for _, i in ranked]


def _better(best: ClusterMatch | None, new: ClusterMatch) -> ClusterMatch:
    return new if best is None or new.score > best.score else best


def assign_cluster(
    title: str,
    outlet: str,
    when: datetime,
    candidates: Sequence[Candidate],
    *,
    url: str = "",
    window: timedelta = WINDOW,
) -> ClusterMatch | None:
    """The cluster a new story joins among ``candidates``, or ``None``.

    ``when`` is the story's publication time (else when it was first seen); candidates
    more than ``window`` away are ignored. The best-scoring member above the threshold
    decides; a same-outlet member counts only as the same article (same link, or a
    nearly identical title).
    """
    return ClusterIndex(candidates, window=window).match(title, outlet, when, url=url)
