"""The feed parser's fast paths give what the plain regular expressions they stand in
for give (bench/README.md, feeds): generated text full of the characters they treat
specially."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.sources.feed import (
    _CONTROL,
    _HSPACE,
    _PLAIN_URL,
    _clean_url,
    _one_space,
    _strip_control,
    clean_url,
)

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


# -- plain_text's space pass -----------------------------------------------------

_SPACES = " \t\r\f\v\u00a0\u2007\u202f\n\u2003x"


@settings(max_examples=800)
@given(st.text(alphabet=_SPACES, max_size=30))
def test_one_space_is_the_regex(text):
    assert _one_space(text) == _HSPACE.sub(" ", text)


# -- clean_url's plain-link road --------------------------------------------------------

_URL_PARTS = st.lists(
    st.sampled_from(
        [
            *("https://", "http://", "HTTP://", "ftp://", "https:", "//", "/", "?", "#", "&"),
            *("x.example", "a", "-", ".", "..", ":80", ":99999", "%20", "utm_source=1"),
            *(" ", "\t", "\x00", "\u200b", "é", "[", "]", "@", "\\", "'", "=", ";"),
        ]
    ),
    max_size=10,
).map("".join)


@settings(max_examples=1500)
@given(_URL_PARTS, st.sampled_from(["", "https://base.example/dir/", "http://b/"]))
def test_clean_url_plain_road_is_the_urllib_road(link, base):
    assert clean_url(link, base) == _clean_url(link, base)


@pytest.mark.parametrize(
    "link",
    ["https://x.example/a/b/", "https://x.example", "http://x/a/../b//c", "https://x/a;b=c"],
)
def test_plain_links_take_the_plain_road(link):
    assert _PLAIN_URL.fullmatch(link)
    assert clean_url(link, "https://base.example/") == _clean_url(link, "") == link
