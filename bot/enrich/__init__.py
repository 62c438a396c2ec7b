"""Enrichment: the stage between a source's ``Posting`` and storage.

It sets ``salary`` (the structured ``pay`` a board gave, else what the text states, in
both cases with annual US dollars) and ``ai`` (is it an AI/ML role, and why). Pure and
synchronous: no I/O, so the pipeline can run it inline or in a thread. (News stories are
enriched by ``bot.enrich.news`` and ``bot.enrich.cluster``.)
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from bot.enrich.ai import DEFAULT_THRESHOLD, classify
from bot.enrich.rates import DEFAULT_RATES, annualise, rate_table
from bot.enrich.salary import parse_salary
from bot.models import AIMatch, Posting, Salary

# The parser, classifier and annualiser stay importable from their modules
# (bot.enrich.salary, .ai, .rates); config and the pipeline need only these.
__all__ = [
    "DEFAULT_RATES",
    "DEFAULT_THRESHOLD",
    "EnrichSettings",
    "enrich_posting",
    "enrichment",
    "rate_table",
]


@dataclass(frozen=True, slots=True)
class EnrichSettings:
    """How to enrich: currency rates (USD per unit), the AI score threshold, and the
    working hours in a year (days and weeks follow from it: 8-hour days, 40-hour weeks)."""

    rates: Mapping[str, float] = field(default_factory=lambda: DEFAULT_RATES)
    ai_threshold: float = DEFAULT_THRESHOLD
    hours_per_year: float = 2080


def enrich_posting(posting: Posting, settings: EnrichSettings) -> Posting:
    """A copy of ``posting`` with ``salary`` and ``ai`` set."""
    salary, ai = enrichment(posting, settings)
    return replace(posting, salary=salary, ai=ai)


def enrichment(posting: Posting, settings: EnrichSettings) -> tuple[Salary | None, AIMatch]:
    """What :func:`enrich_posting` sets: the salary (annualised) and the AI match."""
    hint = _location_currency(posting.location)
    salary = _structured(posting.pay, hint)
    if salary is None:
        salary = parse_salary(f"{posting.title}\n{posting.description}", hint_currency=hint)
    if salary is not None:
        hours = settings.hours_per_year
        salary = annualise(
            salary,
            settings.rates,
            hours_per_year=hours,
            days_per_year=hours / 8,
            weeks_per_year=hours / 40,
        )
    return salary, classify(posting, threshold=settings.ai_threshold)


def _structured(pay: Salary | None, hint: str | None) -> Salary | None:
    """A board's own pay field, tidied; ``None`` when it states no figure."""
    if pay is None or (pay.min is None and pay.max is None):
        return None
    currency = (pay.currency or "").strip().upper() or hint or "USD"
    low, high = pay.min, pay.max
    if low is not None and high is not None and low > high:
        low, high = high, low
    return replace(pay, min=low, max=high, currency=currency)


# Where a posting is tells which dollar a bare "$" (or "CA$") means; only an unambiguous
# location gives a hint. Order does not matter: two different answers mean no hint.
_LOCATION_CURRENCY: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (code, re.compile(pattern))
    for code, pattern in (
        (
            "CAD",
            r"\b(?:Canada|Toronto|Vancouver|Montr[eé]al|Ottawa|Calgary|Edmonton|Waterloo"
            r"|Ontario|Quebec|Québec|British Columbia|Alberta)\b",
        ),
        (
            "USD",
            r"\b(?:United States|USA|U\.S\.|US|California|New York|NYC|Los Angeles|San Francisco"
            r"|Seattle|Austin|Boston|Chicago|Atlanta|Burbank|Santa Clara|Santa Monica|Orlando"
            r"|Washington|Denver|Miami|Culver City|Palo Alto|Mountain View|Sunnyvale)\b"
            r"|,\s?(?:CA|NY|WA|TX|MA|IL|GA|CO|OR|NC|FL|NJ|PA|VA|DC|UT|AZ|MN|TN)\b",
        ),
        ("GBP", r"\b(?:United Kingdom|UK|London|Manchester|Edinburgh|England|Scotland)\b"),
        (
            "EUR",
            r"\b(?:Germany|Berlin|Munich|France|Paris|Amsterdam|Netherlands|Dublin|Ireland"
            r"|Spain|Madrid|Barcelona|Italy|Milan|Lisbon|Portugal|Brussels|Vienna|Helsinki)\b",
        ),
        (
            "INR",
            r"\b(?:India|Bangalore|Bengaluru|Mumbai|Hyderabad|Pune|Chennai|Delhi|Gurgaon"
            r"|Gurugram|Noida)\b",
        ),
        ("AUD", r"\b(?:Australia|Sydney|Melbourne|Brisbane)\b"),
        ("PLN", r"\b(?:Poland|Warsaw|Krak[oó]w|Wroc[lł]aw)\b"),
        ("JPY", r"\b(?:Japan|Tokyo)\b"),
        ("CHF", r"\b(?:Switzerland|Z[uü]rich|Geneva)\b"),
        ("SGD", r"\bSingapore\b"),
        ("COP", r"\b(?:Colombia|Bogot[aá]|Medell[ií]n)\b"),
    )
)


def _location_currency(location: str) -> str | None:
    """The currency a bare "$" means where the posting is, when only one fits."""
    if not location:
        return None
    if len(location) > _LOCATION_KEY_MAX:  # hostile text is not kept
        return _currency_near(location)
    return _remembered_currency(location)


def _currency_near(location: str) -> str | None:
    found = {code for code, pattern in _LOCATION_CURRENCY if pattern.search(location)}
    return found.pop() if len(found) == 1 else None


# A board's postings share a handful of locations: eleven searches each (~11 us) ran
# for every posting; remembered, ~2 % of a cold cycle's worker time goes (python -m bench).
_remembered_currency = functools.lru_cache(maxsize=4096)(_currency_near)
_LOCATION_KEY_MAX = 200
