"""Clustering templated trade headlines: the same frame with other names or figures is
another event; the same event is still found among thousands of look-alikes; and the
index can forget stories (the window moving on) as if they had never been added."""

from __future__ import annotations

import pickle
import random
from datetime import UTC, datetime, timedelta

import pytest

from bot.enrich.cluster import Candidate, ClusterIndex, assign_cluster, prepare_headline

T0 = datetime(2026, 11, 28, 15, tzinfo=UTC)

# Same frame, other event: a figure or a name differs where the other has its own.
TEMPLATE_MISSES = [
    (
        "Box office: 'The Silent Coast' opens to $8 million in Japan",
        "Box office: 'The Burning Coast' opens to $7 million in Japan",
    ),
    (
        "Box office: 'The Long Night' opens to $45 million in Austin",
        "Box office: 'The Long Night' opens to $12 million in Denver",
    ),
    ("Ava Chen signs overall deal with Apple TV+", "Kwame Chen signs overall deal with Apple TV+"),
    (
        "Union pension fund sues Omar AI Studios over theatrical residuals",
        "Union pension fund sues Tom AI Studios over theatrical residuals",
    ),
    (
        "IATSE and Warner Bros. resume talks as strike enters day 103",
        "IATSE and Warner Bros. resume talks as strike enters day 104",
    ),
    ("SAG-AFTRA reaches deal with Disney", "SAG-AFTRA reaches deal with Netflix"),
]

# Same event: the same figures (to the precision written) and names, other words.
TEMPLATE_HITS = [
    (
        "Box office: 'The Long Night' opens to $81.5 million in Austin",
        "'The Long Night' opens to $82 million in Austin box office debut",
    ),
    (
        "Box office: 'The Long Night' opens to $45 million in Austin",
        "Box office: 'The Long Night' opens to $45 million in Austin (report)",
    ),
    (
        "Ava Chen signs overall deal with Apple TV+",
        "Apple TV+ signs overall deal with Ava Chen, the 'Long Night' writer",
    ),
    (
        "WGA Members Ratify New Contract With 96% Vote",
        "Writers Guild Members Ratify Contract, Officially Ending Strike Process",
    ),
]


@pytest.mark.parametrize(("first", "second"), TEMPLATE_MISSES)
def test_same_frame_other_names_or_figures_stay_apart(first, second):
    assert assign_cluster(second, "Variety", T0, [Candidate(1, 1, first, "Deadline", T0)]) is None
    assert assign_cluster(first, "Variety", T0, [Candidate(1, 1, second, "Deadline", T0)]) is None


@pytest.mark.parametrize(("first", "second"), TEMPLATE_HITS)
def test_same_names_and_figures_join(first, second):
    match = assign_cluster(second, "Variety", T0, [Candidate(1, 7, first, "Deadline", T0)])
    assert match is not None and match.cluster_id == 7


SHOWS = [f"The {a} {b}" for a in ("Long", "Blue", "Silent", "Iron") for b in ("Night", "Coast")]
CITIES = ("Austin", "Denver", "Japan", "Mexico", "Toronto", "Seoul")
NAMES = [f"{a} {b}" for a in ("Ava", "Omar", "Lena", "Tom") for b in ("Chen", "Okafor", "Shah")]
FRAMES = (
    "Box office: '{show}' opens to ${n} million in {city}",
    "{name} joins '{show}' as showrunner",
    "'{show}' renewed for season {s} after {n} million views in {city}",
    "{name} to direct '{show}' adaptation, shooting in {city}",
)


def _headlines(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [
        rng.choice(FRAMES).format(
            show=rng.choice(SHOWS),
            n=rng.randrange(2, 150),
            city=rng.choice(CITIES),
            name=rng.choice(NAMES),
            s=rng.randrange(2, 7),
        )
        for _ in range(count)
    ]


def test_the_same_event_is_found_among_thousands_of_look_alikes():
    # Each frame word is in a quarter of these stories: far more than one match walks.
    titles = _headlines(4000, seed=1)
    index = ClusterIndex()
    for n, title in enumerate(titles):
        index.add(Candidate(n, n, title, f"Outlet {n % 50}", T0 + timedelta(seconds=n)))
    found = 0
    for n in range(0, 4000, 97):
        retold = f"{titles[n]} (report)"
        match = index.match(retold, "Another Outlet", T0 + timedelta(hours=1))
        assert match is not None, retold
        assert titles[match.story_id] == titles[n]  # the same headline (or a twin of it)
        found += 1
    assert found == 42


def test_a_removed_story_is_as_if_never_added():
    # (a window small enough for the exact search: the bounded one depends on the order
    # stories came in)
    titles = _headlines(90, seed=2)
    full = ClusterIndex()
    for n, title in enumerate(titles):
        full.add(Candidate(n, n, title, f"Outlet {n % 7}", T0))
    for n in range(0, 90, 3):
        assert full.remove(n) is not None
    assert full.remove(0) is None  # already gone
    kept = ClusterIndex(
        Candidate(n, n, t, f"Outlet {n % 7}", T0) for n, t in enumerate(titles) if n % 3
    )
    assert len(full) == len(kept) == 60
    matched = 0
    for title in _headlines(200, seed=3):
        match = full.match(title, "Elsewhere", T0)
        assert match == kept.match(title, "Elsewhere", T0), title
        matched += match is not None
    assert matched > 10


def test_relabel_moves_a_story_to_its_cluster_id():
    index = ClusterIndex(
        [Candidate(5, -5, "Ava Chen joins 'The Long Night' as showrunner", "A", T0)]
    )
    index.relabel(5, 42)
    match = index.match("Ava Chen joins 'The Long Night' as showrunner", "B", T0)
    assert match is not None and match.cluster_id == 42


def test_headlines_prepared_elsewhere_cluster_as_headlines_tokenised_here():
    # As the pipeline hands them over: prepared in a worker process, pickled back.
    titles = _headlines(1500, seed=4)
    titles += [f"{t} (report)" for t in titles[::5]] + ["WGA Members Ratify New Contract"]
    random.Random(5).shuffle(titles)
    here, ahead = ClusterIndex(), ClusterIndex()
    joined = 0
    for n, title in enumerate(titles):
        outlet, when = f"Outlet {n % 40}", T0 + timedelta(seconds=n)
        prepared = pickle.loads(pickle.dumps(prepare_headline(title, outlet)))
        match = here.match(title, outlet, when)
        assert ahead.match(title, outlet, when, prepared=prepared) == match, title
        cluster = match.cluster_id if match else n
        here.add(Candidate(n, cluster, title, outlet, when))
        ahead.add(Candidate(n, cluster, title, outlet, when), prepared=prepared)
        joined += match is not None
    assert joined > 300
