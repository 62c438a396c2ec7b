"""The Slack app manifest, generated from the command declarations (issue 6, "Setting up").

``marquee slack manifest`` prints it; a workspace admin pastes it at "Create an app →
From an app manifest", installs the app, and copies the bot token, signing secret (HTTP
mode) or an app-level token with ``connections:write`` (Socket Mode) into the
environment. Nothing about a command is written twice: every slash command, its
description and its usage hint come from :data:`handlers.COMMANDS`.

Scopes are the least Marquee needs:

* ``commands`` — the slash commands.
* ``chat:write`` — alerts and digests (``chat.postMessage``) and their edits
  (``chat.update``) in channels the bot is a member of.
* ``chat:write.public`` — alerts in *public* channels the bot was never invited to. A
  subscription is made with a slash command, which works in any channel without the bot
  being a member; without this scope every such subscription would be paused at its first
  alert with ``not_in_channel``. Private channels still need ``/invite @Marquee``.
* ``users:read`` — only when ``who_may_subscribe = "admins"``: ``users.info`` tells
  whether the caller is a workspace admin or owner.

No event subscriptions: Marquee reacts to slash commands and button clicks only
(interactivity), never to channel messages, so it reads no message history.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any

from handlers.args import usage
from handlers.spec import CommandSpec

__all__ = ["build_manifest", "manifest_json", "manifest_yaml", "scopes_for"]

# Slack's manifest limits (app manifest reference)
_APP_NAME = 35
_APP_DESCRIPTION = 140
_BOT_NAME = 80
_COMMAND_NAME = 32
_COMMAND_DESCRIPTION = 2000
_USAGE_HINT = 1000

_DESCRIPTION = "Alerts for high-paying AI/ML roles and Hollywood strike and AI news."
_LONG_DESCRIPTION = (
    "Marquee watches public job boards for high-salary AI/ML roles and news feeds for "
    "Hollywood strike and AI-in-entertainment stories. It alerts the channels that "
    "subscribe (/subscribe), answers /ailistings, /strikenews and /salaries, and posts a "
    "daily digest at each channel's local time. Type /help to start."
)


def scopes_for(who_may_subscribe: object = "everyone") -> list[str]:
    """The bot scopes Marquee needs for this ``who_may_subscribe`` setting."""
    scopes = ["commands", "chat:write", "chat:write.public"]
    if who_may_subscribe == "admins":
        scopes.append("users:read")
    return scopes


def _cut(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _usage_hint(spec: CommandSpec) -> str:
    hint = usage(spec).removeprefix(f"/{spec.name}").strip()
    return _cut(hint, _USAGE_HINT)


def build_manifest(
    commands: Sequence[CommandSpec],
    *,
    request_url_base: str | None,
    socket_mode: bool,
    app_name: str = "Marquee",
    path: str = "/slack/events",
    who_may_subscribe: object = "everyone",
    oauth_redirect_url: str | None = None,
) -> dict[str, Any]:
    """The manifest as a dict. ``request_url_base`` is where Slack reaches us over HTTP
    (``https://marquee.example.org``); it is required unless ``socket_mode``.
    ``oauth_redirect_url`` (``{public_url}/slack/oauth_redirect``) is listed when the app
    installs through OAuth: Slack refuses a redirect_uri the app does not list."""
    request_url: str | None = None
    if not socket_mode:
        if not request_url_base or not re.match(r"^https?://[^\s/]+", request_url_base):
            raise ValueError(
                "HTTP mode needs the public base URL Slack will call, e.g. "
                "https://marquee.example.org (set [slack] public_url)"
            )
        request_url = request_url_base.rstrip("/") + "/" + path.lstrip("/")
    slash_commands: list[dict[str, Any]] = []
    for spec in commands:
        name = f"/{spec.name}"
        if len(name) > _COMMAND_NAME or not re.fullmatch(r"/[a-z0-9_\-]+", name):
            raise ValueError(f"{name!r} is not a valid Slack command name")
        command: dict[str, Any] = {
            "command": name,
            "description": _cut(spec.description, _COMMAND_DESCRIPTION),
            # raw text: Marquee parses the words itself and never needs <@U…> forms
            "should_escape": False,
        }
        if request_url is not None:
            command["url"] = request_url
        hint = _usage_hint(spec)
        if hint:
            command["usage_hint"] = hint
        slash_commands.append(command)
    interactivity: dict[str, Any] = {"is_enabled": True}
    if request_url is not None:
        interactivity["request_url"] = request_url
    oauth_config: dict[str, Any] = {"scopes": {"bot": scopes_for(who_may_subscribe)}}
    if oauth_redirect_url is not None:
        if not re.match(r"^https?://[^\s/]+", oauth_redirect_url):
            raise ValueError(f"{oauth_redirect_url!r} is not an http(s) URL")
        oauth_config = {"redirect_urls": [oauth_redirect_url], **oauth_config}
    return {
        "_metadata": {"major_version": 1, "minor_version": 1},
        "display_information": {
            "name": _cut(app_name, _APP_NAME),
            "description": _cut(_DESCRIPTION, _APP_DESCRIPTION),
            "long_description": _LONG_DESCRIPTION,
            "background_color": "#1d1c1d",
        },
        "features": {
            "bot_user": {"display_name": _cut(app_name, _BOT_NAME), "always_online": True},
            "slash_commands": slash_commands,
        },
        "oauth_config": oauth_config,
        "settings": {
            "interactivity": interactivity,
            "org_deploy_enabled": False,
            "socket_mode_enabled": bool(socket_mode),
            "token_rotation_enabled": False,
        },
    }


def manifest_json(manifest: dict[str, Any]) -> str:
    """The manifest as JSON (Slack's manifest editor accepts JSON and YAML)."""
    return json.dumps(manifest, indent=2, ensure_ascii=False) + "\n"


def manifest_yaml(manifest: dict[str, Any]) -> str:
    """The manifest as YAML, without a YAML library: every string is double-quoted
    (JSON string syntax is valid YAML), so no value can change type or meaning."""
    lines: list[str] = []
    _yaml(manifest, 0, lines)
    return "\n".join(lines) + "\n"


def _scalar(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, int | float):
        return json.dumps(value)
    return json.dumps(str(value), ensure_ascii=False)


def _yaml(value: object, indent: int, lines: list[str]) -> None:
    pad = "  " * indent
    if isinstance(value, dict):
        for key, child in value.items():
            if isinstance(child, dict | list) and child:
                lines.append(f"{pad}{key}:")
                _yaml(child, indent + 1, lines)
            else:
                empty = "{}" if isinstance(child, dict) else "[]"
                shown = empty if isinstance(child, dict | list) else _scalar(child)
                lines.append(f"{pad}{key}: {shown}")
    elif isinstance(value, list):
        for child in value:
            if isinstance(child, dict) and child:
                first = True
                for key, grand in child.items():
                    lead = f"{pad}- " if first else f"{pad}  "
                    first = False
                    if isinstance(grand, dict | list) and grand:
                        lines.append(f"{lead}{key}:")
                        _yaml(grand, indent + 2, lines)
                    else:
                        lines.append(f"{lead}{key}: {_scalar(grand)}")
            else:
                lines.append(f"{pad}- {_scalar(child)}")
