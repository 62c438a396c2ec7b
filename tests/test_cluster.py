"""Clustering on realistic headline sets: paraphrases join, near-misses stay apart."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.enrich.cluster import Candidate, ClusterIndex, assign_cluster, outlet_key, title_tokens

T0 = datetime(2026, 11, 28, 15, tzinfo=UTC)

# Each group is one event told by several outlets: every later headline must join.
EVENTS = [
    [
        (
            "Deadline",
            "SAG-AFTRA Reaches Tentative Deal With Studios On New TV/Theatrical "
            "Contract, Including AI Guardrails",
        ),
        (
            "Variety",
            "SAG-AFTRA, AMPTP Reach Tentative Agreement on New Contract With Digital "
            "Replica Protections",
        ),
        (
            "The Hollywood Reporter",
            "SAG-AFTRA and Studios Strike Tentative Deal With AI Protections",
        ),
        ("Reuters", "Hollywood actors union reaches tentative contract deal with studios"),
        (
            "TheWrap",
            "SAG-AFTRA Reaches Tentative Agreement With AMPTP, Averting Second Actors Strike",
        ),
    ],
    [
        ("Deadline", "Video Game Voice Actors Vote To Authorize Strike Over AI Voice Clones"),
        ("Variety", "Video Game Performers Authorize Strike as AI Talks Stall"),
        ("Los Angeles Times", "Video game actors authorize strike over AI voice replicas"),
    ],
    [
        ("Deadline", "WGA Members Ratify New Contract With 96% Vote"),
        ("Variety", "Writers Guild Members Ratify Contract, Officially Ending Strike Process"),
        ("The Hollywood Reporter", "WGA Ratifies New Film and TV Contract"),
    ],
    [
        ("Deadline", "Tilly Norwood Creator Says 'AI Actress' Will Not Join A Union"),
        ("Variety", "Tilly Norwood Creator Responds To SAG-AFTRA Criticism Of AI Actress"),
    ],
]

# Pairs about different events that share words (and unions): must stay apart.
NEAR_MISSES = [
    (
        "SAG-AFTRA Reaches Tentative Deal With Studios On New TV/Theatrical Contract",
        "SAG-AFTRA Reaches Tentative Deal With Video Game Companies",
    ),
    (
        "WGA Strike",
        "WGA Strike: Writers Guild Pickets Netflix Over AI Protections in New Contract Talks",
    ),
    ("SAG-AFTRA Strike", "SAG-AFTRA Strike: Actors Picket Disney Over AI Scanning Rules"),
    (
        "WGA Strike - What Writers Want in 2027",
        "WGA Opens Contract Talks With AMPTP; Streaming Residuals & AI Top The Agenda",
    ),
    (
        "SAG-AFTRA Honors Veteran Actors At Annual Gala",
        "SAG-AFTRA Reaches Tentative Deal With Studios",
    ),
    ("Video Game Actors End Strike After 11 Months", "Video Game Actors Authorize Strike Over AI"),
    (
        "IATSE Local 700 Members Ratify New Editors Guild Agreement",
        "WGA Members Ratify New Contract",
    ),
    ("Netflix Tests Generative AI Dubbing Tool", "Netflix Layoffs Hit Animation Division"),
    ("SAG-AFTRA Commercials Contract Talks Begin", "SAG-AFTRA TV/Theatrical Contract Talks Begin"),
    ("WGA Opens Contract Talks With AMPTP", "WGA Reaches Tentative Deal With AMPTP"),
]


def test_paraphrases_join_one_cluster():
    index = ClusterIndex()
    next_id = 1
    for cluster_id, event in enumerate(EVENTS, start=100):
        for position, (outlet, title) in enumerate(event):
            match = index.match(title, outlet, T0 + timedelta(hours=position))
            if position == 0:
                assert match is None, (title, match)
                assigned = cluster_id
            else:
                assert match is not None and match.cluster_id == cluster_id, title
                assert not match.same_outlet
                assigned = match.cluster_id
            index.add(Candidate(next_id, assigned, title, outlet, T0 + timedelta(hours=position)))
            next_id += 1


@pytest.mark.parametrize(("first", "second"), NEAR_MISSES)
def test_near_misses_stay_apart(first, second):
    cand = [Candidate(1, 1, first, "Deadline", T0)]
    assert assign_cluster(second, "Variety", T0, cand) is None
    assert assign_cluster(first, "Variety", T0, [Candidate(1, 1, second, "Deadline", T0)]) is None


def test_outside_72_hours_is_another_event():
    title = "Video Game Performers Authorize Strike as AI Talks Stall"
    cand = [Candidate(1, 7, "Video game actors authorize strike over AI voice replicas", "LAT", T0)]
    assert assign_cluster(title, "Variety", T0 + timedelta(hours=71), cand) is not None
    assert assign_cluster(title, "Variety", T0 + timedelta(hours=73), cand) is None


def test_same_outlet_joins_only_as_the_same_article():
    cand = [
        Candidate(
            1, 5, "SAG-AFTRA Reaches Tentative Deal With Studios", "Deadline", T0, "https://d/1"
        )
    ]
    same = assign_cluster("SAG-AFTRA Reaches Tentative Deal With Studios", "Deadline", T0, cand)
    assert same is not None and same.same_outlet and same.cluster_id == 5
    follow_up = "SAG-AFTRA Tentative Deal With Studios: What's In It For Actors"
    assert assign_cluster(follow_up, "Deadline", T0, cand) is None
    by_link = assign_cluster("Totally different words", "Deadline", T0, cand, url="https://d/1")
    assert by_link is not None and by_link.score == 1.0


def test_google_news_suffix_and_outlet_names():
    assert title_tokens("WGA Opens Talks - Deadline", "Deadline") == title_tokens("WGA Opens Talks")
    assert outlet_key("The Hollywood Reporter") == outlet_key("Hollywood Reporter")
    assert title_tokens("Screen Actors Guild reaches agreements")[:3] == (
        "sagaftra",
        "reach",
        "deal",
    )
