"""The platform-neutral answer to a command, a digest or an alert.

Handlers return a :class:`Reply`; each platform's renderer (console, Discord embeds,
Slack Block Kit) turns it into its own payload inside that platform's hard limits.
All text here is plain text: renderers escape it for their target, so a handler never
writes markdown or mentions, and external strings stay inert.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

__all__ = ["Button", "Field", "Item", "Reply", "Severity"]

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
