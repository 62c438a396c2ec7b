"""Replies as Discord messages: embeds inside Discord's hard limits, inert text.

A :class:`~handlers.reply.Reply` becomes one or more :class:`DiscordMessage` values:

* the reply's title and text go in the message ``content`` (it has its own 2,000
  character budget, so a page of 10 items still fits the 10 embeds of one message);
* each item becomes an embed: title linking to the posting, company or outlet as the
  author, fields, the posted time as ``<t:unix:R>`` (shown in the reader's own zone),
  colour, source in the footer;
* a reply without items is one embed (several if its text is longer than a description);
* buttons become components on the last message; paging buttons carry their command and
  arguments in the ``custom_id`` (:func:`encode_custom_id`) so a click works after a
  restart.

Every limit is enforced here, before sending, with an ellipsis where text is cut
(content 2,000; 10 embeds a message; title 256; description 4,096; 25 fields, name 256,
value 1,024; footer 2,048; author 256; 6,000 over all embeds of a message). Lengths are
counted in UTF-16 code units, which is never less than the code points Discord counts,
so a cut is at worst a little early. A reply too big for one message is split.

External text is hostile (issue 5, item 6): markdown is escaped where Discord renders it
(content, titles, descriptions, fields) and mentions are broken with a zero-width space
everywhere; the platform adapter also sends ``allowed_mentions`` with nothing to parse.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

import discord
from discord.utils import escape_markdown

from handlers.reply import Button, Item, Reply

__all__ = [
    "LIMITS",
    "SEVERITY_COLOURS",
    "DiscordMessage",
    "decode_custom_id",
    "encode_custom_id",
    "escape",
    "render",
    "units",
]

#: Discord's hard limits (https://discord.com/developers/docs/resources/message).
LIMITS: dict[str, int] = {
    "content": 2000,
    "embeds": 10,
    "title": 256,
    "description": 4096,
    "fields": 25,
    "field_name": 256,
    "field_value": 1024,
    "footer": 2048,
    "author": 256,
    "embed_total": 6000,
    "button_label": 80,
    "custom_id": 100,
    "button_url": 512,
    "buttons_per_row": 5,
    "rows": 5,
}

SEVERITY_COLOURS: dict[str, int] = {
    "info": 0x5865F2,  # Discord blurple
    "success": 0x57F287,
    "warning": 0xFEE75C,
    "error": 0xED4245,
}

_ELLIPSIS = "…"
# Control characters (but newline and tab) and bidi overrides: they can reorder or hide
# text around them ("moc.elgoog" tricks) and have no place in a job title.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
# "@everyone", "@here", "<@123>", "<@!123>", "<@&123>" of any length: a zero-width space
# after the "@" keeps the text readable and makes it no mention at all.
_MENTION = re.compile(r"@(everyone|here|[!&]?\d+)")
# An opening bracket not already escaped (preceded by an even number of backslashes).
# discord.py escapes only the first of several masked links on a line.
_BRACKET = re.compile(r"(?<!\\)((?:\\\\)*)\[")
_CUSTOM_ID_PREFIX = "mq1"
_COMMAND_NAME = re.compile(r"^[a-z0-9_-]{1,32}$")


# -- text -------------------------------------------------------------------------------


def units(text: str) -> int:
    """The length Discord's limits are checked against (UTF-16 code units)."""
    return len(text.encode("utf-16-le")) // 2


def _clean(text: str) -> str:
    return _CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))


def _unmention(text: str) -> str:
    return _MENTION.sub("@\u200b\\1", text)


def escape(text: str) -> str:
    """External text made inert for places where Discord renders markdown."""
    text = escape_markdown(_clean(text), ignore_links=True)
    text = _BRACKET.sub(lambda m: m.group(1) + "\\[", text)
    return _unmention(text)


def _plain(text: str) -> str:
    """External text for places that show no markdown (author, footer): no mentions."""
    return _unmention(_clean(text))


def _cut(text: str, limit: int) -> str:
    """``text`` in at most ``limit`` units, ending in an ellipsis when cut."""
    if units(text) <= limit:
        return text
    budget = limit - units(_ELLIPSIS)
    out: list[str] = []
    used = 0
    for ch in text:
        size = 2 if ord(ch) > 0xFFFF else 1
        if used + size > budget:
            break
        out.append(ch)
        used += size
    kept = "".join(out).rstrip()
    # Never leave a lone escaping backslash: it would escape the ellipsis.
    trailing = len(kept) - len(kept.rstrip("\\"))
    if trailing % 2:
        kept = kept[:-1]
    return kept + _ELLIPSIS


