"""Built-in news sources: trade press, union newsrooms, Google News and hnrss searches.

Plain dicts in the shape of a ``[[sources]]`` table (``name``, ``kind``, and ``url`` or
``query``, plus ``outlet`` so a publisher's several feeds count as one outlet for
"also covered by"). How each URL was checked (issue 3 asks for researched URLs):

* verified: the URL appears in several public feed lists and readers' configurations,
  and the AI tag feeds in a 2026 crawl log that recorded items matched from them;
  all trade sites run WordPress (VIP), whose ``/feed/`` and tag ``/feed/`` are standard.
* unverified: marked ``# UNVERIFIED`` with what is known; kept because the outlet
  matters and a failing source only records an error on itself.

WGA has no public news feed that could be found (its newsroom is a plain page); its
news reaches Marquee through the trade feeds and the Google News searches below.
"""

from __future__ import annotations

from typing import Any

__all__ = ["DEFAULT_NEWS_SOURCES"]

DEFAULT_NEWS_SOURCES: tuple[dict[str, Any], ...] = (
    # -- trade press: site feeds (verified)
    {"name": "deadline", "kind": "feed", "url": "https://deadline.com/feed/", "outlet": "Deadline"},
    {"name": "variety", "kind": "feed", "url": "https://variety.com/feed/", "outlet": "Variety"},
    {
        "name": "hollywood-reporter",
        "kind": "feed",
        "url": "https://www.hollywoodreporter.com/feed/",
        "outlet": "The Hollywood Reporter",
    },
    {
        "name": "indiewire",
        "kind": "feed",
        "url": "https://www.indiewire.com/feed/",
        "outlet": "IndieWire",
    },
    {
        "name": "thewrap",
        "kind": "feed",
        "url": "https://www.thewrap.com/feed/",
        "outlet": "TheWrap",
    },
    # -- trade press: AI tag feeds (verified: active in 2026 per a public crawl log)
    {
        "name": "deadline-ai",
        "kind": "feed",
        "url": "https://deadline.com/tag/artificial-intelligence/feed/",
        "outlet": "Deadline",
    },
    {
        "name": "variety-ai",
        "kind": "feed",
        "url": "https://variety.com/t/artificial-intelligence/feed/",
        "outlet": "Variety",
    },
    {
        "name": "hollywood-reporter-ai",
        "kind": "feed",
        "url": "https://www.hollywoodreporter.com/t/artificial-intelligence/feed/",
        "outlet": "The Hollywood Reporter",
    },
    {
        "name": "indiewire-ai",
        "kind": "feed",
        "url": "https://www.indiewire.com/t/artificial-intelligence/feed/",
        "outlet": "IndieWire",
    },
    # TheWrap files AI stories under its Tech category; no AI tag feed could be found.
    # Verified: a copy of this feed ("Tech Archives - TheWrap") from 2025 was found.
    {
        "name": "thewrap-tech",
        "kind": "feed",
        "url": "https://www.thewrap.com/category/tech/feed/",
        "outlet": "TheWrap",
    },
    # -- unions
    # UNVERIFIED: listed as SAG-AFTRA's feed in two public source lists; a third
    # research note says the newsroom has no RSS. Kept: the outlet matters most.
    {
        "name": "sag-aftra",
        "kind": "feed",
        "url": "https://www.sagaftra.org/rss.xml",
        "outlet": "SAG-AFTRA",
    },
    # UNVERIFIED URL, verified platform: iatse.net is WordPress (a copy of its RSS 2.0
    # search feed was found); /feed/ is WordPress's standard site feed.
    {"name": "iatse", "kind": "feed", "url": "https://iatse.net/feed/", "outlet": "IATSE"},
    # -- Google News searches (the URL is built by the googlenews kind)
    {
        "name": "gnews-hollywood-strike",
        "kind": "googlenews",
        "query": "(SAG-AFTRA OR WGA OR IATSE OR AMPTP OR Teamsters) "
        '(strike OR "tentative agreement" OR negotiations OR ratification) when:7d',
    },
    {
        "name": "gnews-ai-entertainment",
        "kind": "googlenews",
        "query": '("artificial intelligence" OR "generative AI" OR "digital replica" OR deepfake '
        'OR "voice clone") (Hollywood OR actors OR SAG-AFTRA OR studios) when:7d',
    },
    {
        "name": "gnews-video-game-performers",
        "kind": "googlenews",
        "query": '"video game" (performers OR actors) (SAG-AFTRA OR strike OR AI) when:7d',
    },
    # -- hnrss: the monthly "Ask HN: Who is hiring?" thread, comments matching AI.
    # Verified against hnrss's source: /whoishiring/jobs takes q= (a quoted phrase).
    {
        "name": "hn-who-is-hiring-ai",
        "kind": "feed",
        "url": "https://hnrss.org/whoishiring/jobs?q=AI",
        "outlet": "Hacker News: Who is hiring",
    },
    {
        "name": "hn-who-is-hiring-ml",
        "kind": "feed",
        "url": "https://hnrss.org/whoishiring/jobs?q=machine+learning",
        "outlet": "Hacker News: Who is hiring",
    },
)
