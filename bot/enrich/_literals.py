"""Scanning a long text with an alternation regex only where a match can start.

The AI classifier's description terms and the salary parser's money anchors are each one
regex of many alternatives (``machine[\\s-]+learning|pytorch|...``, ``\\$|USD|Pay|...``)
whose first letters are common ones: CPython's regex engine then tries the alternation
at most positions of a 3-8 KB description. Every alternative starts with a literal word,
so an Aho-Corasick automaton of those words (ahocorasick-rs, in Rust) finds in one pass the
only positions where the regex can match, and the regex is tried there alone, left to
right, each search going on from the end of the previous match as ``finditer``'s does:
the same matches (tests/test_literals.py compares them on generated text).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

import ahocorasick_rs

__all__ = ["LiteralStarts", "top_level"]

# Characters that end a pattern's leading literal run (an escape is read on its own).
_SPECIAL = frozenset("[]().?*+{}|^$")
_QUANTIFIERS = ("?", "*", "{")


class LiteralStarts:
    """``regex.finditer(text)``, with the regex tried only where one of its top-level
    alternatives' leading literals occurs. :meth:`build` returns ``None`` when some
    alternative starts with no literal (a class, a group, an escape such as ``\\d``)."""

    __slots__ = ("_automaton", "_bytes_automaton", "_finditer", "_match")

    def __init__(self, regex: re.Pattern[str], literals: Iterable[str]) -> None:
        literals = sorted(literals)
        self._match = regex.match
        self._finditer = regex.finditer
        self._automaton = ahocorasick_rs.AhoCorasick(literals)
        # An ASCII text (most) is scanned as its bytes, whose offsets are its indexes:
        # the str automaton's conversion to UTF-8 and back cost ~4 us of a 5 KB scan's
        # ~15 (bench boards).
        self._bytes_automaton = ahocorasick_rs.BytesAhoCorasick([w.encode() for w in literals])

    @classmethod
    def build(cls, regex: re.Pattern[str], patterns: Iterable[str]) -> LiteralStarts | None:
        """For ``regex``, the alternation of ``patterns`` (each may hold top-level ``|``)
        followed by anything that starts no new alternative (a look-ahead)."""
        literals: set[str] = set()
        for pattern in patterns:
            for alternative in top_level(pattern):
                literal = leading_literal(alternative)
                if not literal:
                    return None
                literals.add(literal)
        # ahocorasick-rs over pyahocorasick: 18 against 32 us for the AI scan of a
        # description, 13.5 against 55 for the salary anchors (bench corpus, issue 8).
        return cls(regex, literals)

    def finditer(self, text: str) -> Iterator[re.Match[str]]:
        """The matches ``regex.finditer(text)`` gives, in order."""
        try:
            if text.isascii():
                found = self._bytes_automaton.find_matches_as_indexes(
                    text.encode("ascii"), overlapping=True
                )
            else:
                found = self._automaton.find_matches_as_indexes(text, overlapping=True)
        except UnicodeEncodeError:
            # Half a surrogate pair (a JSON escape like "\ud800"): the automaton takes
            # UTF-8 only, so this text is scanned by the regex itself.
            yield from self._finditer(text)
            return
        starts = sorted({start for _, start, _ in found})
        match = self._match
        end = 0
        for start in starts:
            if start >= end:
                m = match(text, start)
                if m is not None:
                    end = m.end()
                    yield m


def leading_literal(alternative: str) -> str:
    """The literal text every match of ``alternative`` starts with: its leading run of
    plain characters and escaped punctuation, less the last one when a quantifier may
    drop it (``pre-?training`` -> ``pre``, ``\\$`` -> ``$``, ``[\\s-]x`` -> ``""``)."""
    out: list[str] = []
    i = 0
    while i < len(alternative):
        ch = alternative[i]
        if ch == "\\":
            escaped = alternative[i + 1 : i + 2]
            if not escaped or escaped.isalnum() or escaped == "_":  # \d, \s, \b, \1 ...
                break
            out.append(escaped)
            i += 2
        elif ch in _SPECIAL:
            if ch in _QUANTIFIERS and out:
                out.pop()
            break
        else:
            out.append(ch)
            i += 1
    return "".join(out)


def top_level(pattern: str) -> list[str]:
    """``pattern`` split at its top-level ``|`` (not inside groups or classes)."""
    parts, current, depth, in_class, escaped = [], [], 0, False, False
    for ch in pattern:
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif in_class:
            in_class = ch != "]"
        elif ch == "[":
            in_class = True
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "|" and depth == 0:
            parts.append("".join(current))
            current = []
            continue
        current.append(ch)
    parts.append("".join(current))
    return parts
