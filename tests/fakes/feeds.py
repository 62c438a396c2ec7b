"""A fake news server: trade-press RSS, Atom, Google News search, JSON Feed and the
malformed documents real feeds send (issue 3), on :class:`FakeHTTPServer`.

Documents are realistic in shape (WordPress RSS with CDATA and ``content:encoded``,
Atom with ``xml:base`` and XHTML titles, Google News' "Headline - Publisher" items with
``<source url>`` and opaque guids), served with the content types their servers send.
"""

from __future__ import annotations

import gzip
import json
from importlib import resources

from tests.fakes.http import FakeHTTPServer

__all__ = [
    "ATOM_PATH",
    "BILLION_LAUGHS",
    "DEADLINE_PATH",
    "EMPTY_PATH",
    "GOOGLE_PATH",
    "HTML_PAGE",
    "JSONFEED_PATH",
    "JSON_FEED",
    "QUADRATIC_BLOWUP",
    "TRUNCATED",
    "WRAP_PATH",
    "demo_feed",
    "serve_feeds",
]

DEADLINE_PATH = "/feed/"
ATOM_PATH = "/t/artificial-intelligence/feed/atom/"
WRAP_PATH = "/wrap/feed/"
GOOGLE_PATH = "/rss/search"
JSONFEED_PATH = "/whoishiring/jobs.jsonfeed"
EMPTY_PATH = "/empty/feed/"


def demo_feed(name: str) -> bytes:
    """One of the bundled demo documents (``bot/demo_data/feeds/<name>``)."""
    return resources.files("bot").joinpath("demo_data", "feeds", name).read_bytes()


JSON_FEED = json.dumps(
    {
        "version": "https://jsonfeed.org/version/1.1",
        "title": "Hacker News: Ask HN: Who is hiring? (November 2026)",
        "home_page_url": "https://news.ycombinator.com/item?id=45800000",
        "feed_url": "https://hnrss.org/whoishiring/jobs.jsonfeed?q=AI",
        "items": [
            {
                "id": "https://news.ycombinator.com/item?id=45800123",
                "title": 'New comment by jdoe in "Ask HN: Who is hiring? (November 2026)"',
                "content_html": (
                    "<p>Runway | Senior ML Engineer, Generative Video | NYC or REMOTE | "
                    "$220k-$290k</p><p>We build AI tools for filmmakers&#x2F;studios.</p>"
                ),
                "url": "https://news.ycombinator.com/item?id=45800123",
                "date_published": "2026-11-27T16:04:11Z",
                "authors": [{"name": "jdoe"}],
            },
            {
                "id": 45800456,
                "title": 'New comment by asmith in "Ask HN: Who is hiring? (November 2026)"',
                "content_text": "Flawless AI | Research Engineer (visual dubbing) | London",
                "url": "https://news.ycombinator.com/item?id=45800456",
                "date_published": "yesterday-ish",
            },
        ],
    },
    indent=2,
).encode()

HTML_PAGE = b"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>403 Forbidden - Just a moment...</title>
</head><body><h1>Checking your browser before accessing deadline.com</h1>
<p>This process is automatic.</p></body></html>"""

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE rss [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<rss version="2.0"><channel><title>Laughs</title><link>https://example.com/</link>
<item><title>&lol9;</title><link>https://example.com/1</link><guid>lol-1</guid></item>
</channel></rss>"""

# One 50 KB entity referenced 20,000 times: a gigabyte if expanded.
QUADRATIC_BLOWUP = (
    b'<?xml version="1.0"?>\n<!DOCTYPE rss [<!ENTITY a "'
    + b"x" * 50_000
    + b'">]>\n<rss version="2.0"><channel><title>Blowup</title><item><title>'
    + b"&a;" * 20_000
    + b"</title><link>https://example.com/q</link></item></channel></rss>"
)

TRUNCATED = demo_feed("deadline.xml")[:2600]


async def serve_feeds(server: FakeHTTPServer) -> FakeHTTPServer:
    """Route every realistic document on ``server`` (malformed ones are added per test)."""
    rss = "application/rss+xml; charset=UTF-8"
    server.body(DEADLINE_PATH, demo_feed("deadline.xml"), content_type=rss)
    server.body(WRAP_PATH, demo_feed("thewrap.xml"), content_type=rss)
    server.body(
        ATOM_PATH,
        demo_feed("variety-ai.atom.xml"),
        content_type="application/atom+xml; charset=UTF-8",
    )
    server.body(
        GOOGLE_PATH,
        demo_feed("googlenews-strike.xml"),
        content_type="application/xml; charset=utf-8",
    )
    server.body(JSONFEED_PATH, JSON_FEED, content_type="application/feed+json")
    server.body(
        EMPTY_PATH,
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>Quiet</title></channel></rss>',
        content_type="text/xml",
    )
    return server


def gzipped(body: bytes) -> bytes:
    return gzip.compress(body)
