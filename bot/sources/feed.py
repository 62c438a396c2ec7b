"""The ``feed`` source: RSS 0.9x/1.0/2.0, Atom and JSON Feed, parsed from bytes.

Options: ``url`` (required), ``outlet`` (optional: the publisher's name for "also covered
by"; else the feed's own title, else the source name). ``base_url`` replaces the scheme
and host of ``url`` (proxies, tests).

Parsing runs off the event loop (a worker process of bot.cpu, else a thread) and takes
one of three roads to the same records:

* **lxml** reads well-formed RSS and Atom directly: no sanitiser (we output plain text,
  and the cheap tag stripper below is all plain text needs), no entity expansion
  (``resolve_entities=False``, no DTD, no network, no huge trees). feedparser measured
  ~1,800 entries/s on trade-press feeds, nearly all of it sanitising HTML we would
  throw away (../shared/MEASURED.md); this road is ~20-40x faster on the same bytes.
* **feedparser** reads everything the fast road declines: documents that are not
  well-formed XML, carry a DOCTYPE (entities, Netscape RSS 0.91), disagree with the
  HTTP charset, or have an unusual root. It is handed a ``BytesIO``, never a ``str``
  or ``bytes``: given bytes, ``feedparser.parse`` first tries ``open()`` on them as a
  *file name*, so a hostile body naming a local file would be read from disk.
* **json** reads JSON Feed 1.0/1.1.

Both XML roads return the same :class:`FeedEntry` values (a test holds them to it), so
the choice is invisible downstream. A document with no recognisable feed type raises
:class:`ParseError`; a recoverable malformation becomes a warning and the entries count.

Entry identity (issue 3): the entry's guid/id, else its normalised link (see
:func:`normalize_link`), else a hash of title and date.
"""

from __future__ import annotations

import codecs
import hashlib
import html
import html.entities
import io
import json
import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from functools import lru_cache
from typing import Any, ClassVar, Literal
from urllib.parse import parse_qsl, quote, urlencode, urljoin, urlsplit, urlunsplit

from lxml import etree

from bot.errors import ConfigError, ParseError
from bot.models import Story
from bot.sources.base import Fetched, PollContext, SourceConfig

__all__ = [
    "ACCEPT",
    "FeedEntry",
    "FeedSource",
    "ParsedFeed",
    "clean_url",
    "entry_guid",
    "normalize_link",
    "parse_date",
    "parse_feed",
    "plain_text",
    "rebase_url",
    "stories_from_feed",
]

log = logging.getLogger(__name__)

Engine = Literal["auto", "lxml", "feedparser"]

ACCEPT = (
    "application/rss+xml, application/atom+xml, application/feed+json, "
    "application/xml;q=0.9, text/xml;q=0.9, application/json;q=0.8, */*;q=0.5"
)

# Stored text is for chat: a summary is a teaser, not the article.
MAX_SUMMARY_CHARS = 1000
MAX_TITLE_CHARS = 500
# An id longer than this is hashed: it is a key, and hostile feeds send megabyte ids.
MAX_ID_CHARS = 512


@dataclass(frozen=True, slots=True)
class FeedEntry:
    """One entry as either parser read it, already plain text and absolute links."""

    id: str
    title: str
    link: str
    published: datetime | None = None
    summary: str = ""
    author: str = ""
    source_title: str = ""  # RSS <source> / Atom <source><title>
    source_url: str = ""
    date_text: str = ""  # the raw date, for warnings


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    """A parsed document: its title and link, its entries and what was wrong with it."""

    title: str
    link: str
    entries: tuple[FeedEntry, ...]
    warnings: tuple[str, ...] = ()
    engine: str = "lxml"  # lxml | feedparser | json
    version: str = ""


# --------------------------------------------------------------------------------------
# text


