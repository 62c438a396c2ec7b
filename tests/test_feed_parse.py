"""The two XML roads agree; identity, links and text normalisation."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bot.sources.feed import (
    _html_entities,
    clean_url,
    entry_guid,
    normalize_link,
    parse_date,
    parse_feed,
    plain_text,
    stories_from_feed,
)
from tests.fakes.feeds import demo_feed

RSS10 = b"""<?xml version="1.0" encoding="utf-8"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
 xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">
 <channel rdf:about="https://www.wgaeast.org/"><title>WGAE News</title>
  <link>https://www.wgaeast.org/</link><description>News</description></channel>
 <item rdf:about="https://www.wgaeast.org/news/ai-principles/">
  <title>WGAE Releases AI Principles For Newsrooms</title>
  <link>https://www.wgaeast.org/news/ai-principles/</link>
  <dc:date>2026-11-27T09:30:00-05:00</dc:date>
  <description>The guild&#8217;s principles cover &lt;b&gt;generative&lt;/b&gt; tools.</description>
 </item>
</rdf:RDF>"""

RSS091 = b"""<?xml version="1.0" encoding="ISO-8859-1"?>
<rss version="0.91"><channel><title>Old School</title><link>http://example.org/</link>
<description>x</description><language>en</language>
<item><title>Caf\xe9 talk &amp; more</title><link>/news/1.html</link>
<description>Short &lt;i&gt;note&lt;/i&gt;</description></item>
</channel></rss>"""

ODD = b"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom"
 xmlns:dc="http://purl.org/dc/elements/1.1/"><channel><title>Odd &amp; Ends</title>
<link>https://odd.example/</link>
<item><title><![CDATA[Tom &amp; Jerry <b>Return</b>]]></title>
 <guid>https://odd.example/p/1</guid><pubDate>Sat, 28 Nov 2026 10:00:00 -0800</pubDate></item>
<item><title>No guid, relative link</title><link>p/2?utm_source=rss&amp;id=7#top</link>
 <pubDate>28 Nov 2026 15:02 GMT</pubDate></item>
<item><title>Atom link inside RSS</title><atom:link href="https://odd.example/p/3"/>
 <dc:date>2026-11-28T15:02:00.123+01:00</dc:date></item>
<item><title>Guid is not a permalink</title><guid isPermaLink="false">tag:odd,2026:4</guid>
 <link>https://odd.example/p/4</link><pubDate>Sat, 28 Nov 2026 15:02:00 EST</pubDate></item>
<item><description>Only a description, no title, no link</description></item>
</channel></rss>"""

ATOM = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:base="https://blog.example/en/">
 <title type="html">Studio &lt;em&gt;Notes&lt;/em&gt;</title><id>urn:x</id>
 <updated>2026-11-28T10:00:00Z</updated>
 <link href="https://blog.example/"/>
 <entry xml:base="posts/"><title>Relative</title><id>urn:x:1</id>
  <link rel="alternate" type="text/html" href="one.html"/>
  <link rel="enclosure" href="one.mp3"/>
  <updated>2026-11-28T10:00:00Z</updated>
  <content type="html">&lt;p&gt;Body &lt;script&gt;alert(1)&lt;/script&gt;text&lt;/p&gt;
  </content></entry>
 <entry><title type="text">Date only</title><id>urn:x:2</id>
  <link href="https://blog.example/two"/><published>2026-11-27</published></entry>
</feed>"""

# HTML's named entities without a DTD: not XML, the commonest malformation of all. Both
# roads read them as HTML does, and leave CDATA, comments and XML's own five alone.
HTML_ENTITIES = b"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Caf&eacute; Wire</title><link>https://cafe.example/</link>
<item><title>Deal reached &mdash; studios&nbsp;&amp; unions &NotEqualTilde; &AMP; more</title>
 <link>https://cafe.example/1?a=1&amp;b=2</link><guid>https://cafe.example/1</guid>
 <description><![CDATA[<p>Fair &copy; pay</p>]]> &lt;b&gt;AI&lt;/b&gt; rules&hellip;</description>
 <!-- &nope; --></item>
</channel></rss>"""

