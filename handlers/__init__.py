"""Marquee's platform-neutral command layer: declarations, dispatch, digests.

Platform adapters use only these names: build their registration from
:data:`COMMANDS`, turn a platform request into ``(command, args, Context)`` (Slack text
through :func:`parse_text_args`), call :func:`dispatch` and render the :class:`Reply`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from handlers.args import parse_salary, parse_text_args, usage
from handlers.commands import COMMANDS, TOPICS, dispatch, dispatch_text, find_command
from handlers.companies import complete_company as _complete_company
from handlers.digest import build_digest, digest_window, last_occurrence, occurrence
from handlers.filters import compile_filter
from handlers.reply import Button, Field, Item, Reply, reply_from_json, reply_to_json
from handlers.settings import DEFAULT_ALIASES, HandlerSettings
from handlers.spec import Caller, Choice, CommandSpec, Context, Option
from handlers.subscriptions import summarize

if TYPE_CHECKING:
    from storage import Store

__all__ = [
    "COMMANDS",
    "DEFAULT_ALIASES",
    "TOPICS",
    "Button",
    "Caller",
    "Choice",
    "CommandSpec",
    "Context",
    "Field",
    "HandlerSettings",
    "Item",
    "Option",
    "Reply",
    "build_digest",
    "compile_filter",
    "complete_company",
    "digest_window",
    "dispatch",
    "dispatch_text",
    "find_command",
    "last_occurrence",
    "occurrence",
    "parse_salary",
    "parse_salary_input",
    "parse_text_args",
    "reply_from_json",
    "reply_to_json",
    "summarize",
    "usage",
]


async def complete_company(
    store: Store, prefix: str, *, settings: HandlerSettings | None = None
) -> list[str]:
    """Up to 25 stored company names for autocomplete: those starting with ``prefix``
    (case- and punctuation-insensitive), then those containing it, then alias targets."""
    aliases = (settings or HandlerSettings()).aliases
    return await _complete_company(store, prefix, aliases=aliases)


def parse_salary_input(text: object) -> float | None:
    """``"300k"``, ``"$300,000"``, ``"0.3m"`` -> annual USD; ``0`` -> None. Raises
    :class:`bot.errors.CommandError` saying what is expected."""
    return parse_salary(text)
