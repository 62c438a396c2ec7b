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

The default threshold is :data:`DEFAULT_THRESHOLD` points; configurable per deployment.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable

from bot.models import AIMatch, Posting
from bot.text import unescape_deep

__all__ = ["DEFAULT_THRESHOLD", "classify"]

DEFAULT_THRESHOLD = 3.0

_TITLE_CAP = 6.0
_DEPARTMENT_CAP = 2.0
_DESCRIPTION_CAP = 2.5
_MAX_DESCRIPTION = 100_000
_MAX_DESCRIPTION_REASONS = 6

# (name shown in reasons, regex, points). Longer phrases come first so that they win
# over their parts ("causal inference" before "inference").
_TITLE_TERMS: tuple[tuple[str, str, float], ...] = (
    ("machine learning", r"machine[\s-]+learning", 3.5),
    ("MLOps", r"ml[\s-]?ops", 3.5),
    ("ML", r"ml|mle|ai/ml|ml/ai|aiml", 3.5),
    ("artificial intelligence", r"artificial[\s-]+intelligence", 3.5),
    ("GenAI", r"gen[\s-]?ai", 3.5),
    ("AI", r"ai|a\.i\.", 3.0),
    ("LLM", r"llms?|large[\s-]+language[\s-]+models?", 3.5),
    ("deep learning", r"deep[\s-]+learning", 3.5),
    ("computer vision", r"computer[\s-]+vision|machine[\s-]+vision", 3.5),
    ("NLP", r"nlp|nlu|natural[\s-]+language(?:[\s-]+(?:processing|understanding))?", 3.5),
    ("reinforcement learning", r"reinforcement[\s-]+learning|rlhf", 3.5),
    ("foundation models", r"foundation(?:al)?[\s-]+models?|frontier[\s-]+models?", 3.5),
    ("neural", r"neural(?:[\s-]+(?:networks?|rendering|nets?))?", 3.0),
    ("applied scientist", r"applied[\s-]+(?:research[\s-]+)?scientists?", 3.0),
    ("generative", r"generative", 3.0),
    ("diffusion", r"diffusion", 3.0),
    ("causal inference", r"causal[\s-]+inference|statistical[\s-]+inference", 1.0),
    ("inference", r"inference", 3.0),
    (
        "model training",
        r"model[\s-]+(?:training|evaluation|evals?|behaviou?r|serving|optimi[sz]ation)"
        r"|pre-?training|post-?training|fine-?tuning|evals",
        3.0,
    ),
    ("prompt engineering", r"prompt[\s-]+engineer(?:ing)?", 3.0),
    ("speech", r"speech[\s-]+(?:recognition|synthesis)|text[\s-]+to[\s-]+speech|asr|tts", 3.0),
    ("multimodal", r"multi-?modal", 2.5),
    ("interpretability", r"interpretability", 2.5),
    ("recommender systems", r"recommend(?:er|ation)s?(?:[\s-]+systems?)?", 2.0),
    ("agents", r"agentic|agents", 1.5),
    ("embeddings", r"embeddings?|vector[\s-]+search", 2.0),
    ("research scientist", r"research[\s-]+scientists?", 1.5),
    ("research engineer", r"research[\s-]+engineers?", 1.5),
    ("data scientist", r"data[\s-]+scien(?:tists?|ce)", 1.5),
    ("perception", r"perception", 1.5),
    ("alignment", r"alignment", 1.0),
    ("personalization", r"personali[sz]ation", 1.0),
    ("GPU", r"gpus?|cuda", 1.0),
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
        -10.0,
    ),
    (
        "recruiting or people role",
        r"recruit(?:er|ers|ing|ment)|talent[\s-]+acquisition|sourcer|people[\s-]+partner"
        r"|hr[\s-]+business[\s-]+partner|executive[\s-]+assistant",
        -10.0,
    ),
    (
        "legal, policy or finance role",
        r"counsel|paralegal|attorney|polic(?:y|ies)[\s-]+(?:manager|lead|analyst|director)"
        r"|accountant|financial[\s-]+controller|payroll|procurement",
        -10.0,
    ),
    (
        "AI tutor or data annotation role",
        r"(?:ai[\s-]+)?(?:tutors?|trainers?)|annotators?|data[\s-]+label(?:l)?ers?"
        r"|writing[\s-]+evaluators?|technical[\s-]+writer|copywriter",
        -10.0,
    ),
    (
        "3D/VFX modeling",
        r"(?:character|environment|hard[\s-]?surface|3d|prop|asset|creature|vehicle|cg"
        r"|organic|digital|texture|set|lighting|surfacing)[\s-]+(?:model(?:l)?(?:ers?|ing)"
        r"|artists?)|model(?:l)?ing[\s-]+artists?|sculpt(?:or|ing)",
        -6.0,
    ),
    (
        "financial or data modeling",
        r"financial[\s-]+model(?:l)?(?:ing|ers?|s)?|fp&a|data[\s-]+model(?:l)?(?:ers?|ing)"
        r"|dimensional[\s-]+model(?:l)?ing",
        -6.0,
    ),
    (
        "fashion or physical model",
        r"(?:fashion|fit|runway|scale|miniature)[\s-]+models?|model[\s-]+(?:maker|shop|builder)s?",
        -6.0,
    ),
    (
        "non-AI agent",
        r"(?:talent|travel|customer[\s-]+(?:service|support|care)|support|booking|sales|leasing"
        r"|insurance|real[\s-]+estate|literary|sports|music|call[\s-]+cent(?:er|re)"
        r"|service[\s-]+desk|endpoint|reservations?|ticketing|claims|field|patient|guest)"
        r"[\s-]+agents?|agent'?s?[\s-]+(?:assistant|trainee)|agency[\s-]+(?:assistant|coordinator)",
        -6.0,
    ),
    (
        "research outside ML",
        r"(?:market|marketing|ux|user|consumer|audience|design|customer|brand|media|qualitative"
        r"|survey|legal|clinical|economic|equity|investment|credit)[\s-]+research(?:ers?)?|uxr",
        -5.0,
    ),
    (
        "BI or reporting analyst",
        r"(?:bi|business[\s-]+intelligence|reporting|data|business|marketing|financial|finance"
        r"|product|insights?|analytics)[\s-]+analysts?|business[\s-]+intelligence"
        r"|tableau|looker|power[\s-]+bi",
        -3.0,
    ),
)

