"""Is a posting an AI/ML role, and why (issue 2, item 6; ../shared/REAL-DATA.md "Job titles").

A score is summed from three places, each reported as a reason:

- **title**: strong terms ("machine learning", "ML", "AI", "LLM", "computer vision",
  "applied scientist", "inference", ...) and weaker ones that need support from the team
  or the text ("data scientist", "research scientist", "agents"); capped, so a title
  listing five buzzwords is not five times an AI role.
- **department/team**: "Machine Learning", "AI Research", "Data Science", "Algorithms".
- **description**: ML vocabulary (PyTorch, fine-tuning, LLMs, ...) with diminishing returns
  (each repeat of a term counts less, and the total approaches a cap), so boilerplate that
  mentions AI ten times cannot make a role AI on its own.

Negatives come from the title: "AI" sales, recruiting, solutions and tutoring roles at AI
companies; VFX and animation modelers; financial modeling; talent, travel and customer
service agents; research outside ML (market, UX); BI analysts. "AI" must be a word of its
own: "maintenance", "Kaiser", "email", "Thailand" and "said" never match, nor "ML" in "HTML".

The score is on Marquee's 0..1 scale (the sum, clamped): one strong title term is 0.5 to
0.6, a weak one 0.15 to 0.25, the team up to 0.35, the text up to 0.4, and a negative
role from -0.5 to -1.5. The default threshold, :data:`DEFAULT_THRESHOLD` (0.5), is
configurable (``[enrich] ai_threshold``). Reasons show each part, e.g.
``"title: machine learning (+0.6)"``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator

from bot.enrich._literals import LiteralStarts, top_level
from bot.models import AIMatch, Posting
from bot.text import unescape_deep

__all__ = ["DEFAULT_THRESHOLD", "classify"]

DEFAULT_THRESHOLD = 0.5

_TITLE_CAP = 1.0
_DEPARTMENT_CAP = 0.35
_DESCRIPTION_CAP = 0.4
_MAX_DESCRIPTION = 100_000
_MAX_TITLE = 1_000
_MAX_DESCRIPTION_REASONS = 6

# (name shown in reasons, regex, points). Longer phrases come first so that they win
# over their parts ("causal inference" before "inference").
_TITLE_TERMS: tuple[tuple[str, str, float], ...] = (
    ("machine learning", r"machine[\s-]+learning", 0.6),
    ("MLOps", r"ml[\s-]?ops", 0.6),
    ("ML", r"ml|mle|ai/ml|ml/ai|aiml", 0.6),
    ("artificial intelligence", r"artificial[\s-]+intelligence", 0.6),
    ("GenAI", r"gen[\s-]?ai", 0.6),
    ("AI", r"ai|a\.i\.", 0.5),
    ("LLM", r"llms?|large[\s-]+language[\s-]+models?", 0.6),
    ("deep learning", r"deep[\s-]+learning", 0.6),
    ("computer vision", r"computer[\s-]+vision|machine[\s-]+vision", 0.6),
    ("NLP", r"nlp|nlu|natural[\s-]+language(?:[\s-]+(?:processing|understanding))?", 0.6),
    ("reinforcement learning", r"reinforcement[\s-]+learning|rlhf", 0.6),
    ("foundation models", r"foundation(?:al)?[\s-]+models?|frontier[\s-]+models?", 0.6),
    ("neural", r"neural(?:[\s-]+(?:networks?|rendering|nets?))?", 0.5),
    ("applied scientist", r"applied[\s-]+(?:research[\s-]+)?scientists?", 0.5),
    ("generative", r"generative", 0.5),
    ("diffusion", r"diffusion", 0.5),
    ("causal inference", r"causal[\s-]+inference|statistical[\s-]+inference", 0.15),
    ("inference", r"inference", 0.5),
    (
        "model training",
        r"model[\s-]+(?:training|evaluation|evals?|behaviou?r|serving|optimi[sz]ation)"
        r"|pre-?training|post-?training|fine-?tuning|evals",
        0.5,
    ),
    ("prompt engineering", r"prompt[\s-]+engineer(?:ing)?", 0.5),
    ("speech", r"speech[\s-]+(?:recognition|synthesis)|text[\s-]+to[\s-]+speech|asr|tts", 0.5),
    ("multimodal", r"multi-?modal", 0.4),
    ("interpretability", r"interpretability", 0.4),
    ("recommender systems", r"recommend(?:er|ation)s?(?:[\s-]+systems?)?", 0.35),
    ("agents", r"agentic|agents", 0.25),
    ("embeddings", r"embeddings?|vector[\s-]+search", 0.35),
    ("research scientist", r"research[\s-]+scientists?", 0.25),
    ("research engineer", r"research[\s-]+engineers?", 0.25),
    ("data scientist", r"data[\s-]+scien(?:tists?|ce)", 0.25),
    ("perception", r"perception", 0.25),
    ("alignment", r"alignment", 0.15),
    ("personalization", r"personali[sz]ation", 0.15),
    ("GPU", r"gpus?|cuda", 0.15),
)

# Title phrases that mean "not an AI/ML engineering role" whatever else the title says.
_TITLE_NEGATIVES: tuple[tuple[str, str, float], ...] = (
    (
        "go-to-market or support role",
        r"account[\s-]+(?:executive|manager|director)|business[\s-]+development|bdr|sdr"
        r"|sales[\s-]+(?:representative|rep|manager|director|executive|lead|associate|engineer"
        r"|development|specialist|operations|enablement|consultant|partner)s?"
        r"|(?:head|vp|vice[\s-]+president|director)[\s-]+of[\s-]+sales"
        r"|(?:enterprise|inside|field|channel|strategic|public[\s-]+sector)[\s-]+sales"
        r"|solutions?[\s-]+(?:engineer|architect|consultant|specialist|lead)s?"
        r"|customer[\s-]+(?:success|support|experience)|support[\s-]+specialist"
        r"|(?:product[\s-]+|growth[\s-]+|content[\s-]+|field[\s-]+)?marketing[\s-]+"
        r"(?:manager|lead|director|specialist|coordinator|associate|partner)"
        r"|product[\s-]+marketing|partner(?:ships?)?[\s-]+(?:manager|lead|director)"
        r"|go[\s-]+to[\s-]+market|gtm|community[\s-]+manager|public[\s-]+relations"
        r"|communications[\s-]+(?:manager|lead|director)",
        -1.5,
    ),
    (
        "recruiting or people role",
        r"recruit(?:er|ers|ing|ment)|talent[\s-]+acquisition|sourcer|people[\s-]+partner"
        r"|hr[\s-]+business[\s-]+partner|executive[\s-]+assistant",
        -1.5,
    ),
    (
        "legal, policy or finance role",
        r"counsel|paralegal|attorney|polic(?:y|ies)[\s-]+(?:manager|lead|analyst|director)"
        r"|accountant|financial[\s-]+controller|payroll|procurement",
        -1.5,
    ),
    (
        "AI tutor or data annotation role",
        r"(?:ai[\s-]+)?(?:tutors?|trainers?)|annotators?|data[\s-]+label(?:l)?ers?"
        r"|writing[\s-]+evaluators?|technical[\s-]+writer|copywriter",
        -1.5,
    ),
    (
        "3D/VFX modeling",
        r"(?:character|environment|hard[\s-]?surface|3d|prop|asset|creature|vehicle|cg"
        r"|organic|digital|texture|set|lighting|surfacing)[\s-]+(?:model(?:l)?(?:ers?|ing)"
        r"|artists?)|model(?:l)?ing[\s-]+artists?|sculpt(?:or|ing)",
        -1.0,
    ),
    (
        "financial or data modeling",
        r"financial[\s-]+model(?:l)?(?:ing|ers?|s)?|fp&a|data[\s-]+model(?:l)?(?:ers?|ing)"
        r"|dimensional[\s-]+model(?:l)?ing",
        -1.0,
    ),
    (
        "fashion or physical model",
        r"(?:fashion|fit|runway|scale|miniature)[\s-]+models?|model[\s-]+(?:maker|shop|builder)s?",
        -1.0,
    ),
    (
        "non-AI agent",
        r"(?:talent|travel|customer[\s-]+(?:service|support|care)|support|booking|sales|leasing"
        r"|insurance|real[\s-]+estate|literary|sports|music|call[\s-]+cent(?:er|re)"
        r"|service[\s-]+desk|endpoint|reservations?|ticketing|claims|field|patient|guest)"
        r"[\s-]+agents?|agent'?s?[\s-]+(?:assistant|trainee)|agency[\s-]+(?:assistant|coordinator)",
        -1.0,
    ),
    (
        "research outside ML",
        r"(?:market|marketing|ux|user|consumer|audience|design|customer|brand|media|qualitative"
        r"|survey|legal|clinical|economic|equity|investment|credit)[\s-]+research(?:ers?)?|uxr",
        -0.8,
    ),
    (
        "BI or reporting analyst",
        r"(?:bi|business[\s-]+intelligence|reporting|data|business|marketing|financial|finance"
        r"|product|insights?|analytics)[\s-]+analysts?|business[\s-]+intelligence"
        r"|tableau|looker|power[\s-]+bi",
        -0.5,
    ),
)

_DEPARTMENT_TERMS: tuple[tuple[str, str, float], ...] = (
    ("machine learning", r"machine[\s-]+learning|ml|mlops|ai/ml", 0.35),
    ("AI", r"ai|artificial[\s-]+intelligence|gen[\s-]?ai|generative", 0.35),
    ("deep learning", r"deep[\s-]+learning|computer[\s-]+vision|nlp|llms?", 0.35),
    ("data science", r"data[\s-]+science", 0.15),
    ("algorithms", r"algorithms?|personali[sz]ation|recommendations?", 0.15),
    ("research", r"research", 0.1),
)
_DEPARTMENT_NEGATIVES: tuple[tuple[str, str, float], ...] = (
    (
        "non-engineering department",
        r"sales|go[\s-]+to[\s-]+market|gtm|recruiting|talent[\s-]+acquisition|legal"
        r"|customer[\s-]+success",
        -0.35,
    ),
)

# Description vocabulary. Upper-case acronyms are matched case-sensitively (see below).
_DESCRIPTION_TERMS: tuple[tuple[str, str, float], ...] = (
    ("machine learning", r"machine[\s-]+learning", 0.16),
    ("deep learning", r"deep[\s-]+learning", 0.16),
    ("pytorch", r"pytorch", 0.16),
    ("tensorflow", r"tensorflow", 0.16),
    ("large language models", r"large[\s-]+language[\s-]+models?", 0.16),
    ("neural networks", r"neural[\s-]+(?:networks?|nets?)", 0.16),
    ("computer vision", r"computer[\s-]+vision", 0.16),
    ("natural language processing", r"natural[\s-]+language[\s-]+processing", 0.16),
    ("reinforcement learning", r"reinforcement[\s-]+learning|rlhf", 0.16),
    ("pre-training", r"pre-?training|post-?training", 0.16),
    ("foundation models", r"foundation[\s-]+models?", 0.16),
    ("diffusion models", r"diffusion[\s-]+models?", 0.16),
    ("generative AI", r"generative[\s-]+(?:ai|models?)|genai", 0.16),
    ("model training", r"model[\s-]+training|training[\s-]+(?:runs?|pipelines?)", 0.16),
    ("MLOps", r"mlops|ml[\s-]+ops", 0.16),
    ("fine-tuning", r"fine-?tun(?:e|ed|ing)", 0.13),
    ("model evaluation", r"model[\s-]+evaluation|evals", 0.11),
    ("hugging face", r"hugging[\s-]?face", 0.11),
    ("scikit-learn", r"scikit-learn|sklearn|xgboost", 0.11),
    ("recommender systems", r"recommend(?:er|ation)[\s-]+systems?", 0.11),
    ("multimodal", r"multi-?modal", 0.11),
    ("transformers", r"transformers?", 0.1),
    ("embeddings", r"embeddings?", 0.08),
    ("inference", r"inference", 0.08),
    ("CUDA", r"cuda", 0.08),
    ("feature engineering", r"feature[\s-]+engineering", 0.08),
    ("data science", r"data[\s-]+science", 0.05),
)
_DESCRIPTION_ACRONYMS: tuple[tuple[str, str, float], ...] = (
    ("LLM", r"LLMs?", 0.16),
    ("NLP", r"NLP", 0.16),
    ("ML", r"ML", 0.1),
    ("JAX", r"JAX", 0.1),
    ("AI", r"AI", 0.06),
    ("GPU", r"GPUs?", 0.05),
)


class _Table:
    """A term table compiled into one regex, plus a way back from a match to its term.

    The scanning regex is a plain alternation on lower-cased text (for the acronym table,
    on the text as is): without named groups, case folding or a leading look-behind, the
    regex engine can skip ahead on the first letters, which makes it about 7x faster on
    long descriptions. The boundary before a match is checked here instead: a letter or
    digit before it means it is inside another word ("maintenance", "Kaiser", "HTML").

    With ``prefilter``, the regex is only tried where one of the alternatives' leading
    words occurs (:class:`~bot.enrich._literals.LiteralStarts`): it scanned every
    position of which the first letter begins a term (most lower-case letters), 89 ->
    36 us for a 5 KB description (python -m bench data, 100 boards), every match the same.
    """

    __slots__ = ("_cache", "_each", "_starts", "lower", "names", "regex", "weights")

    def __init__(
        self, terms: Iterable[tuple[str, str, float]], *, lower: bool, prefilter: bool = False
    ) -> None:
        terms = tuple(terms)
        self.lower = lower
        self.names = tuple(name for name, _, _ in terms)
        self.weights = tuple(weight for _, _, weight in terms)
        body = _by_first_letter([p for _, p, _ in terms]) or "|".join(p for _, p, _ in terms)
        self.regex = re.compile(rf"(?:{body})(?![A-Za-z0-9])")
        self._each = tuple(re.compile(pattern) for _, pattern, _ in terms)
        self._cache: dict[str, int] = {}
        patterns = [p for _, p, _ in terms]
        self._starts = LiteralStarts.build(self.regex, patterns) if prefilter else None

    def hits(self, text: str) -> dict[int, int]:
        """Term index -> how many times that term occurs as a word of its own."""
        if self.lower:
            text = text.lower()
        counts: dict[int, int] = {}
        cache = self._cache
        for m in self._matches(text):
            start = m.start()
            if start and (text[start - 1] in _WORD_CHARS or text[start - 4 : start] in _NEGATED):
                continue
            matched = m.group()
            index = cache.get(matched)
            if index is None:
                index = self._term(matched)
            counts[index] = counts.get(index, 0) + 1
        return counts

    def _matches(self, text: str) -> Iterator[re.Match[str]]:
        """``self.regex.finditer(text)``: the same matches, found faster with a prefilter."""
        if self._starts is None:
            return self.regex.finditer(text)
        return self._starts.finditer(text)

    def _term(self, matched: str) -> int:
        index = self._cache.get(matched)
        if index is None:
            # The first term whose own pattern matches is the one the alternation took.
            index = next(
                (i for i, rx in enumerate(self._each) if rx.fullmatch(matched)), len(self._each)
            )
            # Hostile text can match "machine" + a megabyte of spaces + "learning".
            if len(self._cache) < _CACHE_SIZE and len(matched) <= _CACHE_KEY_MAX:
                self._cache[matched] = index
        return index


def _by_first_letter(patterns: Iterable[str]) -> str | None:
    """The alternation of ``patterns`` regrouped by first letter, or ``None`` when an
    alternative does not start with a plain letter or digit.

    ``a...|b...|a...`` becomes ``a(?:...|...)|b(?:...)``: at each position the engine
    then tests one first letter instead of every alternative, which scans a 5 KB
    description about twice as fast (``python -m bench``, cold ingest). It matches
    exactly what the flat alternation matches: alternatives starting with different
    letters never both match at one position, and within a letter the order is kept,
    so the same alternative wins.
    """
    groups: dict[str, list[str]] = {}
    for pattern in patterns:
        for alternative in top_level(pattern):
            first, rest = alternative[:1], alternative[1:]
            if not (first.isascii() and first.isalnum()) or rest[:1] in ("?", "*", "+", "{"):
                return None
            groups.setdefault(first, []).append(rest)
    return "|".join(f"{first}(?:{'|'.join(rests)})" for first, rests in groups.items())


_WORD_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
_NEGATED = frozenset({"non-", "Non-", "NON-"})  # "ML research for non-AI fields"
_CACHE_SIZE = 4096
_CACHE_KEY_MAX = 64

_TITLE = _Table(_TITLE_TERMS, lower=True)
_TITLE_NEG = _Table(_TITLE_NEGATIVES, lower=True)
_DEPARTMENT = _Table(_DEPARTMENT_TERMS, lower=True)
_DEPARTMENT_NEG = _Table(_DEPARTMENT_NEGATIVES, lower=True)
_DESCRIPTION = _Table(_DESCRIPTION_TERMS, lower=True, prefilter=True)
# The acronyms' first letters are capitals, rarer than the lower-case table's, but the
# regex engine still tried them at each capital: 28 -> 17 us a 5 KB description with
# the prefilter (python -m bench data), every match the same (tests/test_ai_classifier.py).
_DESCRIPTION_CS = _Table(_DESCRIPTION_ACRONYMS, lower=False, prefilter=True)
_SPACES = re.compile(r"\s+")


def classify(posting: Posting, *, threshold: float = DEFAULT_THRESHOLD) -> AIMatch:
    """Score ``posting`` as an AI/ML role; ``is_ai`` when the score reaches ``threshold``."""
    title = _tidy(posting.title[:_MAX_TITLE])
    department = _tidy(posting.department[:_MAX_TITLE])
    description = posting.description[:_MAX_DESCRIPTION]
    reasons: list[str] = []

    score = _score_table(_TITLE, title, "title", _TITLE_CAP, reasons)
    score += _score_table(_TITLE_NEG, title, "title", None, reasons)
    if department:
        score += _score_table(_DEPARTMENT, department, "department", _DEPARTMENT_CAP, reasons)
        score += _score_table(_DEPARTMENT_NEG, department, "department", None, reasons)
    if description:
        score += _score_description(description, reasons)
    # 0..1 like every score in Marquee; the points in the reasons show how it was reached.
    score = round(min(1.0, max(0.0, score)), 3)
    return AIMatch(is_ai=score >= threshold, score=score, reasons=tuple(reasons))


def _tidy(text: str) -> str:
    if "&" in text:
        text = unescape_deep(text)
    return _SPACES.sub(" ", text).strip()


def _score_table(
    table: _Table, text: str, where: str, cap: float | None, reasons: list[str]
) -> float:
    """Each term counts once; positives are capped at ``cap``."""
    total = 0.0
    for index in table.hits(text):
        weight = table.weights[index]
        total += weight
        reasons.append(f"{where}: {table.names[index]} ({weight:+g})")
    if cap is not None and total > cap:
        reasons.append(f"{where}: capped at {cap:+g}")
        total = cap
    return total


def _score_description(description: str, reasons: list[str]) -> float:
    """ML vocabulary with diminishing returns: log-damped repeats, total approaching a cap."""
    found: list[tuple[float, str, int]] = []
    for table in (_DESCRIPTION, _DESCRIPTION_CS):
        for index, count in table.hits(description).items():
            points = table.weights[index] * (1 + 0.5 * math.log2(min(count, 8)))
            found.append((points, table.names[index], count))
    if not found:
        return 0.0
    raw = sum(points for points, _, _ in found)
    score = _DESCRIPTION_CAP * (1 - math.exp(-raw / _DESCRIPTION_CAP))
    found.sort(key=lambda item: -item[0])
    terms = ", ".join(
        f"{name} ×{count}" if count > 1 else name
        for _, name, count in found[:_MAX_DESCRIPTION_REASONS]
    )
    more = len(found) - _MAX_DESCRIPTION_REASONS
    if more > 0:
        terms += f" and {more} more"
    reasons.append(f"description: {terms} ({score:+.2f})")
    return score
