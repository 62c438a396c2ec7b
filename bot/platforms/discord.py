"""Discord through discord.py 2.x: slash commands in, alerts and replies out.

Translation only (issue 5): the command declarations (:mod:`handlers.spec`) become
Discord application commands, interactions become ``dispatch(command, args, ctx)``
calls, and a :class:`~handlers.reply.Reply` becomes messages via
:mod:`bot.render.discord`. Nothing here decides what a command does.

Lifecycle: ``async with DiscordPlatform(...) as discord_platform:`` logs in over REST,
registers the commands if their declarations changed, connects the gateway and waits for
READY (or fails with an error that says why); leaving the block closes everything.

Endpoints: discord.py reads its REST base from the class attribute
``discord.http.Route.BASE`` and its gateway from
``discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY``. In discord.py 2.7 a plain
:class:`discord.Client` connects to ``DEFAULT_GATEWAY`` directly (only
``AutoShardedClient`` asks ``GET /gateway/bot``) and, after READY, resumes at the
``resume_gateway_url`` the gateway gave. :func:`_point_discord_py` is the one place
those class attributes are set from :class:`DiscordSettings`, and they are restored on
exit. They are process-wide: one Discord connection per process.

Sharding (issue 9): with ``shard_count`` set the client is an
:class:`discord.AutoShardedClient` running ``shard_ids`` (default: every shard) against
``gateway_url`` (or Discord's gateway), so shard ranges can run in separate processes;
Discord sends each server's interactions to the shard ``(guild_id >> 22) % shard_count``.
With ``gateway=False`` the platform only logs in over REST: enough to send and edit
alerts (``marquee run --role worker``), without taking interactions from a shard.

Rate limits: the per-route ones (a channel's messages among them) are announced in
each answer's headers and discord.py honours them, waiting before a request that would
break one. The global one (50 requests a second for a bot, interaction endpoints
exempt) is documented but never announced before it is broken, so every request to the
REST API but the interaction endpoints first takes a slot from a token bucket
(``global_rate`` a second, ``global_burst`` at once) shared by every client of the
process with the same token: every shard, and every :class:`DiscordPlatform`.

Errors: ``send``/``edit`` raise :class:`~bot.errors.TransientDeliveryError` (5xx,
timeouts, a rate limit longer than discord.py will wait) or
:class:`~bot.errors.PermanentDeliveryError` with a reason a person can act on (Missing
Access, Missing Permissions, Unknown Channel, a revoked token). Rate limits are
discord.py's to honour: it waits and retries by itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import discord
import yarl
from discord.gateway import DiscordWebSocket
from discord.http import Route

from bot.errors import ConfigError, PermanentDeliveryError, TransientDeliveryError
from bot.platforms._pacing import TokenBucket
from bot.render.discord import DiscordMessage, decode_custom_id, render
from handlers.reply import Reply
from handlers.spec import Caller, CommandSpec, Context, Option

__all__ = [
    "DEFAULT_API_BASE",
    "INVITE_PERMISSIONS",
    "DiscordPlatform",
    "DiscordSettings",
    "command_payloads",
    "commands_hash",
    "invite_url",
]

log = logging.getLogger(__name__)

Dispatch = Callable[[str, Mapping[str, object], Context], Awaitable[Reply]]
CompleteCompany = Callable[[str], Awaitable[Sequence[str]]]
LoadHash = Callable[[], Awaitable[str | None]]
SaveHash = Callable[[str], Awaitable[None]]

#: What Marquee needs in a channel, and nothing more (issue 5, item 8).
INVITE_PERMISSIONS = discord.Permissions(
    view_channel=True, send_messages=True, embed_links=True, read_message_history=True
)
_SCOPES = ("bot", "applications.commands")
DEFAULT_API_BASE = "https://discord.com/api/v10"
_MANAGE_CHANNELS = discord.Permissions(manage_channels=True).value
# Discord application command option types.
_OPTION_TYPES = {"string": 3, "choice": 3, "salary": 3, "integer": 4, "boolean": 5, "number": 10}
_GUILD_CONTEXT = 0  # InteractionContextType.GUILD: subscriptions belong to server channels
_GUILD_INSTALL = 0  # ApplicationIntegrationType.GUILD_INSTALL
_AUTOCOMPLETE_BUDGET = 2.5
_NONCE_LIMIT = 25
_HTTP_ERRORS = (aiohttp.ClientError, OSError, TimeoutError)


def invite_url(
    application_id: int, *, permissions: discord.Permissions = INVITE_PERMISSIONS
) -> str:
    """The OAuth2 URL that adds the bot with its slash commands and only ``permissions``."""
    return discord.utils.oauth_url(application_id, permissions=permissions, scopes=_SCOPES)


# -- settings -----------------------------------------------------------------------


def _check_url(key: str, value: str, schemes: tuple[str, ...]) -> str:
    parts = urlsplit(value)
    if parts.scheme not in schemes or not parts.netloc:
        raise ConfigError(key, f"expected a {' or '.join(schemes)} URL, got {value!r}")
    return value.rstrip("/")


@dataclass(frozen=True, slots=True)
class DiscordSettings:
    """How to reach Discord. ``token`` comes from ``DISCORD_TOKEN`` and is never shown.

    ``api_base`` includes the API version (``.../api/v10``); ``gateway_url`` replaces
    the gateway discord.py would use (``wss://...``); ``guild_ids`` registers the
    commands in those servers (instant) instead of globally. ``guild_ready_timeout`` is
    how long discord.py waits for more GUILD_CREATE events before READY (it always waits
    that long after the last one; Marquee reads nothing from the guild cache, so its
    default is short: every start, and every restart after a crash, waits it out);
    ``ready_timeout`` bounds the whole start; ``request_timeout`` bounds one REST call
    including discord.py's own retries; rate limits longer than ``max_ratelimit_wait``
    (at least 30 s, discord.py's floor) go back to the outbox instead of being slept.
    A command not declared ``slow`` that has no answer after ``defer_after`` seconds is
    deferred anyway: Discord allows 3 seconds for the first response. REST requests
    (interaction responses excepted) are paced to ``global_rate`` a second with at most
    ``global_burst`` at once: Discord's global limit is 50 a second (more for a bot
    Discord raised it for), and a one-second window then holds at most
    ``global_rate + global_burst - 1`` of them.
    """

    token: str = ""
    api_base: str = DEFAULT_API_BASE
    gateway_url: str | None = None
    guild_ids: tuple[int, ...] = ()
    guild_ready_timeout: float = 0.5
    sync_commands: bool = True
    ready_timeout: float = 60.0
    request_timeout: float = 45.0
    max_ratelimit_wait: float = 30.0
    defer_after: float = 2.0
    global_rate: float = 48.0
    global_burst: int = 2
    #: total shards of the bot (``None``: no sharding, one plain client)
    shard_count: int | None = None
    #: the shards this process runs (empty: all of ``shard_count``)
    shard_ids: tuple[int, ...] = ()
    #: ``False``: REST only (send and edit), no gateway session, no commands answered
    gateway: bool = True

    def __repr__(self) -> str:  # the token must not reach a log through a repr
        return (
            f"DiscordSettings(api_base={self.api_base!r}, gateway_url={self.gateway_url!r}, "
            f"guild_ids={self.guild_ids!r}, sync_commands={self.sync_commands!r}, "
            f"shard_count={self.shard_count!r}, shard_ids={self.shard_ids!r}, "
            f"gateway={self.gateway!r})"
        )

    def __post_init__(self) -> None:
        if not self.token or not self.token.strip():
            raise ConfigError(
                "DISCORD_TOKEN", "empty: copy the bot token from the Developer Portal"
            )
        # None (the config's "not set") means Discord itself.
        base = self.api_base or DEFAULT_API_BASE
        object.__setattr__(
            self, "api_base", _check_url("discord.api_base", base, ("http", "https"))
        )
        if self.gateway_url is not None:
            _check_url("discord.gateway_url", self.gateway_url, ("ws", "wss"))
        for gid in self.guild_ids:
            if isinstance(gid, bool) or not isinstance(gid, int) or gid <= 0:
                raise ConfigError("discord.guild_ids", f"expected server ids, got {gid!r}")
        if not 0 < self.defer_after < 3:
            raise ConfigError("discord.defer_after", "must be between 0 and 3 seconds")
        for key in ("guild_ready_timeout", "ready_timeout", "request_timeout"):
            if getattr(self, key) <= 0:
                raise ConfigError(f"discord.{key}", "must be more than 0 seconds")
        rate, burst = self.global_rate, self.global_burst
        if isinstance(rate, bool) or not isinstance(rate, int | float) or not rate > 0:
            raise ConfigError("discord.global_rate", f"requests a second, more than 0: {rate!r}")
        if isinstance(burst, bool) or not isinstance(burst, int) or burst < 1:
            raise ConfigError("discord.global_burst", f"a whole number, at least 1: {burst!r}")
        count = self.shard_count
        if count is not None and (isinstance(count, bool) or not isinstance(count, int)):
            raise ConfigError("discord.shard_count", f"expected a whole number, got {count!r}")
        if count is not None and count < 1:
            raise ConfigError("discord.shard_count", f"at least 1, got {count}")
        if self.shard_ids and count is None:
            raise ConfigError("discord.shard_ids", "needs discord.shard_count")
        for shard in self.shard_ids:
            if count is not None and not 0 <= shard < count:
                raise ConfigError(
                    "discord.shard_ids", f"shard {shard} is not between 0 and {count - 1}"
                )
        if len(set(self.shard_ids)) != len(self.shard_ids):
            raise ConfigError("discord.shard_ids", "a shard is listed twice")


def _point_discord_py(settings: DiscordSettings) -> Callable[[], None]:
    """Aim discord.py at ``settings``' endpoints; returns what undoes it.

    These are class attributes, read when a route is built and when the gateway
    connects; this is the only place Marquee sets them.
    """
    old_base, old_gateway = Route.BASE, DiscordWebSocket.DEFAULT_GATEWAY
    Route.BASE = settings.api_base
    if settings.gateway_url is not None:
        DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(settings.gateway_url)

    def restore() -> None:
        Route.BASE = old_base
        DiscordWebSocket.DEFAULT_GATEWAY = old_gateway

    return restore


# -- the global rate limit --------------------------------------------------------------

#: One bucket per bot token in the process (Discord counts the global limit per bot),
#: with the pace it was configured at (a share may have slowed it since: see
#: DiscordPlatform.share_global_rate).
_GLOBAL_BUCKETS: dict[str, tuple[tuple[float, int], TokenBucket]] = {}
#: Interaction responses and follow-ups (``/webhooks/{application_id}/{token}``) are not
#: bound to the global limit: https://discord.com/developers/docs/topics/rate-limits#global-rate-limit
_EXEMPT = ("interactions/", "webhooks/")


def rate_key(token: str) -> str:
    """What names a bot's global limit where processes share it (the database's
    ``rate_shares``): a hash, never the token."""
    return hashlib.sha256(b"marquee discord global rate\0" + token.encode()).hexdigest()[:32]


def _global_bucket(settings: DiscordSettings) -> TokenBucket:
    """The process's bucket for this bot (a new one if the configured pace changed)."""
    key = rate_key(settings.token)
    pace = (settings.global_rate, settings.global_burst)
    kept = _GLOBAL_BUCKETS.get(key)
    if kept is None or kept[0] != pace:
        kept = _GLOBAL_BUCKETS[key] = (pace, TokenBucket(*pace))
    return kept[1]


