"""Command declarations: each command is declared once, here, and both platforms
generate their native registration (Discord app commands, Slack slash commands and
manifest) and their argument parsing from it. Nothing about a command is written twice.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from handlers.reply import Reply

__all__ = ["Caller", "Choice", "CommandSpec", "Context", "Option", "OptionType", "Permission"]

OptionType = Literal["string", "integer", "number", "boolean", "choice", "salary"]
Permission = Literal["everyone", "manage_channel"]


@dataclass(frozen=True, slots=True)
class Choice:
    name: str  # what the user sees
    value: str  # what the handler gets


@dataclass(frozen=True, slots=True)
class Option:
    """One argument. ``salary`` is a string that reads "300k", "$300,000", "0.3m"; on
    platforms it is declared as a string and parsed by the handler layer. ``repeat``
    means the option may be given several times (Slack ``company:a company:b``;
    on Discord a comma-separated string)."""

    name: str
    description: str
    type: OptionType = "string"
    required: bool = False
    choices: tuple[Choice, ...] = ()
    min_value: float | None = None
    max_value: float | None = None
    max_length: int | None = None
    autocomplete: Literal["company", None] = None
    repeat: bool = False


@dataclass(frozen=True, slots=True)
class Caller:
    """Who runs the command, as the platform reports it."""

    user_id: str
    display_name: str = ""
    can_manage_channel: bool = False


@dataclass(frozen=True, slots=True)
class Context:
    """Where a command runs: ``channel`` is ``"<platform>:<id>"`` (e.g.
    ``discord:1234``, ``slack:T01/C02``, ``console:main``)."""

    platform: Literal["discord", "slack", "console"]
    channel: str
    caller: Caller
    guild_or_team: str | None = None


Handler = Callable[..., Awaitable["Reply"]]


@dataclass(frozen=True, slots=True)
class CommandSpec:
    name: str  # without the slash, lower case, e.g. "ailistings"
    description: str  # at most 100 characters (Discord's limit)
    options: tuple[Option, ...] = ()
    permission: Permission = "everyone"
    #: may take longer than a platform's 3-second window: defer / ack first
    slow: bool = False
    #: the reply is personal: ephemeral on platforms
    personal: bool = False
    handler: Handler | None = field(default=None, compare=False)
    extra: dict[str, Any] = field(default_factory=dict, compare=False)
    #: options that bare words fill, in order, in command text (Slack, console):
    #: ``/ailistings netflix`` -> ``company="netflix"``; see ``handlers.parse_text_args``
    positional: tuple[str, ...] = ()

    def option(self, name: str) -> Option | None:
        """The declared option called ``name``, if any."""
        return next((o for o in self.options if o.name == name), None)
