"""The feed parser's fast paths give what the plain regular expressions they stand in
for give (bench/README.md, feeds): generated text full of the characters they treat
specially."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.sources.feed import _CONTROL, _strip_control

# every character _CONTROL removes, the whitespace it keeps, and some text around them
_SPECIAL = "".join(chr(c) for c in range(0x20)) + "\x7f\x80\xa0\u200a\u200b\u200f\u2010"
_SPECIAL += "\u2029\u202a\u202e\u202f\u2065\u2066\u2069\u206a"
texts = st.text(alphabet=st.sampled_from(_SPECIAL + "ab <>&é"), max_size=60) | st.text(max_size=60)


@settings(max_examples=500)
@given(texts)
def test_strip_control_is_the_regex(text):
    assert _strip_control(text) == _CONTROL.sub("", text)


def test_strip_control_ascii_and_not():
    assert _strip_control("a\x00b\tc\nd\x1fe\x7f") == "ab\tc\nde"
    assert _strip_control("plain") == "plain"
    assert _strip_control("é\x00\u200b\u2014") == "é\u2014"
