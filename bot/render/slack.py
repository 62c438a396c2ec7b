"""Replies as Slack messages: Block Kit plus a plain ``text`` fallback, inside Slack's limits.

Every external string (titles, companies, outlets, field values, the text a user typed)
is treated as hostile: ``&``, ``<`` and ``>`` become entities, so ``<!channel>`` or
``<@U123>`` in a job title is shown, never parsed; ``@here``-style words get an invisible
word joiner; control and bidi-override characters are dropped. Links are the only
markup we write ourselves (``<url|label>``, with the url sanitised and the label escaped),
plus dates as ``<!date^unix^{date_short_pretty} {time}|fallback>`` so each reader sees
their own time zone. mrkdwn text objects carry ``verbatim: true`` so Slack does not
auto-link or auto-parse mentions in them (issue 6, issue 7 "hostile input is data").

Limits are enforced here, before anything is sent, with an ellipsis where text is cut
(Block Kit reference; issue 6): 50 blocks a message, header 150, section text 3,000,
10 fields of 2,000, context 10 elements, actions 25 elements, message text 40,000;
plus the element limits (button text 75, value 2,000, url 3,000, action_id 255).
A reply too long for one message (a digest) is split into several.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from handlers.alerts import NEWS_COLOUR
from handlers.reply import Button, Item, Reply

__all__ = [
    "LIMITS",
    "Limits",
    "decode_action_value",
    "encode_action_value",
    "escape",
    "format_date",
    "link",
    "render",
]


@dataclass(frozen=True, slots=True)
class Limits:
    """Slack's published Block Kit and chat.postMessage limits (characters / counts)."""

    blocks: int = 50
    header_text: int = 150
    section_text: int = 3000
    section_fields: int = 10
    field_text: int = 2000
    context_elements: int = 10
    context_text: int = 2000  # not published per element; kept under the field limit
    actions_elements: int = 25
    message_text: int = 40_000
    button_text: int = 75
    button_value: int = 2000
    button_url: int = 3000
    action_id: int = 255
    block_id: int = 255


LIMITS = Limits()

# Our own budget for the notification/fallback text: Slack accepts 40,000 but
# truncates long ``text`` in notifications anyway, and it duplicates the blocks.
_FALLBACK_TEXT = 3000
_ELLIPSIS = "…"
ACTION_RUN = "marquee:run"  # paging buttons: value carries command + args
ACTION_LINK = "marquee:link"  # url buttons: Slack still sends a block_actions to ack

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
# Special mentions Slack may parse from bare words in some surfaces (link_names,
# verbatim false): a word joiner after the @ keeps them inert and invisible.
_BARE_MENTION = re.compile(r"@(?=(?:channel|here|everyone)\b)", re.IGNORECASE)
_SEVERITY_MARK = {"warning": "⚠️ ", "error": "⛔ "}


# -- escaping ----------------------------------------------------------------------


def _plain(text: str | None) -> str:
    """External text without control characters, tabs or CRs, stripped."""
    if not text:
        return ""
    return _CONTROL.sub(
        "", text.replace("\t", " ").replace("\r\n", "\n").replace("\r", "\n")
    ).strip()


def escape(text: str) -> str:
    """External text made inert for any Slack text field (mrkdwn, plain_text, fallback)."""
    text = _CONTROL.sub("", text.replace("\t", " ").replace("\r\n", "\n").replace("\r", "\n"))
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _BARE_MENTION.sub("@\u2060", text)


def _prefix(raw: str, limit: int) -> int:
    """The length of the longest prefix of ``raw`` whose escaped form fits ``limit``."""
    lo, hi = 0, len(raw)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if len(escape(raw[:mid])) <= limit:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _fit(raw: str, limit: int) -> str:
    """``escape(raw)`` cut so that it fits ``limit`` characters, ending in … when cut.

    The cut is made on the raw text, so no entity (``&amp;``) is ever split.
    """
    escaped = escape(raw)
    if len(escaped) <= limit:
        return escaped
    if limit <= len(_ELLIPSIS):
        return _ELLIPSIS[:limit]
    return escape(raw[: _prefix(raw, limit - len(_ELLIPSIS))]).rstrip() + _ELLIPSIS


