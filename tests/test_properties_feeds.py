"""Promise 4 of issue 7, for news feeds: hostile documents are data.

Hypothesis writes RSS, Atom and JSON Feed documents with hostile titles, links, ids,
dates and HTML summaries (mentions of every platform, markdown, scripts, control and
bidi characters, very long text), some broken on purpose afterwards (cut short, a CDATA
closed too early, an undefined entity, an entity bomb, a wrong encoding declaration,
junk bytes). The real feed source, pipeline and Store poll them from a local server:

* no crash: a poll ends in a summary (an error is a clear :class:`SourceError`);
* no partial write: a failed poll leaves the source's stories and the outbox as they
  were;
* no poisoned poll: the next honest document is polled as usual and its new story found;
* every alert the poll queued reaches the local Discord and Slack through the real
  clients without pinging anyone or breaking a limit.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any
from xml.sax.saxutils import escape, quoteattr

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from bot.delivery import Delivery
from bot.enrich import EnrichSettings
from bot.http import HttpClient, HttpSettings
from bot.matching import build_router
from bot.models import Subscription
from bot.pipeline import Pipeline
from bot.sources import SourceConfig, make_source
from storage import Store, open_store
from storage.schema import stories
from tests.fakes.discord_server import OTHER_CHANNEL_ID
from tests.fakes.feeds import BILLION_LAUGHS
from tests.fakes.http import FakeHTTPServer
from tests.test_fault_storms import discord_platform, slack_platform
from tests.test_properties_hostile import HOSTILE, hostile_text

_count = itertools.count(1)
_URLS = (
    "https://deadline.example.com/2026/11/sag-aftra-ai-deal-1236000000/",
    "https://variety.example.com/2026/film/news/strike-talks?utm_source=rss&ref=x#frag",
    "http://example.com/a b c",
    "/relative/path",
    "javascript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "https://evil.example/" + "x" * 3000,
    "mailto:tips@example.com",
)

# -- documents ---------------------------------------------------------------------------

_dates = st.one_of(
    st.none(),
    st.datetimes(
        min_value=datetime(1970, 1, 2), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
    ).map(lambda d: format_datetime(d) if d.microsecond % 2 else d.isoformat()),
    hostile_text(),
)
_html = st.one_of(
    st.none(),
    hostile_text(),
    st.builds(
        lambda h: (
            f"<p>{h}</p><script>alert('{h}')</script><img src=x onerror=alert(1)>"
            f"<a href='javascript:alert(1)'>{h}</a>"
        ),
        st.sampled_from(HOSTILE),
    ),
)
_entries = st.lists(
    st.fixed_dictionaries(
        {
            "title": st.one_of(st.none(), hostile_text()),
            "link": st.one_of(st.none(), st.sampled_from(_URLS), hostile_text()),
            "guid": st.one_of(st.none(), st.text(max_size=20), st.sampled_from(HOSTILE)),
            "date": _dates,
            "summary": _html,
            "cdata": st.booleans(),
        }
    ),
    max_size=6,
)


def _text(value: str | None) -> str:
    # XML 1.0 cannot carry most control characters even escaped: a real feed that has
    # them is broken, which the byte-level damage below covers.
    return escape("".join(c for c in value or "" if c >= " " or c in "\t\n\r"))


def _rss(entries: list[dict[str, Any]]) -> str:
    items = []
    for e in entries:
        summary = e["summary"] or ""
        body = f"<![CDATA[{summary}]]>" if e["cdata"] else _text(summary)
        items.append(
            "<item>"
            + (f"<title>{_text(e['title'])}</title>" if e["title"] is not None else "")
            + (f"<link>{_text(e['link'])}</link>" if e["link"] is not None else "")
            + (f"<guid isPermaLink='false'>{_text(e['guid'])}</guid>" if e["guid"] else "")
            + (f"<pubDate>{_text(e['date'])}</pubDate>" if e["date"] else "")
            + f"<description>{body}</description></item>"
        )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
        "<title>Trade Daily</title><link>https://trade.example.com/</link>"
        f"<description>News</description>{''.join(items)}</channel></rss>"
    )


def _atom(entries: list[dict[str, Any]]) -> str:
    items = []
    for e in entries:
        items.append(
            "<entry>"
            + (f"<title type='html'>{_text(e['title'])}</title>" if e["title"] is not None else "")
            + (f"<link rel='alternate' href={quoteattr(_text(e['link']))}/>" if e["link"] else "")
            + (f"<id>{_text(e['guid'])}</id>" if e["guid"] else "")
            + (f"<updated>{_text(e['date'])}</updated>" if e["date"] else "")
            + f"<summary type='html'>{_text(e['summary'])}</summary></entry>"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom" '
        "xml:base='https://trade.example.com/'><title>Trade Daily</title>"
        f"<id>urn:trade</id><updated>2026-11-28T12:00:00Z</updated>{''.join(items)}</feed>"
    )


def _jsonfeed(entries: list[dict[str, Any]]) -> str:
    return json.dumps(
        {
            "version": "https://jsonfeed.org/version/1.1",
            "title": "Trade Daily",
            "items": [
                {
                    k: v
                    for k, v in (
                        ("id", e["guid"]),
                        ("url", e["link"]),
                        ("title", e["title"]),
                        ("content_html", e["summary"]),
                        ("date_published", e["date"]),
                    )
                    if v is not None
                }
                for e in entries
            ],
        }
    )


def _damage(doc: bytes, how: str, where: float) -> bytes:
    at = int(len(doc) * where)
    if how == "cut":
        return doc[:at]
    if how == "junk":
        return doc[:at] + bytes(range(256)) + doc[at:]
    if how == "cdata":
        return doc.replace(b"<description>", b"<description><![CDATA[ ]]> ]]>", 1)
    if how == "entity":
        return doc.replace(b"<title>", b"<title>&nbsp;&bogus;&#0;&#xFFFFFFFF;", 2)
    if how == "bomb":
        return BILLION_LAUGHS
    if how == "encoding":
        return doc.replace(b'encoding="UTF-8"', b'encoding="utf-16"').replace(
            b'encoding="utf-8"', b'encoding="shift_jis"'
        )
    if how == "bom":
        return b"\xef\xbb\xbf\xff\xfe" + doc
    return doc


_DAMAGE = ["none", "none", "none", "cut", "junk", "cdata", "entity", "bomb", "encoding", "bom"]
# "surrogatepass": half a surrogate pair in XML becomes bytes that are not UTF-8 (data
# a feed may hold); JSON Feed escapes it ("\ud800"), which decodes to such a string.
documents = st.builds(
    lambda fmt, entries, how, where: _damage(
        fmt(entries).encode("utf-8", "surrogatepass"), how, where
    ),
    st.sampled_from([_rss, _atom, _jsonfeed]),
    _entries,
    st.sampled_from(_DAMAGE),
    st.floats(min_value=0, max_value=1),
)


def honest(*titles: str) -> bytes:
    entries = [
        {
            "title": t,
            "link": f"https://trade.example.com/{abs(hash(t))}",
            "guid": None,
            "date": "Sat, 28 Nov 2026 12:00:00 GMT",
            "summary": f"<p>{t}</p>",
            "cdata": True,
        }
        for t in titles
    ]
    return _rss(entries).encode()


# -- the property ------------------------------------------------------------------------


@pytest.fixture
async def world(sqlite_url) -> AsyncIterator[dict[str, Any]]:
    settings = HttpSettings(
        connect_timeout=2, read_timeout=3, total_timeout=5, max_body_bytes=2 << 20
    )
    async with (
        open_store(sqlite_url) as store,
        HttpClient(settings) as http,
        FakeHTTPServer() as server,
        discord_platform() as (discord, discord_p),
        slack_platform() as (slack, slack_p),
    ):
        for channel in (f"discord:{OTHER_CHANNEL_ID}", "slack:T0MARQUEE/C0NEWS"):
            await store.add_subscription(Subscription(id=0, channel=channel, kind="news"))
        router = build_router(await store.subscriptions())
        yield {
            "store": store,
            "server": server,
            "pipeline": Pipeline(
                store, http, enrich=EnrichSettings(), router_source=lambda: router
            ),
            "delivery": Delivery(store, {"discord": discord_p, "slack": slack_p}, worker="p"),
            "discord": discord,
            "slack": slack,
        }


async def _snapshot(store: Store, source: str) -> tuple[int, int]:
    async with store._reader.connect() as conn:  # the table as it is
        count = await conn.scalar(
            select(func.count()).select_from(stories).where(stories.c.source == source)
        )
    return int(count or 0), await store.outbox_backlog()


_NUL_LINK = [
    {"title": None, "link": "nul\x00byte\x07bell", "guid": None, "date": None, "summary": None}
]


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])  # one world, on purpose
@given(document=documents, content_type=st.sampled_from(["application/rss+xml", "text/html"]))
# found by the long profile: a story keyed by a guid with a NUL (storage drops NULs)
@example(document=_jsonfeed(_NUL_LINK).encode(), content_type="application/feed+json")
async def test_hostile_feed_documents_are_data(world, document, content_type):
    store: Store = world["store"]
    server: FakeHTTPServer = world["server"]
    pipeline: Pipeline = world["pipeline"]
    _fresh(world)
    n = next(_count)
    path = f"/feeds/{n}.xml"
    name = f"feed-{n}"
    server.body(path, honest(f"Guild talks resume, day {n}"), content_type="application/rss+xml")
    source = make_source(
        SourceConfig(name=name, kind="feed", options={"url": server.url + path, "outlet": "Trade"})
    )
    baseline = await pipeline.poll(source)
    assert baseline.error is None and baseline.baseline, baseline

    before = await _snapshot(store, name)
    server.body(path, document, content_type=content_type)
    hostile = await pipeline.poll(source)  # anything but a SourceError is a bug
    if hostile.error:
        assert await _snapshot(store, name) == before, "a failed poll wrote something"
    await world["delivery"].run_once()
    assert await store.outbox_backlog() == 0

    title = f"Studio {n} and the union sign an AI likeness agreement"
    server.body(
        path,
        honest(f"Guild talks resume, day {n}", title),
        content_type="application/rss+xml",
    )
    after = await pipeline.poll(source)
    assert after.error is None, after
    assert title in [e.story.story.title for e in after.events if e.kind == "new"], after
    await world["delivery"].run_once()
    assert await store.outbox_backlog() == 0  # nothing is left for the next example
    assert world["discord"].violations == [] and world["discord"].pings == []
    assert world["slack"].violations == []


def _fresh(world: dict[str, Any]) -> None:
    """Each example answers for its own messages (the fakes keep one list per run)."""
    world["discord"].violations.clear()
    world["discord"].pings.clear()
    world["slack"].violations.clear()
