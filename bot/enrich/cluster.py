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
  no conflicting sectors (a video-game deal is not the TV/theatrical deal), no
  conflicting events (a strike authorised is not a strike ended), no conflicting
  figures ($8 million is not $7 million) and no other name in the same place (templated
  trade headlines: "Ava Chen joins ..." is not "Kwame Chen joins ...");
* the search is **bounded**: among thousands of recent look-alikes only the stories
  sharing the new one's rare words are scored (see ``_WALK``);
* two stories of the **same outlet** join only when they are the same article (same
  link, or nearly the same title): a follow-up by the same outlet is a new story.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from itertools import combinations, repeat

__all__ = [
    "WINDOW",
    "Candidate",
    "ClusterIndex",
    "ClusterMatch",
    "Prepared",
    "assign_cluster",
    "outlet_key",
    "prepare_headline",
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

# Names headlines use for the same thing, with the plain substrings a match needs: a
# pattern runs only on a headline holding one of them (most hold none).
_PHRASES: tuple[tuple[re.Pattern[str], str, tuple[str, ...]], ...] = tuple(
    (re.compile(p), r, hints)
    for p, r, hints in (
        (r"\bsag[\s-]?aftra\b|\bscreen actors guild\b", " sagaftra ", ("sag", "screen")),
        (
            r"\bwriters guild(?: of america)?(?: west| east)?\b|\bwga[ew]?\b",
            " wga ",
            ("writers", "wga"),
        ),
        (
            r"\balliance of motion picture and television producers\b|\bamptp\b",
            " studio ",
            ("alliance", "amptp"),
        ),
        (r"\bartificial intelligence\b|\ba\.i\.", " ai ", ("artificial", "a.i.")),
        (r"\bvideo[\s-]?games?\b", " videogame ", ("video",)),
        (r"\binteractive media agreement\b", " videogame deal ", ("interactive",)),
        (r"\bi\.a\.t\.s\.e\.|\biatse\b", " iatse ", ("i.a.t.s.e.", "iatse")),
        (r"\bu\.s\.", " us ", ("u.s.",)),
        (r"\bactors'? unions?\b", " sagaftra ", ("actor",)),
        (r"\bwriters'? unions?\b", " wga ", ("writer",)),
        (r"\bwalk(?:ed|s|ing)?[\s-]?out\b|\bwork stoppage\b", " strike ", ("walk", "work")),
    )
)
_ANY_HINT = re.compile("|".join(re.escape(h) for _p, _r, hints in _PHRASES for h in hints))
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
# as sets: a headline's classes are found by one set intersection, not a walk of its tokens
_SECTOR_TOKENS = frozenset(_SECTORS)
_EVENT_TOKENS = frozenset(_EVENTS)


def title_tokens(title: str, outlet: str = "") -> tuple[str, ...]:
    """The normalised tokens of a headline (order kept, duplicates dropped)."""
    return _headline(title, outlet)[0]


# A headline is usually tokenised twice in a row (matched, then added): remembered.
@lru_cache(maxsize=4096)
def _headline(title: str, outlet: str) -> tuple[tuple[str, ...], frozenset[str]]:
    """The tokens of a headline, and those of its words that name someone or something:
    the capitalised words inside a sentence-case headline ("Ava Chen signs with Apple
    TV+": ava, chen, apple). A Title Case headline capitalises every word, so it names
    nothing this way; generic words (the unions, "Hollywood") are never names."""
    text = title.strip()
    if outlet:
        for sep in (" - ", " | ", " – ", " — "):
            head, found, tail = text.rpartition(sep)
            if found and tail.strip().casefold() == outlet.strip().casefold():
                text = head
                break
    lowered = text.lower().replace("’", "'").replace("‘", "'")
    # The capitals are read beside the lower-case text, position for position, unless a
    # phrase was replaced or lower-casing changed the length.
    aligned = len(lowered) == len(text)
    if _ANY_HINT.search(lowered):
        for pattern, replacement, hints in _PHRASES:
            if any(hint in lowered for hint in hints):
                replaced = pattern.sub(replacement, lowered)
                aligned = aligned and replaced == lowered
                lowered = replaced
    tokens: dict[str, None] = {}
    if not aligned:
        for raw in _WORD.findall(lowered):
            token = _token(raw)
            if token:
                tokens[token] = None
        return tuple(tokens), _names(text, tokens)
    starts = _starts(lowered)
    capitals: list[str] = []
    words = upper = 0
    # A sentence's first word is capitalised anyway: it is a name only when the next
    # word is capitalised too ("Ava Chen signs", "Warner Bros. and ...", not "Layoffs hit").
    opening = ""
    for m in _WORD.finditer(lowered):
        raw = m.group()
        token = _token(raw)
        start = m.start()
        capital = text[start].isupper()
        if len(raw) > 3 and raw[0].isalpha():
            words += 1
            upper += capital
        if opening and capital and start not in starts:
            capitals.append(opening)
        opening = ""
        if token:
            tokens[token] = None
            if capital and token not in _GENERIC:
                if start in starts:
                    opening = token
                else:
                    capitals.append(token)
    title_case = words and upper * 5 >= 4 * words
    return tuple(tokens), frozenset() if title_case else frozenset(capitals)


# Headline words repeat endlessly; stemming each once is most of tokenising.
_TOKEN_CACHE: dict[str, str] = {}


def _token(raw: str) -> str:
    token = _TOKEN_CACHE.get(raw)
    if token is None:
        token = _stem_word(raw)
        if len(_TOKEN_CACHE) < 1 << 16:
            _TOKEN_CACHE[raw] = token
    return token


def _stem_word(raw: str) -> str:
    word = raw.strip(".'")
    if not word or word in _STOPWORDS:
        return ""
    stem = _stem(word)
    stem = _SYNONYMS.get(word, _SYNONYMS.get(stem, stem))
    return stem if stem not in _STOPWORDS else ""


_CASED_WORD = re.compile(r"[A-Za-z][A-Za-z0-9.'’]*")
# Where a headline's sentence starts again: its first word is capitalised anyway.
_BREAKS = (":", ";", "?", "!", "|", "-", "–", "—")
_SENTENCE = re.compile(r"^|[:;?!|]\s+|\s[-–—]\s+")


def _starts(text: str) -> set[int]:
    """Where ``text``'s sentences start (see _SENTENCE); most headlines have one."""
    if any(mark in text for mark in _BREAKS):
        return {m.end() for m in _SENTENCE.finditer(text)}
    return {0}


def _names(text: str, tokens: Mapping[str, None]) -> frozenset[str]:
    """The names of :func:`_headline`, read word by word from the cased text (when the
    lower-case text no longer lines up with it)."""
    words = [(m.start(), m.group()) for m in _CASED_WORD.finditer(text)]
    long = [w for _, w in words if len(w) > 3]
    if not long or sum(w[0].isupper() for w in long) * 5 >= 4 * len(long):
        return frozenset()
    starts = _starts(text)
    names = set()
    for start, word in words:
        if not word[0].isupper() or start in starts:
            continue
        token = _token(word.lower().replace("’", "'"))
        if token in tokens and token not in _GENERIC:
            names.add(token)
    return frozenset(names)


@lru_cache(maxsize=4096)
def outlet_key(outlet: str) -> str:
    """Outlet names compared loosely: "The Hollywood Reporter" == "Hollywood Reporter"."""
    words = re.findall(r"[a-z0-9]+", outlet.casefold())
    if words and words[0] == "the":
        words = words[1:]
    return " ".join(words)


# A token's weight is its IDF times a factor fixed by the token itself (numbers weigh
# more, generic words less): the factor is remembered, the IDF is not (it moves).
_FACTORS: dict[str, float] = {}


def _factor(token: str) -> float:
    factor = _FACTORS.get(token)
    if factor is None:
        factor = 1.5 if any(c.isdigit() for c in token) else 1.0
        if token in _GENERIC:
            factor *= 0.5
        if len(_FACTORS) < 1 << 17:
            _FACTORS[token] = factor
    return factor


def _weight(token: str, df: int, docs: int) -> float:
    return math.log((docs + _PRIOR_DOCS) / (df + 1)) * _factor(token)


# the weight of a token no story in the window holds
_DEFAULT_WEIGHT = math.log(_PRIOR_DOCS)


def _weights(docs: Iterable[Sequence[str]]) -> dict[str, float]:
    docs = list(docs)
    df = Counter(t for doc in docs for t in set(doc))
    return {token: _weight(token, count, len(docs)) for token, count in df.items()}


def similarity(a: Sequence[str], b: Sequence[str], weights: Mapping[str, float]) -> float:
    """Weighted Jaccard of two token sets, after the vetoes (0.0 when one applies)."""
    return _similarity(_Tokens(tuple(a)), _Tokens(tuple(b)), weights)


# A number as headlines write it: "45", "$45", "45%", "$4.5m", "2bn".
_NUMBER = re.compile(r"\$?(\d+)(?:\.(\d+))?(?:%|[kmb]|bn)?")


def _number(token: str) -> tuple[float, float] | None:
    """A figure and how precisely it is written (half its last digit's unit)."""
    m = _NUMBER.fullmatch(token)
    if m is None:
        return None
    whole, decimals = m.groups()
    if not decimals:
        return float(whole), 0.5
    return float(f"{whole}.{decimals}"), 0.5 * 10.0 ** -len(decimals)


def _numbers_clash(na: frozenset[tuple[float, float]], nb: frozenset[tuple[float, float]]) -> bool:
    """Both headlines give figures and none of them agree: a box office of $8 million is
    not the one of $7 million, day 45 of a strike is not day 46. Figures agree to the
    precision of the rounder one: "$81.5 million" is "$82 million"."""
    if not na or not nb or not na.isdisjoint(nb):
        return False
    return not any(abs(x - y) <= max(px, py) for x, px in na for y, py in nb)


# what a token holding a figure holds (see _Tokens)
_FIGURE = re.compile(r"[$0-9]")


#: A headline prepared for clustering, as :func:`prepare_headline` returns it: plain
#: values (tokens in order, names, sector and event classes, figures), so it can be
#: made in a worker process and cross back with the story's relevance scores.
Prepared = tuple[
    tuple[str, ...], frozenset[str], frozenset[str], frozenset[str], frozenset[tuple[float, float]]
]


class _Tokens:
    """A headline's tokens as a set, with the sector and event classes, the figures and
    the names they hold: prepared once per story instead of once per comparison."""

    __slots__ = ("events", "names", "numbers", "sectors", "seq", "set")

    def __init__(self, tokens: tuple[str, ...], names: frozenset[str] = frozenset()) -> None:
        self.seq = tokens
        self.set = frozenset(tokens)
        self.names = names
        self.sectors = frozenset(_SECTORS[t] for t in self.set & _SECTOR_TOKENS)
        self.events = frozenset(_EVENTS[t] for t in self.set & _EVENT_TOKENS)
        if _FIGURE.search(" ".join(tokens)) is None:  # most headlines give no figure
            self.numbers: frozenset[tuple[float, float]] = frozenset()
            return
        numbers = (_number(t) for t in self.set if t[-1:].isdigit() or t[:1] in "$0123456789")
        self.numbers = frozenset(n for n in numbers if n is not None)

    @classmethod
    def of(cls, prepared: Prepared) -> _Tokens:
        """The tokens :func:`prepare_headline` made (in this process or another)."""
        self = cls.__new__(cls)
        seq, self.names, self.sectors, self.events, self.numbers = prepared
        # Tokens unpickled from a worker are new strings each poll: the index's dicts
        # find a key by identity first, so one string per token saves a compare per
        # look-up (20,000 bench headlines: 1.53 -> 1.26 s). Bounded: hostile feeds
        # send endless new words.
        if len(_SAME) > 1 << 17:
            _SAME.clear()
        same = _SAME.setdefault
        self.seq = seq = tuple([same(t, t) for t in seq])
        self.set = frozenset(seq)
        return self


_SAME: dict[str, str] = {}


# A story is prepared when matched and again when added: remembered in between.
@lru_cache(maxsize=1024)
def _prepared(title: str, outlet: str) -> _Tokens:
    return _Tokens(*_headline(title, outlet))


def prepare_headline(title: str, outlet: str = "") -> Prepared:
    """What :class:`ClusterIndex` needs of a headline, computed ahead: tokenising is a
    quarter of a match, and pure, so a poll's headlines are prepared in a worker process
    with their relevance (``bot.enrich.news.finish_stories``)."""
    t = _Tokens(*_headline(title, outlet))
    return (t.seq, t.names, t.sectors, t.events, t.numbers)


def _similarity(a: _Tokens, b: _Tokens, weights: Mapping[str, float]) -> float:
    sa, sb = a.set, b.set
    shared = sa & sb
    if len(shared) < 2 or shared <= _GENERIC:
        return 0.0
    if _clash(a.sectors, b.sectors) or _clash(a.events, b.events):
        return 0.0
    if _numbers_clash(a.numbers, b.numbers) or _names_clash(a, b, shared):
        return 0.0
    get = weights.get
    inter = sum(map(get, shared, repeat(_DEFAULT_WEIGHT)))
    union = sum(map(get, sa | sb, repeat(_DEFAULT_WEIGHT)))
    return inter / union if union else 0.0


def _names_clash(a: _Tokens, b: _Tokens, shared: frozenset[str]) -> bool:
    """Each headline names someone the other does not, in the same place between the
    words they share: "Ava Chen signs with Apple" is not "Kwame Chen signs with Apple",
    nor is a deal with Disney the deal with Netflix. Templated trade headlines differ
    only there (python -m bench, feeds: two box-office stories scored 0.42)."""
    only_a = a.names - shared
    if not only_a:
        return False
    only_b = b.names - shared
    if not only_b:
        return False
    return not _places(a.seq, shared, only_a).isdisjoint(_places(b.seq, shared, only_b))


def _places(seq: Sequence[str], shared: frozenset[str], names: frozenset[str]) -> set[tuple]:
    """Where ``names`` stand in ``seq``: after which shared token, and before which."""
    places: set[tuple] = set()
    before: str | None = None
    pending = False
    for token in seq:
        if token in shared:
            if pending:
                places.add(("before", token))
                pending = False
            before = token
        elif token in names:
            places.add(("after", before))
            pending = True
    if pending:
        places.add(("before", None))
    return places


def _clash(ca: set[str], cb: set[str]) -> bool:
    """Both name classes (sectors, or events) and none in common."""
    return bool(ca and cb and not (ca & cb))


# Bounds on the work of one match. Templated trade headlines ("Box office: '…' opens to
# $N million in …") share their frame words with hundreds of recent stories; walking
# and scoring all of those was most of an ingest's time (python -m bench, feeds: 63 %).
#
# * While the lists of the new story's words hold at most _WALK postings in all, they
#   are walked in full (the exact search; a small window always takes this road).
# * Beyond that, candidates come from *pairs* of words: every story is also filed under
#   the pairs of its _PAIRED rarest words, and a match walks the pairs of its own rarest
#   words, rarest pair first, up to _PAIR_WALK postings. The same event told twice
#   shares its rare words (names, figures), so it shares their pairs; a story sharing
#   only the frame ("box office", "opens", "million") is not met at all.
# * Either way, at most _TOP members, those sharing the most weight, are scored.
_WALK = 200
_PAIRED = 6
_PAIR_WALK = 64
_TOP = 4


@dataclass(slots=True)
class _Entry:
    cand: Candidate
    tokens: tuple[str, ...]
    key: str  # outlet_key(cand.outlet)
    prepared: _Tokens


def _pairs(rare: Sequence[str]) -> list[tuple[str, str]]:
    """The pairs a story is filed under: two of its rare words, not both generic (a
    pair of generic words is vetoed anyway), in sorted order."""
    ordered = sorted(rare)
    generic = _GENERIC.intersection(ordered)
    if len(generic) < 2:
        return list(combinations(ordered, 2))
    return [(a, b) for a, b in combinations(ordered, 2) if a not in generic or b not in generic]


class ClusterIndex:
    """Recent stories, indexed for :meth:`match`: tokens are computed once per story,
    document frequencies are kept as stories come and go, and only stories sharing the
    new one's rare words are scored (see _WALK above).

    It can live as long as the window it mirrors: :meth:`add` a story once it is
    clustered, :meth:`remove` it when it leaves the window (or its title changed).
    """

    def __init__(self, candidates: Iterable[Candidate] = (), *, window: timedelta = WINDOW):
        self.window = window
        self._items: list[_Entry | None] = []
        # the last headline matched, kept for add() (a story is added right after it
        # is matched)
        self._last: tuple[Prepared, _Tokens] | None = None
        self._slots: dict[int, int] = {}  # story id -> index in _items
        self._dead = 0
        self._df: Counter[str] = Counter()
        self._postings: dict[str, list[int]] = {}
        self._pair_postings: dict[tuple[str, str], list[int]] = {}
        self._by_url: dict[str, list[int]] = {}
        self._by_set: dict[frozenset[str], list[int]] = {}
        for cand in candidates:
            self.add(cand)

    def __len__(self) -> int:
        return len(self._slots)

    def __contains__(self, story_id: object) -> bool:
        return story_id in self._slots

    def add(self, cand: Candidate, *, prepared: Prepared | None = None) -> None:
        """Make ``cand`` a candidate for the stories matched after it (a story already
        in the index is replaced). ``prepared``: its headline's
        :func:`prepare_headline`, when made ahead."""
        if cand.story_id in self._slots:
            self.remove(cand.story_id)
        if prepared is None:
            made = _prepared(cand.title, cand.outlet)
        elif self._last is not None and self._last[0] is prepared:
            made = self._last[1]
        else:
            made = _Tokens.of(prepared)
        self._last = None
        tokens = made.seq
        index = len(self._items)
        self._items.append(_Entry(cand, tokens, outlet_key(cand.outlet), made))
        self._slots[cand.story_id] = index
        df = self._df
        postings = self._postings
        for token in tokens:
            df[token] += 1
            lst = postings.get(token)
            if lst is None:
                postings[token] = [index]
            else:
                lst.append(index)
        if len(tokens) > 1:
            pair_postings = self._pair_postings
            rare = sorted(tokens, key=lambda t: (df[t], t))[:_PAIRED]
            for pair in _pairs(rare):
                lst = pair_postings.get(pair)
                if lst is None:
                    pair_postings[pair] = [index]
                else:
                    lst.append(index)
        if cand.url:
            self._by_url.setdefault(cand.url, []).append(index)
        self._by_set.setdefault(made.set, []).append(index)

    def remove(self, story_id: int) -> Candidate | None:
        """Forget a story (it left the window) and return it; unknown ids are ignored."""
        index = self._slots.pop(story_id, None)
        if index is None:
            return None
        entry = self._items[index]
        assert entry is not None
        self._items[index] = None
        df = self._df
        for token in entry.tokens:
            df[token] -= 1
            if not df[token]:
                del df[token]
        # The lists keep the slot until they are rebuilt; walks skip it.
        self._dead += 1
        if self._dead > 1024 and self._dead > len(self._slots):
            self._compact()
        return entry.cand

    def relabel(self, story_id: int, cluster_id: int) -> None:
        """Record that a story's cluster is now known as ``cluster_id``."""
        index = self._slots.get(story_id)
        if index is not None:
            entry = self._items[index]
            assert entry is not None
            c = entry.cand
            if c.cluster_id != cluster_id:
                # the constructor, not dataclasses.replace (~5x its cost)
                entry.cand = Candidate(c.story_id, cluster_id, c.title, c.outlet, c.when, c.url)

    def _compact(self) -> None:
        """Rebuild the lists without the removed stories (same order)."""
        live = [entry.cand for entry in self._items if entry is not None]
        self._items, self._slots, self._dead = [], {}, 0
        self._df, self._postings, self._pair_postings = Counter(), {}, {}
        self._by_url, self._by_set = {}, {}
        for cand in live:
            self.add(cand)

    def candidates(self) -> Iterator[Candidate]:
        """The stories in the index, in the order added."""
        return (entry.cand for entry in self._items if entry is not None)

    def match(
        self,
        title: str,
        outlet: str,
        when: datetime,
        *,
        url: str = "",
        prepared: Prepared | None = None,
    ) -> ClusterMatch | None:
        """The cluster a new story joins, or ``None`` (see :func:`assign_cluster`).
        ``prepared``: the headline's :func:`prepare_headline`, when made ahead."""
        if prepared is None:
            mine_prepared = _prepared(title, outlet)
        else:
            mine_prepared = _Tokens.of(prepared)
            self._last = (prepared, mine_prepared)
        mine = mine_prepared.seq
        me = outlet_key(outlet)
        docs = len(self._slots) + 1
        df = self._df
        # _weight(t, df + 1, docs) of each, inline (a dozen tokens a story)
        log, total, factors = math.log, docs + _PRIOR_DOCS, _FACTORS
        weights = {
            t: log(total / (df.get(t, 0) + 2)) * (factors.get(t) or _factor(t)) for t in mine
        }
        seen: set[int] = set()
        best: ClusterMatch | None = None
        items = self._items
        window = self.window
        # The same link is the same article: those members first, in the order added.
        for i in self._by_url.get(url, ()) if url else ():
            entry = items[i]
            if entry is None:
                continue
            cand = entry.cand
            if abs(cand.when - when) <= window:
                seen.add(i)
                same = entry.key == me
                best = _better(best, ClusterMatch(cand.cluster_id, cand.story_id, 1.0, same))
        if best is None:
            # The same words (syndicated copy, a retold headline) score 1.0, which nothing
            # beats: the oldest such member decides, as it would in the full walk below.
            for i in self._by_set.get(mine_prepared.set, ()):
                entry = items[i]
                if entry is None or abs(entry.cand.when - when) > window:
                    continue
                for t in entry.tokens:
                    if t not in weights:  # _weight(t, df[t], docs), inline
                        weights[t] = log(total / (df[t] + 1)) * (factors.get(t) or _factor(t))
                score = _similarity(mine_prepared, entry.prepared, weights)
                if score >= THRESHOLD:  # a perfect score passes the same-outlet bar too
                    cand = entry.cand
                    return ClusterMatch(
                        cand.cluster_id, cand.story_id, round(score, 3), entry.key == me
                    )
                break  # the same words score the same: all vetoed
        members = self._sharing(mine, seen, weights)
        if not members:
            return best
        for i in members:
            entry = items[i]
            assert entry is not None
            cand = entry.cand
            if abs(cand.when - when) > window:
                continue
            for t in entry.tokens:
                if t not in weights:  # _weight(t, df[t], docs), inline
                    weights[t] = log(total / (df[t] + 1)) * (factors.get(t) or _factor(t))
            score = _similarity(mine_prepared, entry.prepared, weights)
            same = entry.key == me
            if score < (SAME_OUTLET_THRESHOLD if same else THRESHOLD):
                continue
            match = ClusterMatch(cand.cluster_id, cand.story_id, round(score, 3), same)
            best = _better(best, match)
        return best

    def _sharing(
        self, mine: tuple[str, ...], seen: set[int], weights: Mapping[str, float]
    ) -> list[int]:
        """The members worth scoring, in the order a walk of ``mine``'s tokens would
        first meet them (earliest shared token, then age): ties between equal scores go
        the same way whatever the bounds cut.

        Members sharing only generic tokens ("strike", "AI", the unions) score 0 by the
        vetoes, so those tokens' long lists are not walked. When the walk is exact, and
        since the union holds all of ``mine``, a member's score is at most the weight it
        shares over ``mine``'s weight: members whose shared weight cannot reach
        :data:`THRESHOLD` are not scored.
        """
        postings = self._postings
        items = self._items
        df = self._df
        order = []
        generic = 0.0
        total = 0
        for n, token in enumerate(mine):
            if token in _GENERIC:
                generic += weights[token]
                continue
            lst = postings.get(token)
            if lst:
                order.append((n, lst, weights[token]))
                total += df[token]  # the live members (a list keeps removed ones a while)
        shared: dict[int, float] = {}
        if total <= _WALK:
            for _n, lst, weight in order:
                _credit(shared, lst, weight)
            # A margin keeps float rounding from dropping a member right at the threshold.
            floor = THRESHOLD * sum(weights[t] for t in mine) * (1 - 1e-9) - generic
        else:
            self._walk_pairs(mine, weights, shared)
            floor = 0.0
        if seen or self._dead:
            found = [
                (weight, i)
                for i, weight in shared.items()
                if weight >= floor and i not in seen and items[i] is not None
            ]
        elif floor > 0.0:
            found = [(weight, i) for i, weight in shared.items() if weight >= floor]
        else:  # every weight is positive (see _weight): all of them, built in C
            found = list(zip(shared.values(), shared.keys(), strict=True))
        if len(found) > _TOP:
            # the _TOP largest, as heapq.nlargest finds them but in one sort in C (no
            # two entries are equal: their indexes differ)
            found.sort(reverse=True)
            del found[_TOP:]
        position = {token: n for n, token in enumerate(mine)}
        ranked = []
        for _shared_weight, i in found:
            entry = items[i]
            assert entry is not None
            ranked.append((min(position[t] for t in entry.tokens if t in position), i))
        ranked.sort()
        return [i for _, i in ranked]

    def _walk_pairs(
        self, mine: tuple[str, ...], weights: Mapping[str, float], shared: dict[int, float]
    ) -> None:
        """Add to ``shared`` the members filed under pairs of ``mine``'s rare words,
        rarest pair first, up to :data:`_PAIR_WALK` postings (a long list is cut to its
        most recent ones)."""
        df = self._df
        pair_postings = self._pair_postings
        rare = sorted(mine, key=lambda t: (df.get(t, 0), t))[:_PAIRED]
        order = []
        for pair in _pairs(rare):
            lst = pair_postings.get(pair)
            if lst:
                order.append((len(lst), pair, lst))
        order.sort()
        budget = _PAIR_WALK
        for length, (a, b), lst in order:
            if length > budget:
                lst = lst[-budget:]
            _credit(shared, lst, weights[a] + weights[b])
            budget -= length
            if budget <= 0:
                break


def _credit(shared: dict[int, float], members: list[int], weight: float) -> None:
    """``shared[i] += weight`` for each member (0.0 when absent). A plain loop: on
    CPython 3.11 it beats ``shared.update(zip(members, map(add, map(shared.get, ...))))``
    at every list length the walks meet (3 members: 0.85 against 3.2 us; 40: 5.6
    against 9.7 us), the iterator objects costing more than the loop they save."""
    get = shared.get
    for i in members:
        shared[i] = get(i, 0.0) + weight


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