def _pacing(bucket: TokenBucket, api_base: str) -> aiohttp.TraceConfig:
    """A trace for discord.py's HTTP session that takes a slot from ``bucket`` before
    every request to the REST API but an interaction endpoint.

    The start of an aiohttp request is the one place that sees each attempt (discord.py
    retries 429s and 5xx within a call) after discord.py's per-route wait (a channel's
    bucket may hold a message for seconds): a slot taken earlier would be spent while
    the request still waits there, and the requests would leave in a burst after it.
    The gateway's websocket (not under the API's path) is not paced.
    """
    base = yarl.URL(api_base)
    prefix = base.path.rstrip("/") + "/"

    async def on_request_start(
        session: aiohttp.ClientSession,
        context: object,
        params: aiohttp.TraceRequestStartParams,
    ) -> None:
        url = params.url
        if url.host != base.host or url.port != base.port or not url.path.startswith(prefix):
            return
        if not url.path[len(prefix) :].startswith(_EXEMPT):
            await bucket.acquire()

    trace = aiohttp.TraceConfig()
    trace.on_request_start.append(on_request_start)
    return trace


# -- command registration -------------------------------------------------------------


def _option_payload(option: Option) -> dict[str, Any]:
    kind = _OPTION_TYPES[option.type]
    description = option.description.strip() or option.name
    # Discord lets a person pick one choice; an option that takes several is free text
    # (comma-separated) that names the allowed values, checked by the handlers.
    several = option.repeat and kind == 3
    if several and option.choices:
        values = ", ".join(c.value for c in option.choices)
        if len(f"{description}: {values}") <= 100:
            description = f"{description}: {values}"
    if several and "comma" not in description:
        description = f"{description} (comma-separated)"
    payload: dict[str, Any] = {
        "type": kind,
        "name": option.name,
        "description": _shorten(description, 100),
        "required": option.required,
    }
    if option.choices and not several:
        payload["choices"] = [
            {"name": _shorten(c.name, 100), "value": c.value[:100]} for c in option.choices[:25]
        ]
    elif option.autocomplete and kind == 3:
        payload["autocomplete"] = True
    if kind in (4, 10):
        cast = int if kind == 4 else float
        if option.min_value is not None:
            payload["min_value"] = cast(option.min_value)
        if option.max_value is not None:
            payload["max_value"] = cast(option.max_value)
    if kind == 3 and option.max_length is not None:
        payload["max_length"] = max(1, min(6000, option.max_length))
    return payload


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def command_payloads(commands: Sequence[CommandSpec]) -> list[dict[str, Any]]:
    """The declarations as Discord's bulk-overwrite payload (slash commands, guild only).

    Required options come first (Discord refuses them after optional ones), and
    ``manage_channel`` commands are hidden from members without Manage Channels
    (``default_member_permissions``; the check is repeated when they run).
    """
    payload = []
    for spec in commands:
        options = sorted(spec.options, key=lambda o: not o.required)  # stable
        payload.append(
            {
                "type": 1,
                "name": spec.name,
                "description": _shorten(spec.description.strip() or spec.name, 100),
                "options": [_option_payload(o) for o in options[:25]],
                # An integer, as Discord's published schema types it.
                "default_member_permissions": (
                    _MANAGE_CHANNELS if spec.permission == "manage_channel" else None
                ),
                "contexts": [_GUILD_CONTEXT],
                "integration_types": [_GUILD_INSTALL],
                "nsfw": False,
            }
        )
    return payload


