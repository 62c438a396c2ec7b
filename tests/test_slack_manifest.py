"""The Slack app manifest generated from the command declarations."""

from __future__ import annotations

import json

import pytest

from bot.platforms.slack_manifest import build_manifest, manifest_json, manifest_yaml, scopes_for
from handlers import COMMANDS
from handlers.spec import CommandSpec, Option


def test_http_manifest_has_every_command_with_its_url_and_hint():
    manifest = build_manifest(
        COMMANDS, request_url_base="https://marquee.example.org/", socket_mode=False
    )
    commands = manifest["features"]["slash_commands"]
    assert [c["command"] for c in commands] == [f"/{spec.name}" for spec in COMMANDS]
    for command, spec in zip(commands, COMMANDS, strict=True):
        assert command["url"] == "https://marquee.example.org/slack/events"
        assert command["description"] == spec.description
        assert command["should_escape"] is False
        assert len(command["command"]) <= 32 and len(command.get("usage_hint", "")) <= 1000
    ailistings = commands[0]
    assert ailistings["usage_hint"].startswith("[company] [min_salary:…]")
    assert "usage_hint" not in next(c for c in commands if c["command"] == "/subscriptions")
    settings = manifest["settings"]
    assert settings["socket_mode_enabled"] is False
    assert settings["interactivity"] == {
        "is_enabled": True,
        "request_url": "https://marquee.example.org/slack/events",
    }
    assert "event_subscriptions" not in settings  # Marquee reads no messages
    assert manifest["oauth_config"]["scopes"]["bot"] == [
        "commands",
        "chat:write",
        "chat:write.public",
    ]
    assert len(manifest["display_information"]["name"]) <= 35
    assert len(manifest["display_information"]["description"]) <= 140


def test_socket_mode_manifest_needs_no_urls_and_admins_add_users_read():
    manifest = build_manifest(
        COMMANDS,
        request_url_base=None,
        socket_mode=True,
        who_may_subscribe="admins",
        app_name="Marquee (staging)",
    )
    assert manifest["settings"]["socket_mode_enabled"] is True
    assert manifest["settings"]["interactivity"] == {"is_enabled": True}
    assert all("url" not in c for c in manifest["features"]["slash_commands"])
    assert "users:read" in manifest["oauth_config"]["scopes"]["bot"]
    assert manifest["features"]["bot_user"]["display_name"] == "Marquee (staging)"
    assert scopes_for(("U1", "U2")) == scopes_for("everyone")


def test_custom_path_and_bad_inputs():
    manifest = build_manifest(
        COMMANDS[:1],
        request_url_base="http://10.0.0.5:3000",
        socket_mode=False,
        path="/hooks/slack",
    )
    assert manifest["features"]["slash_commands"][0]["url"] == "http://10.0.0.5:3000/hooks/slack"
    with pytest.raises(ValueError, match="public base URL"):
        build_manifest(COMMANDS, request_url_base=None, socket_mode=False)
    with pytest.raises(ValueError, match="not a valid Slack command name"):
        build_manifest((CommandSpec("Bad Name", "x"),), request_url_base=None, socket_mode=True)
    long = CommandSpec("x", "d" * 3000, options=(Option("o" * 1200, "o"),))
    (command,) = build_manifest((long,), request_url_base=None, socket_mode=True)["features"][
        "slash_commands"
    ]
    assert len(command["description"]) <= 2000 and len(command["usage_hint"]) <= 1000


def test_json_and_yaml_forms_say_the_same():
    manifest = build_manifest(COMMANDS, request_url_base="https://m.example.org", socket_mode=False)
    assert json.loads(manifest_json(manifest)) == manifest
    yaml = manifest_yaml(manifest)
    assert '  - command: "/ailistings"' in yaml
    assert "socket_mode_enabled: false" in yaml
    assert '      - "chat:write"' in yaml
    assert _read_yaml(yaml) == manifest


def _read_yaml(text: str) -> object:
    """A reader for exactly the YAML subset manifest_yaml writes (maps, lists, JSON
    scalars), so the round trip is checked without a YAML library."""
    lines = [line for line in text.splitlines() if line.strip()]

    def block(i: int, indent: int) -> tuple[object, int]:
        if lines[i].lstrip().startswith("- "):
            items: list[object] = []
            while i < len(lines) and _indent(lines[i]) == indent and lines[i].lstrip()[:2] == "- ":
                body = lines[i][indent + 2 :]
                if ":" in body and not body.startswith('"'):
                    lines[i] = " " * (indent + 2) + body
                    value, i = block(i, indent + 2)
                else:
                    value, i = json.loads(body), i + 1
                items.append(value)
            return items, i
        mapping: dict[str, object] = {}
        while (
            i < len(lines)
            and _indent(lines[i]) == indent
            and not lines[i].lstrip().startswith("- ")
        ):
            key, _, rest = lines[i].strip().partition(":")
            rest = rest.strip()
            if rest:
                mapping[key] = json.loads(rest)
                i += 1
            else:
                mapping[key], i = block(i + 1, _indent(lines[i + 1]))
        return mapping, i

    value, end = block(0, 0)
    assert end == len(lines)
    return value


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def test_oauth_manifest_lists_the_redirect_url():
    manifest = build_manifest(
        COMMANDS,
        request_url_base="https://m.example.org",
        socket_mode=False,
        oauth_redirect_url="https://m.example.org/slack/oauth_redirect",
    )
    assert manifest["oauth_config"]["redirect_urls"] == [
        "https://m.example.org/slack/oauth_redirect"
    ]
    assert "chat:write" in manifest["oauth_config"]["scopes"]["bot"]
    plain = build_manifest(COMMANDS, request_url_base="https://m.example.org", socket_mode=False)
    assert "redirect_urls" not in plain["oauth_config"]
    with pytest.raises(ValueError, match="not an http"):
        build_manifest(COMMANDS, request_url_base=None, socket_mode=True, oauth_redirect_url="x")


def test_cli_manifest_for_an_oauth_install(tmp_path, capsys, monkeypatch):
    from bot.cli import main

    monkeypatch.delenv("SLACK_APP_TOKEN", raising=False)
    config = tmp_path / "marquee.toml"
    config.write_text(
        '[slack]\nclient_id = "1234567890.1234567890"\npublic_url = "https://bot.example.org/"\n'
    )
    assert main(["--config", str(config), "slack", "manifest"]) == 0
    manifest = json.loads(capsys.readouterr().out)
    assert manifest["oauth_config"]["redirect_urls"] == [
        "https://bot.example.org/slack/oauth_redirect"
    ]
    assert manifest["settings"]["interactivity"]["request_url"] == (
        "https://bot.example.org/slack/events"
    )

    config.write_text('[slack]\nclient_id = "1234567890.1234567890"\n')
    monkeypatch.setenv("SLACK_APP_TOKEN", "xapp-1-A-1-x")
    assert main(["--config", str(config), "slack", "manifest"]) == 2
    assert "oauth_redirect" in capsys.readouterr().err
