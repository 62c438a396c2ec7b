"""News relevance: topics, reasons, word boundaries and co-occurrence."""

from __future__ import annotations

import pytest

from bot.enrich.news import score_story, score_text
from bot.models import Story


@pytest.mark.parametrize(
    ("title", "topic"),
    [
        ("SAG-AFTRA Members Picket Outside Warner Bros. Discovery", "strike"),
        ("WGA Strike Enters Day 40 As Talks Stall", "strike"),
        ("IATSE Members Ratify Basic Agreement", "strike"),
        ("Teamsters Local 399 Authorize Walkout", "strike"),
        ("Studios Unveil Generative AI Pilot For Storyboards", "ai"),
        ("Artificial Intelligence Comes To The Writers' Room", "ai"),
        ("Actor Sues Over Deepfake Ad Using His Likeness", "likeness"),
        ("Voice Actors Say Their Voices Were Cloned Without Consent", "likeness"),
        ("Video Game Performers Reach Deal On Interactive Media Agreement", "videogames"),
        ("Ask HN: Who is hiring? (November 2026)", "jobs"),
        ("Paramount Layoffs Hit Marketing And Distribution", "jobs"),
    ],
)
def test_topic_found(title, topic):
    topics, reasons = score_text(title)
    assert topics.get(topic, 0) >= 0.4, (topics, reasons)
    assert any(r.startswith(f"{topic}:") and "in title" in r for r in reasons)


@pytest.mark.parametrize(
    "title",
    [
        "Director Said The Thailand Shoot Wrapped Early",
        "Haiti Documentary Wins Top Prize At IDFA",
        "Aileen Wuornos Biopic Casts Lead",
        "Box Office: 'Wicked: For Good' Tops $400M",
        "The Air Up There Gets A Remake",
        "Braid, Said And Maid: A Review",
    ],
)
def test_no_false_ai_and_no_topic(title):
    topics, _ = score_text(title)
    assert "ai" not in topics and not topics


def test_ai_must_be_the_upper_case_word():
    assert "ai" in score_text("AI-Generated Trailer Draws Fire")[0]
    assert "ai" in score_text("Studios Weigh A.I. Rules")[0]
    assert "ai" not in score_text("Ai Weiwei Film Premieres")[0]


def test_cooccurrence_beats_either_alone():
    both = score_text("SAG-AFTRA Warns Studios Over AI Replicas")[0]
    ai_only = score_text("New AI Model Writes Poems")[0]
    union_only = score_text("SAG-AFTRA Announces Holiday Office Hours")[0]
    assert both["ai"] > ai_only["ai"]
    assert both["strike"] > union_only["strike"]
    _, reasons = score_text("SAG-AFTRA Warns Studios Over AI Replicas")
    assert any(r.startswith("co-occurrence: AI with a union") for r in reasons)


def test_title_weighs_more_than_summary():
    in_title = score_text("Writers Strike Looms")[0]["strike"]
    in_summary = score_text("A Look Back", "Writers strike looms")[0]["strike"]
    assert in_title > in_summary > 0
    _, reasons = score_text("A Look Back", "Writers strike looms")
    assert "strike: 'strike' in summary" in reasons


def test_score_story_is_pure():
    story = Story("s", "g", "WGA Strike: Writers Picket Netflix Over AI", "https://e/x", "Deadline")
    scored = score_story(story)
    assert story.topics == {} and scored.topics["strike"] > 0.8 and scored.topics["ai"] > 0.6
    assert score_story(story) == scored
    assert all(0 < v < 1 for v in scored.topics.values())