CORPUS = {
    "deadline": demo_feed("deadline.xml"),
    "thewrap": demo_feed("thewrap.xml"),
    "variety-atom": demo_feed("variety-ai.atom.xml"),
    "googlenews": demo_feed("googlenews-strike.xml"),
    "rss10": RSS10,
    "rss091": RSS091,
    "odd": ODD,
    "atom": ATOM,
    "html-entities": HTML_ENTITIES,
}


def _shape(parsed):
    return [(e.id, e.title, e.link, e.published, e.summary) for e in parsed.entries]


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_fast_and_careful_roads_agree(name):
    doc = CORPUS[name]
    fast = parse_feed(doc, url="https://feeds.example/feed/", engine="lxml")
    careful = parse_feed(doc, url="https://feeds.example/feed/", engine="feedparser")
    assert fast.engine == "lxml" and careful.engine == "feedparser"
    assert _shape(fast) == _shape(careful)
    assert fast.title == careful.title
    assert fast.entries  # every document has entries


def test_html_entities_take_the_fast_road_with_a_warning():
    parsed = parse_feed(HTML_ENTITIES, url="https://cafe.example/feed")
    assert parsed.engine == "lxml"
    # CDATA is text, and its "&" is not markup: left as it is (feedparser escapes it)
    cdata = HTML_ENTITIES.replace(
        b"<guid>https://cafe.example/1</guid>", b"<guid><![CDATA[tag:cafe,&copy;1]]></guid>"
    )
    assert parse_feed(cdata).entries[0].id == "tag:cafe,&copy;1"
    assert parsed.title == "Café Wire"
    assert parsed.entries[0].title == "Deal reached — studios & unions \u2242\u0338 & more"
    assert parsed.entries[0].summary == "Fair © pay\nAI rules…"
    assert any("read leniently" in w and "mdash" in w for w in parsed.warnings)


@pytest.mark.parametrize(
    ("damage", "why"),
    [
        (b"&bogus;", "a name HTML does not define either"),
        (b"&mdash", "no semicolon: another error beside the entity"),
        (b"&mdash;</b>", "an unbalanced tag beside the entity"),
    ],
)
def test_entities_beside_other_damage_go_to_feedparser(damage, why):
    doc = HTML_ENTITIES.replace(b"&hellip;", damage)
    parsed = parse_feed(doc, url="https://cafe.example/feed")
    assert parsed.engine == "feedparser", why
    assert len(parsed.entries) == 1


def test_entity_rewrite_steps_over_cdata_comments_and_instructions():
    doc = (
        b"<?pi &nbsp; ?><a>&mdash;<!-- <![CDATA[ &nbsp; -->&nbsp;"
        b"<![CDATA[&hellip; <!-- ]]>&hellip;</a>"
    )
    assert _html_entities(doc) == (
        b"<?pi &nbsp; ?><a>&#x2014;<!-- <![CDATA[ &nbsp; -->&#xa0;"
        b"<![CDATA[&hellip; <!-- ]]>&#x2026;</a>"
    )
    # One left open runs to the end of the document (in one step, not a search for its
    # end from every later start): what follows it is not rewritten.
    assert _html_entities(b"<a>&mdash;<!-- &nbsp;") == b"<a>&#x2014;<!-- &nbsp;"
    assert _html_entities(b"<a>&mdash;<![CDATA[ &nbsp;") == b"<a>&#x2014;<![CDATA[ &nbsp;"


def test_odd_feed_details():
    parsed = parse_feed(ODD, url="https://odd.example/feed/")
    e = parsed.entries
    assert e[0].title == "Tom & Jerry Return"
    assert e[0].link == "https://odd.example/p/1"  # a permalink guid is the link
    assert e[0].published == datetime(2026, 11, 28, 18, 0, tzinfo=UTC)
    assert e[1].link == "https://odd.example/feed/p/2?utm_source=rss&id=7#top"
    assert e[2].link == "https://odd.example/p/3"
    assert e[2].published == datetime(2026, 11, 28, 14, 2, tzinfo=UTC)
    assert e[3].published == datetime(2026, 11, 28, 20, 2, tzinfo=UTC)
    stories, warnings = stories_from_feed(parsed, source="odd", base="https://odd.example/feed/")
    assert [s.guid for s in stories] == [
        "https://odd.example/p/1",
        "https://odd.example/feed/p/2?id=7",  # normalised link: tracking and fragment gone
        "https://odd.example/p/3",
        "tag:odd,2026:4",
    ]
    assert stories[1].url == "https://odd.example/feed/p/2?id=7#top"
    assert stories[0].outlet == "Odd & Ends"
    assert warnings == ["1 entries without a title or link were skipped"]