_DEPARTMENT_TERMS: tuple[tuple[str, str, float], ...] = (
    ("machine learning", r"machine[\s-]+learning|ml|mlops|ai/ml", 2.0),
    ("AI", r"ai|artificial[\s-]+intelligence|gen[\s-]?ai|generative", 2.0),
    ("deep learning", r"deep[\s-]+learning|computer[\s-]+vision|nlp|llms?", 2.0),
    ("data science", r"data[\s-]+science", 1.0),
    ("algorithms", r"algorithms?|personali[sz]ation|recommendations?", 1.0),
    ("research", r"research", 0.75),
)
_DEPARTMENT_NEGATIVES: tuple[tuple[str, str, float], ...] = (
    (
        "non-engineering department",
        r"sales|go[\s-]+to[\s-]+market|gtm|recruiting|talent[\s-]+acquisition|legal"
        r"|customer[\s-]+success",
        -2.0,
    ),
)

# Description vocabulary. Upper-case acronyms are matched case-sensitively (see below).
_DESCRIPTION_TERMS: tuple[tuple[str, str, float], ...] = (
    ("machine learning", r"machine[\s-]+learning", 1.0),
    ("deep learning", r"deep[\s-]+learning", 1.0),
    ("pytorch", r"pytorch", 1.0),
    ("tensorflow", r"tensorflow", 1.0),
    ("large language models", r"large[\s-]+language[\s-]+models?", 1.0),
    ("neural networks", r"neural[\s-]+(?:networks?|nets?)", 1.0),
    ("computer vision", r"computer[\s-]+vision", 1.0),
    ("natural language processing", r"natural[\s-]+language[\s-]+processing", 1.0),
    ("reinforcement learning", r"reinforcement[\s-]+learning|rlhf", 1.0),
    ("pre-training", r"pre-?training|post-?training", 1.0),
    ("foundation models", r"foundation[\s-]+models?", 1.0),
    ("diffusion models", r"diffusion[\s-]+models?", 1.0),
    ("generative AI", r"generative[\s-]+(?:ai|models?)|genai", 1.0),
    ("model training", r"model[\s-]+training|training[\s-]+(?:runs?|pipelines?)", 1.0),
    ("MLOps", r"mlops|ml[\s-]+ops", 1.0),
    ("fine-tuning", r"fine-?tun(?:e|ed|ing)", 0.8),
    ("model evaluation", r"model[\s-]+evaluation|evals", 0.7),
    ("hugging face", r"hugging[\s-]?face", 0.7),
    ("scikit-learn", r"scikit-learn|sklearn|xgboost", 0.7),
    ("recommender systems", r"recommend(?:er|ation)[\s-]+systems?", 0.7),
    ("multimodal", r"multi-?modal", 0.7),
    ("transformers", r"transformers?", 0.6),
    ("embeddings", r"embeddings?", 0.5),
    ("inference", r"inference", 0.5),
    ("CUDA", r"cuda", 0.5),
    ("feature engineering", r"feature[\s-]+engineering", 0.5),
    ("data science", r"data[\s-]+science", 0.3),
)
_DESCRIPTION_ACRONYMS: tuple[tuple[str, str, float], ...] = (
    ("LLM", r"LLMs?", 1.0),
    ("NLP", r"NLP", 1.0),
    ("ML", r"ML", 0.6),
    ("JAX", r"JAX", 0.6),
    ("AI", r"AI", 0.4),
    ("GPU", r"GPUs?", 0.3),
)


