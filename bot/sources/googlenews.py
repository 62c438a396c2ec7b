"""The ``googlenews`` source: a Google News search as a feed.

Options: ``query`` (required), ``hl`` (default ``en-US``), ``gl`` (``US``) and ``ceid``
(derived from ``gl`` and ``hl`` when absent, ``US:en``; a given one must agree with
``gl``). ``base_url`` replaces ``https://news.google.com``.

Google News items differ from a publisher's feed (../shared/REAL-DATA.md, News): the
title is "Headline - Publisher", the publisher is in ``<source url=...>``, the link
redirects through Google and the guid is opaque (``isPermaLink="false"``). So the
outlet comes from ``<source>``, only a trailing " - X" whose X *is* that source's name
is cut from the title, and the guid is the identity.
"""

from __future__ import annotations

import re
from typing import ClassVar
from urllib.parse import urlencode

from bot.errors import ConfigError
from bot.models import Story
from bot.sources.base import SourceConfig
from bot.sources.feed import FeedSource, ParsedFeed, clean_url, entry_guid

__all__ = ["GoogleNewsSource", "search_url", "split_publisher"]

DEFAULT_BASE_URL = "https://news.google.com"
_HL = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,4})?$")
_GL = re.compile(r"^[A-Z]{2}$")


def _ceid_language(hl: str) -> str:
    """The language half of ``ceid`` for ``hl``: ``en-US`` -> ``en``, ``es-419`` stays,
    and Brazilian Portuguese is ``pt-419`` (as Google's own edition links spell it)."""
    if "-" not in hl:
        return hl
    lang, region = hl.split("-", 1)
    if region.isdigit():
        return hl
    if lang == "pt" and region.upper() == "BR":
        return "pt-419"
    return lang


def search_url(
    query: str,
    *,
    hl: str = "en-US",
    gl: str = "US",
    ceid: str | None = None,
    base_url: str | None = None,
) -> str:
    """The RSS search URL for ``query`` with consistent ``hl``, ``gl`` and ``ceid``."""
    ceid = ceid or f"{gl}:{_ceid_language(hl)}"
    params = urlencode({"q": query, "hl": hl, "gl": gl, "ceid": ceid}, safe=":")
    return f"{(base_url or DEFAULT_BASE_URL).rstrip('/')}/rss/search?{params}"


def split_publisher(title: str, publisher: str) -> str:
    """``title`` without its trailing " - publisher", when that is what it ends with.

    Only the last " - X" is considered, and only when X is the ``<source>`` text:
    "WGA Strike - What Writers Want - LA Mag" loses " - LA Mag" and keeps its own dash.
    """
    publisher = publisher.strip()
    if not publisher:
        return title
    for sep in (" - ", " – ", " — "):  # some editions use dashes
        head, found, tail = title.rpartition(sep)
        if found and head.strip() and tail.strip().casefold() == publisher.casefold():
            return head.strip()
    return title


class GoogleNewsSource(FeedSource):
    """A Google News RSS search (``/rss/search?q=...&hl=...&gl=...&ceid=...``)."""

    kind: ClassVar[str] = "googlenews"
    required_options: ClassVar[tuple[str, ...]] = ("query",)
    default_base_url: ClassVar[str] = DEFAULT_BASE_URL

    def __init__(self, config: SourceConfig) -> None:
        self.config = config
        key = f"sources.{config.name}"
        query = config.option("query")
        if not isinstance(query, str) or not query.strip():
            raise ConfigError(f"{key}.query", "a Google News search needs a query")
        hl = str(config.option("hl", "en-US")).strip()
        gl = str(config.option("gl", "US")).strip()
        if not _HL.match(hl):
            raise ConfigError(f"{key}.hl", f"expected a language like 'en-US', got {hl!r}")
        if not _GL.match(gl):
            raise ConfigError(f"{key}.gl", f"expected a country code like 'US', got {gl!r}")
        ceid = config.option("ceid")
        if ceid is not None:
            ceid = str(ceid).strip()
            country, _, language = ceid.partition(":")
            if country != gl or not language:
                raise ConfigError(
                    f"{key}.ceid",
                    f"{ceid!r} does not match gl={gl!r}: expected '{gl}:{_ceid_language(hl)}'",
                )
        self.url = search_url(query.strip(), hl=hl, gl=gl, ceid=ceid, base_url=config.base_url)

    def to_stories(self, parsed: ParsedFeed, url: str) -> tuple[list[Story], list[str]]:
        """Stories with the publisher as outlet and the " - Publisher" suffix removed."""
        stories: list[Story] = []
        warnings = list(parsed.warnings)
        seen: set[str] = set()
        for e in parsed.entries:
            link = clean_url(e.link, url)
            if not e.title and not link:
                continue
            publisher = e.source_title
            title = split_publisher(e.title, publisher) if publisher else e.title
            guid = entry_guid(e.id, e.link, title, e.published)
            if guid in seen:
                continue
            seen.add(guid)
            stories.append(
                Story(
                    source=self.config.name,
                    guid=guid,
                    title=title or link,
                    url=link,
                    outlet=publisher or self.outlet or "Google News",
                    published=e.published,
                    summary=_summary(e.summary, e.title, title, publisher),
                    author=e.author,
                )
            )
        return stories, warnings


def _summary(text: str, raw_title: str, title: str, publisher: str) -> str:
    """Google's description repeats the headline and publisher (or lists related
    headlines): keep it only when it says more than that."""
    squashed = " ".join(text.split())
    if not squashed:
        return ""
    for echo in (f"{title} {publisher}", raw_title, title, f"{raw_title} {publisher}"):
        if squashed.casefold() == " ".join(echo.split()).casefold():
            return ""
    return text