def _split_text(text: str, limit: int) -> list[str]:
    """``text`` in pieces of at most ``limit`` units, cut at line ends where possible."""
    pieces: list[str] = []
    rest = text
    while units(rest) > limit:
        head = _cut(rest, limit + 1)[:-1]  # the longest prefix within the limit
        cut_at = head.rfind("\n")
        if cut_at < limit // 2:
            cut_at = head.rfind(" ")
        if cut_at < limit // 2:
            cut_at = len(head)
        # Do not end a piece on an escaping backslash.
        while cut_at > 1 and (len(head[:cut_at]) - len(head[:cut_at].rstrip("\\"))) % 2:
            cut_at -= 1
        pieces.append(rest[:cut_at].rstrip())
        rest = rest[cut_at:].lstrip("\n ")
    if rest or not pieces:
        pieces.append(rest)
    return pieces


def _url(url: str | None, limit: int = 2048) -> str | None:
    """A link Discord accepts (http or https, no spaces), else ``None``."""
    if not url:
        return None
    url = url.strip()
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.netloc or len(url) > limit:
        return None
    if any(ch.isspace() for ch in url) or _CONTROL.search(url):
        return None
    return url


# -- custom_id ------------------------------------------------------------------------


def encode_custom_id(command: str, args: Sequence[tuple[str, str]]) -> str:
    """``mq1:<command>:<query>``, at most 100 characters, or ValueError."""
    if not _COMMAND_NAME.match(command):
        raise ValueError(f"not a command name: {command!r}")
    query = "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in args)
    custom_id = f"{_CUSTOM_ID_PREFIX}:{command}:{query}"
    if len(custom_id) > LIMITS["custom_id"]:
        raise ValueError(f"custom_id over {LIMITS['custom_id']} characters: {custom_id[:40]}…")
    return custom_id


def decode_custom_id(custom_id: str) -> tuple[str, dict[str, str]] | None:
    """The command and arguments of one of our buttons, or ``None`` for anything else."""
    prefix, sep, rest = custom_id.partition(":")
    if prefix != _CUSTOM_ID_PREFIX or not sep:
        return None
    command, sep, query = rest.partition(":")
    if not sep or not _COMMAND_NAME.match(command):
        return None
    try:
        pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=False)
    except ValueError:
        return None
    # Keys starting with "_" only keep custom_ids unique within a message.
    return command, {k: v for k, v in pairs if not k.startswith("_")}


# -- the rendered message -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _ButtonSpec:
    label: str
    custom_id: str | None = None
    url: str | None = None
    disabled: bool = False


@dataclass(frozen=True, slots=True)
class DiscordMessage:
    """One message's worth of a reply, already inside every limit."""

    content: str | None = None
    embeds: tuple[discord.Embed, ...] = ()
    buttons: tuple[_ButtonSpec, ...] = field(default=())

    def view(self) -> discord.ui.View | None:
        """The buttons as a stopped View (components only; clicks reach on_interaction).

        discord.py keeps every unstopped View with buttons in its in-memory view store,
        forever for persistent ones; our clicks are answered from the custom_id instead,
        so the View is stopped before it is sent and the library never stores it. Must
        be called inside the running event loop.
        """
        if not self.buttons:
            return None
        view = discord.ui.View(timeout=None)
        per_row = LIMITS["buttons_per_row"]
        for index, spec in enumerate(self.buttons):
            row = index // per_row
            if spec.url:
                item = discord.ui.Button(
                    label=spec.label, url=spec.url, disabled=spec.disabled, row=row
                )
            else:
                item = discord.ui.Button(
                    label=spec.label,
                    custom_id=spec.custom_id,
                    style=discord.ButtonStyle.secondary,
                    disabled=spec.disabled,
                    row=row,
                )
            view.add_item(item)
        view.stop()
        return view

    def kwargs(self, *, edit: bool = False) -> dict[str, Any]:
        """Keyword arguments for ``send``/``send_message``/``followup.send`` or, with
        ``edit``, for ``edit``/``edit_message``/``edit_original_response`` (which then
        also clear what the new version no longer has)."""
        kw: dict[str, Any] = {
            "content": self.content,
            "embeds": list(self.embeds),
            # Per call as well as the client default: never trust a default alone.
            "allowed_mentions": discord.AllowedMentions.none(),
        }
        view = self.view()
        if view is not None:
            kw["view"] = view
        elif edit:
            kw["view"] = None
        return kw

    def embed_total(self) -> int:
        """Characters over all embeds, as Discord counts them for its 6,000 limit."""
        return sum(_embed_units(e) for e in self.embeds)


