"""Reading pay ranges out of posting text (issue 2, item 5; ../shared/REAL-DATA.md).

The parser is a small scanner plus a scorer, not one giant regex:

1. ``_clean``: undo leftover HTML entities (``&nbsp;``, ``&mdash;``, double escaping) and
   markdown (``\\-``, ``**``) so ``"$136,878\\- $195,540"`` reads as plain text.
2. ``_scan``: only the text around currency markers (``$ £ € ₹``, ISO codes, lakh/LPA) is
   tokenised. There one regex reads each figure: a number with any thousands separator
   (``184,000``, ``55.000``, ``184 000``, ``$98, 000``, ``15,00,000``), an optional
   magnitude (``k``, ``M``, ``Lakhs``, ``LPA``) and currency suffix (``USD``, ``(USD)``,
   ``€``); a look back reads the prefix (``$``, ``US$``, ``USD $``, ``CA$``, ``PLN``...) and
   a look ahead the unit (``/hour``, ``per year``, ``PA``). About 2,000-6,000 descriptions
   of 3-8 KB a second on one core, depending on how much money they mention.
3. ``_candidates``: two tokens joined only by a dash, "to", "and up to", "between ... and",
   or by nothing at all (markup ate the dash: ``"$204,000$254,000 USD"``) form a range;
   one end may lack the currency or the magnitude (``"£55 - £65k"``).
4. ``_judge``: each candidate is scored on its shape and its context: the nearest context
   word before it decides (pay words such as salary/range/OTE add, benefit and business
   words such as 401(k)/stipend/relocation/ARR/funding subtract) and a benefit or business
   word right after it subtracts. It is kept only if its annual value is plausible
   (between about US$3,000 and US$50M a year; no cap on real pay, $1.2M is real).
   :func:`parse_salary` returns the first base or total range, else the first OTE one.

Currency rules for the dollar sign:

- An explicit code or symbol wins, from either end of the range (``$8.500.000 COP``).
- ``CA$``/``C$`` is Canadian, except when ``hint_currency`` is ``"USD"`` or the text places
  the job in California (California, Los Angeles, San Francisco, ``, CA``...) without any
  Canadian place: some US boards write ``CA$149,007`` for California pay.
- A bare ``$`` is ``hint_currency`` when that is a dollar currency (CAD, AUD, ...), else USD.
- No currency at all: Indian units (lakh, LPA) mean INR; otherwise the range is read only
  when a pay word introduces it and ``hint_currency`` is given.

A range stated in two periods (``"$70.67/hour to $208,000/year"``) is expressed in the
longer one, converting with 2080 hours, 260 days, 52 weeks or 12 months a year. With no
period stated or implied nearby, it is inferred from the size: up to about US$400 an hour,
from about US$10,000 a year, in between a month (Colombian and Polish pay is monthly).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from bot.enrich._literals import LiteralStarts
from bot.enrich.rates import DEFAULT_RATES
from bot.models import PayKind, Period, Salary
from bot.text import unescape_deep

__all__ = ["find_salaries", "parse_salary"]

# Longest text examined; job descriptions are 3-8 KB, anything far bigger is hostile.
_MAX_TEXT = 200_000
_MAX_SNIPPET = 200
_WINDOW_BEFORE = 40
_WINDOW_AFTER = 60

_CODES = (
    "USD|CAD|GBP|EUR|AUD|NZD|INR|PLN|COP|JPY|CHF|SEK|NOK|DKK|SGD|HKD|MXN|BRL|ILS|ZAR|CNY|KRW"
    "|CZK|HUF|RON|AED|ARS|CLP|TWD"
)
# Dollar prefixes written before "$". "CA" is ambiguous (Canada or California).
_DOLLAR_PREFIX = {
    "US": "USD",
    "USA": "USD",
    "USD": "USD",
    "CA": "CA$",
    "C": "CA$",
    "CAN": "CAD",
    "CAD": "CAD",
    "AU": "AUD",
    "A": "AUD",
    "AUD": "AUD",
    "NZ": "NZD",
    "NZD": "NZD",
    "S": "SGD",
    "SG": "SGD",
    "SGD": "SGD",
    "HK": "HKD",
    "HKD": "HKD",
    "MX": "MXN",
    "MXN": "MXN",
    "R": "BRL",
    "COL": "COP",
}
_SYMBOLS = {"$": "$", "£": "GBP", "€": "EUR", "₹": "INR", "¥": "JPY", "₩": "KRW", "zł": "PLN"}
_DOLLAR_CURRENCIES = frozenset({"USD", "CAD", "AUD", "NZD", "SGD", "HKD", "MXN"})

# Where money can be: a currency symbol or code, or an Indian unit. Only the text around
# these is tokenised. A false hit (a code inside a word) only costs a look.
# Every alternative starts with a literal character, so the regex engine skips ahead with
# a character-set test instead of trying each alternative at each position (10x faster).
_ANCHOR = re.compile(
    "|".join(
        [r"\$", "£", "€", "₹", "¥", "₩", "zł", "Rs"]
        + [f"{code}(?![a-z])" for code in _CODES.split("|")]
        + ["Lakh", "lakh", "LAKH", "LPA", "lpa", "Lpa", r"Lacs?\b", r"lacs?\b"]
    )
)

_PAY_WORDS = [
    "Salar",
    "salar",
    "Compensation",
    "compensation",
    "Pay",
    "pay",
    "Gehalt",
    "Wynagrodzenie",
]
_ANCHOR_WITH_PAY_WORDS = re.compile(f"{_ANCHOR.pattern}|{'|'.join(_PAY_WORDS)}")
# The pay words start with common letters (p, s, c), where the regex engine would try
# the whole alternation: with them, the anchors are looked for only where one of the
# alternatives' leading words occurs, the same matches (bot/enrich/_literals.py). On the
# bench's descriptions, 91 -> ~55 us for 5 KB; without the pay words the plain regex is
# faster (~36 us) and stays.
_PAY_ANCHORS = LiteralStarts.build(_ANCHOR_WITH_PAY_WORDS, [_ANCHOR_WITH_PAY_WORDS.pattern])
# A pay word right before a range that names no currency: then the hint's currency applies.
_PAY_WORD_BEFORE = re.compile(
    r"(?i:salary|salaries|pay|compensation|base|range|gehalt|wynagrodzenie|salaire)\W{0,3}$"
)

# A figure: the number with any thousands separator, a magnitude, a currency after it.
# It starts at a digit; the currency before it is read by _PREFIX.
_NUMBER = re.compile(
    rf"""
    (?P<num>
        (?P<indian>\d{{1,2}}(?:,\d\d)+,\d{{3}}(?!\d))
      | \d{{1,3}}(?P<sep>[,.'\u202f ])\d{{3}}(?!\d)(?:(?P=sep)\d{{3}}(?!\d))*
            (?:(?!(?P=sep))[.,]\d{{1,2}}(?!\d))?
      | \d{{1,3}},[ ]\d{{3}}(?!\d)(?![,.]\d)
      | \d{{1,12}}(?:\.\d+|,\d{{1,2}}(?!\d))?
    )
    (?P<mag>
        (?:[kKmMbBL]|MM|mm|bn|Cr)(?![A-Za-z])
      | [ ]?(?i:million|mil|billion|lakhs?|lacs?|lpa|crores?)(?![A-Za-z])
    )?
    (?P<post>
        [ ]?(?:[€£$₹](?![ ]?\d)|zł)
      | [ ]?\(?(?P<cpost>{_CODES})\)?(?![a-z])(?![ ]?\$)
    )?
    """,
    re.X,
)
# The currency written just before a figure, searched in the few characters before it.
_PREFIX = re.compile(
    rf"""
    (?:
        (?<![A-Za-z])(?P<dpre>USA|USD|US|CAN|CAD|CA|C|AUD|AU|A|NZD|NZ|SGD|SG|S|HKD|HK|MXN|MX|R|COL)\$
      | (?<![A-Za-z])(?P<cpre>{_CODES})(?![A-Za-z])(?:[ ]?\$)?
      | (?P<spre>[$£€₹¥₩]|(?<![A-Za-z])Rs\.?)
    )
    [ ]{{0,2}}\Z
    """,
    re.X,
)
_PREFIX_REACH = 8
_PREFIX_LAST = frozenset("$£€₹¥₩.s")  # "Rs", "Rs." end in s and .
_UNIT = re.compile(
    r"""[ ]?(?:
        (?:/|per\b|an?\b|each\b|every\b)[ ]?
        (?P<u>hours?|hrs?|h|years?|yrs?|annum|months?|mos?|weeks?|wks?|days?)
      | (?P<w>hourly|annually|annual|yearly|monthly|weekly|daily|p\.a\.|pa|p/a|pro[ ]Jahr)
    )(?![A-Za-z])""",
    re.X | re.I,
)
_UNIT_WORDS: dict[str, Period] = {
    "h": "hour",
    "hour": "hour",
    "hr": "hour",
    "hourly": "hour",
    "year": "year",
    "yr": "year",
    "annum": "year",
    "annually": "year",
    "annual": "year",
    "yearly": "year",
    "p.a.": "year",
    "pa": "year",
    "p/a": "year",
    "pro jahr": "year",
    "month": "month",
    "mo": "month",
    "monthly": "month",
    "week": "week",
    "wk": "week",
    "weekly": "week",
    "day": "day",
    "daily": "day",
}
# What a bare number is counting when it is not money: "40 hour work week", "10-20%".
_NOT_MONEY_AFTER = re.compile(
    r"[ ]?(?:%|\+|percent|years?|yrs?|hours?|hrs?|days?|weeks?|months?|employees|people"
    r"|users|customers|countries|offices|locations|members|x\b)",
    re.I,
)
_JOIN = re.compile(
    r"\s{0,3}(?:(?P<dash>[-–—−‐‑‒~]{1,3})"
    r"|(?P<word>to|through|thru|and(?:[ ]up)?[ ]to|up[ ]to|and|bis))?\s{0,3}",
    re.I,
)
_BETWEEN = re.compile(r"(?i:between|from|zwischen|entre)\s*$")

# The nearest of these words before a figure says what the figure is. Words are looked up
# in sets (fast: this runs for every figure near a currency sign); stems by prefix.
_WORD = re.compile(r"401\(?[kK]\)?|[^\W\d_]+")
# SIM905 is silenced below: word lists read better as prose than one string per line.
_NEGATIVE_WORDS = frozenset(
    """401(k) 401k retirement match matching stipend stipends allowance allowances relocation
    sign signing referral bonus bonuses tuition diem wellness arr revenue revenues raise raised
    raising funding funded valuation valued worth assets aum series grant grants budget spend
    spending prize prizes scholarship scholarships fund funds turnover sales cap backed profit
    profits income gift gifts credit credits discount fee fees price prices cost costs
    insurance deductible equity stock rsu rsus billing loan loans debt""".split()  # noqa: SIM905
)
_POSITIVE_WORDS = frozenset(
    """pay pays paying compensation comp base range ranges ote target wage wages rate rates
    hourly yearly starting begin begins gehalt vergütung brutto gross salaire rémunération
    wynagrodzenie ctc package tc zone zones tier tiers level levels band bands
    between""".split()  # noqa: SIM905
)
_NEGATIVE_STEMS = ("reimburs", "invest", "contribut", "donat")
_POSITIVE_STEMS = ("salar", "earn", "annual", "remunerat")
# A benefit or business noun right after the amount: "$5,000 signing bonus", "$2M in funding".
# "+ bonus" (a bonus on top of the range) does not start with the noun, so it does not count.
_NEG_AFTER = re.compile(
    r"\s{0,2}(?:(?:USD|in|of|per|for|annual|yearly|one[- ]time|cash|total|seed|a|an)\s+){0,2}"
    r"(?:signing|sign[- ]on|relocation|bonus|stipend|allowance|reimbursement|tuition|ARR"
    r"|revenue|funding|valuation|assets|AUM|sales|company|business|market|credits?|grants?"
    r"|budget|round|series|investment|equity|per[ ]employee|raise|in[ ]annual|match|prizes?"
    r"|diem|referrals?|gift|discount|rewards?|seed|donations?|fees?)\b",
    re.I,
)
_POS_AFTER = re.compile(
    r"\s{0,2}(?:USD\s*)?(?:\(?(?:base|salary|OTE|total|annual|per|gross|brutto|a year))", re.I
)
# A kind word right after the figure names it: "$120,000 base / $240,000 OTE".
_KIND_RIGHT_AFTER = re.compile(
    r"\s{0,2}\(?\s?(?:(?P<ote>OTE\b|on[- ]target)|(?P<total>total (?:target )?comp|TTC\b)"
    r"|(?P<base>base\b))",
    re.I,
)
_KIND = re.compile(
    r"(?P<ote>\bOTE\b|on[- ]target(?:[- ](?:earnings|compensation|income|pay))?|\bOTC\b)"
    r"|(?P<total>total[ ](?:target[ ]|annual[ ]|cash[ ])?comp(?:ensation)?\b|\bTTC\b|total[ ]cash)"
    r"|(?P<base>\bbase\b|basic[ ]salary|grundgehalt)",
    re.I,
)
# Netflix: "This market range is based on total compensation (vs. only base salary)".
_TOTAL_EVERYWHERE = re.compile(
    r"based on total (?:target )?compensation"
    r"|(?:range|ranges|figures?) (?:is|are|reflects?|represents?) (?:the )?total compensation",
    re.I,
)
_PERIOD_WORD = re.compile(
    r"(?P<hour>hourly|per[ ]hour|an[ ]hour|/[ ]?h(?:ou)?r\b|stundenlohn)"
    r"|(?P<year>annual(?:ly|ised|ized)?|yearly|per[ ]year|per[ ]annum|a[ ]year|/[ ]?y(?:ea)?r\b"
    r"|\bp\.a\.|\bPA\b|pro[ ]Jahr|jährlich|rocznie|par[ ]an\b)"
    r"|(?P<month>monthly|per[ ]month|a[ ]month|/[ ]?mo(?:nth)?\b|pro[ ]Monat|monatlich"
    r"|miesięcznie|mensuel|par[ ]mois)"
    r"|(?P<week>weekly|per[ ]week|a[ ]week)"
    r"|(?P<day>daily|per[ ]day|a[ ]day|day[ ]rate|/[ ]?day\b)",
    re.I,
)
_UP_TO = re.compile(r"(?i:up to|maximum(?: of)?|max\.?|as high as|not to exceed)\s*$")
_FROM = re.compile(r"(?i:from|starting (?:at|from)|starts at|minimum(?: of)?|min\.?|at least)\s*$")
# A window of context ends at a new line, a sentence end, or the next figure.
_STOP = re.compile(r"[\n;]|\.\s|\d")
_CALIFORNIA = re.compile(
    r"\bCalifornia\b|\b(?:Los Angeles|San Francisco|San Jose|San Diego|Bay Area|Silicon Valley"
    r"|Burbank|Santa Monica|Culver City|Palo Alto|Mountain View|Sunnyvale|Los Gatos)\b"
    r"|,[ ]?CA\b(?!\$)"
)
_CANADA = re.compile(
    r"\b(?:Canada|Canadian|Toronto|Vancouver|Montr[eé]al|Ottawa|Calgary|Edmonton|Ontario"
    r"|Quebec|Québec|British Columbia|Alberta|Waterloo)\b"
)
_MARKDOWN = re.compile(r"\\([\\`*_{}\[\]()#+\-.!$~|])|\*\*|__")
_ODD_SPACES = ("\u00a0", "\u2007", "\u2009", "\u202f", "\u200b", "\t")

_MAGNITUDE = {
    "k": 1e3,
    "m": 1e6,
    "mm": 1e6,
    "million": 1e6,
    "mil": 1e6,
    "b": 1e9,
    "bn": 1e9,
    "billion": 1e9,
    "l": 1e5,
    "lakh": 1e5,
    "lakhs": 1e5,
    "lac": 1e5,
    "lacs": 1e5,
    "lpa": 1e5,
    "cr": 1e7,
    "crore": 1e7,
    "crores": 1e7,
}
# Written-out Indian units imply rupees; "25L" or "2Cr" alone are too ambiguous.
_INDIAN_WORDS = frozenset({"lakh", "lakhs", "lac", "lacs", "lpa", "crore", "crores"})
_MILLIONS = frozenset({"m", "mm", "million", "mil"})
_PER_YEAR: dict[str, float] = {"hour": 2080, "day": 260, "week": 52, "month": 12, "year": 1}
_PERIOD_ORDER = ("hour", "day", "week", "month", "year")

# Plausible pay in annual US dollars (see the module docstring).
_MIN_ANNUAL_USD = 3_000
_MAX_ANNUAL_USD = 50_000_000
_MAX_RANGE_RATIO = 20  # Netflix market ranges span 7x and more
_ACCEPT = 2.0


@dataclass(slots=True)
class _Token:
    start: int
    end: int
    value: float
    magnitude: str  # "" when none, else a key of _MAGNITUDE
    currency: str | None  # ISO code, "$" (bare dollar), "CA$" (ambiguous), None
    period: Period | None
    not_money: bool  # a count ("40 hour", "15%") or a company-sized figure ("$2B")


@dataclass(slots=True)
class _Candidate:
    start: int
    end: int
    low: float | None
    high: float | None
    currency: str  # resolved ISO code, or "" when the text never said
    period: Period | None
    explicit_currency: bool
    is_range: bool
    millions: bool = False


def parse_salary(text: str, *, hint_currency: str | None = None) -> Salary | None:
    """The primary pay range stated in ``text``, or ``None`` when it states none."""
    found = find_salaries(text, hint_currency=hint_currency)
    if not found:
        return None
    # Base (or total) before OTE; a range before a lone figure; then the first stated.
    return min(
        enumerate(found),
        key=lambda item: (item[1].kind == "ote", not _is_range(item[1]), item[0]),
    )[1]


def _is_range(salary: Salary) -> bool:
    return salary.min is not None and salary.max is not None and salary.min != salary.max


def find_salaries(text: str, *, hint_currency: str | None = None) -> list[Salary]:
    """Every pay range or figure stated in ``text``, in the order they appear."""
    if not text:
        return []
    text = _clean(text[:_MAX_TEXT])
    hint = _normal_hint(hint_currency)
    context = _TextContext(text, hint)
    tokens = _scan(text, context)
    if not tokens:
        return []
    salaries: list[Salary] = []
    previous_end = 0
    for cand in _candidates(text, tokens, context):
        salary = _judge(text, cand, previous_end, context)
        if salary is not None:
            salaries.append(salary)
            previous_end = cand.end
    return salaries


def _clean(text: str) -> str:
    if "&" in text:
        text = unescape_deep(text)
    if "\\" in text or "**" in text or "__" in text:
        text = _MARKDOWN.sub(lambda m: m.group(1) or "", text)
    # Replaced one by one with str.replace, which finds them at memchr speed, when there
    # are any: a character class tried at every position of a 5 KB description cost
    # about a tenth of the parser's time. Same result as _ODD_SPACE.sub(" ", text).
    for odd in _ODD_SPACES:
        if odd in text:
            text = text.replace(odd, " ")
    return text


def _normal_hint(hint: str | None) -> str | None:
    if not hint:
        return None
    code = hint.strip().upper()
    return code if len(code) == 3 and code.isascii() and code.isalpha() else None


class _TextContext:
    """Facts about the whole text, computed at most once per call."""

    __slots__ = ("_california", "_total", "hint", "short", "text")

    def __init__(self, text: str, hint: str | None) -> None:
        self.text = text
        self.hint = hint
        # The whole input is a pay field ("$150,000", "PLN 184 000", "**US$** **35/hr**"),
        # not prose: a lone figure there is pay.
        self.short = len(text) <= 80 and len(_WORD.findall(text)) <= 4
        self._california: bool | None = None
        self._total: bool | None = None

    def dollar(self) -> str:
        return self.hint if self.hint in _DOLLAR_CURRENCIES else "USD"

    def canadian_dollar(self) -> str:
        if self.hint in ("USD", "CAD"):
            return self.hint
        if self._california is None:
            self._california = bool(_CALIFORNIA.search(self.text)) and not _CANADA.search(self.text)
        return "USD" if self._california else "CAD"

    def total_everywhere(self) -> bool:
        if self._total is None:
            # A plain substring test first: the case-insensitive regex scans slowly.
            text = self.text
            self._total = ("otal comp" in text or "OTAL COMP" in text) and bool(
                _TOTAL_EVERYWHERE.search(text)
            )
        return self._total


def _windows(text: str, anchor: re.Pattern[str] | LiteralStarts) -> list[tuple[int, int]]:
    """Stretches of text around currency markers: the only places a range can be.

    Tokenising only these keeps the parser fast on long descriptions full of other
    numbers (dates, years of experience, head counts). A range's far end is at most
    about 40 characters from a marker ("30 - 40 LPA", "$310,000 - 1,200,000").
    """
    spans: list[tuple[int, int]] = []
    size = len(text)
    for m in anchor.finditer(text):
        lo, hi = max(0, m.start() - _WINDOW_BEFORE), min(size, m.end() + _WINDOW_AFTER)
        if spans and lo <= spans[-1][1]:
            spans[-1] = (spans[-1][0], hi)
        else:
            spans.append((lo, hi))
    return spans


def _scan(text: str, context: _TextContext) -> list[_Token]:
    tokens: list[_Token] = []
    # With a hint, "Salary: 60,000 - 75,000" can be read too: look near pay words as well.
    anchor = (_PAY_ANCHORS or _ANCHOR_WITH_PAY_WORDS) if context.hint else _ANCHOR
    for lo, hi in _windows(text, anchor):
        _scan_window(text, lo, hi, tokens)
    return tokens


def _scan_window(text: str, lo: int, hi: int, tokens: list[_Token]) -> None:
    for m in _NUMBER.finditer(text, lo, hi):
        start = m.start()
        if start and text[start - 1] in "0123456789.,":
            continue  # the tail of a number cut by the window or already read
        if tokens and start < tokens[-1].end:
            continue  # already read as part of the previous token's unit
        currency: str | None = None
        prefix = None
        # Most figures ("5+ years", "2024") have no currency before them: look at the last
        # non-space character before running the prefix regex.
        before = text[max(0, start - 3) : start].rstrip(" ")
        if before and (before[-1] in _PREFIX_LAST or before[-1].isupper()):
            prefix = _PREFIX.search(text, max(0, start - _PREFIX_REACH), start)
        if prefix:
            if prefix["dpre"]:
                currency = _DOLLAR_PREFIX[prefix["dpre"]]
            elif prefix["cpre"]:
                currency = prefix["cpre"]
            else:
                currency = _SYMBOLS.get(prefix["spre"], "INR")  # Rs / Rs.
            start = prefix.start()
        post = m["post"]
        if post:
            code = m["cpost"] or _SYMBOLS.get(post.strip())
            # An explicit code after the figure beats a bare "$" before it ("$8.500.000 COP").
            if code and (currency is None or currency in ("$", "CA$")):
                currency = code
        magnitude = (m["mag"] or "").strip().lower()
        if m["indian"]:  # "₹15,00,000": lakh grouping
            value = float(m["num"].replace(",", ""))
        else:
            value = _number(m["num"], m["sep"], bool(magnitude))
        end = m.end()
        period: Period | None = None
        unit = _UNIT.match(text, end)
        if unit:
            word = (unit["u"] or unit["w"]).lower()
            period = _UNIT_WORDS.get(word) or _UNIT_WORDS.get(word.rstrip("s"))
            end = unit.end()
        if magnitude == "lpa":
            period = "year"
        if magnitude in _INDIAN_WORDS and currency is None:
            currency = "INR"
        not_money = magnitude in ("b", "bn", "billion")
        if currency is None and period is None and not magnitude:
            not_money = bool(_NOT_MONEY_AFTER.match(text, end))
        tokens.append(_Token(start, end, value, magnitude, currency, period, not_money))


def _number(digits: str, sep: str | None, has_magnitude: bool) -> float:
    """The value of a figure, reading its separators: "184,000", "55.000", "$102.8K"."""
    if sep is None and ", " in digits:  # "$98, 000"
        return float(digits.replace(", ", ""))
    if sep is None:
        return float(digits.replace(",", "."))
    groups = digits.split(sep)
    # "$1.500M": one dot group before a magnitude is a decimal point, not thousands.
    if has_magnitude and sep in ".," and len(groups) == 2:
        return float(f"{groups[0]}.{groups[1]}")
    joined = "".join(groups)
    # The decimal part uses the other separator: "138,000.00", "1.234,56".
    return float(joined.replace(",", "."))


def _candidates(text: str, tokens: list[_Token], context: _TextContext):
    """Ranges and lone figures, in order; a token belongs to at most one candidate."""
    i = 0
    n = len(tokens)
    while i < n:
        tok = tokens[i]
        if tok.not_money:
            i += 1
            continue
        if i + 1 < n:
            pair = _pair(text, tok, tokens[i + 1], context)
            if pair is not None:
                yield pair
                i += 2
                continue
        if tok.currency is not None:
            yield _single(text, tok, context)
        i += 1


def _pair(text: str, a: _Token, b: _Token, context: _TextContext) -> _Candidate | None:
    if b.not_money or (a.currency is None and b.currency is None and not context.hint):
        return None
    if b.start - a.end > 12:
        return None
    join = _JOIN.fullmatch(text, a.end, b.start)
    if join is None:
        return None
    word = (join["word"] or "").lower()
    # Figures side by side ("$184,050 $262,928", "$204,000$254,000") are a range only
    # when both carry a currency; a bare number next to money is something else.
    if not join["dash"] and not word and (a.currency is None or b.currency is None):
        return None
    if word == "and" and not _BETWEEN.search(text, max(0, a.start - 20), a.start):
        return None
    currency = _range_currency(a.currency, b.currency, context)
    # "Salary: 60,000 - 75,000" in a London posting: the location names the currency.
    hinted = context.hint and (join["dash"] or word == "to")
    if currency is None and hinted and _PAY_WORD_BEFORE.search(text, max(0, a.start - 30), a.start):
        currency = (context.hint, False)
    if currency is None:
        return None
    low, high = a.value, b.value
    mag_a, mag_b = a.magnitude, b.magnitude
    # "£55 - £65k", "₹ 25-27 Lakhs": the unit written once applies to both ends.
    if mag_b and not mag_a and a.value * _MAGNITUDE[mag_b] <= b.value * _MAGNITUDE[mag_b]:
        mag_a = mag_b
    elif mag_a and not mag_b and b.value < a.value * _MAGNITUDE[mag_a] / 10:
        mag_b = mag_a
    low *= _MAGNITUDE.get(mag_a, 1.0)
    high *= _MAGNITUDE.get(mag_b, 1.0)
    period = b.period or a.period
    if a.period and b.period and a.period != b.period:
        # "$70.67/hour to $208,000/year": state both in the longer period.
        period = max(a.period, b.period, key=_PERIOD_ORDER.index)
        low = low * _PER_YEAR[a.period] / _PER_YEAR[period]
        high = high * _PER_YEAR[b.period] / _PER_YEAR[period]
    if low > high:
        low, high = high, low
    if low <= 0 or high / low > _MAX_RANGE_RATIO:
        return None
    resolved, explicit = currency
    millions = mag_a in _MILLIONS or mag_b in _MILLIONS
    return _Candidate(a.start, b.end, low, high, resolved, period, explicit, True, millions)


def _range_currency(a: str | None, b: str | None, context: _TextContext) -> tuple[str, bool] | None:
    """The one currency of both ends, and whether the text said it; ``None`` if they differ."""
    codes = {c for c in (a, b) if c is not None and c not in ("$", "CA$")}
    if len(codes) > 1:
        return None
    if codes:
        code = codes.pop()
        # "$151,942–$189,927 USD": the code names the dollar; "$X - €Y" is no range.
        dollar_sign = "$" in (a, b) or "CA$" in (a, b)
        if dollar_sign and code not in _DOLLAR_CURRENCIES and code != "COP":
            return None
        return code, True
    if "CA$" in (a, b):
        return context.canadian_dollar(), True
    if "$" in (a, b):
        return context.dollar(), True
    return None


def _single(text: str, tok: _Token, context: _TextContext) -> _Candidate:
    value = tok.value * _MAGNITUDE.get(tok.magnitude, 1.0)
    low: float | None = value
    high: float | None = value
    before = text[max(0, tok.start - 24) : tok.start]
    if _UP_TO.search(before):
        low = None
    elif _FROM.search(before) or text.startswith("+", tok.end):
        high = None
    code = tok.currency
    if code == "CA$":
        currency = context.canadian_dollar()
    elif code == "$":
        currency = context.dollar()
    else:
        currency = code or ""
    millions = tok.magnitude in _MILLIONS
    return _Candidate(tok.start, tok.end, low, high, currency, tok.period, True, False, millions)


def _judge(text: str, cand: _Candidate, previous_end: int, context: _TextContext) -> Salary | None:
    """Score a candidate on its shape and context; the Salary when it passes."""
    if not cand.currency:
        return None
    score = 2.0 if cand.is_range else 0.0
    score += 1.0 if cand.explicit_currency else 0.0
    score += 1.0 if cand.period else 0.0
    if context.short:
        score += 2.0
    lo = max(previous_end, cand.start - 100)
    score += (2.0, -6.0, 0.0)[_nearest_context(text, lo, cand.start)]
    if cand.millions:
        # "$5M - $10M" is far more often funding than pay; pay that size says so ("$1.2M"
        # beside "range" or "compensation" still passes).
        score -= 2.0
    if _NEG_AFTER.match(text, cand.end, cand.end + 40):
        score -= 6.0
    elif _POS_AFTER.match(text, cand.end, cand.end + 20):
        score += 1.0
    if score < _ACCEPT:
        return None
    period = cand.period or _period_near(text, cand, previous_end)
    top = cand.high if cand.high is not None else cand.low
    assert top is not None  # a candidate always has one end
    rate = DEFAULT_RATES.get(cand.currency)
    if period is None:
        if not cand.explicit_currency and top < 1_000:
            return None  # "salary 20 - 30" with no currency and no unit says too little
        period = _infer_period(top * rate if rate else top)
        # A lone mid-sized figure ("earn up to $5,000") is no monthly salary unless the
        # whole text is a pay field ("$8.500.000 COP").
        if period == "month" and not cand.is_range and not context.short:
            return None
    if rate is not None:
        for value in (cand.low, cand.high):
            if value is None:
                continue
            annual = value * _PER_YEAR[period] * rate
            if not (_MIN_ANNUAL_USD <= annual <= _MAX_ANNUAL_USD):
                return None
            if period == "hour" and value * rate < 5:
                return None
    snippet = text[cand.start : cand.end].strip()[:_MAX_SNIPPET]
    return Salary(
        min=_tidy(cand.low),
        max=_tidy(cand.high),
        currency=cand.currency,
        period=period,
        kind=_kind(text, cand, previous_end, context),
        text=snippet,
    )


def _nearest_context(text: str, lo: int, hi: int) -> int:
    """0 when the nearest context word before ``hi`` speaks for pay, 1 when it speaks of
    benefits or business money, 2 when there is none."""
    words = _WORD.findall(text, lo, hi)
    for word in reversed(words):
        word = word.lower()
        if word in _POSITIVE_WORDS or word.startswith(_POSITIVE_STEMS):
            return 0
        if word in _NEGATIVE_WORDS or word.startswith(_NEGATIVE_STEMS):
            return 1
    return 2


def _window_after(text: str, end: int, size: int) -> str:
    window = text[end : end + size]
    stop = _STOP.search(window)
    return window[: stop.start()] if stop else window


def _period_near(text: str, cand: _Candidate, previous_end: int) -> Period | None:
    after = _PERIOD_WORD.search(_window_after(text, cand.end, 40))
    if after:
        return after.lastgroup  # type: ignore[return-value]
    before = text[max(previous_end, cand.start - 60) : cand.start]
    digit = max(before.rfind(d) for d in "0123456789")
    if digit >= 0:
        before = before[digit + 1 :]
    last = _last_match(_PERIOD_WORD, before, 0, len(before))
    return last.lastgroup if last else None  # type: ignore[return-value]


def _infer_period(top_usd: float) -> Period:
    if top_usd >= 10_000:
        return "year"
    if top_usd <= 400:
        return "hour"
    return "month"


def _kind(text: str, cand: _Candidate, previous_end: int, context: _TextContext) -> PayKind:
    right = _KIND_RIGHT_AFTER.match(text, cand.end, cand.end + 20)
    if right:
        return right.lastgroup or "base"  # type: ignore[return-value]
    before_start = max(previous_end, cand.start - 150)
    paragraph = text.rfind("\n\n", before_start, cand.start)
    if paragraph >= 0:
        before_start = paragraph
    last = _last_match(_KIND, text, before_start, cand.start)
    if last is None:
        last = _KIND.search(_window_after(text, cand.end, 80))
    if last is not None:
        return last.lastgroup or "base"  # type: ignore[return-value]
    return "total" if context.total_everywhere() else "base"


def _last_match(pattern: re.Pattern[str], text: str, lo: int, hi: int) -> re.Match[str] | None:
    found = None
    for found in pattern.finditer(text, lo, hi):  # noqa: B007 - the loop keeps the last one
        pass
    return found


def _tidy(value: float | None) -> float | None:
    if value is None or not math.isfinite(value):
        return value
    return round(value, 2)
