"""Turning external HTML and text into safe plain text."""

from __future__ import annotations

import html
import re

from lxml import etree

__all__ = ["html_to_text", "normalize_space", "unescape_deep"]

_BLOCK_TAGS = frozenset(
    [
        "p",
        "div",
        "br",
        "li",
        "ul",
        "ol",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "tr",
        "table",
        "section",
        "article",
        "header",
        "footer",
        "blockquote",
        "pre",
        "hr",
        "dd",
        "dt",
    ]
)
# Horizontal spaces that collapse to one " " (not every Unicode space: see normalize_space).
_ODD_SPACES = ("\t", "\u00a0", "\u2007", "\u202f", "\u200b")
_SPACE_RUN = re.compile("  +")
_BLANK_LINES = re.compile("\n\n\n+")


def unescape_deep(text: str, rounds: int = 3) -> str:
    """Undo HTML escaping applied once or several times (some Greenhouse boards escape
    twice: after one unescape, ``&mdash;`` and ``&amp;`` remain)."""
    for _ in range(rounds):
        unescaped = _unescape_once(text)
        if unescaped == text:
            break
        text = unescaped
    return text


# The five entities markup escaped as text is made of, "&amp;" last so that no entity
# is decoded twice in one round.
_COMMON_ENTITIES = (("&lt;", "<"), ("&gt;", ">"), ("&quot;", '"'), ("&#39;", "'"), ("&amp;", "&"))
_FEW_ENTITIES = 32


def _unescape_once(text: str) -> str:
    """``html.unescape(text)``, by ``str.replace`` when there are many entities and each
    ``&`` starts one of the five common ones: Greenhouse's escaped markup holds hundreds,
    which cost ``html.unescape`` a Python call each (~100 us for a 9 KB description).

    How many of the five there were follows from how much each replacement shortened
    the text (no replacement makes or breaks another's ``&``), so the text is not
    counted five times over first: 70 -> 43 us for a 6.6 KB Greenhouse description."""
    amps = text.count("&")
    if amps < _FEW_ENTITIES:
        return html.unescape(text) if amps else text
    replaced = text
    found = 0
    for entity, char in _COMMON_ENTITIES:
        before = len(replaced)
        replaced = replaced.replace(entity, char)
        found += (before - len(replaced)) // (len(entity) - 1)
    return replaced if found == amps else html.unescape(text)


def normalize_space(text: str) -> str:
    """Collapse runs of spaces, keep paragraph breaks, strip the ends.

    Runs of spaces, tabs, no-break and zero-width spaces become one space; each line is
    stripped; two or more line breaks with nothing but whitespace between them become
    one blank line. Written with substring tests and literal patterns, which CPython
    scans in C at memchr speed, rather than character classes tried at every position:
    239 -> ~60 us for a 5 KB description (``python -m bench``, cold ingest), with the
    same output as the regex version (tests/test_text_normalize.py checks both on
    generated text).
    """
    for odd in _ODD_SPACES:
        if odd in text:
            text = text.replace(odd, " ")
    if "  " in text:
        text = _SPACE_RUN.sub(" ", text)
    # Stripping every line leaves a blank line empty, so blank runs are "\n\n\n+".
    text = "\n".join([line.strip() for line in text.split("\n")])
    if "\n\n\n" in text:
        text = _BLANK_LINES.sub("\n\n", text)
    return text.strip()


def html_to_text(markup: str | None, *, escaped: bool = False) -> str:
    """Plain text of an HTML fragment; block elements become line breaks.

    ``escaped=True`` for fields that hold HTML escaped as text (Greenhouse ``content``).
    Scripts and styles are dropped; nothing is executed or fetched.
    """
    if not markup:
        return ""
    if escaped:
        markup = unescape_deep(markup)
    if "<" not in markup:
        return normalize_space(unescape_deep(markup))
    text = _body_text(markup, document=_FULL_DOCUMENT.match(markup) is not None)
    if text is None:
        return normalize_space(re.sub(r"<[^>]*>", " ", markup))
    # Entities left over from double escaping come out as literal text: unescape once more.
    return normalize_space(unescape_deep(text))


# The text of a parsed body, block elements wrapped in line breaks, scripts and styles
# left out, done by libxslt in C from libxml2's parse (lxml.html's, without its element
# classes). It replaced lxml.html and a walk of the elements in Python: ~70 -> ~25 us a
# posting for the walk, ~50 -> ~22 for the parse (python -m bench data, 100 boards),
# the same text on all of them; tests/test_text_normalize.py keeps the walk to compare
# on generated markup. Where they differ, the walk was wrong: it lost the text after a
# comment (etree.iterwalk does not report comments), and lxml.html failed an assertion
# on a document with no body or two.
_BODY_TEXT = etree.XSLT(
    etree.XML(
        f"""<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform">
<xsl:output method="text" encoding="UTF-8"/>
<xsl:template match="{"|".join(sorted(_BLOCK_TAGS))}">
<xsl:text>&#10;</xsl:text><xsl:apply-templates/><xsl:text>&#10;</xsl:text>
</xsl:template>
<xsl:template match="script|style|noscript"/>
</xsl:stylesheet>"""
    ),
    access_control=etree.XSLTAccessControl.DENY_ALL,
    # lxml registers its EXSLT regular-expression functions on every run unless told not
    # to; the stylesheet uses none (~1.6 of the ~12 us each call costs).
    regexp=False,
)
_PARSER = etree.HTMLParser(collect_ids=False)
# What lxml.html.fragments_fromstring took for a whole document and did not wrap.
_FULL_DOCUMENT = re.compile(r"^\s*<(?:html|!doctype)", re.IGNORECASE)
# Characters lxml refuses in a text it sets (XML 1.0 Char): see _body_text.
_NOT_XML_CHAR = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _body_text(markup: str, *, document: bool) -> str | None:
    """The text of the body of ``markup`` (wrapped in one unless it is a whole
    ``document``), or ``None`` where lxml.html failed and the tags are stripped instead
    (as before: nothing parsed, a parse error, control characters in the leading text)."""
    try:
        doc = etree.fromstring(
            markup if document else f"<html><body>{markup}</body></html>", _PARSER
        )
    except (etree.LxmlError, ValueError):
        return None
    if doc is None:
        return None
    bodies = doc.findall("body")
    if not bodies:
        # A whole document with no body ("<html>", a head alone) has no text: lxml.html
        # failed an assertion there, which stopped the source's whole parse.
        return "" if document else None
    # lxml.html copied the leading text onto a new element, which refuses control
    # characters (ValueError).
    lead = bodies[0].text
    if lead and lead.strip() and _NOT_XML_CHAR.search(lead):
        return None
    # libxml2 makes a second body of "a</body><body>b" (lxml.html's assertion again).
    return "\n".join([str(_BODY_TEXT(body)) for body in bodies])
