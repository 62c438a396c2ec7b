"""Typed settings, read once at start-up from one TOML file and the environment.

``load_config(path)`` returns a frozen :class:`Config` or raises
:class:`bot.errors.ConfigError` naming the exact key and the reason (unknown keys are
errors too: a typo must not silently fall back to a default). Secrets come only from
the environment and are never part of ``repr()``.

Every key is documented in ``config.example.toml``; keep the two in step.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.defaults import DEFAULT_SOURCES
from bot.errors import ConfigError
from bot.sources import KINDS, source_class
from bot.sources.base import SourceConfig

__all__ = [
    "Config",
    "DatabaseConfig",
    "DiscordConfig",
    "HealthConfig",
    "PollingConfig",
    "Secrets",
    "SlackConfig",
    "load_config",
    "parse_duration",
]

DEFAULT_PATH = Path("marquee.toml")
T = TypeVar("T")

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?\s*$")
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, None: 1}
_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")


def parse_duration(value: object, key: str) -> float:
    """Seconds from ``90``, ``"90s"``, ``"15m"``, ``"6h"``, ``"2d"``."""
    if isinstance(value, bool):
        raise ConfigError(
            key, f"expected a duration like '15m' or a number of seconds, got {value!r}"
        )
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str) and (m := _DURATION.match(value)):
        seconds = float(m.group(1)) * _UNITS[m.group(2)]
    else:
        raise ConfigError(
            key, f"expected a duration like '15m', '6h', '2d' or seconds, got {value!r}"
        )
    if seconds < 0:
        raise ConfigError(key, "a duration cannot be negative")
    return seconds


@dataclass(frozen=True, slots=True)
class DatabaseConfig:
    url: str = "sqlite+aiosqlite:///marquee.db"


@dataclass(frozen=True, slots=True)
class HttpConfig:
    connect_timeout: float = 10.0
    read_timeout: float = 30.0
    total_timeout: float = 60.0
    max_body_bytes: int = 20 * 1024 * 1024
    per_host_concurrency: int = 4
    per_host_spacing: float = 0.25
    user_agent: str | None = None


@dataclass(frozen=True, slots=True)
class PollingConfig:
    interval: float = 900.0  # default per-source interval
    jitter: float = 0.1  # fraction of the interval, random each poll
    concurrency: int = 8  # sources polled at once
    backoff_base: float = 60.0
    backoff_max: float = 6 * 3600.0
    disable_after: float = 2 * 86400.0  # a source failing this long is disabled
    # Several instances (issue 9): a poll holds a lease on its source for this long,
    # renewed while it runs; each instance looks for due sources every check_every.
    lease: float = 120.0
    check_every: float = 15.0


@dataclass(frozen=True, slots=True)
class EnrichConfig:
    ai_threshold: float = 0.5
    hours_per_year: float = 2080
    rates: Mapping[str, float] = field(default_factory=dict)  # overrides of built-in rates
    #: processes parsing and enriching postings beside the event loop's (bot/cpu.py);
    #: None: one per core beyond the first, at most 2; 0: a thread of this process
    workers: int | None = None


@dataclass(frozen=True, slots=True)
class AlertsConfig:
    console_min_salary: float = 0.0  # console alerts: top of range at least this (annual USD)
    high_salary: float = 300_000.0  # the top pay tier's colour starts here
    console_colour: bool | None = None  # None: colour when stdout is a terminal
    # settled alerts are deleted from the outbox after this long (0: never); the "new"
    # alert of a posting still open is kept, so a pay change or closing still edits it
    keep: float = 90 * 86400.0


@dataclass(frozen=True, slots=True)
class DigestConfig:
    grace: float = 6 * 3600.0
    default_time: str = "09:00"
    default_tz: str = "UTC"


@dataclass(frozen=True, slots=True)
class CommandsConfig:
    aliases: Mapping[str, str] = field(default_factory=dict)
    page_size: int = 5


@dataclass(frozen=True, slots=True)
class DiscordConfig:
    api_base: str | None = None
    gateway_url: str | None = None
    guild_ids: tuple[int, ...] = ()
    application_id: int | None = None
    shard_count: int | None = None  # set: an AutoShardedClient with this many shards
    shard_ids: tuple[int, ...] = ()  # the shards this process runs (default: all)
    # Discord's global limit, paced by Marquee (it is never announced until hit): 50
    # requests a second unless Discord raised it for the bot; 48 leaves room
    global_rate: float = 48.0
    global_burst: int = 2


@dataclass(frozen=True, slots=True)
class SlackConfig:
    host: str = "127.0.0.1"
    port: int = 3000
    path: str = "/slack/events"
    api_base: str | None = None
    who_may_subscribe: str | tuple[str, ...] = "everyone"
    public_url: str | None = None  # for the manifest: where Slack reaches us
    client_id: str | None = None  # set: installs through OAuth, one token per workspace


@dataclass(frozen=True, slots=True)
class HealthConfig:
    """``/healthz`` and ``/metrics`` on their own port (``None``: not served, except by
    the Slack front end on its own port)."""

    host: str = "127.0.0.1"
    port: int | None = None


@dataclass(frozen=True, slots=True)
class Secrets:
    """Tokens from the environment. ``repr`` never shows them."""

    discord_token: str | None = field(default=None, repr=False)
    slack_bot_token: str | None = field(default=None, repr=False)
    slack_signing_secret: str | None = field(default=None, repr=False)
    slack_app_token: str | None = field(default=None, repr=False)
    slack_client_secret: str | None = field(default=None, repr=False)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Secrets:
        env = os.environ if env is None else env
        return cls(
            env.get("DISCORD_TOKEN") or None,
            env.get("SLACK_BOT_TOKEN") or None,
            env.get("SLACK_SIGNING_SECRET") or None,
            env.get("SLACK_APP_TOKEN") or None,
            env.get("SLACK_CLIENT_SECRET") or None,
        )

    def values(self) -> tuple[str, ...]:
        """Every secret that is set (for log redaction)."""
        return tuple(
            v
            for v in (
                self.discord_token,
                self.slack_bot_token,
                self.slack_signing_secret,
                self.slack_app_token,
                self.slack_client_secret,
            )
            if v
        )


@dataclass(frozen=True, slots=True)
class Config:
    database: DatabaseConfig = field(default_factory=DatabaseConfig)
    http: HttpConfig = field(default_factory=HttpConfig)
    polling: PollingConfig = field(default_factory=PollingConfig)
    enrich: EnrichConfig = field(default_factory=EnrichConfig)
    alerts: AlertsConfig = field(default_factory=AlertsConfig)
    digest: DigestConfig = field(default_factory=DigestConfig)
    commands: CommandsConfig = field(default_factory=CommandsConfig)
    discord: DiscordConfig = field(default_factory=DiscordConfig)
    slack: SlackConfig = field(default_factory=SlackConfig)
    health: HealthConfig = field(default_factory=HealthConfig)
    sources: tuple[SourceConfig, ...] = ()
    secrets: Secrets = field(default_factory=Secrets)
    path: Path | None = None  # the file it came from

    @property
    def discord_enabled(self) -> bool:
        return bool(self.secrets.discord_token)

    @property
    def slack_enabled(self) -> bool:
        s = self.secrets
        if self.slack_oauth:
            return True
        return bool(s.slack_bot_token and (s.slack_signing_secret or s.slack_app_token))

    @property
    def slack_oauth(self) -> bool:
        """Slack installs through OAuth (many workspaces): ``[slack] client_id`` is set
        (its secrets, ``SLACK_CLIENT_SECRET`` and ``SLACK_SIGNING_SECRET``, are checked
        when Slack starts)."""
        return bool(self.slack.client_id)

    def source(self, name: str) -> SourceConfig:
        for src in self.sources:
            if src.name == name:
                return src
        names = ", ".join(s.name for s in self.sources)
        raise ConfigError("--source", f"no source named {name!r}; configured: {names}")


# -- reading -----------------------------------------------------------------------


class _Table:
    """A TOML table being read: every key must be consumed, or it is an error."""

    def __init__(self, data: Mapping[str, Any], prefix: str) -> None:
        if not isinstance(data, Mapping):
            raise ConfigError(prefix, f"expected a table, got {type(data).__name__}")
        self.data = dict(data)
        self.prefix = prefix
        self.used: set[str] = set()

    def key(self, name: str) -> str:
        return f"{self.prefix}.{name}" if self.prefix else name

    def get(self, name: str, kind: Callable[[object, str], T], default: T) -> T:
        self.used.add(name)
        if name not in self.data:
            return default
        return kind(self.data[name], self.key(name))

    def table(self, name: str) -> _Table:
        self.used.add(name)
        return _Table(self.data.get(name, {}), self.key(name))

    def finish(self) -> None:
        unknown = sorted(set(self.data) - self.used)
        if unknown:
            raise ConfigError(
                self.key(unknown[0]), "unknown key (check the spelling against config.example.toml)"
            )


def _str(value: object, key: str) -> str:
    if not isinstance(value, str):
        raise ConfigError(key, f"expected a string, got {value!r}")
    return value


def _opt_str(value: object, key: str) -> str | None:
    s = _str(value, key).strip()
    return s or None


def _bool(value: object, key: str) -> bool:
    if not isinstance(value, bool):
        raise ConfigError(key, f"expected true or false, got {value!r}")
    return value


def _positive(value: object, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(key, f"expected a number, got {value!r}")
    if value <= 0:
        raise ConfigError(key, f"must be greater than 0, got {value!r}")
    return float(value)


def _non_negative(value: object, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        raise ConfigError(key, f"expected a number of at least 0, got {value!r}")
    return float(value)


def _count(value: object, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(key, f"expected a whole number of at least 1, got {value!r}")
    return value


def _workers(value: object, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 64:
        raise ConfigError(key, f"expected a whole number from 0 to 64, got {value!r}")
    return value


def _fraction(value: object, key: str) -> float:
    f = _non_negative(value, key)
    if f > 1:
        raise ConfigError(key, f"expected a fraction between 0 and 1, got {value!r}")
    return f


def _url(value: object, key: str) -> str | None:
    s = _opt_str(value, key)
    if s is not None and not re.match(r"^(https?|wss?)://[^\s/]+", s):
        raise ConfigError(key, f"expected an http(s):// or ws(s):// URL, got {s!r}")
    return s


def _time(value: object, key: str) -> str:
    s = _str(value, key).strip()
    m = re.fullmatch(r"(\d{1,2}):(\d{2})", s)
    if not m or int(m.group(1)) > 23 or int(m.group(2)) > 59:
        raise ConfigError(key, f"expected a time of day as HH:MM (24-hour), got {s!r}")
    return f"{int(m.group(1)):02d}:{m.group(2)}"


def _tz(value: object, key: str) -> str:
    s = _str(value, key).strip()
    try:
        ZoneInfo(s)
    except (ZoneInfoNotFoundError, ValueError) as err:
        raise ConfigError(
            key, f"unknown time zone {s!r} (use an IANA name such as 'America/Los_Angeles')"
        ) from err
    return s


def _rates(value: object, key: str) -> dict[str, float]:
    table = _Table(value, key)  # type: ignore[arg-type]
    out: dict[str, float] = {}
    for code, rate in table.data.items():
        if not re.fullmatch(r"[A-Z]{3}", code):
            raise ConfigError(f"{key}.{code}", "expected an ISO 4217 code such as 'CAD'")
        out[code] = _positive(rate, f"{key}.{code}")
    return out


def _aliases(value: object, key: str) -> dict[str, str]:
    table = _Table(value, key)  # type: ignore[arg-type]
    return {k.strip().lower(): _str(v, f"{key}.{k}").strip().lower() for k, v in table.data.items()}


def _guild_ids(value: object, key: str) -> tuple[int, ...]:
    if not isinstance(value, list):
        raise ConfigError(key, f"expected a list of guild ids, got {value!r}")
    out = []
    for i, item in enumerate(value):
        try:
            out.append(int(item))
        except (TypeError, ValueError) as err:
            raise ConfigError(f"{key}[{i}]", f"expected a numeric guild id, got {item!r}") from err
    return tuple(out)


def _shard_ids(value: object, key: str) -> tuple[int, ...]:
    if not isinstance(value, list) or not value:
        raise ConfigError(key, f"expected a non-empty list of shard numbers, got {value!r}")
    out: list[int] = []
    for i, item in enumerate(value):
        if isinstance(item, bool) or not isinstance(item, int) or item < 0:
            raise ConfigError(f"{key}[{i}]", f"expected a shard number (0 or more), got {item!r}")
        if item in out:
            raise ConfigError(f"{key}[{i}]", f"shard {item} is listed twice")
        out.append(item)
    return tuple(out)


def _port(value: object, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 65535:
        raise ConfigError(key, f"expected a port number (0 picks a free one), got {value!r}")
    return value


def _who(value: object, key: str) -> str | tuple[str, ...]:
    if isinstance(value, list):
        return tuple(_str(v, f"{key}[{i}]") for i, v in enumerate(value))
    s = _str(value, key)
    if s not in ("everyone", "admins"):
        raise ConfigError(key, f"expected 'everyone', 'admins' or a list of user ids, got {s!r}")
    return s


_COMMON_SOURCE_KEYS = {"name", "kind", "company", "base_url", "interval", "enabled"}


def _source(raw: object, key: str, polling: PollingConfig) -> SourceConfig:
    if not isinstance(raw, Mapping):
        raise ConfigError(key, "expected a table ([[sources]])")
    name = raw.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise ConfigError(
            f"{key}.name",
            f"required: lower-case letters, digits, '-', '_' or '.' (at most 64), got {name!r}",
        )
    key = f"sources.{name}"
    kind = raw.get("kind")
    if kind not in KINDS:
        raise ConfigError(f"{key}.kind", f"expected one of {', '.join(KINDS)}, got {kind!r}")
    cls = source_class(kind)
    required = getattr(cls, "required_options", ())
    allowed = set(required) | set(getattr(cls, "optional_options", ()))
    options: dict[str, Any] = {}
    for opt, value in raw.items():
        if opt in _COMMON_SOURCE_KEYS:
            continue
        if allowed and opt not in allowed and hasattr(cls, "optional_options"):
            raise ConfigError(
                f"{key}.{opt}",
                f"unknown key for kind {kind!r}; it takes {', '.join(sorted(allowed))}",
            )
        options[opt] = value
    for opt in required:
        if opt not in options or options[opt] in ("", None):
            raise ConfigError(f"{key}.{opt}", f"required for kind {kind!r}")
    interval = parse_duration(raw.get("interval", polling.interval), f"{key}.interval")
    if interval < 60:
        raise ConfigError(f"{key}.interval", "poll at most once a minute (at least '60s')")
    base_url = _url(raw.get("base_url", ""), f"{key}.base_url")
    company = _str(raw.get("company", ""), f"{key}.company").strip()
    enabled = _bool(raw.get("enabled", True), f"{key}.enabled")
    return SourceConfig(
        name=name,
        kind=kind,
        company=company,
        base_url=base_url,
        interval=interval,
        enabled=enabled,
        options=options,
    )


def load_config(path: str | Path | None = None, *, env: Mapping[str, str] | None = None) -> Config:
    """Read and validate the config. ``path=None`` reads ./marquee.toml if present,
    else uses the built-in defaults (including the default sources)."""
    if path is None:
        path = DEFAULT_PATH if DEFAULT_PATH.exists() else None
    data: dict[str, Any] = {}
    if path is not None:
        path = Path(path)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as err:
            raise ConfigError("--config", f"no such file: {path}") from err
        except tomllib.TOMLDecodeError as err:
            raise ConfigError(str(path), f"not valid TOML: {err}") from err
    return parse_config(data, path=path, env=env)


def parse_config(
    data: Mapping[str, Any], *, path: Path | None = None, env: Mapping[str, str] | None = None
) -> Config:
    """Validate an already-parsed TOML document."""
    root = _Table(data, "")
    db = root.table("database")
    database = DatabaseConfig(url=db.get("url", _str, DatabaseConfig().url))
    if not database.url.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
        raise ConfigError(
            "database.url",
            "expected sqlite+aiosqlite:///PATH or "
            f"postgresql+asyncpg://USER@HOST/DB, got {database.url!r}",
        )
    db.finish()

    h = root.table("http")
    http = HttpConfig(
        connect_timeout=h.get("connect_timeout", parse_duration, HttpConfig().connect_timeout),
        read_timeout=h.get("read_timeout", parse_duration, HttpConfig().read_timeout),
        total_timeout=h.get("total_timeout", parse_duration, HttpConfig().total_timeout),
        max_body_bytes=int(h.get("max_body_mb", _positive, 20.0) * 1024 * 1024),
        per_host_concurrency=h.get("per_host_concurrency", _count, 4),
        per_host_spacing=h.get("per_host_spacing", parse_duration, 0.25),
        user_agent=h.get("user_agent", _opt_str, None),
    )
    h.finish()

    p = root.table("polling")
    polling = PollingConfig(
        interval=p.get("interval", parse_duration, PollingConfig().interval),
        jitter=p.get("jitter", _fraction, PollingConfig().jitter),
        concurrency=p.get("concurrency", _count, PollingConfig().concurrency),
        backoff_base=p.get("backoff_base", parse_duration, PollingConfig().backoff_base),
        backoff_max=p.get("backoff_max", parse_duration, PollingConfig().backoff_max),
        disable_after=p.get("disable_after", parse_duration, PollingConfig().disable_after),
        lease=p.get("lease", parse_duration, PollingConfig().lease),
        check_every=p.get("check_every", parse_duration, PollingConfig().check_every),
    )
    if polling.lease < 1:
        raise ConfigError("polling.lease", f"at least 1 second, got {polling.lease:g}")
    if not 0.1 <= polling.check_every <= 3600:
        raise ConfigError(
            "polling.check_every", f"between 0.1 s and 1 h, got {polling.check_every:g}"
        )
    p.finish()

    e = root.table("enrich")
    enrich = EnrichConfig(
        ai_threshold=e.get("ai_threshold", _fraction, EnrichConfig().ai_threshold),
        hours_per_year=e.get("hours_per_year", _positive, EnrichConfig().hours_per_year),
        rates=e.get("rates", _rates, {}),
        workers=e.get("workers", _workers, None),
    )
    e.finish()

    a = root.table("alerts")
    alerts = AlertsConfig(
        console_min_salary=a.get("console_min_salary", _non_negative, 0.0),
        high_salary=a.get("high_salary", _positive, AlertsConfig().high_salary),
        console_colour=a.get("console_colour", _bool, None),
        keep=a.get("keep", parse_duration, AlertsConfig().keep),
    )
    if 0 < alerts.keep < 86400:
        raise ConfigError("alerts.keep", "at least a day ('1d'), or 0 to keep every alert")
    a.finish()

    d = root.table("digest")
    digest = DigestConfig(
        grace=d.get("grace", parse_duration, DigestConfig().grace),
        default_time=d.get("default_time", _time, DigestConfig().default_time),
        default_tz=d.get("default_tz", _tz, DigestConfig().default_tz),
    )
    d.finish()

    c = root.table("commands")
    commands = CommandsConfig(
        aliases=c.get("aliases", _aliases, {}),
        page_size=c.get("page_size", _count, CommandsConfig().page_size),
    )
    if commands.page_size > 10:
        raise ConfigError("commands.page_size", "at most 10 (Discord shows 10 embeds a message)")
    c.finish()

    dc = root.table("discord")
    app_id = dc.get("application_id", _opt_str, None)
    discord = DiscordConfig(
        api_base=dc.get("api_base", _url, None),
        gateway_url=dc.get("gateway_url", _url, None),
        guild_ids=dc.get("guild_ids", _guild_ids, ()),
        application_id=int(app_id) if app_id and app_id.isdigit() else None,
        shard_count=dc.get("shard_count", _count, None),
        shard_ids=dc.get("shard_ids", _shard_ids, ()),
        global_rate=dc.get("global_rate", _positive, DiscordConfig().global_rate),
        global_burst=dc.get("global_burst", _count, DiscordConfig().global_burst),
    )
    if discord.shard_ids and discord.shard_count is None:
        raise ConfigError("discord.shard_ids", "needs discord.shard_count (the total of shards)")
    for i, shard in enumerate(discord.shard_ids):
        if discord.shard_count is not None and shard >= discord.shard_count:
            raise ConfigError(
                f"discord.shard_ids[{i}]",
                f"shard {shard} does not exist with shard_count = {discord.shard_count} "
                f"(shards are numbered 0 to {discord.shard_count - 1})",
            )
    if app_id and not app_id.isdigit():
        raise ConfigError("discord.application_id", f"expected a numeric id, got {app_id!r}")
    dc.finish()

    sc = root.table("slack")
    slack = SlackConfig(
        host=sc.get("host", _str, SlackConfig().host),
        port=int(sc.get("port", _count, SlackConfig().port)),
        path=sc.get("path", _str, SlackConfig().path),
        api_base=sc.get("api_base", _url, None),
        who_may_subscribe=sc.get("who_may_subscribe", _who, "everyone"),
        public_url=sc.get("public_url", _url, None),
        client_id=sc.get("client_id", _opt_str, None),
    )
    if slack.client_id is not None and not re.fullmatch(r"[0-9]+\.[0-9]+", slack.client_id):
        raise ConfigError(
            "slack.client_id",
            f"expected the app's Client ID like '1234567890.1234567890', got {slack.client_id!r}",
        )
    if not slack.path.startswith("/"):
        raise ConfigError("slack.path", f"must start with '/', got {slack.path!r}")
    if slack.port > 65535:
        raise ConfigError("slack.port", f"expected a port number, got {slack.port}")
    sc.finish()

    he = root.table("health")
    health = HealthConfig(
        host=he.get("host", _str, HealthConfig().host),
        port=he.get("port", _port, None),
    )
    he.finish()

    include_defaults = root.get("include_default_sources", _bool, "sources" not in data)
    raw_sources = root.get("sources", lambda v, k: v, [])
    if not isinstance(raw_sources, list):
        raise ConfigError("sources", "expected [[sources]] tables")
    sources: list[SourceConfig] = []
    seen: set[str] = set()
    candidates = [(f"sources[{i}]", s) for i, s in enumerate(raw_sources)]
    if include_defaults:
        configured = {s.get("name") for _, s in candidates if isinstance(s, Mapping)}
        candidates += [("defaults", s) for s in DEFAULT_SOURCES if s["name"] not in configured]
    for key, raw in candidates:
        src = _source(raw, key, polling)
        if src.name in seen:
            raise ConfigError(
                f"sources.{src.name}.name", "used by two sources; names must be unique"
            )
        seen.add(src.name)
        sources.append(src)
    root.finish()

    return Config(
        database=database,
        http=http,
        polling=polling,
        enrich=enrich,
        alerts=alerts,
        digest=digest,
        commands=commands,
        discord=discord,
        slack=slack,
        health=health,
        sources=tuple(sources),
        secrets=Secrets.from_env(env),
        path=path,
    )