def commands_hash(
    payload: Sequence[Mapping[str, Any]], *, application_id: int, guild_ids: Sequence[int]
) -> str:
    """A digest of what would be registered where: a change in any of it means sync."""
    material = {
        "application_id": application_id,
        "guild_ids": sorted(guild_ids),
        "commands": list(payload),
    }
    canonical = json.dumps(material, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "v1:" + hashlib.sha256(canonical.encode()).hexdigest()


# -- errors ---------------------------------------------------------------------------


def _delivery_error(err: discord.HTTPException, channel_id: str) -> Exception:
    """discord.py's error as ours, with a reason a person can act on."""
    code, status = err.code, err.status
    where = f"channel {channel_id}"
    if status == 401:
        return PermanentDeliveryError(
            "Discord rejected the bot token (401 Unauthorized): it was reset or revoked"
        )
    if code == 50001:
        return PermanentDeliveryError(
            f"Missing Access: Marquee cannot see {where}; "
            "give its role View Channel there, or invite it again"
        )
    if code == 50013:
        return PermanentDeliveryError(
            f"Missing Permissions: Marquee needs Send Messages and Embed Links in {where}"
        )
    if code == 10003:
        return PermanentDeliveryError(f"Unknown Channel: {where} no longer exists")
    if code == 10008:
        return PermanentDeliveryError(f"Unknown Message: the alert in {where} was deleted")
    if status == 429:
        retry = err.response.headers.get("Retry-After") if err.response is not None else None
        try:
            retry_after = float(retry) if retry else None
        except ValueError:
            retry_after = None
        return TransientDeliveryError("Discord is rate limiting Marquee", retry_after=retry_after)
    if status >= 500 or status == 408:
        return TransientDeliveryError(f"Discord server error {status}")
    text = " ".join((err.text or "").split())[:200]
    return PermanentDeliveryError(f"Discord refused the message ({status}, code {code}): {text}")


def _nonce(key: str, part: int) -> str:
    """The nonce for part ``part`` of the message for one outbox row (<= 25 chars)."""
    if part == 0 and 0 < len(key) <= _NONCE_LIMIT:
        return key
    digest = hashlib.sha256(f"{key}\x00{part}".encode()).hexdigest()
    return f"h{digest[: _NONCE_LIMIT - 1]}"


# -- the client -----------------------------------------------------------------------


class _Client(discord.Client):
    """discord.Client whose interactions go to the platform (no CommandTree: the
    commands are registered from the declarations and answered from the raw data)."""

    def __init__(self, platform: DiscordPlatform, **options: Any) -> None:
        super().__init__(**options)
        self._platform = platform

    async def on_interaction(self, interaction: discord.Interaction) -> None:
        await self._platform._on_interaction(interaction)


class _ShardedClient(discord.AutoShardedClient):
    """The same, running one or more shards of a sharded bot in this process."""

    def __init__(self, platform: DiscordPlatform, **options: Any) -> None:
        super().__init__(**options)
        self._platform = platform

    async def on_interaction(self, interaction: discord.Interaction) -> None:
        await self._platform._on_interaction(interaction)


class DiscordPlatform:
    """Marquee on Discord: the delivery :class:`~bot.platforms.base.Platform` and the
    slash-command front end, as one async context manager.

    ``commands`` are the declarations to register and answer; ``dispatch(command, args,
    ctx)`` answers one (``functools.partial(handlers.dispatch, store, settings=...)``);
    ``complete_company(prefix)`` feeds autocomplete; ``load_commands_hash`` /
    ``save_commands_hash`` keep the digest of the registered declarations so commands
    are registered only when they change (without them: at every start).
    """

    name = "discord"
    #: Sends at once (for the delivery worker): no limit but its batch. The global
    #: limit is paced here, and each channel's by discord.py, so many channels in
    #: flight keep every channel's bucket busy.
    concurrent_sends: int | None = None

    def __init__(
        self,
        settings: DiscordSettings,
        *,
        commands: Sequence[CommandSpec],
        dispatch: Dispatch,
        complete_company: CompleteCompany | None = None,
        load_commands_hash: LoadHash | None = None,
        save_commands_hash: SaveHash | None = None,
    ) -> None:
        self.settings = settings
        self._commands = tuple(commands)
        self._specs = {spec.name: spec for spec in self._commands}
        if len(self._specs) != len(self._commands):
            raise ValueError("two command declarations share a name")
        self._dispatch = dispatch
        self._complete_company = complete_company
        self._load_hash = load_commands_hash
        self._save_hash = save_commands_hash
        self._client: _Client | _ShardedClient | None = None
        self._runner: asyncio.Task[None] | None = None
        self._restore: Callable[[], None] | None = None
        self._logged_in = False
        self._payload = command_payloads(self._commands)  # fails early on a bad declaration

    # -- lifecycle ------------------------------------------------------------------

    @property
    def client(self) -> discord.Client:
        """The underlying discord.py client (for diagnostics; not for sending)."""
        if self._client is None:
            raise RuntimeError("DiscordPlatform is not started")
        return self._client

    def share_global_rate(self, senders: int) -> None:
        """Pace this process's requests to an equal share of ``global_rate`` (and of
        ``global_burst``, at least 1 at once): ``senders`` processes, this one
        included, send with this bot's token (bot.rate_share)."""
        n = max(1, senders)
        rate, burst = self.settings.global_rate, self.settings.global_burst
        _global_bucket(self.settings).pace(rate / n, max(1, burst // n))

    @property
    def global_pace(self) -> float:
        """Requests a second this process sends at most (its share of the global limit)."""
        return _global_bucket(self.settings).rate

    @property
    def application_id(self) -> int | None:
        return self._client.application_id if self._client is not None else None

    async def __aenter__(self) -> DiscordPlatform:
        self._restore = _point_discord_py(self.settings)
        intents = discord.Intents.none()
        intents.guilds = True  # no privileged intents: interactions need none at all
        options: dict[str, Any] = {
            "intents": intents,
            "allowed_mentions": discord.AllowedMentions.none(),
            "guild_ready_timeout": self.settings.guild_ready_timeout,
            "max_messages": None,
            "chunk_guilds_at_startup": False,
            "member_cache_flags": discord.MemberCacheFlags.none(),
            "max_ratelimit_timeout": self.settings.max_ratelimit_wait,
            "http_trace": _pacing(_global_bucket(self.settings), self.settings.api_base),
        }
        if self.settings.shard_count is not None:
            self._client = _ShardedClient(
                self,
                shard_count=self.settings.shard_count,
                shard_ids=list(self.settings.shard_ids) or None,
                **options,
            )
        else:
            self._client = _Client(self, **options)
        try:
            await self._login()
            if not self.settings.gateway:
                log.info("Discord: logged in over REST only (sending, no gateway session)")
                return self
            if self.settings.sync_commands:
                await self.sync_commands()
            await self._connect()
        except BaseException:
            await self._shutdown()
            raise
        shards = ""
        if self.settings.shard_count is not None:
            ids = self.settings.shard_ids or tuple(range(self.settings.shard_count))
            shards = f", shard(s) {', '.join(map(str, ids))} of {self.settings.shard_count}"
        log.info(
            "Discord ready as %s (application %s, %d server(s)%s)",
            self._client.user,
            self._client.application_id,
            len(self._client.guilds),
            shards,
        )
        return self

    @property
    def ready(self) -> bool:
        """Logged in, and (with a gateway) connected and past READY: for /healthz."""
        client = self._client
        if client is None or not self._logged_in or client.is_closed():
            return False
        return client.is_ready() if self.settings.gateway else True

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._shutdown()

    async def _login(self) -> None:
        assert self._client is not None
        try:
            await asyncio.wait_for(
                self._client.login(self.settings.token), self.settings.request_timeout
            )
        except discord.LoginFailure as err:
            raise ConfigError(
                "DISCORD_TOKEN",
                "Discord rejected the bot token (401 Unauthorized); copy it again from "
                "the Developer Portal (Bot → Reset Token)",
            ) from err
        except (discord.HTTPException, *_HTTP_ERRORS) as err:
            raise TransientDeliveryError(
                f"could not log in to Discord at {self.settings.api_base}: {_describe(err)}"
            ) from err
        self._logged_in = True

    async def _connect(self) -> None:
        assert self._client is not None
        client = self._client
        self._runner = asyncio.create_task(client.connect(reconnect=True), name="discord-gateway")
        self._runner.add_done_callback(_log_gateway_end)
        ready = asyncio.ensure_future(client.wait_until_ready())
        try:
            await asyncio.wait(
                {ready, self._runner},
                timeout=self.settings.ready_timeout,
                return_when=asyncio.FIRST_COMPLETED,
            )
        finally:
            if not ready.done():
                ready.cancel()
        if ready.done() and not ready.cancelled() and client.is_ready():
            return
        failure = None
        if self._runner.done() and not self._runner.cancelled():
            failure = self._runner.exception()
        gateway = str(DiscordWebSocket.DEFAULT_GATEWAY)
        if isinstance(failure, discord.ConnectionClosed) and failure.code == 4004:
            raise ConfigError(
                "DISCORD_TOKEN",
                "the Discord gateway refused the token (4004 Authentication failed)",
            ) from failure
        if isinstance(failure, discord.PrivilegedIntentsRequired | discord.ConnectionClosed):
            raise ConfigError(
                "discord", f"the Discord gateway closed the connection: {_describe(failure)}"
            ) from failure
        reason = f": {_describe(failure)}" if failure else ""
        raise TransientDeliveryError(
            f"the Discord gateway at {gateway} did not become ready within "
            f"{self.settings.ready_timeout:g} s{reason}; check [discord] gateway_url and "
            "the network (a firewall must allow outgoing websockets)"
        ) from failure

    async def _shutdown(self) -> None:
        client, runner = self._client, self._runner
        self._runner = None
        try:
            was_ready = client is not None and client.is_ready()
            if client is not None and not client.is_closed():
                await client.close()
            if runner is not None:
                if not was_ready:
                    # Never connected: it may be asleep in discord.py's reconnect backoff.
                    runner.cancel()
                with contextlib.suppress(Exception, asyncio.CancelledError):
                    await asyncio.wait_for(runner, timeout=10)
        finally:
            self._logged_in = False
            if self._restore is not None:
                self._restore()
                self._restore = None

    # -- command registration -------------------------------------------------------

    async def sync_commands(self, *, force: bool = False) -> bool:
        """Register the declarations if they changed since the last registration.

        Returns whether Discord was asked. A refusal is logged and retried at the next
        start (the hash is only saved after every target accepted).
        """
        assert self._client is not None and self._client.application_id is not None
        app_id = self._client.application_id
        guild_ids = self.settings.guild_ids
        digest = commands_hash(self._payload, application_id=app_id, guild_ids=guild_ids)
        if not force and self._load_hash is not None and await self._load_hash() == digest:
            log.info("Discord slash commands unchanged; not registering them again")
            return False
        http = self._client.http
        try:
            if guild_ids:
                for guild_id in guild_ids:
                    await http.bulk_upsert_guild_commands(app_id, guild_id, self._payload)
            else:
                await http.bulk_upsert_global_commands(app_id, self._payload)
        except discord.HTTPException as err:
            hint = ""
            if err.code == 50001:
                hint = (
                    " (invite the bot with the applications.commands scope: marquee discord invite)"
                )
            log.error(
                "could not register the Discord slash commands: %s%s; will try at next start",
                _describe(err),
                hint,
            )
            return True
        if self._save_hash is not None:
            await self._save_hash(digest)
        where = f"{len(guild_ids)} server(s)" if guild_ids else "globally"
        log.info("registered %d Discord slash commands %s", len(self._payload), where)
        return True

    # -- delivery (Platform protocol) -----------------------------------------------

    def _messageable(self, channel_id: str) -> discord.PartialMessageable:
        if self._client is None or not self._logged_in or self._client.is_closed():
            raise TransientDeliveryError("Discord is not connected")
        try:
            cid = int(channel_id)
        except ValueError:
            raise PermanentDeliveryError(f"not a Discord channel id: {channel_id!r}") from None
        # By id, over REST: no dependence on the gateway's channel cache.
        return self._client.get_partial_messageable(cid)

    async def _call(self, call: Awaitable[Any], channel_id: str) -> Any:
        try:
            return await asyncio.wait_for(call, self.settings.request_timeout)
        except discord.RateLimited as err:
            raise TransientDeliveryError(
                f"Discord rate limit of {err.retry_after:.0f} s", retry_after=err.retry_after
            ) from err
        except discord.HTTPException as err:
            raise _delivery_error(err, channel_id) from err
        except TimeoutError as err:
            raise TransientDeliveryError(
                f"Discord did not answer within {self.settings.request_timeout:g} s"
            ) from err
        except (aiohttp.ClientError, OSError) as err:
            raise TransientDeliveryError(f"could not reach Discord: {_describe(err)}") from err

    async def send(self, channel_id: str, reply: Reply, *, idempotency_key: str) -> str:
        """Post ``reply``; returns the message id (ids joined by "," when split).

        Each message carries a nonce derived from ``idempotency_key`` with
        ``enforce_nonce``, so a retry of the same outbox row is answered with the
        message already created instead of a second one.
        """
        channel = self._messageable(channel_id)
        ids = []
        for part, message in enumerate(render(reply)):
            sent = await self._call(
                channel.send(**message.kwargs(), nonce=_nonce(idempotency_key, part)), channel_id
            )
            ids.append(str(sent.id))
        return ",".join(ids)

    async def edit(self, channel_id: str, message_ref: str, reply: Reply) -> None:
        """Replace the message(s) ``send`` returned with ``reply``."""
        channel = self._messageable(channel_id)
        try:
            ids = [int(part) for part in message_ref.split(",")]
        except ValueError:
            raise PermanentDeliveryError(f"not a Discord message id: {message_ref!r}") from None
        messages = render(reply, max_messages=len(ids))
        for index, message_id in enumerate(ids):
            message = messages[index] if index < len(messages) else _SEE_ABOVE
            target = channel.get_partial_message(message_id)
            await self._call(target.edit(**message.kwargs(edit=True)), channel_id)

    # -- interactions ---------------------------------------------------------------

    async def _on_interaction(self, interaction: discord.Interaction) -> None:
        try:
            if interaction.type is discord.InteractionType.application_command:
                await self._on_command(interaction)
            elif interaction.type is discord.InteractionType.autocomplete:
                await self._on_autocomplete(interaction)
            elif interaction.type is discord.InteractionType.component:
                await self._on_component(interaction)
        except discord.HTTPException as err:
            log.warning("could not answer a Discord interaction: %s", _describe(err))
        except Exception:  # a bug: keep the client alive, tell the person if still possible
            log.exception("Discord interaction failed")
            with contextlib.suppress(discord.HTTPException, discord.InteractionResponded):
                if not interaction.response.is_done():
                    await interaction.response.send_message(
                        **render(_OOPS)[0].kwargs(), ephemeral=True
                    )

    async def _on_command(self, interaction: discord.Interaction) -> None:
        data: Mapping[str, Any] = interaction.data or {}  # type: ignore[assignment]
        spec = self._specs.get(str(data.get("name", "")))
        if spec is None:
            reply = Reply.error(
                "This command is no longer available. Discord may show an old list for a "
                "minute: try again shortly."
            )
            await interaction.response.send_message(**render(reply)[0].kwargs(), ephemeral=True)
            return
        args = _slash_args(spec, data.get("options") or ())
        await self._answer(interaction, spec, args, component=False)

    async def _on_component(self, interaction: discord.Interaction) -> None:
        data: Mapping[str, Any] = interaction.data or {}  # type: ignore[assignment]
        decoded = decode_custom_id(str(data.get("custom_id", "")))
        if decoded is None:
            return  # not one of ours
        command, raw = decoded
        spec = self._specs.get(command)
        if spec is None:
            reply = Reply.error("This button belongs to a command that no longer exists.")
            await interaction.response.send_message(**render(reply)[0].kwargs(), ephemeral=True)
            return
        await self._answer(interaction, spec, _typed_args(spec, raw), component=True)

    async def _on_autocomplete(self, interaction: discord.Interaction) -> None:
        data: Mapping[str, Any] = interaction.data or {}  # type: ignore[assignment]
        spec = self._specs.get(str(data.get("name", "")))
        focused = next((o for o in data.get("options") or () if o.get("focused")), None)
        names: Sequence[str] = ()
        if spec is not None and focused is not None and self._complete_company is not None:
            option = spec.option(str(focused.get("name", "")))
            if option is not None and option.autocomplete == "company":
                prefix = str(focused.get("value", ""))[:100]
                try:
                    names = await asyncio.wait_for(
                        self._complete_company(prefix), _AUTOCOMPLETE_BUDGET
                    )
                except Exception:  # suggestions are optional; an empty list still answers
                    log.warning("company autocomplete failed", exc_info=True)
        choices = []
        for name in names:
            # The value must come back exactly; names over 100 characters cannot.
            if 0 < len(name) <= 100 and len(choices) < 25:
                choices.append(discord.app_commands.Choice(name=name, value=name))
        await interaction.response.autocomplete(choices)

    def _context(self, interaction: discord.Interaction) -> Context:
        user = interaction.user
        perms = interaction.permissions
        return Context(
            platform="discord",
            channel=f"discord:{interaction.channel_id}",
            caller=Caller(
                user_id=str(user.id),
                display_name=user.display_name,
                can_manage_channel=bool(perms.manage_channels or perms.administrator),
            ),
            guild_or_team=str(interaction.guild_id) if interaction.guild_id else None,
        )

    async def _reply_for(
        self, spec: CommandSpec, args: Mapping[str, object], ctx: Context
    ) -> Reply:
        # The declaration's permission, checked here too: Discord's
        # default_member_permissions can be overridden by server admins.
        if spec.permission == "manage_channel" and not ctx.caller.can_manage_channel:
            return Reply.error(
                f"/{spec.name} changes what this channel receives, so it needs the "
                "Manage Channels permission here. Ask a moderator."
            )
        try:
            return await self._dispatch(spec.name, args, ctx)
        except Exception:
            log.exception("/%s failed", spec.name)
            return _OOPS

    async def _answer(
        self,
        interaction: discord.Interaction,
        spec: CommandSpec,
        args: Mapping[str, object],
        *,
        component: bool,
    ) -> None:
        if interaction.channel_id is None:
            reply = Reply.error("Marquee commands work in server channels only.")
            await interaction.response.send_message(**render(reply)[0].kwargs(), ephemeral=True)
            return
        work = asyncio.ensure_future(self._reply_for(spec, args, self._context(interaction)))
        deferred = False
        if not spec.slow:
            await asyncio.wait({work}, timeout=self.settings.defer_after)
        if not work.done():
            # Slow, or slower than it should be: acknowledge within Discord's 3 seconds.
            if component:
                await interaction.response.defer()
            else:
                await interaction.response.defer(ephemeral=spec.personal, thinking=True)
            deferred = True
        reply = await work
        if component:
            await self._answer_click(interaction, reply, deferred=deferred)
        else:
            await self._answer_command(interaction, spec, reply, deferred=deferred)

    async def _answer_command(
        self,
        interaction: discord.Interaction,
        spec: CommandSpec,
        reply: Reply,
        *,
        deferred: bool,
    ) -> None:
        ephemeral = spec.personal or reply.ephemeral or reply.severity == "error"
        first, *rest = render(reply)
        if not deferred:
            await interaction.response.send_message(**first.kwargs(), ephemeral=ephemeral)
        elif ephemeral and not spec.personal:
            # The public "thinking…" placeholder cannot turn private: answer privately
            # and remove the placeholder.
            await interaction.followup.send(**first.kwargs(), ephemeral=True, wait=True)
            with contextlib.suppress(discord.HTTPException):
                await interaction.delete_original_response()
        else:
            await interaction.edit_original_response(**first.kwargs(edit=True))
        for message in rest:
            await interaction.followup.send(**message.kwargs(), ephemeral=ephemeral, wait=True)

    async def _answer_click(
        self, interaction: discord.Interaction, reply: Reply, *, deferred: bool
    ) -> None:
        if reply.severity == "error":
            # Keep the page as it is and tell only the person who clicked.
            messages = render(reply)
            if deferred:
                for message in messages:
                    await interaction.followup.send(**message.kwargs(), ephemeral=True, wait=True)
            else:
                first, *rest = messages
                await interaction.response.send_message(**first.kwargs(), ephemeral=True)
                for message in rest:
                    await interaction.followup.send(**message.kwargs(), ephemeral=True, wait=True)
            return
        # The new page replaces the one whose button was clicked.
        page = render(reply, max_messages=1)[0]
        if deferred:
            await interaction.edit_original_response(**page.kwargs(edit=True))
        else:
            await interaction.response.edit_message(**page.kwargs(edit=True))


_OOPS = Reply.error("Something went wrong on Marquee's side; it has been logged. Please try again.")
_SEE_ABOVE = DiscordMessage(content="-# (see the message above)")


def _slash_args(spec: CommandSpec, options: Sequence[Mapping[str, Any]]) -> dict[str, object]:
    """Discord's option values, typed as declared; unknown (stale) options are dropped."""
    args: dict[str, object] = {}
    for raw in options:
        name = str(raw.get("name", ""))
        if spec.option(name) is not None and "value" in raw:
            args[name] = raw["value"]
    return _typed_args(spec, args)


def _typed_args(spec: CommandSpec, raw: Mapping[str, object]) -> dict[str, object]:
    """Values converted to their declared types where they cleanly convert.

    A button's custom_id carries strings; anything that does not convert is passed as
    given, for the handler's validation to explain.
    """
    args: dict[str, object] = {}
    for name, value in raw.items():
        option = spec.option(name)
        kind = option.type if option is not None else "string"
        try:
            if kind == "integer" and not isinstance(value, bool):
                value = int(value)  # type: ignore[call-overload]
            elif kind == "number" and not isinstance(value, bool):
                value = float(value)  # type: ignore[arg-type]
            elif kind == "boolean" and isinstance(value, str):
                value = {"true": True, "false": False}.get(value.lower(), value)
        except (TypeError, ValueError):
            pass
        args[name] = value
    return args


def _describe(err: BaseException | None) -> str:
    """A short description of an error (never a request with its headers)."""
    if err is None:
        return "unknown error"
    if isinstance(err, discord.HTTPException):
        text = " ".join((err.text or "").split())[:200]
        return f"{err.status} (code {err.code}) {text}".strip()
    if isinstance(err, discord.ConnectionClosed):
        return f"closed with code {err.code} {err.reason or ''}".strip()
    return f"{type(err).__name__}: {err}" if str(err) else type(err).__name__


def _log_gateway_end(task: asyncio.Task[None]) -> None:
    if task.cancelled():
        return
    err = task.exception()
    if err is not None:
        log.error("the Discord gateway connection ended: %s", _describe(err))