def _cut(text: str, limit: int) -> str:
    """Cut text we composed ourselves (already escaped) without splitting an entity
    or a ``<...>`` link; used only as a last guard."""
    if len(text) <= limit:
        return text
    cut = text[: limit - len(_ELLIPSIS)]
    amp, lt = cut.rfind("&"), cut.rfind("<")
    if amp > cut.rfind(";"):
        cut = cut[:amp]
    if lt > cut.rfind(">"):
        cut = cut[:lt]
    return cut.rstrip() + _ELLIPSIS


# -- links and dates ---------------------------------------------------------------

# a scheme we allow and a host that starts right after it; the rest gets encoded
_SAFE_URL = re.compile(r"^https?://[^\s/?#<>|@]+(?:[/?#]|$)", re.IGNORECASE)


def _clean_url(url: str | None, limit: int) -> str | None:
    """An http(s) URL with the characters that would break ``<url|label>`` encoded."""
    if not url:
        return None
    url = _CONTROL.sub("", url.strip())
    if not _SAFE_URL.match(url):
        return None
    # keep URL syntax; encode what ends or splits Slack's link markup, and spaces/quotes
    url = quote(url, safe="/:?#[]@!$&'()*+,;=%-._~")
    # "/@everyone" in a path (a feed's relative link, a profile URL) reads as a bare
    # mention in the message text: %40 is the same path and inert
    url = _BARE_MENTION.sub("%40", url)
    return url if len(url) <= limit else None


def link(url: str | None, label: str, *, limit: int = 1000, url_limit: int = 1500) -> str:
    """``<url|label>`` with the label escaped (at most ``limit`` characters of label);
    just the escaped label when the URL is missing, not http(s) or over ``url_limit``."""
    label_text = _fit(_plain(label), limit) if _plain(label) else ""
    safe = _clean_url(url, url_limit)
    if safe is None:
        return label_text
    # in Slack's markup an & in the URL is written as &amp; like everywhere else
    href = safe.replace("&", "&amp;")
    return f"<{href}|{label_text}>" if label_text else f"<{href}>"