_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2066-\u2069]")
# _CONTROL's ASCII members, as bytes to delete
_CONTROL_BYTES = bytes([*range(0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F])


def _strip_control(text: str) -> str:
    """``_CONTROL.sub("", text)``. An ASCII text (most of them; ``isascii`` is a flag
    test) loses the control bytes by ``bytes.translate`` instead: the regex tries its
    class at every position, ~25 us for a 4 KB summary against ~5 us (bench feeds: half
    of ``plain_text``'s time)."""
    if not text.isascii():
        return _CONTROL.sub("", text)
    raw = text.encode("ascii")
    kept = raw.translate(None, _CONTROL_BYTES)
    return text if len(kept) == len(raw) else kept.decode("ascii")


_DROP = re.compile(r"<(script|style|noscript|template)\b.*?</\1\s*>", re.S | re.I)
_COMMENT = re.compile(r"<!--.*?(?:-->|$)", re.S)
# A tag starts with a letter (or / ! ?): "budget < $5M" and "a<b" in prose survive.
_TAG = re.compile(r"</?([A-Za-z][A-Za-z0-9]*)[^<>]*>|<![^<>]*>|<\?[^<>]*>")
_BLOCK_NAMES = frozenset(
    (
        *("p", "div", "br", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "tr"),
        *("table", "section", "article", "header", "footer", "blockquote", "pre", "hr"),
        *("dd", "dt", "figure", "figcaption"),
    )
)


def _tag_space(m: re.Match[str]) -> str:
    """A block tag becomes a line break, any other tag nothing."""
    name = m.group(1)
    return "\n" if name and name.lower() in _BLOCK_NAMES else ""


_ENTITY = re.compile(r"&(?:#\d{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")
_HSPACE = re.compile(r"[ \t\r\f\v\u00a0\u2007\u202f]+")
# What _HSPACE would change: without any of these, a text is its own result. Looking
# for each (memchr) is ~1 us of an 800-character summary, the pass ~30 us (it replaces
# every single space between words with itself).
_ODD_SPACE = ("  ", "\t", "\r", "\f", "\v", "\u00a0", "\u2007", "\u202f")


def _one_space(text: str) -> str:
    """Each run of horizontal space as one plain space."""
    for odd in _ODD_SPACE:
        if odd in text:
            return _HSPACE.sub(" ", text)
    return text


# WordPress appends this to every excerpt; it says nothing about the story.
_WP_TRAILER = re.compile(r"\n?The post [^\n]{1,400}? appeared first on [^\n]{1,120}?\.?$")


def plain_text(value: str | None, *, multiline: bool = False, limit: int = 0) -> str:
    """Plain text of a feed field that may hold HTML, escaped HTML or text.

    Cheap on purpose (regular expressions, no DOM, no sanitiser): the output is plain
    text that renderers escape for their platform, so only the words matter. Scripts,
    styles and comments are dropped; block tags become line breaks when ``multiline``.
    """
    if not value:
        return ""
    text = value
    if limit and len(text) > 4 * limit:
        # Only the first ``limit`` characters survive: converting a 50 KB article to
        # keep its first paragraph is the slow part of reading a feed. A tag cut in
        # half at the end is dropped.
        text = text[: 4 * limit]
        text = text[: text.rfind("<")] if text.rfind("<") > text.rfind(">") else text
    # Twice: some feeds escape their HTML once more than XML requires.
    for _ in range(2):
        if "<" in text:
            lowered = text.lower()
            # Each pass only when its marker is there: these scans are the parser's cost.
            if (
                "<script" in lowered
                or "<style" in lowered
                or "<noscript" in lowered
                or ("<template" in lowered)
            ):
                text = _DROP.sub(" ", text)
            if "<!--" in text:
                text = _COMMENT.sub(" ", text)
            text = _TAG.sub(_tag_space, text)
        if "&" in text and _ENTITY.search(text):
            text = html.unescape(text)
        else:
            break
    text = _strip_control(text)
    if multiline:
        lines: list[str] = []
        gap = False
        for line in _one_space(text).split("\n"):
            line = line.strip()
            if not line:
                gap = True
                continue
            if gap and lines:
                lines.append("")
            lines.append(line)
            gap = False
        text = "\n".join(lines)
        if "appeared first on" in text:
            text = _WP_TRAILER.sub("", text).rstrip()
    else:
        text = " ".join(text.split())
    if limit and len(text) > limit:
        cut = text.rfind(" ", 0, limit - 1)
        text = text[: cut if cut > limit // 2 else limit - 1].rstrip(" ,;:.-") + "…"
    return text


# --------------------------------------------------------------------------------------
# links and identity

_TRACKING_EXACT = frozenset(
    {
        "fbclid",
        "gclid",
        "gclsrc",
        "dclid",
        "gbraid",
        "wbraid",
        "msclkid",
        "yclid",
        "twclid",
        "ttclid",
        "li_fat_id",
        "igshid",
        "mc_cid",
        "mc_eid",
        "_hsenc",
        "_hsmi",
        "mkt_tok",
        "vero_id",
        "vero_conv",
        "oly_anon_id",
        "oly_enc_id",
        "_ga",
        "_gl",
        "ref_src",
        "ref_url",
        "s_kwcid",
        "ncid",
        "sr_share",
        "spm",
        "cmpid",
        "trk",
    }
)
_TRACKING_PREFIXES = ("utm_", "wt.", "pk_", "mtm_", "hsa_")


def _is_tracking(key: str) -> bool:
    k = key.lower()
    return k in _TRACKING_EXACT or k.startswith(_TRACKING_PREFIXES)


def normalize_link(link: str, base: str = "") -> str:
    """The identity form of a link: absolute, lower-case scheme and host, no default
    port, no fragment, no tracking parameters, query sorted. ``""`` if not http(s)."""
    link = (link or "").strip()
    if not link:
        return ""
    try:
        parts = urlsplit(urljoin(base, link) if base else link)
        port = parts.port
    except ValueError:
        return ""
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        return ""
    host = parts.hostname.rstrip(".")
    if port and (scheme, port) not in (("http", 80), ("https", 443)):
        host = f"{host}:{port}"
    pairs = [
        (k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _is_tracking(k)
    ]
    query = urlencode(sorted(pairs), quote_via=quote)
    return urlunsplit((scheme, host, parts.path or "/", query, ""))


# An absolute http(s) link of printable ASCII with a plain host, no port, no query and
# no fragment: what clean_url's road through urllib gives back unchanged (a property
# test holds it to that), at a tenth of the cost.
_PLAIN_URL = re.compile(r"https?://[A-Za-z0-9.-]+(?:/[\x21\x22\x24-\x3e\x40-\x7e]*)?")


def clean_url(link: str, base: str = "") -> str:
    """The link as users should get it: absolute, http(s) only, tracking parameters
    removed; everything else (order, encoding, fragment) as the publisher wrote it."""
    if link and _PLAIN_URL.fullmatch(link):
        return link
    return _clean_url(link, base)


def _clean_url(link: str, base: str) -> str:
    """:func:`clean_url` through urllib, for every link."""
    link = _CONTROL.sub("", (link or "").strip())
    if not link:
        return ""
    try:
        absolute = urljoin(base, link) if base else link
        parts = urlsplit(absolute)
        _ = parts.port  # raises on a garbage port
    except ValueError:
        return ""
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return ""
    if parts.query:
        kept = [p for p in parts.query.split("&") if p and not _is_tracking(p.split("=", 1)[0])]
        parts = parts._replace(query="&".join(kept))
    return urlunsplit(parts)


def entry_guid(entry_id: str, link: str, title: str, published: datetime | None) -> str:
    """A story's identity within its source: id, else normalised link, else a hash."""
    entry_id = (entry_id or "").strip()
    if entry_id:
        if len(entry_id) > MAX_ID_CHARS:
            return "sha256:" + _sha256(entry_id)
        return entry_id
    normal = normalize_link(link)
    if normal:
        if len(normal) > MAX_ID_CHARS:
            return "sha256:" + _sha256(normal)
        return normal
    when = published.isoformat() if published else ""
    return "sha256:" + _sha256(f"{title}\x1f{when}")


def _sha256(text: str) -> str:
    # "surrogatepass": a JSON Feed can escape half a surrogate pair ("\ud800")
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def rebase_url(url: str, base_url: str | None) -> str:
    """``url`` with its scheme and host replaced by ``base_url`` (which may add a path
    prefix): how ``base_url`` points a configured feed at a proxy or a test server."""
    if not base_url:
        return url
    parts = urlsplit(url)
    path = parts.path or "/"
    rebased = base_url.rstrip("/") + path
    return f"{rebased}?{parts.query}" if parts.query else rebased


# --------------------------------------------------------------------------------------
# dates


def parse_date(value: str | None) -> tuple[datetime | None, bool]:
    """``(aware UTC datetime or None, readable)`` for a feed date.

    RFC 822 and ISO 8601 are read with the standard library; anything else goes to
    feedparser's date handlers (which know the odd formats feeds use). Seconds are the
    precision: sub-second parts are dropped, as feedparser does.
    """
    text = (value or "").strip()
    if not text:
        return None, True
    if len(text) > 100:
        return None, False
    return _parse_date(text)


# A feed's dates come back every time it is read (and its entries share minutes): each
# distinct text is parsed once (bench feeds: 2,433 distinct dates in 20,000 entries; an
# RFC 822 date through email.utils takes ~10 us).
@lru_cache(maxsize=4096)
def _parse_date(text: str) -> tuple[datetime | None, bool]:
    parsed: datetime | None = None
    if text[0].isdigit():
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            parsed = None
        if parsed is not None and parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)  # W3C-DTF without a zone: UTC, as feedparser
    else:
        try:
            parsed = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            parsed = None
        if parsed is not None and parsed.tzinfo is None:
            parsed = None  # an unknown zone name: let feedparser decide
    if parsed is None:
        parsed = _feedparser_date(text)
        if parsed is None:
            return None, False
    try:
        return parsed.astimezone(UTC).replace(microsecond=0), True
    except (OverflowError, ValueError):
        return None, False


def _feedparser_date(text: str) -> datetime | None:
    from feedparser.datetimes import _parse_date  # feedparser's own handler chain

    try:
        struct = _parse_date(text)
    except Exception:  # a third-party date handler failing on hostile text is "unreadable"
        return None
    if not struct:
        return None
    try:
        return datetime(*struct[:6], tzinfo=UTC)
    except (ValueError, OverflowError, TypeError):
        return None


class _Dates:
    """Collects unreadable dates so one warning covers a whole feed."""

    __slots__ = ("bad", "first")

    def __init__(self) -> None:
        self.bad = 0
        self.first = ""

    def read(self, *candidates: str | None) -> tuple[datetime | None, str]:
        for raw in candidates:
            if raw and raw.strip():
                when, ok = parse_date(raw)
                if not ok:
                    self.bad += 1
                    if not self.first:
                        self.first = raw.strip()[:60]
                return when, raw.strip()
        return None, ""

    def warnings(self) -> list[str]:
        if not self.bad:
            return []
        return [f"{self.bad} entries with an unreadable date (first: {self.first!r})"]


# --------------------------------------------------------------------------------------
# the fast road: lxml

_ATOM = "http://www.w3.org/2005/Atom"
_RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
_RSS10 = "http://purl.org/rss/1.0/"
_RSS090 = "http://my.netscape.com/rdf/simple/0.9/"
_DC = "http://purl.org/dc/elements/1.1/"
_DCTERMS = "http://purl.org/dc/terms/"
_CONTENT = "http://purl.org/rss/1.0/modules/content/"
_XHTML = "http://www.w3.org/1999/xhtml"
_HTML_TYPES = ("text/html", "application/xhtml+xml")


class _Decline(Exception):
    """The fast road cannot read this document cleanly: hand it to feedparser."""


def _xml_parser() -> etree.XMLParser:
    # A parser per call: lxml parser objects must not be shared between threads.
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        recover=False,
        remove_comments=True,
        remove_pis=True,
        strip_cdata=True,
        collect_ids=False,
    )


def _charset(content_type: str) -> str:
    m = re.search(r"charset\s*=\s*\"?([A-Za-z0-9._:-]+)", content_type or "", re.I)
    return m.group(1) if m else ""


def _codec(name: str) -> str:
    try:
        return codecs.lookup(name).name
    except LookupError:
        return name.lower()


def _parse_lxml(content: bytes, url: str, content_type: str) -> ParsedFeed:
    head = content[:2048]
    if b"<!DOCTYPE" in head or b"<!doctype" in head or b"<!ENTITY" in head:
        raise _Decline("doctype")  # entities, or an HTML page: feedparser's rules apply
    warnings: tuple[str, ...] = ()
    try:
        root = etree.fromstring(content, _xml_parser(), base_url=url or None)
    except etree.XMLSyntaxError as err:
        # HTML's named entities (&nbsp;, &mdash;) in a feed without a DTD are the most
        # common malformation there is (../shared/REAL-DATA.md). They are read as the
        # characters HTML gives them, as feedparser's lenient road would, but without
        # its cost: ~1 ms an entry on the bench's feeds, 40 times this road's.
        rewritten = _html_entities(content) if _undefined_entities(err) else content
        if rewritten == content:  # none of them is HTML's either
            raise _Decline(str(err)) from err
        try:
            root = etree.fromstring(rewritten, _xml_parser(), base_url=url or None)
        except (etree.XMLSyntaxError, ValueError) as again:
            raise _Decline(str(again)) from again
        warnings = (f"malformed feed, read leniently: {_entity_names(err)}",)
    except ValueError as err:
        raise _Decline(str(err)) from err
    if root is None:
        raise _Decline("empty")
    declared = root.getroottree().docinfo.encoding or "utf-8"
    http_charset = _charset(content_type)
    if http_charset and _codec(http_charset) != _codec(declared):
        raise _Decline("charset")  # RFC 3023 precedence: feedparser implements it
    tag = root.tag
    if not isinstance(tag, str):
        raise _Decline("root")
    if tag == "rss":
        channel = root.find("channel")
        if channel is None:
            raise _Decline("rss without channel")
        version = "rss" + (root.get("version") or "").replace(".", "")
        parsed = _read_rss(channel, channel.iterchildren("item"), url, version)
    elif tag == f"{{{_RDF}}}RDF":
        for ns, version in ((_RSS10, "rss10"), (_RSS090, "rss090")):
            channel = root.find(f"{{{ns}}}channel")
            if channel is not None:
                parsed = _read_rss(channel, root.iterchildren(f"{{{ns}}}item"), url, version, ns)
                break
        else:
            raise _Decline("rdf without channel")
    elif tag == f"{{{_ATOM}}}feed":
        parsed = _read_atom(root, url)
    else:
        raise _Decline(f"root {tag}")
    if warnings:
        parsed = replace(parsed, warnings=warnings + parsed.warnings)
    return parsed


# A named entity, or a CDATA section, comment or processing instruction (whose "&" is
# not markup) to step over. Each of those runs to its end, else to the document's: one
# left open takes the rest at once, where a search for its end from every later start
# would be quadratic (a hostile document full of "<!--"). XML's own five entities are
# defined everywhere; the lookahead leaves them alone.
_NAMED_ENTITY = re.compile(
    rb"<!\[CDATA\[.*?(?:\]\]>|\Z)|<!--.*?(?:-->|\Z)|<\?.*?(?:\?>|\Z)"
    rb"|&(?!(?:amp|lt|gt|quot|apos);)([A-Za-z][A-Za-z0-9]{0,31});",
    re.S,
)


def _undefined_entities(err: etree.XMLSyntaxError) -> bool:
    """Every error libxml2 reported is an entity XML does not define."""
    errors = err.error_log
    return bool(errors) and all(e.type_name == "ERR_UNDECLARED_ENTITY" for e in errors)


def _entity_names(err: etree.XMLSyntaxError) -> str:
    names = list(dict.fromkeys(re.findall(r"Entity '([^']{1,40})'", str(err.error_log))))
    shown = ", ".join(f"&{name};" for name in names[:5])
    more = f" and {len(names) - 5} more" if len(names) > 5 else ""
    return f"entities XML does not define, read as HTML's: {shown}{more}"


def _html_entity(m: re.Match[bytes]) -> bytes:
    name = m.group(1)
    if name is None:  # a CDATA section, comment or processing instruction
        return m.group(0)
    value = html.entities.html5.get(name.decode("ascii") + ";")
    if value is None:
        return m.group(0)  # not HTML's either: the parse fails again and feedparser reads it
    return "".join(f"&#x{ord(c):x};" for c in value).encode("ascii")


def _html_entities(content: bytes) -> bytes:
    """``content`` with each named entity HTML defines (outside CDATA, comments and
    processing instructions) written as character references, which XML reads without a
    DTD."""
    return _NAMED_ENTITY.sub(_html_entity, content)


def _text(el: etree._Element | None) -> str:
    if el is None:
        return ""
    if len(el):
        return "".join(el.itertext())
    return el.text or ""


def _resolve(el: etree._Element, href: str, url: str) -> str:
    href = href.strip()
    if not href or href.startswith(("http://", "https://")):
        return href
    base = el.base or url
    try:
        return urljoin(base, href)
    except ValueError:
        return href


def _read_rss(
    channel: etree._Element,
    items: Iterable[etree._Element],
    url: str,
    version: str,
    ns: str = "",
) -> ParsedFeed:
    q = f"{{{ns}}}" if ns else ""
    t_title, t_link, t_desc, t_guid, t_pub, t_author = (
        q + "title",
        q + "link",
        q + "description",
        q + "guid",
        q + "pubDate",
        q + "author",
    )
    t_source = q + "source"
    dates = _Dates()
    entries: list[FeedEntry] = []
    for item in items:
        title = link = desc = guid = pub = upd = author = creator = encoded = ""
        src_title = src_url = ""
        permalink = True
        atom_link = ""
        for child in item:
            tag = child.tag
            if not isinstance(tag, str):
                continue
            if tag == t_title or tag == f"{{{_DC}}}title":
                title = title or _text(child)
            elif tag == t_link:
                link = _text(child).strip()
            elif tag == t_desc:
                desc = _text(child)
            elif tag == t_guid:
                guid = _text(child).strip()
                permalink = (child.get("isPermaLink") or "true").strip().lower() != "false"
            elif tag == t_pub or tag == f"{{{_DCTERMS}}}issued" or tag == f"{{{_ATOM}}}published":
                pub = pub or _text(child)
            elif tag in (f"{{{_DC}}}date", f"{{{_DCTERMS}}}modified", f"{{{_ATOM}}}updated"):
                upd = upd or _text(child)
            elif tag == f"{{{_CONTENT}}}encoded":
                encoded = encoded or _text(child)
            elif tag == f"{{{_DC}}}creator":
                creator = creator or _text(child)
            elif tag == t_author:
                author = author or _text(child)
            elif tag == t_source:
                src_title = _text(child)
                src_url = (child.get("url") or "").strip()
            elif tag == f"{{{_ATOM}}}link":
                rel = child.get("rel") or "alternate"
                if rel == "alternate" and not atom_link:
                    atom_link = _resolve(child, child.get("href") or "", url)
        if not link:
            link = atom_link
        if not link and guid and permalink and guid.startswith(("http://", "https://")):
            link = guid
        if link and not link.startswith(("http://", "https://")):
            link = _resolve(item, link, url)
        published, raw_date = dates.read(pub, upd)
        if not guid and ns:
            guid = (item.get(f"{{{_RDF}}}about") or "").strip()  # RSS 1.0: as feedparser
        entries.append(
            FeedEntry(
                id=guid,
                title=plain_text(title, limit=MAX_TITLE_CHARS),
                link=link,
                published=published,
                summary=plain_text(desc or encoded, multiline=True, limit=MAX_SUMMARY_CHARS),
                author=plain_text(creator or author, limit=200),
                source_title=plain_text(src_title, limit=200),
                source_url=src_url,
                date_text=raw_date,
            )
        )
    feed_title = plain_text(_text(channel.find(t_title)), limit=200)
    feed_link = _text(channel.find(t_link)).strip()
    return ParsedFeed(
        feed_title, feed_link, tuple(entries), tuple(dates.warnings()), "lxml", version
    )


def _atom_text(el: etree._Element | None, *, multiline: bool, limit: int) -> str:
    if el is None:
        return ""
    kind = (el.get("type") or "text").lower()
    if kind in ("xhtml", "application/xhtml+xml"):
        parts = [el.text or ""]
        for child in el:
            parts.append(etree.tostring(child, encoding="unicode", with_tail=True))
        raw = "".join(parts)
    else:
        raw = _text(el)
    return plain_text(raw, multiline=multiline, limit=limit)


def _atom_link(el: etree._Element, url: str) -> str:
    """The entry's alternate HTML link, chosen as feedparser chooses it (the last
    ``rel="alternate"`` with an HTML type, the type defaulting to HTML)."""
    chosen = ""
    fallback = ""
    for link in el.iterchildren(f"{{{_ATOM}}}link"):
        rel = (link.get("rel") or "alternate").strip()
        if rel != "alternate":
            continue
        href = link.get("href") or ""
        if not href.strip():
            continue
        kind = (link.get("type") or "text/html").strip().lower()
        if kind in _HTML_TYPES:
            chosen = _resolve(link, href, url)
        elif not fallback:
            fallback = _resolve(link, href, url)
    return chosen or fallback


def _read_atom(feed: etree._Element, url: str) -> ParsedFeed:
    a = f"{{{_ATOM}}}"
    dates = _Dates()
    entries: list[FeedEntry] = []
    for entry in feed.iterchildren(a + "entry"):
        title_el = summary_el = content_el = source_el = None
        entry_id = pub = upd = author = ""
        for child in entry:
            tag = child.tag
            if tag == a + "title":
                title_el = child
            elif tag == a + "id":
                entry_id = _text(child).strip()
            elif tag == a + "published" or tag == f"{{{_DCTERMS}}}issued":
                pub = pub or _text(child)
            elif tag == a + "updated" or tag == f"{{{_DC}}}date":
                upd = upd or _text(child)
            elif tag == a + "summary":
                summary_el = child
            elif tag == a + "content":
                content_el = child
            elif tag == a + "author" and not author:
                author = _text(child.find(a + "name"))
            elif tag == a + "source":
                source_el = child
        published, raw_date = dates.read(pub, upd)
        summary = _atom_text(summary_el, multiline=True, limit=MAX_SUMMARY_CHARS)
        if not summary and content_el is not None and not content_el.get("src"):
            summary = _atom_text(content_el, multiline=True, limit=MAX_SUMMARY_CHARS)
        src_title = src_url = ""
        if source_el is not None:
            src_title = plain_text(_text(source_el.find(a + "title")), limit=200)
            src_url = _atom_link(source_el, url)
        entries.append(
            FeedEntry(
                id=entry_id,
                title=_atom_text(title_el, multiline=False, limit=MAX_TITLE_CHARS),
                link=_atom_link(entry, url),
                published=published,
                summary=summary,
                author=plain_text(author, limit=200),
                source_title=src_title,
                source_url=src_url,
                date_text=raw_date,
            )
        )
    title = _atom_text(feed.find(a + "title"), multiline=False, limit=200)
    return ParsedFeed(
        title, _atom_link(feed, url), tuple(entries), tuple(dates.warnings()), "lxml", "atom10"
    )


# --------------------------------------------------------------------------------------
# the careful road: feedparser


def _parse_feedparser(content: bytes, url: str, content_type: str) -> ParsedFeed:
    import feedparser

    headers = {"content-location": url} if url else {}
    if content_type:
        headers["content-type"] = content_type
    try:
        # BytesIO, never the bytes themselves: feedparser would try them as a file name.
        result = feedparser.parse(
            io.BytesIO(content),
            response_headers=headers,
            sanitize_html=False,  # we keep plain text only; see the module docstring
            resolve_relative_uris=False,
        )
    except Exception as err:  # feedparser failing on hostile bytes is this feed's problem
        raise ParseError(f"unreadable feed ({type(err).__name__}: {err})") from err
    version = result.get("version") or ""
    raw_entries = result.get("entries") or []
    bozo = result.get("bozo")
    problem = result.get("bozo_exception")
    if not version and not raw_entries:
        raise ParseError(_not_a_feed(content, problem))
    warnings: list[str] = []
    # A missing or non-XML Content-Type is the server's label, not the document's
    # shape; feedparser reports it as bozo but reads the feed normally.
    if bozo and problem is not None and not isinstance(problem, feedparser.NonXMLContentType):
        warnings.append(f"malformed feed, read leniently: {_describe(problem)}")
    dates = _Dates()
    entries: list[FeedEntry] = []
    for e in raw_entries:
        link = _fp_link(e)
        if link and not link.startswith(("http://", "https://")):
            link = urljoin(url, link) if url else link
        guid = (e.get("id") or "").strip()
        if not link and guid and e.get("guidislink") and guid.startswith(("http://", "https://")):
            link = guid
        summary = e.get("summary") or ""
        if not summary:
            for part in e.get("content") or ():
                if part.get("value"):
                    summary = part["value"]
                    break
        # dict.get: FeedParserDict.get("updated") falls back to "published", with a warning.
        published, raw_date = dates.read(dict.get(e, "published"), dict.get(e, "updated"))
        source = e.get("source") or {}
        entries.append(
            FeedEntry(
                id=guid,
                title=plain_text(e.get("title"), limit=MAX_TITLE_CHARS),
                link=link,
                published=published,
                summary=plain_text(summary, multiline=True, limit=MAX_SUMMARY_CHARS),
                author=plain_text(e.get("author"), limit=200),
                source_title=plain_text(source.get("title"), limit=200),
                source_url=(source.get("href") or "").strip(),
                date_text=raw_date,
            )
        )
    feed = result.get("feed") or {}
    warnings.extend(dates.warnings())
    return ParsedFeed(
        plain_text(feed.get("title"), limit=200),
        (feed.get("link") or "").strip(),
        tuple(entries),
        tuple(warnings),
        "feedparser",
        version,
    )


def _fp_link(e: Mapping[str, Any]) -> str:
    links = e.get("links") or []
    chosen = fallback = ""
    for link in links:
        if (link.get("rel") or "alternate") != "alternate" or not link.get("href"):
            continue
        if (link.get("type") or "text/html").lower() in _HTML_TYPES:
            chosen = link["href"]
        elif not fallback:
            fallback = link["href"]
    return (chosen or fallback or e.get("link") or "").strip()


def _describe(err: BaseException) -> str:
    text = str(err) or type(err).__name__
    return text[:200]


def _not_a_feed(content: bytes, problem: BaseException | None) -> str:
    start = content.lstrip()[:200].lower()
    if not start:
        return "empty document: no feed"
    if b"<html" in start or b"<!doctype html" in start:
        return "an HTML page, not a feed"
    why = f" ({_describe(problem)})" if problem is not None else ""
    return f"no RSS, Atom or JSON Feed found{why}"


# --------------------------------------------------------------------------------------
# JSON Feed


def _parse_json_feed(content: bytes, url: str) -> ParsedFeed:
    try:
        doc = json.loads(content)
    except (ValueError, UnicodeDecodeError) as err:
        raise ParseError(f"invalid JSON: {err}") from err
    if not isinstance(doc, dict) or not isinstance(doc.get("items"), list):
        raise ParseError("a JSON document, but not a JSON Feed (no 'items' list)")
    version = str(doc.get("version") or "")
    dates = _Dates()
    entries: list[FeedEntry] = []
    skipped = 0
    base = _str(doc.get("feed_url")) or url
    for item in doc["items"]:
        if not isinstance(item, dict):
            skipped += 1
            continue
        link = _str(item.get("url")) or _str(item.get("external_url"))
        if link and not link.startswith(("http://", "https://")):
            link = urljoin(base, link) if base else link
        published, raw_date = dates.read(
            _str(item.get("date_published")), _str(item.get("date_modified"))
        )
        authors = item.get("authors") or ([item["author"]] if item.get("author") else [])
        author = ""
        if isinstance(authors, list) and authors and isinstance(authors[0], dict):
            author = _str(authors[0].get("name"))
        summary = _str(item.get("summary")) or _str(item.get("content_html"))
        summary = summary or _str(item.get("content_text"))
        raw_id = item.get("id")
        entries.append(
            FeedEntry(
                id=str(raw_id).strip() if isinstance(raw_id, (str, int)) else "",
                title=plain_text(_str(item.get("title")), limit=MAX_TITLE_CHARS),
                link=link,
                published=published,
                summary=plain_text(summary, multiline=True, limit=MAX_SUMMARY_CHARS),
                author=plain_text(author, limit=200),
                date_text=raw_date,
            )
        )
    warnings = dates.warnings()
    if skipped:
        warnings.append(f"{skipped} JSON Feed items were not objects")
    return ParsedFeed(
        plain_text(_str(doc.get("title")), limit=200),
        _str(doc.get("home_page_url")),
        tuple(entries),
        tuple(warnings),
        "json",
        version or "json",
    )


def _str(value: object) -> str:
    return value.strip() if isinstance(value, str) else ""


# --------------------------------------------------------------------------------------
# the public parse


def parse_feed(
    content: bytes,
    *,
    url: str = "",
    content_type: str = "",
    engine: Engine = "auto",
) -> ParsedFeed:
    """Parse a feed document from bytes. CPU-bound: call it in a worker thread.

    ``url`` resolves relative links; ``content_type`` is the HTTP header (its charset
    outranks the document's, as RFC 3023 says). ``engine`` forces one road (tests and
    benchmarks). Raises :class:`ParseError` when no feed can be read from the bytes.
    """
    body = content.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not body:
        raise ParseError("empty document: no feed")
    if body[:1] in (b"{", b"["):
        return _parse_json_feed(body, url)
    if engine in ("auto", "lxml"):
        try:
            return _parse_lxml(content, url, content_type)
        except _Decline as why:
            if engine == "lxml":
                raise ParseError(f"the fast parser declined: {why}") from why
        except Exception:
            # A bug of ours on a hostile document must not cost the feed: feedparser
            # reads it instead, and the log shows what to fix.
            if engine == "lxml":
                raise
            log.warning("fast feed parser failed on %s; using feedparser", url, exc_info=True)
    return _parse_feedparser(content, url, content_type)


# --------------------------------------------------------------------------------------
# entries -> stories


def stories_from_feed(
    parsed: ParsedFeed,
    *,
    source: str,
    outlet: str = "",
    base: str = "",
) -> tuple[list[Story], list[str]]:
    """Turn parsed entries into :class:`Story` records with their identity.

    ``outlet`` is the configured publisher name; else the feed's title; else ``source``.
    Entries with neither title nor link are skipped, and an id seen twice keeps its
    first entry; both are reported in the returned warnings.
    """
    name = outlet or parsed.title or source
    stories: list[Story] = []
    warnings: list[str] = list(parsed.warnings)
    seen: set[str] = set()
    empty = duplicates = 0
    for e in parsed.entries:
        url = clean_url(e.link, base)
        if not e.title and not url:
            empty += 1
            continue
        title = e.title or plain_text(e.summary, limit=120) or url
        guid = entry_guid(e.id, e.link, title, e.published)
        if guid in seen:
            duplicates += 1
            continue
        seen.add(guid)
        stories.append(
            Story(
                source=source,
                guid=guid,
                title=title,
                url=url,
                outlet=name,
                published=e.published,
                summary=e.summary,
                author=e.author,
            )
        )
    if empty:
        warnings.append(f"{empty} entries without a title or link were skipped")
    if duplicates:
        warnings.append(f"{duplicates} entries repeated an earlier entry's id")
    return stories, warnings


# --------------------------------------------------------------------------------------
# the source


class FeedSource:
    """A configured RSS / Atom / JSON Feed."""

    kind: ClassVar[str] = "feed"
    required_options: ClassVar[tuple[str, ...]] = ("url",)
    default_base_url: ClassVar[str] = ""

    def __init__(self, config: SourceConfig) -> None:
        self.config = config
        raw = config.option("url")
        if not isinstance(raw, str) or not raw.strip():
            raise ConfigError(f"sources.{config.name}.url", "a feed needs a url")
        parts = urlsplit(raw.strip())
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigError(f"sources.{config.name}.url", f"expected an http(s) URL, got {raw!r}")
        self.url = rebase_url(raw.strip(), config.base_url)

    @property
    def outlet(self) -> str:
        value = self.config.option("outlet")
        return value.strip() if isinstance(value, str) else ""

    async def fetch(self, ctx: PollContext) -> Fetched:
        """Fetch the feed conditionally; parse it off the event loop (a worker process
        when the app has them, else a thread)."""
        resp = await ctx.get(self.url, headers={"Accept": ACCEPT}, conditional=True)
        if resp.not_modified:
            return Fetched(not_modified=True)
        return await ctx.parse_stories(
            self.read, resp.content, resp.url, resp.headers.get("content-type", "")
        )

    def read(self, content: bytes, url: str, content_type: str) -> Fetched:
        """The stories of a fetched document, and what was wrong with it. Pure CPU work:
        the entries' HTML to text is most of it, and its stories cross back as records."""
        parsed = parse_feed(content, url=url, content_type=content_type)
        stories, warnings = self.to_stories(parsed, url)
        return Fetched(stories=tuple(stories), warnings=tuple(warnings))

    def to_stories(self, parsed: ParsedFeed, url: str) -> tuple[list[Story], list[str]]:
        """The stories of a parsed document (Google News overrides the details)."""
        return stories_from_feed(parsed, source=self.config.name, outlet=self.outlet, base=url)

    async def details(self, ctx: PollContext, postings: Sequence[Any]) -> list[Any]:
        """Feeds have no detail requests."""
        return list(postings)
