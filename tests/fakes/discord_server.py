"""A local Discord: REST (API v10) and the gateway websocket, for the real discord.py.

Point the library at it through the settings users have (``api_base`` ->
``discord.http.Route.BASE``, ``gateway_url`` -> ``DiscordWebSocket.DEFAULT_GATEWAY``)::

    async with FakeDiscord() as fake:
        settings = settings_for(fake)   # DiscordSettings with those URLs, in GUILD_ID

What decides whether discord.py works against it (issue 5): JSON answers carry the
content type exactly ``application/json``; login is ``GET /users/@me`` then
``GET /oauth2/applications/@me``; READY carries ``session_id`` and
``resume_gateway_url``; an INTERACTION_CREATE carries ``id, type, token, version,
application_id, attachment_size_limit`` and a member with ``user, roles, flags``; the
interaction callback is ``POST /interactions/{id}/{token}/callback?with_response=1``
answered 200 with ``{interaction, resource}``; a 429 is retried only with a ``Via``
header and a JSON ``retry_after``; ``X-RateLimit-Remaining`` needs
``X-RateLimit-Reset-After``.

Like Discord it refuses what breaks its limits (400, code 50035), answers the first
interaction callback only within 3 seconds (else 10062), refuses a second one (40060),
and answers a repeated nonce with ``enforce_nonce`` with the message it already
created. Beyond Discord, it writes down every payload that would have pinged someone or
broken a limit in :attr:`FakeDiscord.violations`, and every mention Discord would have
turned into a notification in :attr:`FakeDiscord.pings`.

Rate limits: by default every answer carries the same made-up rate-limit headers and
nothing is enforced. ``global_limit=50`` enforces Discord's global limit (that many
requests a second to the REST API, a bucket of as many refilled as fast; interaction
endpoints are exempt, as on Discord) and answers a request over it with a global 429;
``channel_limit=(5, 5.0)`` allows so many message creates and edits per channel per
window (opened by the first message, as Discord's buckets are), answers one over it
with a 429 of scope ``user``, and gives every accepted one the true ``X-RateLimit-*``
headers of its window. :attr:`FakeDiscord.rejected_global` and
:attr:`~FakeDiscord.rejected_channel` count the 429s, :attr:`~FakeDiscord.accepted` the
accepted messages (their ``time.monotonic()``).

Sharding (issue 9): more servers can be added (``guilds={guild_id: channel_ids}``); a
gateway connection identifies with ``shard: [id, count]`` and gets READY and
GUILD_CREATE for the servers of its shard only, and every event about a server
(interactions included) goes to the connection whose shard is
``(guild_id >> 22) % count``, as Discord routes them.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import secrets
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from aiohttp import WSMsgType, web

from tests.fakes.http import FakeHTTPServer, Fault

if TYPE_CHECKING:
    from bot.platforms.discord import DiscordSettings

__all__ = [
    "API",
    "APPLICATION_ID",
    "BOT_USER_ID",
    "CHANNEL_ID",
    "GUILD_ID",
    "MEMBER_PERMISSIONS",
    "MODERATOR_PERMISSIONS",
    "OTHER_CHANNEL_ID",
    "SECOND_CHANNEL_ID",
    "SECOND_GUILD_ID",
    "FakeDiscord",
    "FakeInteraction",
    "command_problems",
    "message_problems",
]

API = "/api/v10"
APPLICATION_ID = 1_180_000_000_000_000_001
BOT_USER_ID = APPLICATION_ID  # a bot user shares its application's id
GUILD_ID = 1_180_000_000_000_000_100
CHANNEL_ID = 1_180_000_000_000_000_200
OTHER_CHANNEL_ID = 1_180_000_000_000_000_201
MEMBER_ID = 1_180_000_000_000_000_300
# A second server for sharding tests: with two shards GUILD_ID is on shard 1 and this one
# on shard 0 ((guild_id >> 22) % 2).
SECOND_GUILD_ID = 1_180_000_000_004_194_404
SECOND_CHANNEL_ID = 1_180_000_000_004_194_500

# Permission bits (https://discord.com/developers/docs/topics/permissions).
_VIEW, _SEND, _EMBED, _HISTORY, _APP_COMMANDS = 1 << 10, 1 << 11, 1 << 14, 1 << 16, 1 << 31
_MANAGE_CHANNELS = 1 << 4
MEMBER_PERMISSIONS = _VIEW | _SEND | _EMBED | _HISTORY | _APP_COMMANDS
MODERATOR_PERMISSIONS = MEMBER_PERMISSIONS | _MANAGE_CHANNELS

_DISCORD_EPOCH_MS = 1_420_070_400_000
_EPHEMERAL, _LOADING = 1 << 6, 1 << 7
_MENTION = re.compile(r"@(everyone|here)|<@!?(\d+)>|<@&(\d+)>")
_MESSAGE_PATH = re.compile(rf"^{re.escape(API)}/channels/(\d+)/messages(?:/\d+)?$")
# Not bound to the global limit (interaction callbacks and follow-ups).
_UNPACED = (f"{API}/interactions/", f"{API}/webhooks/")

LIMITS = {
    "content": 2000,
    "embeds": 10,
    "title": 256,
    "description": 4096,
    "fields": 25,
    "field_name": 256,
    "field_value": 1024,
    "footer": 2048,
    "author": 256,
    "embed_total": 6000,
    "nonce": 25,
    "custom_id": 100,
    "label": 80,
    "button_url": 512,
    "rows": 5,
    "row_width": 5,
}


def _units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _now_iso() -> str:
    return datetime.now(UTC).isoformat()


def message_problems(payload: Mapping[str, Any], *, create: bool = True) -> list[str]:
    """Everything in a message payload that breaks a Discord limit or could ping.

    ``create`` is for new messages, which must not be empty. ``allowed_mentions`` must
    be present and parse nothing (Marquee's rule; Discord itself would parse all).
    """
    problems: list[str] = []
    content = payload.get("content")
    if content is not None:
        if not isinstance(content, str):
            problems.append("content is not a string")
        elif _units(content) > LIMITS["content"]:
            problems.append(f"content has {_units(content)} > 2000 characters")
    embeds = payload.get("embeds") or []
    if len(embeds) > LIMITS["embeds"]:
        problems.append(f"{len(embeds)} embeds > 10")
    total = 0
    for i, embed in enumerate(embeds):
        where = f"embeds[{i}]"
        for key, limit in (("title", "title"), ("description", "description")):
            value = embed.get(key) or ""
            total += _units(value)
            if _units(value) > LIMITS[limit]:
                problems.append(f"{where}.{key} has {_units(value)} > {LIMITS[limit]}")
        url = embed.get("url")
        if url is not None and urlsplit(url).scheme not in ("http", "https"):
            problems.append(f"{where}.url is not http(s): {url!r}")
        fields = embed.get("fields") or []
        if len(fields) > LIMITS["fields"]:
            problems.append(f"{where} has {len(fields)} fields > 25")
        for j, f in enumerate(fields):
            name, value = f.get("name") or "", f.get("value") or ""
            total += _units(name) + _units(value)
            if not name or not value:
                problems.append(f"{where}.fields[{j}] has an empty name or value")
            if _units(name) > LIMITS["field_name"]:
                problems.append(f"{where}.fields[{j}].name has {_units(name)} > 256")
            if _units(value) > LIMITS["field_value"]:
                problems.append(f"{where}.fields[{j}].value has {_units(value)} > 1024")
        footer = (embed.get("footer") or {}).get("text") or ""
        author = (embed.get("author") or {}).get("name") or ""
        total += _units(footer) + _units(author)
        if _units(footer) > LIMITS["footer"]:
            problems.append(f"{where}.footer.text has {_units(footer)} > 2048")
        if _units(author) > LIMITS["author"]:
            problems.append(f"{where}.author.name has {_units(author)} > 256")
    if total > LIMITS["embed_total"]:
        problems.append(f"embeds total {total} > 6000 characters")
    rows = payload.get("components") or []
    if len(rows) > LIMITS["rows"]:
        problems.append(f"{len(rows)} action rows > 5")
    custom_ids: list[str] = []
    for r, row in enumerate(rows):
        buttons = row.get("components") or []
        if row.get("type") != 1 or not 1 <= len(buttons) <= LIMITS["row_width"]:
            problems.append(f"components[{r}] is not an action row of 1-5 components")
        for button in buttons:
            label = button.get("label") or ""
            if _units(label) > LIMITS["label"]:
                problems.append(f"button label has {_units(label)} > 80")
            if button.get("style") == 5:
                if not button.get("url") or len(button["url"]) > LIMITS["button_url"]:
                    problems.append("link button without a url of at most 512 characters")
            else:
                cid = button.get("custom_id") or ""
                if not cid or len(cid) > LIMITS["custom_id"]:
                    problems.append(f"custom_id of {len(cid)} characters (1-100)")
                custom_ids.append(cid)
    if len(custom_ids) != len(set(custom_ids)):
        problems.append("two components share a custom_id")
    nonce = payload.get("nonce")
    if nonce is not None and len(str(nonce)) > LIMITS["nonce"]:
        problems.append(f"nonce of {len(str(nonce))} characters > 25")
    if create and not (content or embeds or rows):
        problems.append("empty message")
    mentions = payload.get("allowed_mentions")
    if not isinstance(mentions, dict):
        problems.append("no allowed_mentions: Discord would parse every mention")
    elif mentions.get("parse") != [] or mentions.get("users") or mentions.get("roles"):
        problems.append(f"allowed_mentions lets something ping: {mentions}")
    return problems


def _message_channel(request: web.Request) -> int | None:
    """The channel of a message create or edit (what the per-channel limit counts)."""
    match = _MESSAGE_PATH.match(request.path)
    if match is None or request.method not in ("POST", "PATCH"):
        return None
    return int(match.group(1))


def _would_ping(payload: Mapping[str, Any]) -> list[str]:
    """What Discord would notify for this content under its allowed_mentions."""
    content = payload.get("content") or ""
    mentions = payload.get("allowed_mentions")
    parse = (
        {"everyone", "users", "roles"}
        if not isinstance(mentions, dict)
        else set(mentions.get("parse") or ())
    )
    users = {str(u) for u in (mentions or {}).get("users") or ()}
    roles = {str(r) for r in (mentions or {}).get("roles") or ()}
    pinged = []
    for m in _MENTION.finditer(content):
        if m.group(1) and "everyone" in parse:
            pinged.append("@" + m.group(1))
        elif m.group(2) and ("users" in parse or m.group(2) in users):
            pinged.append(f"user {m.group(2)}")
        elif m.group(3) and ("roles" in parse or m.group(3) in roles):
            pinged.append(f"role {m.group(3)}")
    return pinged


@dataclass
class FakeInteraction:
    """One interaction pushed through the gateway, and what the bot answered."""

    id: int
    token: str
    payload: dict[str, Any]
    created: float
    callbacks: list[dict[str, Any]] = field(default_factory=list)
    original_id: int | None = None  # the message the response created or edits
    followups: list[int] = field(default_factory=list)
    deleted_original: bool = False
    shard: tuple[int, int] | None = None  # [id, count] of the connection it went to

    @property
    def acknowledged(self) -> bool:
        return bool(self.callbacks)


@dataclass
class _Window:
    """One channel's rate-limit window: opened by its first message."""

    channel: int
    opened: float
    used: int = 0


@dataclass
class _Connection:
    ws: web.WebSocketResponse
    seq: int = 0
    identified: bool = False
    session_id: str = ""
    shard: tuple[int, int] = (0, 1)

    def serves(self, guild_id: int) -> bool:
        """Whether Discord would send this server's events to this connection."""
        shard_id, count = self.shard
        return (guild_id >> 22) % count == shard_id


class FakeDiscord(FakeHTTPServer):
    """``async with FakeDiscord() as fake``; see the module docstring."""

    def __init__(
        self,
        *,
        token: str = "fake-bot-token.Marquee.0123456789abcdef",
        channels: Iterable[int] = (CHANNEL_ID, OTHER_CHANNEL_ID),
        nonce_window: float = 300.0,
        interaction_deadline: float = 3.0,
        guilds: Mapping[int, Iterable[int]] | None = None,
        recommended_shards: int = 1,
        global_limit: float | None = None,
        channel_limit: tuple[int, float] | None = None,
    ) -> None:
        super().__init__()
        self.token = token
        self.channels: dict[int, str] = {cid: f"alerts-{i}" for i, cid in enumerate(channels)}
        #: channel -> its server; GUILD_ID holds ``channels``, ``guilds`` adds more
        self.channel_guild: dict[int, int] = dict.fromkeys(self.channels, GUILD_ID)
        self.guild_ids: list[int] = [GUILD_ID]
        for guild_id, guild_channels in (guilds or {}).items():
            self.guild_ids.append(guild_id)
            for cid in guild_channels:
                self.channels[cid] = f"alerts-{len(self.channels)}"
                self.channel_guild[cid] = guild_id
        self.recommended_shards = recommended_shards
        self.nonce_window = nonce_window
        self.interaction_deadline = interaction_deadline
        self.messages: dict[int, dict[str, Any]] = {}
        self.deleted: set[int] = set()
        self.command_puts: list[tuple[str, list[dict[str, Any]]]] = []
        self.commands: dict[str, list[dict[str, Any]]] = {}
        self.interactions: dict[int, FakeInteraction] = {}
        self.identifies: list[dict[str, Any]] = []
        self.resumes: list[dict[str, Any]] = []
        self.sessions: list[str] = []
        self.violations: list[str] = []
        self.pings: list[str] = []
        self._denied: dict[int, tuple[int, int, str]] = {}
        self._lose: dict[str, int] = {}
        self._nonces: dict[tuple[int, str], tuple[float, int]] = {}
        self._ids = itertools.count(1)
        self._connections: list[_Connection] = []
        self._changed: asyncio.Condition | None = None
        self.global_limit = global_limit
        self.channel_limit = channel_limit
        self._tokens = global_limit or 0.0
        self._refilled = time.monotonic()
        self._windows: dict[int, _Window] = {}
        self.accepted: list[float] = []
        self.rejected_global = 0
        self.rejected_channel = 0
        self._add_routes()

    # -- addresses ----------------------------------------------------------------------

    @property
    def api_base(self) -> str:
        return f"{self.url}{API}"

    @property
    def gateway_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway"

    # -- lifecycle ----------------------------------------------------------------------

    async def __aenter__(self) -> FakeDiscord:
        self._changed = asyncio.Condition()
        await super().__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        for conn in list(self._connections):
            await conn.ws.close(code=1001, message=b"going away")
        await super().__aexit__(*exc)

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        try:
            limited = self._limit(request)
            if isinstance(limited, web.Response):
                return limited
            response = await super()._dispatch(request)
            if limited is not None:  # a message, under channel_limit
                self._window_headers(response, limited)
            return response
        finally:
            await self._notify()

    # -- rate limits (only when asked for) ------------------------------------------------

    def _limit(self, request: web.Request) -> web.Response | _Window | None:
        """A 429 for a request over an enforced limit; else the channel window a message
        takes its place in (``None`` if no window applies)."""
        now = time.monotonic()
        paced = (
            self.global_limit is not None
            and request.path.startswith(f"{API}/")
            and not request.path.startswith(_UNPACED)
        )
        if paced:
            assert self.global_limit is not None
            refill = (now - self._refilled) * self.global_limit
            self._tokens = min(self.global_limit, self._tokens + refill)
            self._refilled = now
            if self._tokens < 1:
                self.rejected_global += 1
                return self._limited((1 - self._tokens) / self.global_limit, is_global=True)
        window = None
        channel = _message_channel(request) if self.channel_limit is not None else None
        if channel is not None:
            assert self.channel_limit is not None
            limit, span = self.channel_limit
            window = self._windows.get(channel)
            if window is None or now >= window.opened + span:
                window = self._windows[channel] = _Window(channel, now)
            if window.used >= limit:
                self.rejected_channel += 1
                return self._limited(window.opened + span - now, is_global=False)
            window.used += 1
        if paced:
            self._tokens -= 1
        return window

    def _window_headers(self, response: web.StreamResponse, window: _Window) -> None:
        """The true headers of the channel's window, on an accepted message."""
        if response.status >= 300:
            return
        assert self.channel_limit is not None
        limit, span = self.channel_limit
        now = time.monotonic()
        self.accepted.append(now)
        reset_after = max(0.0, window.opened + span - now)
        response.headers.update(
            {
                "X-RateLimit-Limit": str(limit),
                "X-RateLimit-Remaining": str(max(0, limit - window.used)),
                "X-RateLimit-Reset-After": f"{reset_after:.3f}",
                "X-RateLimit-Reset": f"{time.time() + reset_after:.3f}",
                "X-RateLimit-Bucket": f"fake-messages-{window.channel}",
            }
        )

    def _limited(self, retry_after: float, *, is_global: bool) -> web.Response:
        """A 429 as Discord sends it, global or for the channel's bucket."""
        body = {
            "message": "You are being rate limited.",
            "retry_after": round(retry_after, 3),
            "global": is_global,
        }
        headers = {
            "Via": "1.1 google",  # discord.py retries a 429 only from Discord's edge
            "Retry-After": str(max(1, round(retry_after))),
            "X-RateLimit-Scope": "global" if is_global else "user",
        }
        if is_global:
            headers["X-RateLimit-Global"] = "true"
        else:
            assert self.channel_limit is not None
            headers.update(
                {
                    "X-RateLimit-Limit": str(self.channel_limit[0]),
                    "X-RateLimit-Remaining": "0",
                    "X-RateLimit-Reset-After": f"{retry_after:.3f}",
                }
            )
        return web.Response(
            body=json.dumps(body).encode(),
            status=429,
            content_type="application/json",
            headers=headers,
        )

    async def _notify(self) -> None:
        if self._changed is not None:
            async with self._changed:
                self._changed.notify_all()

    async def wait_until(
        self, predicate: Callable[[], object], *, within: float = 5.0, what: str = ""
    ) -> None:
        """Wait (no sleeping) until ``predicate()`` holds after some request or frame."""
        assert self._changed is not None
        async with self._changed:
            try:
                await asyncio.wait_for(self._changed.wait_for(predicate), within)
            except TimeoutError:
                raise AssertionError(f"waited {within} s in vain for {what}") from None

    # -- faults -------------------------------------------------------------------------

    def deny(self, channel_id: int, *, code: int = 50001) -> None:
        """Answer requests to this channel with 403 Missing Access (or Missing Permissions)."""
        message = "Missing Access" if code == 50001 else "Missing Permissions"
        self._denied[channel_id] = (403, code, message)

    def delete_channel(self, channel_id: int) -> None:
        """The channel is gone: 404 Unknown Channel from now on."""
        self._denied[channel_id] = (404, 10003, "Unknown Channel")

    def rate_limit(self, path: str, retry_after: float, *, is_global: bool = False) -> None:
        """The next request to ``path`` gets a 429 the way Discord sends one."""
        body = json.dumps(
            {
                "message": "You are being rate limited.",
                "retry_after": retry_after,
                "global": is_global,
            }
        ).encode()
        headers = {
            "Content-Type": "application/json",
            "Via": "1.1 google",
            "Retry-After": str(max(1, round(retry_after))),
            "X-RateLimit-Limit": "5",
            "X-RateLimit-Remaining": "0",
            "X-RateLimit-Reset-After": f"{retry_after:.3f}",
            "X-RateLimit-Reset": f"{time.time() + retry_after:.3f}",
            "X-RateLimit-Bucket": "fake-bucket",
            "X-RateLimit-Scope": "global" if is_global else "user",
        }
        self.fail(path, Fault("status", status=429, body=body, headers=headers))

    def server_error(self, path: str, status: int = 500, *, times: int = 1) -> None:
        body = json.dumps({"message": "500: Internal Server Error", "code": 0}).encode()
        headers = {"Content-Type": "application/json"}
        for _ in range(times):
            self.fail(path, Fault("status", status=status, body=body, headers=headers))

    def lose_response(self, path: str, *, status: int = 503) -> None:
        """Handle the next request to ``path`` but answer ``status`` (the reply was lost)."""
        self._lose[path] = status

    # -- snowflakes and shapes ------------------------------------------------------------

    def snowflake(self) -> int:
        return ((int(time.time() * 1000) - _DISCORD_EPOCH_MS) << 22) | (next(self._ids) & 0x3FFFFF)

    def bot_user(self) -> dict[str, Any]:
        return {
            "id": str(BOT_USER_ID),
            "username": "Marquee",
            "discriminator": "0",
            "global_name": None,
            "avatar": None,
            "bot": True,
            "public_flags": 0,
            "flags": 0,
            "verified": True,
            "mfa_enabled": False,
            "locale": "en-US",
        }

    def member(self, *, user_id: int = MEMBER_ID, permissions: int = MEMBER_PERMISSIONS) -> dict:
        return {
            "user": {
                "id": str(user_id),
                "username": "casey_rivera",
                "discriminator": "0",
                "global_name": "Casey Rivera",
                "avatar": None,
                "public_flags": 0,
            },
            "roles": [],
            "flags": 0,
            "joined_at": "2024-03-01T10:00:00.000000+00:00",
            "premium_since": None,
            "deaf": False,
            "mute": False,
            "pending": False,
            "nick": None,
            "avatar": None,
            "communication_disabled_until": None,
            "permissions": str(permissions),
        }

    def guild_of(self, channel_id: int) -> int:
        return self.channel_guild.get(channel_id, GUILD_ID)

    def channel_object(self, channel_id: int) -> dict[str, Any]:
        return {
            "id": str(channel_id),
            "type": 0,
            "guild_id": str(self.guild_of(channel_id)),
            "name": self.channels.get(channel_id, "gone"),
            "position": list(self.channels).index(channel_id) if channel_id in self.channels else 0,
            "permission_overwrites": [],
            "parent_id": None,
            "nsfw": False,
            "topic": None,
            "rate_limit_per_user": 0,
            "last_message_id": None,
            "flags": 0,
        }

    def guild_object(self, guild_id: int = GUILD_ID) -> dict[str, Any]:
        return {
            "id": str(guild_id),
            "name": "Marquee Test Studio" if guild_id == GUILD_ID else f"Studio {guild_id}",
            "icon": None,
            "splash": None,
            "discovery_splash": None,
            "banner": None,
            "description": None,
            "owner_id": str(MEMBER_ID),
            "afk_channel_id": None,
            "afk_timeout": 300,
            "verification_level": 1,
            "default_message_notifications": 1,
            "explicit_content_filter": 2,
            "roles": [
                {
                    "id": str(guild_id),
                    "name": "@everyone",
                    "permissions": str(MEMBER_PERMISSIONS),
                    "position": 0,
                    "color": 0,
                    "hoist": False,
                    "managed": False,
                    "mentionable": False,
                    "flags": 0,
                }
            ],
            "emojis": [],
            "stickers": [],
            "features": [],
            "mfa_level": 0,
            "application_id": None,
            "system_channel_id": None,
            "system_channel_flags": 0,
            "rules_channel_id": None,
            "vanity_url_code": None,
            "premium_tier": 0,
            "premium_subscription_count": 0,
            "preferred_locale": "en-US",
            "public_updates_channel_id": None,
            "nsfw_level": 0,
            "premium_progress_bar_enabled": False,
            "joined_at": "2024-03-01T10:00:00.000000+00:00",
            "large": False,
            "unavailable": False,
            "member_count": 2,
            "members": [],
            "channels": [
                self.channel_object(cid) for cid in self.channels if self.guild_of(cid) == guild_id
            ],
            "threads": [],
            "voice_states": [],
            "presences": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
        }

    # -- HTTP plumbing ------------------------------------------------------------------

    def _json(self, data: Any, status: int = 200, *, bucket: str = "") -> web.Response:
        headers = {
            "X-RateLimit-Limit": "5",
            "X-RateLimit-Remaining": "4",
            "X-RateLimit-Reset-After": "1.000",
            "X-RateLimit-Reset": f"{time.time() + 1:.3f}",
            "X-RateLimit-Bucket": bucket or "fake-default",
        }
        # Exactly "application/json": discord.py compares the header as a string.
        return web.Response(
            body=json.dumps(data).encode(),
            status=status,
            content_type="application/json",
            headers=headers,
        )

    def _error(self, status: int, code: int, message: str, errors: Any = None) -> web.Response:
        body: dict[str, Any] = {"message": message, "code": code}
        if errors is not None:
            body["errors"] = errors
        return web.Response(
            body=json.dumps(body).encode(), status=status, content_type="application/json"
        )

    def _authorised(self, request: web.Request) -> bool:
        return request.headers.get("Authorization") == f"Bot {self.token}"

    def _add_routes(self) -> None:
        r = self.route
        r("GET", "/gateway", self._gateway)
        r("GET", "/gateway/", self._gateway)
        r("GET", f"{API}/users/@me", self._me)
        r("GET", f"{API}/oauth2/applications/@me", self._application)
        r("GET", f"{API}/gateway/bot", self._gateway_bot)
        r("GET", f"{API}/gateway", self._gateway_plain)
        r("*", f"{API}/applications/*", self._commands_route)
        r("*", f"{API}/channels/*", self._channels_route)
        r("POST", f"{API}/interactions/*", self._callback)
        r("*", f"{API}/webhooks/*", self._webhooks_route)

    async def _body(self, request: web.Request) -> Any:
        raw = await request.read()
        return json.loads(raw) if raw else None

    def _check_message(self, request: web.Request, payload: Any, *, create: bool) -> list[str]:
        """Problems that make Discord refuse; the rest (mentions) is only written down."""
        if not isinstance(payload, dict):
            return ["body is not a JSON object"]
        problems = message_problems(payload, create=create)
        for problem in problems:
            self.violations.append(f"{request.method} {request.path}: {problem}")
        for ping in _would_ping(payload):
            self.pings.append(f"{request.method} {request.path}: {ping}")
        return [p for p in problems if "allowed_mentions" not in p]

    def _invalid(self, problems: list[str]) -> web.Response:
        errors = {"_errors": [{"code": "BASE_TYPE_INVALID", "message": p} for p in problems]}
        return self._error(400, 50035, "Invalid Form Body", {"payload": errors})

    # -- REST: login ----------------------------------------------------------------------

    async def _me(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return self._error(401, 0, "401: Unauthorized")
        return self._json(self.bot_user())

    async def _application(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return self._error(401, 0, "401: Unauthorized")
        return self._json(
            {
                "id": str(APPLICATION_ID),
                "name": "Marquee",
                "icon": None,
                "description": "AI/ML roles and strike news",
                "type": None,
                "bot_public": True,
                "bot_require_code_grant": False,
                "verify_key": secrets.token_hex(32),
                "flags": 0,
                "owner": {
                    "id": str(MEMBER_ID),
                    "username": "casey_rivera",
                    "discriminator": "0",
                    "global_name": "Casey Rivera",
                    "avatar": None,
                    "public_flags": 0,
                },
                "team": None,
                "summary": "",
                "hook": True,
                "interactions_endpoint_url": None,
                "install_params": None,
                "integration_types_config": {"0": {}},
                "redirect_uris": [],
                "approximate_guild_count": 1,
            }
        )

    async def _gateway_bot(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return self._error(401, 0, "401: Unauthorized")
        limit = {"total": 1000, "remaining": 999, "reset_after": 0, "max_concurrency": 1}
        return self._json(
            {
                "url": self.gateway_url,
                "shards": self.recommended_shards,
                "session_start_limit": limit,
            }
        )

    async def _gateway_plain(self, request: web.Request) -> web.Response:
        return self._json({"url": self.gateway_url})

    # -- REST: commands -----------------------------------------------------------------

    async def _commands_route(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return self._error(401, 0, "401: Unauthorized")
        parts = request.path[len(API) :].strip("/").split("/")
        # applications/{app}/commands  |  applications/{app}/guilds/{guild}/commands
        if parts[:1] != ["applications"] or len(parts) not in (3, 5) or parts[-1] != "commands":
            return self._error(404, 0, "404: Not Found")
        if parts[1] != str(APPLICATION_ID):
            return self._error(403, 50001, "Missing Access")
        scope = "global" if len(parts) == 3 else parts[3]
        if request.method == "GET":
            return self._json(self.commands.get(scope, []))
        if request.method != "PUT":
            return self._error(405, 0, "405: Method Not Allowed")
        payload = await self._body(request)
        problems = command_problems(payload)
        if problems:
            return self._invalid(problems)
        self.command_puts.append((scope, payload))
        stored = []
        for command in payload:
            stored.append(
                {
                    **command,
                    "id": str(self.snowflake()),
                    "application_id": str(APPLICATION_ID),
                    "version": str(self.snowflake()),
                    **({"guild_id": scope} if scope != "global" else {}),
                }
            )
        self.commands[scope] = stored
        return self._json(stored, bucket="fake-commands")

    # -- REST: channel messages -----------------------------------------------------------

    def _new_message(
        self, channel_id: int, payload: Mapping[str, Any], *, flags: int = 0, **extra: Any
    ) -> dict[str, Any]:
        message_id = self.snowflake()
        embeds = [{**e, "type": e.get("type", "rich")} for e in payload.get("embeds") or []]
        message = {
            "id": str(message_id),
            "channel_id": str(channel_id),
            "guild_id": str(self.guild_of(channel_id)),
            "type": 0,
            "content": payload.get("content") or "",
            "author": self.bot_user(),
            "attachments": [],
            "embeds": embeds,
            "mentions": [],
            "mention_roles": [],
            "mention_everyone": False,
            "pinned": False,
            "tts": bool(payload.get("tts", False)),
            "timestamp": _now_iso(),
            "edited_timestamp": None,
            "flags": flags,
            "components": payload.get("components") or [],
            **extra,
        }
        if payload.get("nonce") is not None:
            message["nonce"] = payload["nonce"]
        self.messages[message_id] = message
        return message

    def _edit_message(self, message: dict[str, Any], payload: Mapping[str, Any]) -> None:
        for key in ("content", "embeds", "components"):
            if key in payload:
                value = payload[key]
                if key == "embeds":
                    value = [{**e, "type": e.get("type", "rich")} for e in value or []]
                message[key] = value if value is not None else ([] if key != "content" else "")
        message["edited_timestamp"] = _now_iso()
        message["flags"] = message.get("flags", 0) & ~_LOADING

    def channel_messages(self, channel_id: int) -> list[dict[str, Any]]:
        """Messages in a channel (not ephemeral, not deleted), oldest first."""
        return [
            m
            for mid, m in sorted(self.messages.items())
            if m["channel_id"] == str(channel_id)
            and not m["flags"] & _EPHEMERAL
            and mid not in self.deleted
        ]

    async def _channels_route(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return self._error(401, 0, "401: Unauthorized")
        parts = request.path[len(API) :].strip("/").split("/")
        try:
            channel_id = int(parts[1])
        except (IndexError, ValueError):
            return self._error(404, 0, "404: Not Found")
        if channel_id in self._denied:
            status, code, message = self._denied[channel_id]
            await request.read()
            return self._error(status, code, message)
        if channel_id not in self.channels:
            return self._error(404, 10003, "Unknown Channel")
        if len(parts) == 2 and request.method == "GET":
            return self._json(self.channel_object(channel_id))
        if len(parts) == 3 and parts[2] == "messages" and request.method == "POST":
            return await self._create_message(request, channel_id)
        if len(parts) == 4 and parts[2] == "messages" and request.method == "PATCH":
            return await self._patch_message(request, channel_id, parts[3])
        if len(parts) == 4 and parts[2] == "messages" and request.method == "GET":
            message = self._message_in(channel_id, parts[3])
            if message is None:
                return self._error(404, 10008, "Unknown Message")
            return self._json(message)
        return self._error(404, 0, "404: Not Found")

    async def _create_message(self, request: web.Request, channel_id: int) -> web.Response:
        payload = await self._body(request)
        problems = self._check_message(request, payload, create=True)
        if problems:
            return self._invalid(problems)
        bucket = f"fake-messages-{channel_id}"
        nonce = payload.get("nonce")
        now = time.monotonic()
        if nonce is not None and payload.get("enforce_nonce"):
            seen = self._nonces.get((channel_id, str(nonce)))
            if seen is not None and now - seen[0] < self.nonce_window:
                # Discord: "the message will be deduplicated and the original returned".
                return self._lost_or(request, self._json(self.messages[seen[1]], bucket=bucket))
        message = self._new_message(channel_id, payload)
        if nonce is not None and payload.get("enforce_nonce"):
            self._nonces[(channel_id, str(nonce))] = (now, int(message["id"]))
        return self._lost_or(request, self._json(message, bucket=bucket))

    def _lost_or(self, request: web.Request, response: web.Response) -> web.Response:
        status = self._lose.pop(request.path, None)
        if status is None:
            return response
        return self._error(status, 0, f"{status}: upstream connect error")

    def _message_in(self, channel_id: int, raw_id: str) -> dict[str, Any] | None:
        try:
            message = self.messages.get(int(raw_id))
        except ValueError:
            return None
        if message is None or message["channel_id"] != str(channel_id):
            return None
        if int(raw_id) in self.deleted:
            return None
        return message

    async def _patch_message(
        self, request: web.Request, channel_id: int, raw_id: str
    ) -> web.Response:
        payload = await self._body(request)
        message = self._message_in(channel_id, raw_id)
        if message is None:
            return self._error(404, 10008, "Unknown Message")
        problems = self._check_message(request, payload, create=False)
        if problems:
            return self._invalid(problems)
        self._edit_message(message, payload)
        return self._json(message, bucket=f"fake-messages-{channel_id}")

    # -- interactions -------------------------------------------------------------------

    def interaction_payload(
        self,
        kind: int,
        data: dict[str, Any],
        *,
        channel_id: int = CHANNEL_ID,
        permissions: int = MEMBER_PERMISSIONS,
        user_id: int = MEMBER_ID,
        message: dict[str, Any] | None = None,
    ) -> tuple[int, str, dict[str, Any]]:
        interaction_id = self.snowflake()
        token = "aW50ZXJhY3Rpb24" + secrets.token_urlsafe(48)
        guild_id = self.guild_of(channel_id)
        payload: dict[str, Any] = {
            "id": str(interaction_id),
            "application_id": str(APPLICATION_ID),
            "type": kind,
            "data": data,
            "guild_id": str(guild_id),
            "guild": {"id": str(guild_id), "locale": "en-US", "features": []},
            "channel": {
                **self.channel_object(channel_id),
                "permissions": str(permissions),
            },
            "channel_id": str(channel_id),
            "member": self.member(user_id=user_id, permissions=permissions),
            "token": token,
            "version": 1,
            "app_permissions": str(MEMBER_PERMISSIONS),
            "locale": "en-US",
            "guild_locale": "en-US",
            "entitlements": [],
            "authorizing_integration_owners": {"0": str(guild_id)},
            "context": 0,
            "attachment_size_limit": 10_485_760,
        }
        if message is not None:
            payload["message"] = message
        return interaction_id, token, payload

    async def push_interaction(self, kind: int, data: dict[str, Any], **kw: Any) -> FakeInteraction:
        """Send an INTERACTION_CREATE through the gateway; returns its record."""
        interaction_id, token, payload = self.interaction_payload(kind, data, **kw)
        record = FakeInteraction(interaction_id, token, payload, time.monotonic())
        if kind == 3 and "message" in payload:
            record.original_id = int(payload["message"]["id"])
        self.interactions[interaction_id] = record
        record.shard = await self.push("INTERACTION_CREATE", payload)
        return record

    def _command_data(
        self, name: str, options: Mapping[str, Any], guild_id: int = GUILD_ID
    ) -> dict[str, Any]:
        registered = next(
            (c for cmds in self.commands.values() for c in cmds if c["name"] == name), None
        )
        declared = {o["name"]: o["type"] for o in (registered or {}).get("options", [])}
        return {
            "id": registered["id"] if registered else str(self.snowflake()),
            "name": name,
            "type": 1,
            "guild_id": str(guild_id),
            "options": [
                {"name": k, "type": declared.get(k, 3), "value": v} for k, v in options.items()
            ],
        }

    async def slash(self, name: str, /, **options: Any) -> FakeInteraction:
        """A member runs ``/name option:value ...`` (``permissions=``/``channel_id=`` too)."""
        kw = {k: options.pop(k) for k in ("permissions", "channel_id", "user_id") if k in options}
        guild_id = self.guild_of(kw.get("channel_id", CHANNEL_ID))
        return await self.push_interaction(2, self._command_data(name, options, guild_id), **kw)

    async def autocomplete(self, name: str, option: str, typed: str, **kw: Any) -> FakeInteraction:
        data = self._command_data(name, {option: typed})
        data["options"][0]["focused"] = True
        return await self.push_interaction(4, data, **kw)

    async def click(self, message_id: int, custom_id: str, **kw: Any) -> FakeInteraction:
        """A member clicks the button ``custom_id`` on a message."""
        message = self.messages[message_id]
        data = {"custom_id": custom_id, "component_type": 2}
        kw.setdefault("channel_id", int(message["channel_id"]))
        return await self.push_interaction(3, data, message=message, **kw)

    def _interaction_for(self, raw_id: str, token: str) -> FakeInteraction | None:
        try:
            record = self.interactions.get(int(raw_id))
        except ValueError:
            return None
        return record if record is not None and record.token == token else None

    async def _callback(self, request: web.Request) -> web.Response:
        parts = request.path[len(API) :].strip("/").split("/")
        if len(parts) != 4 or parts[3] != "callback":
            return self._error(404, 0, "404: Not Found")
        payload = await self._body(request)
        record = self._interaction_for(parts[1], parts[2])
        if record is None or time.monotonic() - record.created > self.interaction_deadline:
            return self._error(404, 10062, "Unknown interaction")
        if record.acknowledged:
            return self._error(400, 40060, "Interaction has already been acknowledged.")
        kind = payload.get("type") if isinstance(payload, dict) else None
        data = payload.get("data") or {} if isinstance(payload, dict) else {}
        channel_id = int(record.payload["channel_id"])
        response_id: int | None = None
        resource: dict[str, Any] | None = None
        ephemeral = bool((data.get("flags") or 0) & _EPHEMERAL)
        loading = False
        if kind == 4:
            problems = self._check_message(request, data, create=True)
            if problems:
                return self._invalid(problems)
            message = self._new_message(
                channel_id, data, flags=data.get("flags") or 0, interaction_id=str(record.id)
            )
            record.original_id = response_id = int(message["id"])
            resource = {"type": 4, "message": message}
        elif kind == 5:
            flags = (data.get("flags") or 0) | _LOADING
            message = self._new_message(channel_id, {"content": ""}, flags=flags)
            record.original_id = response_id = int(message["id"])
            loading = True
            resource = {"type": 5, "message": message}
        elif kind in (6, 7):
            if record.payload["type"] != 3 or record.original_id is None:
                return self._error(400, 40004, "Interaction type cannot update a message")
            message = self.messages[record.original_id]
            if kind == 7:
                problems = self._check_message(request, data, create=False)
                if problems:
                    return self._invalid(problems)
                self._edit_message(message, data)
                resource = {"type": 7, "message": message}
            response_id = record.original_id
        elif kind == 8:
            choices = data.get("choices")
            if not isinstance(choices, list) or len(choices) > 25:
                return self._invalid(["choices must be a list of at most 25"])
            for choice in choices:
                if (
                    not 1 <= len(choice.get("name", "")) <= 100
                    or len(str(choice.get("value"))) > 100
                ):
                    return self._invalid([f"bad choice {choice!r}"])
        else:
            return self._invalid([f"unsupported callback type {kind!r}"])
        record.callbacks.append(payload)
        body: dict[str, Any] = {
            "interaction": {
                "id": str(record.id),
                "type": record.payload["type"],
                "response_message_loading": loading,
                "response_message_ephemeral": ephemeral,
                **({"response_message_id": str(response_id)} if response_id else {}),
            }
        }
        if resource is not None:
            body["resource"] = resource
        if request.query.get("with_response") not in ("1", "true", "True"):
            return web.Response(status=204)
        return self._json(body, bucket="fake-interactions")

    # -- webhooks: follow-ups and @original ------------------------------------------------

    async def _webhooks_route(self, request: web.Request) -> web.Response:
        parts = request.path[len(API) :].strip("/").split("/")
        # webhooks/{app}/{token} [ /messages/{id|@original} ]
        if len(parts) < 3 or parts[1] != str(APPLICATION_ID):
            return self._error(404, 10015, "Unknown Webhook")
        token = parts[2]
        record = next((i for i in self.interactions.values() if i.token == token), None)
        if record is None or not record.acknowledged:
            return self._error(404, 10015, "Unknown Webhook")
        payload = await self._body(request)
        channel_id = int(record.payload["channel_id"])
        if len(parts) == 3 and request.method == "POST":
            problems = self._check_message(request, payload, create=True)
            if problems:
                return self._invalid(problems)
            flags = payload.get("flags") or 0
            message = self._new_message(channel_id, payload, flags=flags, webhook_id=parts[1])
            record.followups.append(int(message["id"]))
            if request.query.get("wait") in ("1", "true", "True"):
                return self._json(message, bucket="fake-webhook")
            return web.Response(status=204)
        if len(parts) == 5 and parts[3] == "messages":
            target = record.original_id if parts[4] == "@original" else _int(parts[4])
            message = self.messages.get(target) if target is not None else None
            if message is None or target in self.deleted:
                return self._error(404, 10008, "Unknown Message")
            if request.method == "PATCH":
                problems = self._check_message(request, payload, create=False)
                if problems:
                    return self._invalid(problems)
                self._edit_message(message, payload)
                return self._json(message, bucket="fake-webhook")
            if request.method == "DELETE":
                self.deleted.add(target)  # type: ignore[arg-type]
                if parts[4] == "@original":
                    record.deleted_original = True
                return web.Response(status=204)
            if request.method == "GET":
                return self._json(message)
        return self._error(404, 0, "404: Not Found")

    # -- the gateway --------------------------------------------------------------------

    async def push(self, event: str, data: dict[str, Any]) -> tuple[int, int]:
        """Send a DISPATCH to the (last) identified gateway connection of the shard that
        serves ``data["guild_id"]`` (any shard for an event without a server); returns
        that connection's ``(shard_id, shard_count)``."""
        guild = _int(str(data.get("guild_id", ""))) if data.get("guild_id") else None
        conn = next(
            (
                c
                for c in reversed(self._connections)
                if c.identified and (guild is None or c.serves(guild))
            ),
            None,
        )
        if conn is None:
            where = f" serving server {guild}" if guild is not None else ""
            raise AssertionError(f"no identified gateway connection{where} to push to")
        await self._send(conn, {"op": 0, "t": event, "d": data})
        return conn.shard

    def connected_shards(self) -> list[tuple[int, int]]:
        """The ``(shard_id, shard_count)`` of every identified gateway connection."""
        return sorted(c.shard for c in self._connections if c.identified)

    async def ask_to_reconnect(self) -> None:
        """Send op 7 RECONNECT, as Discord does before moving a session elsewhere."""
        conn = next((c for c in reversed(self._connections) if c.identified), None)
        if conn is None:
            raise AssertionError("no identified gateway connection")
        await self._send(conn, {"op": 7, "d": None})

    async def _send(self, conn: _Connection, frame: dict[str, Any]) -> None:
        if frame.get("op") == 0:
            conn.seq += 1
            frame["s"] = conn.seq
        else:
            frame.setdefault("s", None)
            frame.setdefault("t", None)
        await conn.ws.send_str(json.dumps(frame))

    async def _gateway(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        conn = _Connection(ws)
        self._connections.append(conn)
        try:
            await self._send(conn, {"op": 10, "d": {"heartbeat_interval": 41_250}})
            async for msg in ws:
                if msg.type is not WSMsgType.TEXT:
                    continue
                frame = json.loads(msg.data)
                await self._on_frame(conn, frame)
                await self._notify()
        finally:
            self._connections.remove(conn)
            await self._notify()
        return ws

    async def _on_frame(self, conn: _Connection, frame: dict[str, Any]) -> None:
        op, data = frame.get("op"), frame.get("d")
        if op == 1:  # heartbeat
            await self._send(conn, {"op": 11})
        elif op == 2:  # identify
            identify = dict(data or {})
            token_ok = identify.get("token") == self.token
            identify["token"] = "<redacted>" if token_ok else "<wrong>"
            self.identifies.append(identify)
            if not token_ok:
                await conn.ws.close(code=4004, message=b"Authentication failed.")
                return
            shard = identify.get("shard")
            if (
                isinstance(shard, list)
                and len(shard) == 2
                and all(isinstance(n, int) for n in shard)
                and 0 <= shard[0] < shard[1]
            ):
                conn.shard = (shard[0], shard[1])
            elif shard is not None:
                await conn.ws.close(code=4010, message=b"Invalid shard.")
                return
            conn.identified = True
            conn.session_id = secrets.token_hex(16)
            self.sessions.append(conn.session_id)
            mine = [g for g in self.guild_ids if conn.serves(g)]
            await self._send(
                conn,
                {
                    "op": 0,
                    "t": "READY",
                    "d": {
                        "v": 10,
                        "user": self.bot_user(),
                        "guilds": [{"id": str(g), "unavailable": True} for g in mine],
                        "session_id": conn.session_id,
                        "resume_gateway_url": self.gateway_url,
                        "shard": list(conn.shard),
                        "application": {"id": str(APPLICATION_ID), "flags": 0},
                        "user_settings": {},
                        "private_channels": [],
                        "relationships": [],
                        "presences": [],
                        "guild_join_requests": [],
                        "geo_ordered_rtc_regions": [],
                        "auth": {},
                        "_trace": ["fake-discord"],
                    },
                },
            )
            for guild_id in mine:
                await self._send(
                    conn, {"op": 0, "t": "GUILD_CREATE", "d": self.guild_object(guild_id)}
                )
        elif op == 6:  # resume
            self.resumes.append(dict(data or {}, token="<redacted>"))
            conn.identified = True
            await self._send(conn, {"op": 0, "t": "RESUMED", "d": {"_trace": ["fake-discord"]}})


def _int(raw: str) -> int | None:
    try:
        return int(raw)
    except ValueError:
        return None


_NAME = re.compile(r"^[-_\w]{1,32}$")


def command_problems(payload: Any) -> list[str]:
    """What Discord refuses in a bulk-overwrite of application commands."""
    if not isinstance(payload, list):
        return ["expected a list of commands"]
    problems = []
    names = set()
    for command in payload:
        name = command.get("name", "")
        if not _NAME.match(name) or name != name.lower():
            problems.append(f"bad command name {name!r}")
        if name in names:
            problems.append(f"duplicate command {name!r}")
        names.add(name)
        if not 1 <= len(command.get("description", "")) <= 100:
            problems.append(f"/{name}: description must be 1-100 characters")
        options = command.get("options") or []
        if len(options) > 25:
            problems.append(f"/{name}: more than 25 options")
        seen_optional = False
        for option in options:
            oname = option.get("name", "")
            if not _NAME.match(oname) or oname != oname.lower():
                problems.append(f"/{name}: bad option name {oname!r}")
            if not 1 <= len(option.get("description", "")) <= 100:
                problems.append(f"/{name} {oname}: description must be 1-100 characters")
            if option.get("required"):
                if seen_optional:
                    problems.append(f"/{name} {oname}: required options must come first")
            else:
                seen_optional = True
            if option.get("autocomplete") and option.get("choices"):
                problems.append(f"/{name} {oname}: autocomplete and choices together")
            if len(option.get("choices") or []) > 25:
                problems.append(f"/{name} {oname}: more than 25 choices")
        perms = command.get("default_member_permissions")
        if perms is not None and not isinstance(perms, int | str):
            problems.append(f"/{name}: default_member_permissions must be a bit set")
    return problems


def settings_for(fake: FakeDiscord, **overrides: Any) -> DiscordSettings:
    """Settings pointing the real discord.py at ``fake`` through the URL settings users
    have, in its test server, waiting only briefly for GUILD_CREATEs."""
    from bot.platforms.discord import DiscordSettings

    values: dict[str, Any] = {"guild_ids": (GUILD_ID,), "guild_ready_timeout": 0.05}
    values.update(overrides)
    return DiscordSettings(
        token=fake.token, api_base=fake.api_base, gateway_url=fake.gateway_url, **values
    )