# -- embeds ---------------------------------------------------------------------------


class _Embed(discord.Embed):
    """discord.py adds ``"flags": 0`` to every embed it sends; Discord's published
    request schema (RichEmbed) has no such field, so it is left out when unset."""

    def to_dict(self) -> Any:
        data: Any = super().to_dict()
        if not data.get("flags"):
            data.pop("flags", None)
        return data


@dataclass(slots=True)
class _EmbedDraft:
    title: str = ""
    url: str | None = None
    description: str = ""
    author: str = ""
    fields: list[tuple[str, str, bool]] = field(default_factory=list)
    footer: str = ""
    timestamp: datetime | None = None
    colour: int | None = None

    def total(self) -> int:
        return (
            units(self.title)
            + units(self.description)
            + units(self.author)
            + units(self.footer)
            + sum(units(n) + units(v) for n, v, _ in self.fields)
        )

    def fit(self) -> None:
        """Shrink to Discord's 6,000 characters per embed: description first, then
        trailing fields, then footer, author and title."""
        limit = LIMITS["embed_total"]
        over = self.total() - limit
        if over > 0 and self.description:
            keep = units(self.description) - over
            self.description = _cut(self.description, keep) if keep > 1 else ""
            over = self.total() - limit
        while over > 0 and self.fields:
            self.fields.pop()
            over = self.total() - limit
        for attr in ("footer", "author", "title"):
            if over <= 0:
                break
            value = getattr(self, attr)
            keep = units(value) - over
            setattr(self, attr, _cut(value, keep) if keep > 1 else "")
            over = self.total() - limit

    def build(self) -> discord.Embed:
        embed = _Embed(
            title=self.title or None,
            url=self.url if self.title else None,
            description=self.description or None,
            colour=self.colour,
            timestamp=self.timestamp,
        )
        if self.author:
            embed.set_author(name=self.author)
        for name, value, inline in self.fields:
            embed.add_field(name=name, value=value, inline=inline)
        if self.footer:
            embed.set_footer(text=self.footer)
        return embed


def _embed_units(embed: discord.Embed) -> int:
    total = units(embed.title or "") + units(embed.description or "")
    total += units(embed.author.name or "") + units(embed.footer.text or "")
    total += sum(units(f.name or "") + units(f.value or "") for f in embed.fields)
    return total


def _aware(ts: datetime) -> datetime:
    return ts if ts.tzinfo is not None else ts.replace(tzinfo=UTC)


def _item_draft(item: Item, default_colour: int) -> _EmbedDraft:
    draft = _EmbedDraft(
        title=_cut(escape(item.title.strip()), LIMITS["title"]),
        url=_url(item.url),
        author=_cut(_plain(item.author or "").strip(), LIMITS["author"]),
        footer=_cut(_plain(item.footer or "").strip(), LIMITS["footer"]),
        colour=item.colour if item.colour is not None else default_colour,
    )
    if not draft.title and draft.url:
        draft.title = "Open"
    when = ""
    if item.timestamp is not None:
        ts = _aware(item.timestamp)
        draft.timestamp = ts
        # Discord shows <t:…:R> as "3 hours ago" in the reader's own time zone.
        when = f"Posted <t:{int(ts.timestamp())}:R>"
    text = escape(item.text.strip())
    budget = LIMITS["description"] - (units(when) + 2 if when else 0)
    text = _cut(text, budget) if text else ""
    draft.description = "\n\n".join(part for part in (text, when) if part)
    for f in item.fields[: LIMITS["fields"]]:
        name = _cut(escape(f.name.strip()), LIMITS["field_name"]) or "\u200b"
        value = _cut(escape(f.value.strip()), LIMITS["field_value"]) or "—"
        draft.fields.append((name, value, f.inline))
    draft.fit()
    return draft


