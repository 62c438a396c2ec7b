"""LiteralStarts (bot/enrich/_literals.py): an alternation regex tried only where one of
its alternatives' leading literals occurs gives exactly the matches of ``finditer``."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.enrich import salary
from bot.enrich._literals import LiteralStarts, leading_literal, top_level


@pytest.mark.parametrize(
    ("alternative", "literal"),
    [
        ("machine[\\s-]+learning", "machine"),
        ("pre-?training", "pre"),
        ("gpus?", "gpu"),
        ("ab+c", "ab"),
        ("ab*c", "a"),
        ("ab{2}", "a"),
        ("\\$", "$"),
        ("\\$?x", ""),
        ("US\\$", "US$"),
        ("Lacs?\\b", "Lac"),
        ("USD(?![a-z])", "USD"),
        ("scikit-learn", "scikit-learn"),
        ("a\\.i\\.", "a.i."),
        ("\\d+", ""),
        ("[xy]z", ""),
        ("(?:ab)c", ""),
        ("(?i:pay)", ""),
        ("", ""),
    ],
)
def test_leading_literal(alternative: str, literal: str) -> None:
    assert leading_literal(alternative) == literal


def test_top_level_splits_outside_groups_and_classes() -> None:
    assert top_level(r"a(?:b|c)|[|]d|e\|f") == ["a(?:b|c)", "[|]d", r"e\|f"]


def test_no_prefilter_when_an_alternative_starts_with_no_literal() -> None:
    regex = re.compile(r"abc|[xy]z")
    assert LiteralStarts.build(regex, [regex.pattern]) is None


# Alternations of literal words with the regex parts the real tables use after them.
_WORDS = st.sampled_from(
    ["a", "ab", "abc", "b", "ba", "ca", "aa", "xy", "y", "$", "é", "\U0001f600"]
)
_TAILS = st.sampled_from(["", "[ -]+b", "s?", "(?:a|bc)", "(?![a-z])", "\\b", "b*", "c+", "x?y"])
_ALTERNATIVE = st.tuples(_WORDS, _TAILS).map(lambda p: re.escape(p[0]) + p[1])
# (with half a surrogate pair, which a JSON escape gives and UTF-8 cannot encode)
_TEXT = st.text(alphabet="abcxy $-é\U0001f600\n\ud800", max_size=60)
# ASCII texts take the bytes automaton (see LiteralStarts.finditer): half the examples
_TEXT = _TEXT | st.text(alphabet="abcxy $-\n", max_size=60)


@given(st.lists(_ALTERNATIVE, min_size=1, max_size=6), _TEXT, st.sampled_from(["", "(?![a-z])"]))
@settings(max_examples=3000)
def test_same_matches_as_finditer(alternatives: list[str], text: str, after: str) -> None:
    regex = re.compile(f"(?:{'|'.join(alternatives)}){after}")
    starts = LiteralStarts.build(regex, alternatives)
    assert starts is not None
    assert [m.span() for m in starts.finditer(text)] == [m.span() for m in regex.finditer(text)]


# Pay text: currency symbols and codes, Indian units, pay words, in any case.
_MONEY = st.lists(
    st.sampled_from(
        [
            *("$", "£", "€", "₹", "¥", "₩", "zł", "Rs", "Rs.", "US$", "USD", "usd", "EURO"),
            *("Lakh", "lakh", "LAKH", "LPA", "lpa", "Lpa", "Lac", "lacs", "Lacsx", "Rsalary"),
            *("Salary", "salaries", "Compensation", "compensation", "Pay", "pay", "PAY"),
            *("Lpay", "Gehalt", "Wynagrodzenie", "120,000", " - ", " ", "\n", "x", "k", "/hr"),
        ]
    ),
    max_size=30,
).map("".join)


@given(_MONEY)
@settings(max_examples=3000)
def test_salary_anchors_are_the_regex_matches(text: str) -> None:
    anchors = salary._PAY_ANCHORS
    assert anchors is not None
    expected = [m.span() for m in salary._ANCHOR_WITH_PAY_WORDS.finditer(text)]
    assert [m.span() for m in anchors.finditer(text)] == expected