def format_date(when: datetime) -> str:
    """A time every reader sees in their own zone, with a UTC fallback."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    unix = int(when.timestamp())
    fallback = when.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{unix}^{{date_short_pretty}} {{time}}|{fallback}>"


# -- paging buttons ----------------------------------------------------------------


def encode_action_value(command: str, args: Sequence[tuple[str, str]]) -> str:
    """A button's ``value``: the command and its arguments, enough to answer the click
    after a restart (no server-side state)."""
    return json.dumps({"c": command, "a": [list(pair) for pair in args]}, separators=(",", ":"))


def decode_action_value(value: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    """Inverse of :func:`encode_action_value`; ``ValueError`` for anything else."""
    try:
        data = json.loads(value)
        command = data["c"]
        pairs = tuple((str(k), str(v)) for k, v in data.get("a", ()))
    except (TypeError, KeyError, ValueError, AttributeError) as err:
        raise ValueError("not a Marquee button value") from err
    if not isinstance(command, str) or not command:
        raise ValueError("not a Marquee button value")
    return command, pairs


def _button(button: Button, action_id: str) -> dict[str, Any] | None:
    text = {"type": "plain_text", "text": _fit(_plain(button.label) or "Open", LIMITS.button_text)}
    if button.url:
        url = _clean_url(button.url, LIMITS.button_url)
        if url is None:
            return None
        return {"type": "button", "action_id": action_id, "text": text, "url": url}
    if not button.command:
        return None
    value = encode_action_value(button.command, button.args)
    if len(value) > LIMITS.button_value:
        return None  # a button that cannot carry its arguments would page wrongly
    return {"type": "button", "action_id": action_id, "text": text, "value": value}


# -- blocks ------------------------------------------------------------------------


def _mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": text, "verbatim": True}


def _paragraph_chunks(raw: str, limit: int) -> list[str]:
    """Escaped section texts of at most ``limit`` characters, split between paragraphs
    (or between words, for a paragraph longer than a section)."""
    chunks: list[str] = []
    current = ""
    for para in _plain(raw).split("\n"):
        candidate = f"{current}\n{para}" if current else para
        if len(escape(candidate)) <= limit:
            current = candidate
            continue
        if current.strip():
            chunks.append(escape(current))
        current = para
        while len(escape(current)) > limit:
            cut = _prefix(current, limit)
            space = current.rfind(" ", 0, cut)
            if space > cut // 2:
                cut = space
            chunks.append(escape(current[:cut]))
            current = current[cut:].lstrip(" ")
    if current.strip():
        chunks.append(escape(current))
    return chunks


def _bold_label(title: str) -> str:
    # Inside *...* a title's own * ~ ` would end or open formatting; swap them for
    # look-alikes so the layout holds (the words stay readable).
    return title.replace("*", "∗").replace("~", "∼").replace("`", "ˋ")


def _item_blocks(item: Item, index: int, link_label: str | None) -> list[dict[str, Any]]:
    limit = LIMITS.section_text
    title = _bold_label(_plain(item.title) or "(untitled)")
    head = f"*{link(item.url, title, limit=300)}*"
    lines = [head]
    if _plain(item.author):
        lines.append(_fit(_plain(item.author), 300))
    body = "\n".join(lines)
    if _plain(item.text):
        room = limit - len(body) - 1
        if room > 20:
            body = f"{body}\n{_fit(_plain(item.text), room)}"
    section: dict[str, Any] = {
        "type": "section",
        "block_id": f"item-{index}",
        "text": _mrkdwn(_cut(body, limit)),
    }
    fields = [
        _mrkdwn(_field_text(_plain(f.name), _plain(f.value)))
        for f in item.fields
        if _plain(f.name) or _plain(f.value)
    ][: LIMITS.section_fields]
    if fields:
        section["fields"] = fields
    url = _clean_url(item.url, LIMITS.button_url)
    if url is not None:
        section["accessory"] = {
            "type": "button",
            "action_id": f"{ACTION_LINK}:i{index}",
            "text": {"type": "plain_text", "text": _fit(link_label or _label(item), 75)},
            "url": url,
        }
    blocks = [section]
    context: list[dict[str, Any]] = []
    if _plain(item.footer):
        context.append(_mrkdwn(_fit(_plain(item.footer), LIMITS.context_text)))
    if item.timestamp is not None:
        context.append(_mrkdwn(format_date(item.timestamp)))
    if context:
        blocks.append({"type": "context", "elements": context[: LIMITS.context_elements]})
    return blocks


def _field_text(name: str, value: str) -> str:
    if not name:
        return _fit(value, LIMITS.field_text)
    head = f"*{_fit(_bold_label(name), 200)}*"
    return f"{head}\n{_fit(value or '—', LIMITS.field_text - len(head) - 1)}"


def _label(item: Item) -> str:
    # Stories carry the news colour (handlers.alerts); everything else is a posting.
    return "Read story" if item.colour == NEWS_COLOUR else "View posting"


def _actions_blocks(buttons: Sequence[Button], start: int) -> list[dict[str, Any]]:
    elements: list[dict[str, Any]] = []
    for offset, button in enumerate(b for b in buttons if not b.disabled):
        # ids are unique in a message: items' link buttons are i0, i1, ...
        action_id = f"{ACTION_LINK}:b{start + offset}" if button.url else f"{ACTION_RUN}:{offset}"
        element = _button(button, action_id)
        if element is not None:
            elements.append(element)
    step = LIMITS.actions_elements
    return [
        {"type": "actions", "block_id": f"actions-{i // step}", "elements": elements[i : i + step]}
        for i in range(0, len(elements), step)
    ]


def _fallback(reply: Reply, part: int, parts: int) -> str:
    lines: list[str] = []
    title = _plain(reply.title)
    if title:
        lines.append(title if part == 0 else f"{title} (continued)")
    if part == 0 and _plain(reply.text):
        lines.append(_plain(reply.text))
    if part == 0:
        for item in reply.items[:10]:
            who = f" — {_plain(item.author)}" if _plain(item.author) else ""
            lines.append(f"• {_plain(item.title) or '(untitled)'}{who}")
        if len(reply.items) > 10:
            lines.append(f"…and {len(reply.items) - 10} more")
    text = "\n".join(lines) or "Marquee"
    if parts > 1:
        text = f"{text}\n({part + 1}/{parts})"
    return _fit(text, min(_FALLBACK_TEXT, LIMITS.message_text))


def render(
    reply: Reply, *, max_messages: int | None = None, link_label: str | None = None
) -> list[dict[str, Any]]:
    """The reply as one or more ``{"text", "blocks"}`` messages within Slack's limits.

    ``max_messages`` caps the split (a ``response_url`` takes five posts); what does not
    fit is summarised as "…and N more" in the last message.
    """
    label = link_label or reply.extra.get("link_label")
    groups: list[list[dict[str, Any]]] = []
    if _plain(reply.title):
        mark = _SEVERITY_MARK.get(reply.severity, "")
        header = _fit(mark + _plain(reply.title), LIMITS.header_text)
        groups.append([{"type": "header", "text": {"type": "plain_text", "text": header}}])
    for chunk in _paragraph_chunks(reply.text, LIMITS.section_text):
        groups.append([{"type": "section", "text": _mrkdwn(chunk)}])
    for index, item in enumerate(reply.items):
        blocks = _item_blocks(item, index, label)
        if index:
            blocks.insert(0, {"type": "divider"})
        groups.append(blocks)
    tail: list[dict[str, Any]] = _actions_blocks(reply.buttons, 0)
    if _plain(reply.footer):
        footer = _fit(_plain(reply.footer), LIMITS.context_text)
        tail.append({"type": "context", "elements": [_mrkdwn(footer)]})
    tail = tail[: LIMITS.blocks - 2]
    pages, dropped = _pack(groups, tail, max_messages)
    if dropped:
        note = f"…and {dropped} more not shown here"
        tail = [{"type": "context", "elements": [_mrkdwn(note)]}, *tail]
    pages[-1].append(tail)
    total = len(pages)
    return [
        {"text": _fallback(reply, part, total), "blocks": _flatten(page, first=part == 0)}
        for part, page in enumerate(pages)
    ]


def _flatten(page: list[list[dict[str, Any]]], *, first: bool) -> list[dict[str, Any]]:
    blocks = [block for group in page for block in group]
    if not first and blocks and blocks[0]["type"] == "divider":
        blocks = blocks[1:]  # a continuation does not open with a divider
    return blocks


def _pack(
    groups: list[list[dict[str, Any]]], tail: list[dict[str, Any]], max_messages: int | None
) -> tuple[list[list[list[dict[str, Any]]]], int]:
    """Groups of blocks packed into pages of at most 50 blocks, keeping room in the last
    page for ``tail`` (plus a "more not shown" note when ``max_messages`` cuts). Returns
    the pages (lists of groups) and how many items were left out."""
    room_for_tail = len(tail) + 1  # +1: the note, in case something is dropped
    pages: list[list[list[dict[str, Any]]]] = [[]]
    size = 0
    dropped = 0
    for index, group in enumerate(groups):
        if size + len(group) > LIMITS.blocks:
            if max_messages is not None and len(pages) >= max_messages:
                dropped = _count_items(groups[index:])
                break
            pages.append([])
            size = 0
        pages[-1].append(group)
        size += len(group)
    # the tail goes in the last page: open one more page for it, or drop groups
    if size + room_for_tail > LIMITS.blocks:
        if max_messages is None or len(pages) < max_messages:
            pages.append([])
        else:
            while pages[-1] and size + room_for_tail > LIMITS.blocks:
                group = pages[-1].pop()
                size -= len(group)
                dropped += _count_items([group])
    return pages, dropped


def _count_items(groups: Sequence[Sequence[dict[str, Any]]]) -> int:
    return sum(
        1 for group in groups for b in group if str(b.get("block_id", "")).startswith("item-")
    )
