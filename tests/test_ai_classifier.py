"""The AI/ML role classifier (bot.enrich.ai) on a labelled table of real-looking titles.

tests/data/ai_titles.csv: expected (ai | not), title (stray spaces kept), department,
a description snippet, and a note on the trap it covers.
"""

from __future__ import annotations

import csv
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.enrich import EnrichSettings, ai, enrich_posting
from bot.enrich.ai import DEFAULT_THRESHOLD, classify
from bot.models import Posting

TABLE = Path(__file__).parent / "data" / "ai_titles.csv"


def _rows() -> list[dict[str, str]]:
    with TABLE.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


ROWS = _rows()


def _posting(title: str, department: str = "", description: str = "") -> Posting:
    return Posting(
        source="lever:spotify",
        external_id="5a1c0f7e-27d2-4c3e-9f31-2b8f4d0e6a11",
        company="Spotify",
        title=title,
        url="https://jobs.lever.co/spotify/5a1c0f7e-27d2-4c3e-9f31-2b8f4d0e6a11",
        department=department,
        description=description,
    )


def test_table_is_big_and_balanced():
    labels = [row["expected"] for row in ROWS]
    assert set(labels) == {"ai", "not"}
    assert len(ROWS) >= 100
    assert labels.count("ai") >= 50 and labels.count("not") >= 50
    assert any(row["title"] != row["title"].strip() for row in ROWS), "stray spaces kept"


@pytest.mark.parametrize("row", ROWS, ids=[f"{r['expected']}:{r['title'].strip()}" for r in ROWS])
def test_labelled_titles(row):
    match = classify(_posting(row["title"], row["department"], row["description"]))
    assert match.is_ai == (row["expected"] == "ai"), (match.score, match.reasons)


def test_reasons_name_the_term_and_where():
    match = classify(
        _posting(
            "Senior Machine Learning Engineer",
            department="Personalization",
            description="Train models with PyTorch. PyTorch daily; LLM fine-tuning.",
        )
    )
    assert match.is_ai
    assert "title: machine learning (+0.6)" in match.reasons
    assert "department: algorithms (+0.15)" in match.reasons
    [text] = [r for r in match.reasons if r.startswith("description: ")]
    assert "pytorch ×2" in text and "LLM" in text and "fine-tuning" in text


def test_negative_reasons_say_why():
    match = classify(_posting(" Senior Character Modeler "))
    assert not match.is_ai
    assert match.reasons == ("title: 3D/VFX modeling (-1)",)
    sales = classify(_posting("Account Executive, AI Platform", department="Sales"))
    assert "title: AI (+0.5)" in sales.reasons
    assert "title: go-to-market or support role (-1.5)" in sales.reasons
    assert "department: non-engineering department (-0.35)" in sales.reasons


def test_score_is_on_a_zero_to_one_scale():
    assert classify(_posting("Senior Character Modeler")).score == 0.0
    assert classify(_posting("ML Engineer, LLM Inference, Deep Learning")).score == 1.0
    assert 0.5 <= classify(_posting("Machine Learning Engineer")).score < 1.0


def test_no_reasons_when_nothing_matches():
    match = classify(_posting("Maintenance Technician", description="Said the HTML email..."))
    assert match == match.__class__(is_ai=False, score=0.0, reasons=())


@pytest.mark.parametrize(
    "word", ["maintenance", "Kaiser", "HTML", "Thailand", "said", "email", "Retail", "XML", "Mail"]
)
def test_ai_and_ml_inside_other_words_never_match(word):
    match = classify(_posting(f"{word} Specialist", word, f"{word} {word.upper()} {word}."))
    assert match.reasons == ()


def test_negated_ai_is_not_a_match():
    assert classify(_posting("Scientist for non-AI fields")).reasons == ()


def test_threshold_is_configurable():
    posting = _posting("Data Scientist")  # a weak term alone: 0.25
    assert not classify(posting).is_ai
    assert classify(posting, threshold=0.25).is_ai
    strong = _posting("Machine Learning Engineer")
    assert classify(strong).is_ai
    assert not classify(strong, threshold=0.9).is_ai
    assert DEFAULT_THRESHOLD == 0.5
    enriched = enrich_posting(posting, EnrichSettings(ai_threshold=0.2))
    assert enriched.ai is not None and enriched.ai.is_ai