def test_atom_relative_links_and_scripts():
    parsed = parse_feed(ATOM, url="https://blog.example/feed.atom")
    assert parsed.title == "Studio Notes"
    assert parsed.entries[0].link == "https://blog.example/en/posts/one.html"
    assert parsed.entries[0].summary == "Body text"
    assert parsed.entries[1].published == datetime(2026, 11, 27, tzinfo=UTC)


def test_old_rss_with_latin1_and_relative_links():
    parsed = parse_feed(RSS091, url="http://example.org/rss.xml")
    assert parsed.entries[0].title == "Café talk & more"
    assert parsed.entries[0].link == "http://example.org/news/1.html"
    assert parsed.entries[0].summary == "Short note"


def test_normalize_link():
    assert (
        normalize_link("HTTPS://Deadline.COM:443/2026/11/x/?utm_source=rss&b=2&a=1&fbclid=z#frag")
        == "https://deadline.com/2026/11/x/?a=1&b=2"
    )
    assert normalize_link("http://Example.com") == "http://example.com/"
    assert (
        normalize_link("http://example.com:8080/a?gclid=1&mc_cid=2") == "http://example.com:8080/a"
    )
    assert normalize_link("/a/b", "https://e.com/feed/") == "https://e.com/a/b"
    assert normalize_link("javascript:alert(1)") == ""
    assert normalize_link("mailto:x@y.z") == ""
    assert normalize_link("http://[::1") == ""


def test_clean_url_keeps_the_publishers_form():
    assert clean_url("https://e.com/a?id=7&utm_medium=rss#top") == "https://e.com/a?id=7#top"
    assert clean_url("javascript:alert(1)") == ""
    assert clean_url("p/2", "https://e.com/feed/") == "https://e.com/feed/p/2"


def test_entry_guid_fallbacks():
    when = datetime(2026, 11, 28, tzinfo=UTC)
    assert entry_guid(" id-1 ", "https://e.com/x", "T", when) == "id-1"
    assert entry_guid("", "https://E.com/x?utm_source=a", "T", when) == "https://e.com/x"
    hashed = entry_guid("", "", "Title", when)
    assert hashed.startswith("sha256:") and hashed == entry_guid("", "", "Title", when)
    assert hashed != entry_guid("", "", "Title", None)
    assert entry_guid("x" * 5000, "", "", None).startswith("sha256:")


def test_plain_text():
    assert plain_text("<p>Hello&nbsp;<b>world</b></p><script>x()</script>") == "Hello world"
    assert plain_text("&lt;p&gt;double &amp;amp; escaped&lt;/p&gt;") == "double & escaped"
    assert plain_text("Budget < $5M and a<b") == "Budget < $5M and a<b"
    assert plain_text("<p>One</p><p>Two<br>Three</p>", multiline=True) == "One\n\nTwo\nThree"
    assert plain_text("zero\u200bwidth\u202eflip\x07") == "zerowidthflip"
    assert plain_text("word " * 100, limit=20).endswith("…")
    text = "<p>Body.</p><p>The post <a href='x'>T</a> appeared first on <a>Deadline</a>.</p>"
    assert plain_text(text, multiline=True) == "Body."


def test_parse_date_formats():
    utc = datetime(2026, 11, 28, 15, 2, tzinfo=UTC)
    assert parse_date("Sat, 28 Nov 2026 15:02:00 GMT") == (utc, True)
    assert parse_date("2026-11-28T16:02:00+01:00") == (utc, True)
    assert parse_date("2026-11-28T15:02:00Z") == (utc, True)
    assert parse_date("2026-11-28T15:02:00.999Z") == (utc, True)
    assert parse_date("") == (None, True)
    assert parse_date("not a date") == (None, False)
    assert parse_date("9" * 500) == (None, False)
