"""Replies as terminal text: readable, optionally coloured, and inert.

External text can carry terminal control sequences (a job title with ``\\x1b[2J``
would clear the screen): every control character except newline is removed.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from handlers.args import quote_arg
from handlers.reply import Item, Reply

__all__ = ["render", "sanitize"]

_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_SEVERITY = {"info": "36", "success": "32", "warning": "33", "error": "31"}  # ANSI colours


def sanitize(text: str) -> str:
    """Drop control characters and bidi overrides; keep newlines."""
    return _CONTROL.sub("", text.replace("\t", " "))


def _paint(text: str, code: str, colour: bool) -> str:
    return f"\x1b[{code}m{text}\x1b[0m" if colour else text


def _rgb(value: int | None, colour: bool) -> str:
    if value is None or not colour:
        return ""
    return f"\x1b[38;2;{value >> 16 & 255};{value >> 8 & 255};{value & 255}m"


def _when(ts: datetime) -> str:
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=UTC)
    return ts.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _item(item: Item, colour: bool) -> list[str]:
    bar = f"{_rgb(item.colour, colour)}┃{chr(27) + '[0m' if colour and item.colour else ''}"
    head = sanitize(item.title)
    if item.author:
        head = f"{_paint(head, '1', colour)} — {sanitize(item.author)}"
    else:
        head = _paint(head, "1", colour)
    lines = [f"{bar} {head}"]
    for f in item.fields:
        lines.append(f"{bar}   {_paint(sanitize(f.name) + ':', '2', colour)} {sanitize(f.value)}")
    if item.text:
        for para in sanitize(item.text).splitlines():
            lines.append(f"{bar}   {para}")
    if item.url:
        lines.append(f"{bar}   {_paint(sanitize(item.url), '4', colour)}")
    tail = [sanitize(item.footer)] if item.footer else []
    if item.timestamp:
        tail.append(_when(item.timestamp))
    if tail:
        lines.append(f"{bar}   {_paint(' · '.join(tail), '2', colour)}")
    return lines


def render(reply: Reply, *, colour: bool = False) -> str:
    """The reply as lines of text for a terminal or a log."""
    lines: list[str] = []
    if reply.title:
        lines.append(
            _paint(f"■ {sanitize(reply.title)}", _SEVERITY.get(reply.severity, "0") + ";1", colour)
        )
    if reply.text:
        lines.extend(sanitize(reply.text).splitlines())
    for item in reply.items:
        if lines:
            lines.append("")
        lines.extend(_item(item, colour))
    buttons = [b for b in reply.buttons if not b.disabled]
    if buttons:
        labels = []
        for b in buttons:
            if b.url:
                labels.append(f"[{sanitize(b.label)}: {sanitize(b.url)}]")
            else:
                args = " ".join(f"{k}:{quote_arg(v)}" for k, v in b.args)
                labels.append(f"[{sanitize(b.label)}: /{b.command} {args}]".replace(" ]", "]"))
        lines.append(_paint("  ".join(labels), "2", colour))
    if reply.footer:
        lines.append(_paint(sanitize(reply.footer), "2", colour))
    return "\n".join(lines)