def _text_drafts(reply: Reply, colour: int) -> list[_EmbedDraft]:
    """A reply without items: its text over as many embeds as its length needs."""
    title = _cut(escape(reply.title.strip()), LIMITS["title"])
    footer = _cut(_plain(reply.footer or "").strip(), LIMITS["footer"])
    text = escape(reply.text.strip())
    # Leave room for the title and footer within the 6,000 of one embed.
    per_embed = min(LIMITS["description"], LIMITS["embed_total"] - units(title) - units(footer))
    pieces = _split_text(text, per_embed) if text else [""]
    drafts = [_EmbedDraft(description=p, colour=colour) for p in pieces]
    drafts[0].title = title
    drafts[-1].footer = footer
    if not any(d.title or d.description or d.footer for d in drafts):
        drafts[0].description = "Nothing to show."
    return drafts


def _header(reply: Reply) -> str:
    """A reply's title, text and footer as message content (replies with items)."""
    title = escape(reply.title.strip())
    text = escape(reply.text.strip())
    footer = escape((reply.footer or "").strip())
    tail = f"-# {_cut(footer, 300)}" if footer else ""
    bold = f"**{_cut(title, 256)}**" if title else ""
    budget = LIMITS["content"] - units(bold) - units(tail) - 2
    if text:
        text = _cut(text, max(budget, 1))
    return "\n".join(part for part in (bold, text, tail) if part)


def _buttons(buttons: Sequence[Button]) -> tuple[_ButtonSpec, ...]:
    specs: list[_ButtonSpec] = []
    seen: set[str] = set()
    limit = LIMITS["buttons_per_row"] * LIMITS["rows"]
    for index, button in enumerate(buttons[:limit]):
        label = _cut(_clean(button.label).strip() or "…", LIMITS["button_label"])
        if button.url:
            url = _url(button.url, LIMITS["button_url"])
            if url is not None:
                specs.append(_ButtonSpec(label, url=url, disabled=button.disabled))
            continue
        if not button.command:
            continue
        args = list(button.args)
        try:
            custom_id = encode_custom_id(button.command, args)
            while custom_id in seen:  # Discord rejects two equal custom_ids in a message
                args.append(("_", str(index)))
                custom_id = encode_custom_id(button.command, args)
            disabled = button.disabled
        except ValueError:
            # Too long to carry its query: shown, but it cannot be clicked.
            custom_id, disabled = f"{_CUSTOM_ID_PREFIX}:-:{index}", True
        seen.add(custom_id)
        specs.append(_ButtonSpec(label, custom_id=custom_id, disabled=disabled))
    return tuple(specs)


def _pack(drafts: list[_EmbedDraft]) -> list[list[_EmbedDraft]]:
    """Embeds into messages of at most 10 embeds and 6,000 characters."""
    groups: list[list[_EmbedDraft]] = []
    current: list[_EmbedDraft] = []
    total = 0
    for draft in drafts:
        size = draft.total()
        if current and (len(current) >= LIMITS["embeds"] or total + size > LIMITS["embed_total"]):
            groups.append(current)
            current, total = [], 0
        current.append(draft)
        total += size
    if current:
        groups.append(current)
    return groups


def render(reply: Reply, *, max_messages: int | None = None) -> list[DiscordMessage]:
    """The reply as Discord messages, each within every limit.

    ``max_messages`` caps the count (an edit can change only the messages it has, a
    button click only the message it is on): what does not fit is left out and said so.
    """
    colour = SEVERITY_COLOURS.get(reply.severity, SEVERITY_COLOURS["info"])
    if reply.items:
        content = _header(reply) or None
        drafts = [_item_draft(item, colour) for item in reply.items]
    else:
        content = None
        drafts = _text_drafts(reply, colour)
    groups = _pack(drafts)
    if max_messages is not None and len(groups) > max_messages:
        kept = groups[:max_messages]
        left = sum(len(g) for g in groups[max_messages:])
        note = f"-# …and {left} more not shown"
        content = _cut(f"{content}\n{note}" if content else note, LIMITS["content"])
        groups = kept
    buttons = _buttons(reply.buttons)
    messages: list[DiscordMessage] = []
    for index, group in enumerate(groups):
        messages.append(
            DiscordMessage(
                content=content if index == 0 else None,
                embeds=tuple(d.build() for d in group),
                buttons=buttons if index == len(groups) - 1 else (),
            )
        )
    return messages
