"""A subscription's terms are searched in an event's folded text (``EventText.has``)
with the answer tokenising the text gives: the tokens of ``phrase``, a term found as
a run of whole tokens."""

from __future__ import annotations

import re

from hypothesis import example, given, settings
from hypothesis import strategies as st

from handlers.args import fold
from handlers.filters import EventText, phrase

_TOKEN = re.compile(r"[0-9a-z]+(?:[+#]+)?")


def _tokenised_has(parts: tuple[str, ...], term: str) -> bool:
    """The tokenising test this replaced: the term in the padded phrase."""
    joined = " ".join(_TOKEN.findall(fold(" \n ".join(p for p in parts if p))))
    if " " not in term:
        return term in frozenset(joined.split())
    return f" {term} " in f" {joined} "


_ALPHABET = "aAbc1 +#-\n.éİ/"
_text = st.text(alphabet=_ALPHABET, max_size=30)
_term = st.text(alphabet=_ALPHABET, min_size=1, max_size=8).map(phrase).filter(bool)


@given(st.tuples(_text, _text, _text), st.lists(_term, min_size=1, max_size=4))
@settings(max_examples=2000)
@example(("C++ and C#", "", ""), ["c", "c++", "c#", "c++ and c#", "and c"])
@example(("Maintain the AI-platform", "", ""), ["ai", "ai platform", "main", "the ai"])
@example(("machine  --  learning", "", ""), ["machine learning", "learning"])
@example(("a+b", "a++b", ""), ["a+ b", "a b", "a++ b", "b a"])
def test_has_matches_the_tokens(parts: tuple[str, ...], terms: list[str]) -> None:
    text = EventText.of(*parts)
    for term in terms:
        assert text.has(term) is _tokenised_has(parts, term), (parts, term)


def test_words_and_phrase_are_the_tokens() -> None:
    text = EventText.of("Gen-AI / ML", "Team", "C++ developer")
    assert text.words == frozenset({"gen", "ai", "ml", "team", "c++", "developer"})
    assert text.padded == " gen ai ml team c++ developer "
    assert text.has("ml team c++")
    assert not text.has("ai team")
