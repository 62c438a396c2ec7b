"""The platform-neutral answer to a command, a digest or an alert.

Handlers return a :class:`Reply`; each platform's renderer (console, Discord embeds,
Slack Block Kit) turns it into its own payload inside that platform's hard limits.
All text here is plain text: renderers escape it for their target, so a handler never
writes markdown or mentions, and external strings stay inert.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

__all__ = ["Button", "Field", "Item", "Reply", "Severity", "reply_from_json", "reply_to_json"]

Severity = Literal["info", "success", "warning", "error"]


@dataclass(frozen=True, slots=True)
class Field:
    """A labelled value shown beside others (pay, location, ...)."""

    name: str
    value: str
    inline: bool = True


@dataclass(frozen=True, slots=True)
class Item:
    """One entry of a reply: a posting, a story, a subscription, a source.

    ``colour`` is a 0xRRGGBB tier colour (pay tier, topic), or ``None`` for the default.
    ``timestamp`` is shown in the reader's own time zone where the platform can.
    """

    title: str
    url: str | None = None
    text: str = ""
    fields: tuple[Field, ...] = ()
    author: str | None = None  # company or outlet
    footer: str | None = None  # source name, ids
    timestamp: datetime | None = None
    colour: int | None = None


@dataclass(frozen=True, slots=True)
class Button:
    """A button that re-runs a command with arguments (paging) or opens a link.

    ``command``/``args`` must be enough to answer the click after a restart: platforms
    encode them into their ``custom_id`` / ``action value``. A ``url`` button opens a link.
    """

    label: str
    command: str | None = None
    args: tuple[tuple[str, str], ...] = ()
    url: str | None = None
    disabled: bool = False


@dataclass(frozen=True, slots=True)
class Reply:
    """What a handler answers. ``ephemeral`` replies are shown to the caller only."""

    title: str = ""
    text: str = ""
    items: tuple[Item, ...] = ()
    buttons: tuple[Button, ...] = ()
    footer: str | None = None
    severity: Severity = "info"
    ephemeral: bool = False
    extra: dict[str, str] = field(default_factory=dict)

    @classmethod
    def error(cls, message: str) -> Reply:
        """A friendly error shown to the caller only."""
        return cls(title="That didn't work", text=message, severity="error", ephemeral=True)


# -- JSON form, so a Reply can wait in the outbox (digests, notices) ----------------------

_JSON_VERSION = 1


def _ts_to_json(ts: datetime | None) -> str | None:
    return ts.isoformat() if ts is not None else None


def _ts_from_json(value: object) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) and value else None


def reply_to_json(reply: Reply) -> dict[str, Any]:
    """The reply as plain JSON values (str, int, bool, list, dict, None)."""
    return {
        "v": _JSON_VERSION,
        "title": reply.title,
        "text": reply.text,
        "items": [
            {
                "title": i.title,
                "url": i.url,
                "text": i.text,
                "fields": [[f.name, f.value, f.inline] for f in i.fields],
                "author": i.author,
                "footer": i.footer,
                "timestamp": _ts_to_json(i.timestamp),
                "colour": i.colour,
            }
            for i in reply.items
        ],
        "buttons": [
            {
                "label": b.label,
                "command": b.command,
                "args": [[k, v] for k, v in b.args],
                "url": b.url,
                "disabled": b.disabled,
            }
            for b in reply.buttons
        ],
        "footer": reply.footer,
        "severity": reply.severity,
        "ephemeral": reply.ephemeral,
        "extra": dict(reply.extra),
    }


def _str(value: object, default: str = "") -> str:
    return value if isinstance(value, str) else default


def _opt_str(value: object) -> str | None:
    return value if isinstance(value, str) else None


def reply_from_json(data: dict[str, Any]) -> Reply:
    """The inverse of :func:`reply_to_json`; unknown keys are ignored, bad values dropped."""
    items = []
    for raw in data.get("items") or ():
        if not isinstance(raw, dict):
            continue
        fields = tuple(
            Field(_str(f[0]), _str(f[1]), bool(f[2]) if len(f) > 2 else True)
            for f in raw.get("fields") or ()
            if isinstance(f, list | tuple) and len(f) >= 2
        )
        colour = raw.get("colour")
        items.append(
            Item(
                title=_str(raw.get("title")),
                url=_opt_str(raw.get("url")),
                text=_str(raw.get("text")),
                fields=fields,
                author=_opt_str(raw.get("author")),
                footer=_opt_str(raw.get("footer")),
                timestamp=_ts_from_json(raw.get("timestamp")),
                colour=colour if isinstance(colour, int) and not isinstance(colour, bool) else None,
            )
        )
    buttons = tuple(
        Button(
            label=_str(b.get("label")),
            command=_opt_str(b.get("command")),
            args=tuple(
                (_str(a[0]), _str(a[1]))
                for a in b.get("args") or ()
                if isinstance(a, list | tuple) and len(a) == 2
            ),
            url=_opt_str(b.get("url")),
            disabled=bool(b.get("disabled", False)),
        )
        for b in data.get("buttons") or ()
        if isinstance(b, dict)
    )
    severity = data.get("severity")
    extra = data.get("extra")
    return Reply(
        title=_str(data.get("title")),
        text=_str(data.get("text")),
        items=tuple(items),
        buttons=buttons,
        footer=_opt_str(data.get("footer")),
        severity=severity if severity in ("info", "success", "warning", "error") else "info",
        ephemeral=bool(data.get("ephemeral", False)),
        extra={str(k): str(v) for k, v in extra.items()} if isinstance(extra, dict) else {},
    )
