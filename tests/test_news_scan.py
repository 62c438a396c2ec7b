"""The relevance scan finds where its terms' words start in one regex pass; the
word-by-word walk it replaced (still the road for text whose lower case moves letters)
is the reference: both must find the same terms in any text."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bot.enrich.news import _TERMS, _matches, _matches_by_word

WORDS = sorted({w for t in _TERMS for w in (*t.first, t.label)})
# Letters whose case folds oddly (Kelvin sign, long s, dotted I, final sigma), word
# joiners, and the punctuation around words in feeds.
ODD = list("KſİıßΣς_-.'’\"é\u00a0\t\n,;:!?()/0123456789")

fragment = st.one_of(
    st.sampled_from(WORDS),
    st.sampled_from(WORDS).map(str.upper),
    st.sampled_from(WORDS).map(str.title),
    st.text(alphabet=st.sampled_from(ODD + list("aiAIsStTkK")), min_size=1, max_size=4),
)
texts = st.lists(fragment, min_size=1, max_size=12).flatmap(
    lambda parts: st.sampled_from(["", " ", "_", "é", "-", "\n"]).map(lambda sep: sep.join(parts))
)


def labels(found):
    return [(label, term.label) for label, term in found.items()]


@given(texts)
def test_substring_scan_finds_what_the_word_walk_finds(text):
    assert labels(_matches(text)) == labels(_matches_by_word(text))


def _same_as_by_word(*texts: str) -> None:
    for text in texts:
        assert labels(_matches(text)) == labels(_matches_by_word(text)), text


def test_examples():
    _same_as_by_word(
        "SAG-AFTRA and A.I. studios",
        "the I.A.T.S.E. local; no fakes act",
        "ai voices, 3D scans and generative-AI",
        "said Thailand's Aileen",
        "strİke and ſag-aftra",
    )
    assert "SAG-AFTRA" in _matches("SAG-AFTRA and A.I. studios")
    assert "AI" not in _matches("said Thailand's Aileen")


def test_short_keys_only_where_they_end_a_word():
    # "a", "i", "no", "ai", "3d" start many longer words; the Kelvin sign lower-cases
    # to "k" (see _KEYS)
    _same_as_by_word(
        "a about aim ai air A.I. A.I AI-driven AIs",
        "i in it I.A.T.S.E. iatse i.a.t.s.e",
        "no now NO FAKES Act no fakes act nope",
        "3d 3D scans 3dx 3d-scan",
        "a\u212a ai\u212a no\u212a i\u212a 3d\u212a AI\u212a NO\u212a FAKES Act",
        "\u212aai \u212ano",
    )
    assert "AI" in _matches("A.I. and AI")
    assert "NO FAKES Act" in _matches("the no fakes act")
    assert not _matches("about aim nope 3dx")
