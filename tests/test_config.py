"""Config: built-in defaults, validation that names the exact key, secrets from env."""

from __future__ import annotations

import pytest

from bot.config import Secrets, load_config, parse_config, parse_duration
from bot.errors import ConfigError


def _error(data: dict) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        parse_config(data, env={})
    return info.value


def test_defaults_have_the_researched_boards_and_feeds():
    config = parse_config({}, env={})
    by_name = {s.name: s for s in config.sources}
    assert by_name["netflix"].kind == "eightfold"
    assert by_name["netflix"].options["domain"] == "netflix.com"
    assert by_name["netflix"].options["host"] == "explore.jobs.netflix.net"
    kinds = {s.kind for s in config.sources}
    assert {
        "greenhouse",
        "lever",
        "ashby",
        "workday",
        "smartrecruiters",
        "workable",
        "eightfold",
        "feed",
        "googlenews",
    } <= kinds
    assert config.database.url == "sqlite+aiosqlite:///marquee.db"
    assert not config.discord_enabled and not config.slack_enabled


def test_configured_sources_replace_the_defaults_unless_asked():
    src = {"name": "acme", "kind": "greenhouse", "board": "acme"}
    only = parse_config({"sources": [src]}, env={})
    assert [s.name for s in only.sources] == ["acme"]
    both = parse_config({"sources": [src], "include_default_sources": True}, env={})
    assert "acme" in {s.name for s in both.sources} and len(both.sources) > 5


def test_source_keys_are_validated():
    src = {
        "name": "acme",
        "kind": "greenhouse",
        "board": "acme",
        "interval": "30m",
        "base_url": "http://127.0.0.1:9/",
    }
    cfg = parse_config({"sources": [src]}, env={}).sources[0]
    assert cfg.interval == 1800 and cfg.base_url == "http://127.0.0.1:9/"
    assert cfg.options == {"board": "acme"}

    assert _error({"sources": [{"name": "x", "kind": "greenhouse"}]}).key == "sources.x.board"
    assert _error({"sources": [{"name": "x", "kind": "monster"}]}).key == "sources.x.kind"
    assert _error({"sources": [{"kind": "lever", "site": "a"}]}).key == "sources[0].name"
    err = _error({"sources": [{"name": "x", "kind": "lever", "site": "a", "interval": "5s"}]})
    assert err.key == "sources.x.interval"
    err = _error({"sources": [{"name": "x", "kind": "lever", "site": "a", "base_url": "ftp://x"}]})
    assert err.key == "sources.x.base_url"
    dup = {"name": "x", "kind": "lever", "site": "a"}
    assert _error({"sources": [dup, dup]}).key == "sources.x.name"


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"databse": {}}, "databse"),
        ({"database": {"url": "mysql://x"}}, "database.url"),
        ({"database": {"uri": "x"}}, "database.uri"),
        ({"polling": {"interval": "soon"}}, "polling.interval"),
        ({"polling": {"jitter": 2}}, "polling.jitter"),
        ({"polling": {"concurrency": 0}}, "polling.concurrency"),
        ({"digest": {"default_tz": "Mars/Olympus"}}, "digest.default_tz"),
        ({"digest": {"default_time": "25:00"}}, "digest.default_time"),
        ({"enrich": {"rates": {"cad": 0.7}}}, "enrich.rates.cad"),
        ({"enrich": {"rates": {"CAD": -1}}}, "enrich.rates.CAD"),
        ({"discord": {"guild_ids": ["abc"]}}, "discord.guild_ids[0]"),
        ({"discord": {"global_rate": 0}}, "discord.global_rate"),
        ({"alerts": {"keep": "2h"}}, "alerts.keep"),
        ({"discord": {"global_burst": 0.5}}, "discord.global_burst"),
        ({"slack": {"who_may_subscribe": "nobody"}}, "slack.who_may_subscribe"),
        ({"slack": {"path": "events"}}, "slack.path"),
        ({"commands": {"page_size": 50}}, "commands.page_size"),
    ],
)
def test_bad_values_name_the_exact_key(data, key):
    err = _error(data)
    assert err.key == key
    assert key in str(err)


def test_discord_global_pacing_is_configurable():
    assert parse_config({}, env={}).discord.global_rate == 48.0
    config = parse_config({"discord": {"global_rate": 95, "global_burst": 4}}, env={})
    assert (config.discord.global_rate, config.discord.global_burst) == (95.0, 4)


def test_durations():
    assert parse_duration("90s", "k") == 90
    assert parse_duration("15m", "k") == 900
    assert parse_duration("6h", "k") == 21600
    assert parse_duration("2d", "k") == 172800
    assert parse_duration(30, "k") == 30
    with pytest.raises(ConfigError):
        parse_duration("-5m", "k")


def test_secrets_only_from_the_environment_and_never_in_repr():
    env = {
        "DISCORD_TOKEN": "discord-secret-123456",
        "SLACK_BOT_TOKEN": "xoxb-secret-abcdef",
        "SLACK_SIGNING_SECRET": "signing-secret-999",
    }
    config = parse_config({}, env=env)
    assert config.discord_enabled and config.slack_enabled
    text = repr(config)
    for value in env.values():
        assert value not in text
    assert set(Secrets.from_env(env).values()) == set(env.values())


def test_load_config_reports_toml_errors_and_missing_files(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[database\nurl = 1\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(bad, env={})
    with pytest.raises(ConfigError, match="no such file"):
        load_config(tmp_path / "missing.toml", env={})


def test_example_config_is_valid_and_documents_every_section():
    from pathlib import Path

    example = Path(__file__).resolve().parents[1] / "config.example.toml"
    config = load_config(example, env={})
    assert config.sources, "the example lists sources"
    text = example.read_text()
    for section in (
        "[database]",
        "[http]",
        "[polling]",
        "[enrich]",
        "[alerts]",
        "[digest]",
        "[commands]",
        "[discord]",
        "[slack]",
        "[[sources]]",
    ):
        assert section in text