def test_title_terms_are_capped():
    buzz = classify(_posting("AI ML LLM Deep Learning Computer Vision NLP Engineer"))
    assert buzz.score == 1.0
    assert "title: capped at +1" in buzz.reasons


def test_description_has_diminishing_returns():
    once = classify(_posting("Software Engineer", description="We use AI."))
    many = classify(_posting("Software Engineer", description="We use AI. " * 200))
    flood = classify(
        _posting(
            "Software Engineer",
            description=" ".join(
                ["machine learning", "PyTorch", "LLM", "deep learning", "fine-tuning", "RLHF"] * 50
            ),
        )
    )
    assert 0 < once.score < many.score <= 0.06 * 2.5
    # A wall of ML vocabulary approaches the cap but never makes a plain title AI alone.
    assert 0.3 < flood.score < 0.4 and not flood.is_ai


def test_html_entities_in_titles_are_read():
    assert classify(_posting("AI Animation R&amp;D Intern")).is_ai


def test_hostile_sizes_are_bounded():
    started = time.perf_counter()
    huge = classify(
        _posting(
            "  Machine Learning Engineer" + " " * 200_000 + "x" * 100_000,
            department="AI " * 50_000,
            description="PyTorch " * 100_000 + "machine" + " " * 1_000_000 + "learning",
        )
    )
    assert huge.is_ai
    assert "title: machine learning (+0.6)" in huge.reasons
    assert time.perf_counter() - started < 5


# -- the description scan's literal prefilter --------------------------------------------
# The description table's regex is tried only where a term's leading word occurs
# (_Table._matches); it must find exactly what finditer over the whole text finds.
_PIECES = [
    *("machine", "learning", "model", "training", "runs", "pipelines", "pre", "post", "-"),
    *("ml", "ops", "html", "data", "science", "deep", "fine", "tune", "tuned", "evals"),
    *("large", "language", "models", "neural", "nets", "generative", "ai", "genai", "cuda"),
    *("hugging", "face", "scikit-learn", "xgboost", "inference", "transformers", "non-"),
    *(" ", "  ", "\n", "\t", "\u00a0", "x", "s", "2", ".", "İ", "ǅ", "\U0001d400", "é"),
]
_SOUP = st.lists(st.sampled_from(_PIECES), max_size=40).map("".join)


@given(_SOUP, st.booleans())
@settings(max_examples=3000)
def test_prefiltered_scan_finds_what_finditer_finds(text, upper):
    table = ai._DESCRIPTION
    text = text.title() if upper else text.lower()
    spans = [m.span() for m in table._matches(text)]
    assert spans == [m.span() for m in table.regex.finditer(text)]


_ACRONYM_PIECES = [
    *("LLM", "LLMs", "NLP", "ML", "MLOps", "JAX", "AI", "GPU", "GPUs", "HTML", "AIR", "L"),
    *("N", "G", "J", "A", "s", "x", "2", "-", " ", "\n", "non-", "Non-", "İ", "\U0001d400"),
]


@given(st.lists(st.sampled_from(_ACRONYM_PIECES), max_size=40).map("".join))
@settings(max_examples=3000)
def test_prefiltered_acronym_scan_finds_what_finditer_finds(text):
    table = ai._DESCRIPTION_CS
    assert table._starts is not None
    spans = [m.span() for m in table._matches(text)]
    assert spans == [m.span() for m in table.regex.finditer(text)]


def test_prefiltered_scan_counts_terms_as_before():
    # "xmodel training runs": the match inside a word hides "training runs" after it
    text = "xmodel training runs, fine-tuned LLMs; pre-training pipelines, hugging face"
    counts = ai._DESCRIPTION.hits(text)
    names = {ai._DESCRIPTION.names[i]: n for i, n in counts.items()}
    assert names == {"fine-tuning": 1, "pre-training": 1, "hugging face": 1}


def test_a_table_whose_alternative_starts_with_no_literal_is_scanned_whole():
    table = ai._Table([("t", r"abc|[xy]z", 1.0)], lower=True, prefilter=True)
    assert table._starts is None
    assert [m.group() for m in table._matches("abc yz")] == ["abc", "yz"]
    assert ai._DESCRIPTION._starts is not None
