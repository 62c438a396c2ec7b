"""The new stories' rows (storage.stories._StoryRows) are the values _values() and
BoundInsert.bind make, on both dialects, memoised JSON and hostile text included."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy.dialects import postgresql, sqlite

from bot.models import Story
from storage import stories as S
from storage._base import bound_insert
from storage.schema import stories

AT = datetime(2026, 11, 28, 17, 0, tzinfo=UTC)
_CET = timezone(timedelta(hours=1))


def _story(n: int, **changes) -> Story:
    values = {
        "source": "feed",
        "guid": f"g{n}",
        "title": f"Headline {n}",
        "url": f"https://example.com/{n}",
        "outlet": "Outlet",
        "published": AT - timedelta(minutes=n),
        "summary": f"Summary {n}\nsecond line",
        "author": "",
        "topics": {"ai": 0.632, "strike": 0.5},
        "reasons": ("ai: 'AI' in title", "strike: 'strike' in summary"),
    }
    values.update(changes)
    return Story(**values)


STORIES = [
    _story(1),
    _story(2),  # the same topics and reasons: from the memo
    _story(3, published=None, topics={}, reasons=()),
    _story(4, title="NUL\x00 in it", summary="caf\u00e9 \u2014 non-ASCII", author="A\x00B"),
    _story(5, topics={"ai": 0.0, "jobs": -0.0}, reasons=("x",)),
    _story(6, topics={"ai": -0.0, "jobs": 0.0}, reasons=("x",)),
    _story(7, topics={"ai": 1}, published=datetime(2026, 1, 1, 5, tzinfo=UTC)),
    # the same key as story 7's topics, and the same instant in another zone
    _story(8, topics={"ai": 1.0}, published=datetime(2026, 1, 1, 6, tzinfo=_CET)),
    _story(9, topics={"ai": True}, published=AT - timedelta(minutes=1)),
]


@pytest.mark.parametrize("dialect", [sqlite.dialect(), postgresql.asyncpg.dialect()])
@pytest.mark.parametrize("quiet", [True, False])
def test_rows_are_what_bind_makes_of_the_values(dialect, quiet):
    insert = bound_insert(dialect, stories, [c.name for c in stories.c], S._plain)
    # each story's content hash as a worker made it: stand-ins, so the rows must take
    # them as given
    members = [
        (100 + n, s, s.guid, S._Cluster(10 + n % 3, None, 1, []), f"given-{n}")
        for n, s in enumerate(STORIES)
    ]
    same = {"source": "feed", "first_seen": AT, "last_seen": AT, "baseline": quiet}
    expected_rows = []
    for story_id, story, guid, cluster, hashed in members:
        values = S._values(story, hashed)
        values.update(id=story_id, guid=guid, cluster_id=cluster.id)
        expected_rows.append(values)
    assert [row["content_hash"] for row in expected_rows] == [
        f"given-{n}" for n in range(len(STORIES))
    ]
    expected = insert.bind(expected_rows, same)
    rows = S._StoryRows(insert)
    assert rows.rows(members, same) == expected
    assert rows.rows(members, same) == expected  # again, every JSON value from the memo
    # -0.0 and 0.0 are one memo key: each keeps its own text
    assert [r[9] for r in expected[4:6]] == [
        '{"ai": 0.0, "jobs": -0.0}',
        '{"ai": -0.0, "jobs": 0.0}',
    ]


def test_unexpected_columns_are_refused():
    insert = bound_insert(sqlite.dialect(), stories, ["id", "guid"], S._plain)
    with pytest.raises(RuntimeError):
        S._StoryRows(insert)
