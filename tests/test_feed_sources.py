"""The feed and googlenews sources against a local feed server, malformed input included."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest

from bot.errors import ConfigError, ParseError, TooLarge
from bot.sources.base import PollContext, SourceConfig
from bot.sources.feed import FeedSource, parse_feed
from bot.sources.googlenews import GoogleNewsSource, search_url, split_publisher
from tests.fakes.feeds import (
    ATOM_PATH,
    BILLION_LAUGHS,
    DEADLINE_PATH,
    EMPTY_PATH,
    GOOGLE_PATH,
    HTML_PAGE,
    JSONFEED_PATH,
    QUADRATIC_BLOWUP,
    TRUNCATED,
    WRAP_PATH,
    demo_feed,
    serve_feeds,
)
from tests.fakes.http import FakeHTTPServer, Fault


@pytest.fixture
async def server():
    async with FakeHTTPServer() as s:
        yield await serve_feeds(s)


def feed(server, path, name="deadline", **options) -> FeedSource:
    return FeedSource(
        SourceConfig(
            name=name,
            kind="feed",
            base_url=server.url,
            options={"url": f"https://deadline.com{path}", **options},
        )
    )


async def test_trade_press_rss(server, http):
    fetched = await feed(server, DEADLINE_PATH).fetch(PollContext(http))
    assert not fetched.not_modified and fetched.warnings == ()
    first, second = fetched.stories[:2]
    assert first.guid == "https://deadline.com/?p=1236612345"
    assert first.outlet == "Deadline"  # the feed's own title
    assert first.title.startswith("SAG-AFTRA Reaches Tentative Deal")
    assert first.published == datetime(2026, 11, 28, 15, 2, tzinfo=UTC)
    assert first.author == "Dominic Patten"
    assert "digital replicas" in first.summary and "appeared first" not in first.summary
    # tracking parameters are gone from the link users get
    assert second.url == (
        "https://deadline.com/2026/11/video-game-actors-strike-authorization-vote-ai-1236612001/"
    )
    # entities decoded, quotes typographic, no markup
    assert fetched.stories[3].title.startswith("‘Wicked: For Good’")
    assert server.requests_to(DEADLINE_PATH)[0].headers["Accept"].startswith("application/rss+xml")


async def test_conditional_get_reports_not_modified(server, http):
    ctx = PollContext(http)
    source = feed(server, WRAP_PATH, outlet="TheWrap")
    assert len((await source.fetch(ctx)).stories) == 4
    assert (await source.fetch(ctx)).not_modified


async def test_atom_with_xml_base_and_xhtml(server, http):
    fetched = await feed(server, ATOM_PATH, name="variety-ai", outlet="Variety").fetch(
        PollContext(http)
    )
    stories = fetched.stories
    assert [s.outlet for s in stories] == ["Variety"] * 4
    assert stories[0].url == (
        "https://variety.com/2026/biz/news/sag-aftra-amptp-tentative-agreement-digital-replica-1236580011/"
    )
    assert stories[3].title == "Tilly Norwood Creator Says ‘AI Actress’ Will Not Join a Union"
    assert stories[3].summary == (
        "The producer behind the synthetic performer responded to SAG-AFTRA’s criticism."
    )
    assert stories[0].published == datetime(2026, 11, 28, 15, 47, 12, tzinfo=UTC)


async def test_google_news_search(server, http):
    source = GoogleNewsSource(
        SourceConfig(
            name="gn-strike",
            kind="googlenews",
            base_url=server.url,
            options={"query": '"SAG-AFTRA" OR "WGA" strike when:7d'},
        )
    )
    fetched = await source.fetch(PollContext(http))
    sent = server.requests_to(GOOGLE_PATH)[0].query
    assert sent == {
        "q": '"SAG-AFTRA" OR "WGA" strike when:7d',
        "hl": "en-US",
        "gl": "US",
        "ceid": "US:en",
    }
    by_outlet = {s.outlet: s for s in fetched.stories}
    thr = by_outlet["The Hollywood Reporter"]
    assert thr.title == "SAG-AFTRA and Studios Strike Tentative Deal With AI Protections"
    assert (
        thr.guid
        == "CBMiswFBVV95cUxQX3NhZ2FmdHJhLXRlbnRhdGl2ZS1kZWFsLWFpLXByb3RlY3Rpb25zLXRoci0yMDI2"
    )
    assert thr.url.startswith("https://news.google.com/rss/articles/")
    assert thr.summary == ""  # only repeated the headline and publisher
    # only the last " - X" that names the <source> is cut
    assert (
        by_outlet["LA Mag"].title == "WGA Strike - What Writers Want in 2027 - Los Angeles Magazine"
    )


def test_google_news_url_and_config():
    assert search_url("SAG-AFTRA AI") == (
        "https://news.google.com/rss/search?q=SAG-AFTRA+AI&hl=en-US&gl=US&ceid=US:en"
    )
    assert search_url("x", hl="pt-BR", gl="BR").endswith("hl=pt-BR&gl=BR&ceid=BR:pt-419")
    assert search_url("x", hl="fr", gl="FR").endswith("ceid=FR:fr")
    with pytest.raises(ConfigError) as err:
        GoogleNewsSource(
            SourceConfig("gn", "googlenews", options={"query": "x", "gl": "GB", "ceid": "US:en"})
        )
    assert err.value.key == "sources.gn.ceid"
    with pytest.raises(ConfigError):
        GoogleNewsSource(SourceConfig("gn", "googlenews", options={"query": " "}))
    with pytest.raises(ConfigError) as err:
        FeedSource(SourceConfig("f", "feed", options={"url": "file:///etc/passwd"}))
    assert err.value.key == "sources.f.url"
    assert split_publisher("A - B - Deadline", "Deadline") == "A - B"
    assert split_publisher("Strike - Day 3", "Deadline") == "Strike - Day 3"
    assert split_publisher("Deadline", "Deadline") == "Deadline"


async def test_json_feed_with_a_bad_date(server, http):
    fetched = await feed(server, JSONFEED_PATH, name="hn-hiring-ai").fetch(PollContext(http))
    first, second = fetched.stories
    assert first.outlet == "Hacker News: Ask HN: Who is hiring? (November 2026)"
    assert "Senior ML Engineer" in first.summary and "filmmakers/studios" in first.summary
    assert second.guid == "45800456" and second.published is None
    assert any("unreadable date" in w and "yesterday-ish" in w for w in fetched.warnings)


async def test_empty_channel_is_fine(server, http):
    fetched = await feed(server, EMPTY_PATH).fetch(PollContext(http))
    assert fetched.stories == () and fetched.warnings == ()


@pytest.mark.parametrize(
    ("body", "content_type", "message"),
    [
        (HTML_PAGE, "text/html; charset=utf-8", "HTML page"),
        (b"", "application/rss+xml", "empty"),
        (b"   \n ", "application/rss+xml", "empty"),
        (b'{"jobs": []}', "application/json", "not a JSON Feed"),
        (b"{not json", "application/json", "invalid JSON"),
        (b"\x00\x01\x02binary junk\xff\xfe", "application/octet-stream", "no RSS"),
    ],
)
async def test_not_a_feed_is_an_error_on_that_source(server, http, body, content_type, message):
    server.body("/bad/", body, content_type=content_type)
    with pytest.raises(ParseError, match=message):
        await feed(server, "/bad/").fetch(PollContext(http))


async def test_truncated_xml_is_a_warning_and_entries_count(server, http):
    server.body("/cut/", TRUNCATED, content_type="application/rss+xml")
    fetched = await feed(server, "/cut/").fetch(PollContext(http))
    assert fetched.stories and fetched.stories[0].guid == "https://deadline.com/?p=1236612345"
    assert any("malformed feed" in w for w in fetched.warnings)


async def test_wrong_declared_encoding(server, http):
    text = demo_feed("thewrap.xml").decode()
    latin = text.replace("Stranger Things", "Señora Acción").encode("latin-1", "replace")
    server.body("/latin/", latin, content_type="application/rss+xml")  # says UTF-8 inside
    fetched = await feed(server, "/latin/").fetch(PollContext(http))
    assert len(fetched.stories) == 4
    assert any("Se" in s.title and "ora Acci" in s.title for s in fetched.stories)
    assert fetched.warnings  # the override is reported


async def test_http_charset_outranks_the_declaration(http):
    doc = (
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>T</title>'
        "<item><title>Caf\u00e9 Society</title><link>https://e.com/1</link></item></channel></rss>"
    ).encode("utf-8")
    fast = parse_feed(doc, url="https://e.com/", content_type="application/xml; charset=utf-8")
    assert fast.engine == "lxml" and fast.entries[0].title == "Café Society"
    careful = parse_feed(doc, url="https://e.com/", content_type="text/xml; charset=iso-8859-1")
    assert careful.engine == "feedparser"


async def test_invalid_dates_are_none_with_one_warning():
    item = "<item><title>{0}</title><link>https://e.com/{0}</link><pubDate>{1}</pubDate></item>"
    doc = (
        '<rss version="2.0"><channel><title>T</title>'
        + item.format("A", "Someday, 99 Foo 20X6")
        + item.format("B", "32 Nov 2026 25:61:00 GMT")
        + item.format("C", "Sat, 28 Nov 2026 10:00:00 PST")
        + "</channel></rss>"
    ).encode()
    for engine in ("lxml", "feedparser"):
        parsed = parse_feed(doc, engine=engine)
        assert [e.published for e in parsed.entries] == [
            None,
            None,
            datetime(2026, 11, 28, 18, 0, tzinfo=UTC),
        ]
        assert parsed.warnings[-1].startswith("2 entries with an unreadable date")


@pytest.mark.parametrize("bomb", [BILLION_LAUGHS, QUADRATIC_BLOWUP], ids=["laughs", "quadratic"])
async def test_entity_expansion_is_never_performed(server, http, bomb):
    server.body("/bomb/", bomb, content_type="application/rss+xml")
    started = time.monotonic()
    try:
        fetched = await feed(server, "/bomb/").fetch(PollContext(http))
    except ParseError:
        pass
    else:
        assert all(len(s.title) <= 500 for s in fetched.stories)
    assert time.monotonic() - started < 5


async def test_huge_body_and_gzip_bomb_stop_at_the_cap(server, http):
    server.fail(DEADLINE_PATH, Fault.oversized(50_000_000))
    with pytest.raises(TooLarge):
        await feed(server, DEADLINE_PATH).fetch(PollContext(http))
    server.fail(DEADLINE_PATH, Fault.gzip_bomb(50_000_000))
    with pytest.raises(TooLarge):
        await feed(server, DEADLINE_PATH).fetch(PollContext(http))
    # and the feed is fine again afterwards
    assert len((await feed(server, DEADLINE_PATH).fetch(PollContext(http))).stories) == 5


def test_feedparser_is_never_handed_a_file_name(tmp_path):
    local = tmp_path / "secret.xml"
    local.write_bytes(demo_feed("deadline.xml"))
    # Given these bytes, feedparser.parse(bytes) would open() them as a path.
    with pytest.raises(ParseError):
        parse_feed(str(local).encode(), engine="feedparser")