class _Table:
    """A term table compiled into one regex, plus a way back from a match to its term.

    The scanning regex is a plain alternation on lower-cased text (for the acronym table,
    on the text as is): without named groups, case folding or a leading look-behind, the
    regex engine can skip ahead on the first letters, which makes it about 7x faster on
    long descriptions. The boundary before a match is checked here instead: a letter or
    digit before it means it is inside another word ("maintenance", "Kaiser", "HTML").
    """

    __slots__ = ("_cache", "_each", "lower", "names", "regex", "weights")

    def __init__(self, terms: Iterable[tuple[str, str, float]], *, lower: bool) -> None:
        terms = tuple(terms)
        self.lower = lower
        self.names = tuple(name for name, _, _ in terms)
        self.weights = tuple(weight for _, _, weight in terms)
        body = "|".join(pattern for _, pattern, _ in terms)
        self.regex = re.compile(rf"(?:{body})(?![A-Za-z0-9])")
        self._each = tuple(re.compile(pattern) for _, pattern, _ in terms)
        self._cache: dict[str, int] = {}

    def hits(self, text: str) -> Counter[int]:
        """Term index -> how many times that term occurs as a word of its own."""
        if self.lower:
            text = text.lower()
        counts: Counter[int] = Counter()
        for m in self.regex.finditer(text):
            start = m.start()
            if start and (text[start - 1] in _WORD_CHARS or text[start - 4 : start] in _NEGATED):
                continue
            counts[self._term(m.group())] += 1
        return counts

    def _term(self, matched: str) -> int:
        index = self._cache.get(matched)
        if index is None:
            # The first term whose own pattern matches is the one the alternation took.
            index = next(
                (i for i, rx in enumerate(self._each) if rx.fullmatch(matched)), len(self._each)
            )
            if len(self._cache) < _CACHE_SIZE:
                self._cache[matched] = index
        return index


_WORD_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
_NEGATED = frozenset({"non-", "Non-", "NON-"})  # "ML research for non-AI fields"
_CACHE_SIZE = 4096

_TITLE = _Table(_TITLE_TERMS, lower=True)
_TITLE_NEG = _Table(_TITLE_NEGATIVES, lower=True)
_DEPARTMENT = _Table(_DEPARTMENT_TERMS, lower=True)
_DEPARTMENT_NEG = _Table(_DEPARTMENT_NEGATIVES, lower=True)
_DESCRIPTION = _Table(_DESCRIPTION_TERMS, lower=True)
_DESCRIPTION_CS = _Table(_DESCRIPTION_ACRONYMS, lower=False)
_SPACES = re.compile(r"\s+")


def classify(posting: Posting, *, threshold: float = DEFAULT_THRESHOLD) -> AIMatch:
    """Score ``posting`` as an AI/ML role; ``is_ai`` when the score reaches ``threshold``."""
    title = _tidy(posting.title)
    department = _tidy(posting.department)
    description = posting.description[:_MAX_DESCRIPTION]
    reasons: list[str] = []

    score = _score_table(_TITLE, title, "title", _TITLE_CAP, reasons)
    score += _score_table(_TITLE_NEG, title, "title", None, reasons)
    if department:
        score += _score_table(_DEPARTMENT, department, "department", _DEPARTMENT_CAP, reasons)
        score += _score_table(_DEPARTMENT_NEG, department, "department", None, reasons)
    if description:
        score += _score_description(description, reasons)
    score = round(score, 2)
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
    reasons.append(f"description: {terms} ({score:+.1f})")
    return score
