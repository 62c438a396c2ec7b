"""Slack through slack-bolt's ``AsyncApp``: slash commands in, alerts and digests out.

Translation only (issue 6): commands come from the declarations in ``handlers`` (one
bolt listener per :class:`~handlers.spec.CommandSpec`), their arguments are parsed by the
injected parser, the answer comes from the injected dispatcher, and
:func:`bot.render.slack.render` turns the neutral :class:`~handlers.reply.Reply` into Block
Kit. Nothing here decides what a command does.

Two ways in:

* **HTTP mode** (default): bolt served by aiohttp on ``host:port`` at ``path``; Slack
  signs each request and bolt's ``RequestVerification`` answers 401 to a bad signature
  or a timestamp more than five minutes off, before any listener runs.
* **Socket Mode** when an app token is set: bolt's ``AsyncSocketModeHandler``, whose
  websocket URL comes from ``apps.connections.open`` on ``api_base``.

Either way the same aiohttp server answers ``/healthz`` and ``/metrics`` (Prometheus).

Acks: Slack gives a command three seconds. A fast command is answered in the ack; a
``slow`` one (or a fast one that overruns ``ack_deadline``) is acked with a short
"working" note and answered through ``response_url``. Bolt's own ``respond()`` posts with a
client of its own (no retries, see shared/REAL-DATA.md), so response_url posts go through
:class:`slack_sdk.webhook.async_client.AsyncWebhookClient` with our retry handlers.

Out (the :class:`bot.platforms.base.Platform` protocol): ``send`` is
``chat.postMessage`` (paced at about one message a second per channel) and ``edit`` is
``chat.update``. 429s are retried in-process only while ``Retry-After`` is short (longer
waits go back to the outbox as :class:`~bot.errors.TransientDeliveryError` with
``retry_after``); 5xx, timeouts and resets are transient; ``channel_not_found``,
``not_in_channel``, ``is_archived``, ``invalid_auth``, ``account_inactive``,
``token_revoked`` and other refusals are :class:`~bot.errors.PermanentDeliveryError` whose
message starts with Slack's error code.

Secrets (bot token, signing secret, app token) are never logged or put in errors.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import re
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import aiohttp
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncApp
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_sdk.errors import SlackApiError, SlackTokenRotationError
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.oauth.installation_store.async_installation_store import AsyncInstallationStore
from slack_sdk.oauth.state_store.async_state_store import AsyncOAuthStateStore
from slack_sdk.oauth.token_rotation.async_rotator import AsyncTokenRotator
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.errors import (
    CommandError,
    ConfigError,
    PermanentDeliveryError,
    StorageError,
    TransientDeliveryError,
)
from bot.health import Metrics, healthz_response, metrics_response
from bot.render.slack import ACTION_LINK, ACTION_RUN, decode_action_value, render
from handlers.reply import Reply
from handlers.spec import Caller, CommandSpec, Context

__all__ = ["Dispatch", "Metrics", "ParseArgs", "SlackPlatform", "SlackSettings"]

log = logging.getLogger(__name__)

#: ``(command name, parsed args, context) -> Reply``; never raises for user error.
Dispatch = Callable[[str, Mapping[str, object], Context], Awaitable[Reply]]
#: ``(spec, slash-command text) -> args``; raises :class:`~bot.errors.CommandError`.
ParseArgs = Callable[[CommandSpec, str], Mapping[str, object]]

WhoMaySubscribe = Literal["everyone", "admins"] | tuple[str, ...]

# A response_url accepts five posts within 30 minutes (Slack's documented limit).
_RESPONSE_URL_POSTS = 5
_ADMIN_CACHE_SECONDS = 300.0
_SORRY = "Something went wrong on Marquee's side; it was logged. Please try again."

# ok:false codes that will not change by retrying: the subscription is paused with the
# reason. The explanation is for the people in the channel.
_PERMANENT_REASONS = {
    "channel_not_found": "Slack says this channel does not exist or Marquee cannot see it",
    "not_in_channel": "Marquee is not a member of this channel (invite @Marquee, then resume)",
    "is_archived": "the channel is archived",
    "invalid_auth": "Slack rejected Marquee's bot token",
    "not_authed": "no bot token was sent",
    "account_inactive": "Marquee's Slack app or bot user was deactivated",
    "token_revoked": "Marquee's bot token was revoked",
    "token_expired": "Marquee's bot token expired",
    "missing_scope": "the Slack app lacks a permission (reinstall it from the manifest)",
    "restricted_action": "posting in this channel is restricted by the workspace",
    "team_access_not_granted": "the workspace has not granted Marquee access",
    "ekm_access_denied": "the workspace's encryption keys deny access",
}
_TRANSIENT_CODES = frozenset(
    {"ratelimited", "fatal_error", "internal_error", "service_unavailable", "request_timeout"}
)
# a token refused: with per-workspace installs, the stored one may be newer than ours
_AUTH_CODES = frozenset({"invalid_auth", "not_authed", "token_revoked", "token_expired"})
# chat.update failures meaning "the alert message is gone": post the update afresh
# instead of pausing the channel because someone deleted a message.
_MESSAGE_GONE = frozenset({"message_not_found", "cant_update_message", "edit_window_closed"})


# -- settings ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SlackSettings:
    """Everything the Slack adapter needs, validated once.

    Secrets come from ``SLACK_BOT_TOKEN`` / ``SLACK_SIGNING_SECRET`` / ``SLACK_APP_TOKEN``
    (read by the config loader) and are hidden from ``repr``. ``app_token`` switches to
    Socket Mode; otherwise ``signing_secret`` is required. ``who_may_subscribe`` is
    ``"everyone"``, ``"admins"`` (workspace admins and owners, via ``users.info``) or a
    tuple of user ids. ``port=0`` picks a free port (see :attr:`SlackPlatform.url`).
    """

    bot_token: str | None = field(default=None, repr=False)
    signing_secret: str | None = field(default=None, repr=False)
    app_token: str | None = field(default=None, repr=False)
    host: str = "127.0.0.1"
    port: int = 3000
    path: str = "/slack/events"
    api_base: str = "https://slack.com/api/"
    who_may_subscribe: WhoMaySubscribe = "everyone"
    #: seconds between two messages to one channel (Slack allows about one a second)
    pace_seconds: float = 1.0
    #: seconds for one Web API or response_url request
    request_timeout: float = 10.0
    #: a fast command not answered by then is acked with "working…" (Slack waits 3 s)
    ack_deadline: float = 2.0
    #: a 429 asking to wait longer than this goes back to the outbox instead of blocking
    max_retry_after: float = 30.0
    rate_limit_retries: int = 2
    server_error_retries: int = 2
    #: ``False``: only the Web API client, for a process that delivers but does not
    #: answer commands (``marquee run --role worker``): no server, no Socket Mode
    serve: bool = True
    #: OAuth install flow (issue 9): the app's Client ID and secret; each workspace's
    #: token then comes from its installation, not from ``bot_token``
    client_id: str | None = None
    client_secret: str | None = field(default=None, repr=False)
    #: where Slack sends the installer back (``{public_url}/slack/oauth_redirect``);
    #: ``None`` leaves it to the app's configured Redirect URL
    redirect_uri: str | None = None
    install_path: str = "/slack/install"
    redirect_path: str = "/slack/oauth_redirect"
    scopes: tuple[str, ...] = ("commands", "chat:write", "chat:write.public")
    #: how long a workspace's token is reused by the sender before it is looked up again
    token_cache_seconds: float = 60.0

    def __post_init__(self) -> None:
        if self.oauth:
            if not self.client_secret or not self.client_secret.strip():
                raise ConfigError(
                    "SLACK_CLIENT_SECRET", "is required with [slack] client_id (OAuth installs)"
                )
            if self.bot_token:
                raise ConfigError(
                    "SLACK_BOT_TOKEN",
                    "leave it unset with [slack] client_id: each workspace's token comes from "
                    "its install (install your own workspace again through /slack/install)",
                )
            if self.app_token and self.serve:
                raise ConfigError(
                    "SLACK_APP_TOKEN",
                    "OAuth installs need HTTP mode: unset it, or unset [slack] client_id",
                )
            for key in ("install_path", "redirect_path"):
                value = getattr(self, key)
                if not value.startswith("/") or value in ("/healthz", "/metrics", self.path):
                    raise ConfigError(f"slack.{key}", f"not a usable path: {value!r}")
        elif not self.bot_token or not self.bot_token.strip():
            raise ConfigError("SLACK_BOT_TOKEN", "is empty")
        if (
            self.serve
            and not self.app_token
            and not (self.signing_secret and self.signing_secret.strip())
        ):
            raise ConfigError(
                "SLACK_SIGNING_SECRET", "is required in HTTP mode (or set SLACK_APP_TOKEN)"
            )
        if not self.path.startswith("/"):
            raise ConfigError("slack.path", f"must start with '/', got {self.path!r}")
        if self.path in ("/healthz", "/metrics"):
            raise ConfigError("slack.path", f"{self.path} is reserved")
        if not self.api_base.startswith(("http://", "https://")):
            raise ConfigError("slack.api_base", f"expected an http(s) URL, got {self.api_base!r}")
        if not self.api_base.endswith("/"):
            # slack_sdk joins base and method by concatenation: ".../api" + "chat.postMessage"
            object.__setattr__(self, "api_base", self.api_base + "/")
        who = self.who_may_subscribe
        if isinstance(who, list):
            object.__setattr__(self, "who_may_subscribe", tuple(who))
        elif isinstance(who, str) and who not in ("everyone", "admins"):
            raise ConfigError(
                "slack.who_may_subscribe",
                f"expected 'everyone', 'admins' or a list of user ids, got {who!r}",
            )
        if not 0 <= self.port <= 65535:
            raise ConfigError("slack.port", f"expected a port number, got {self.port}")

    @property
    def socket_mode(self) -> bool:
        return bool(self.app_token) and not self.oauth

    @property
    def oauth(self) -> bool:
        """Installs through OAuth, one token per workspace."""
        return bool(self.client_id)

    @property
    def authorize_url(self) -> str:
        """Slack's OAuth consent page, next to the Web API (``.../api/`` ->
        ``.../oauth/v2/authorize``): GovSlack, proxies and tests follow ``api_base``."""
        base = self.api_base.rstrip("/")
        base = base[: -len("/api")] if base.endswith("/api") else base
        return f"{base}/oauth/v2/authorize"

    @classmethod
    def from_config(cls, config: Any, **overrides: Any) -> SlackSettings:
        """From ``bot.config.Config`` (its ``slack`` table and ``secrets``)."""
        from bot.platforms.slack_manifest import scopes_for

        sc, secrets = config.slack, config.secrets
        values: dict[str, Any] = {
            "bot_token": secrets.slack_bot_token,
            "signing_secret": secrets.slack_signing_secret,
            "app_token": secrets.slack_app_token,
            "host": sc.host,
            "port": sc.port,
            "path": sc.path,
            "who_may_subscribe": sc.who_may_subscribe,
            "client_id": getattr(sc, "client_id", None),
            "client_secret": getattr(secrets, "slack_client_secret", None),
            "scopes": tuple(scopes_for(sc.who_may_subscribe)),
        }
        public_url = getattr(sc, "public_url", None)
        if values["client_id"] and public_url:
            values["redirect_uri"] = public_url.rstrip("/") + "/slack/oauth_redirect"
        if sc.api_base:
            values["api_base"] = sc.api_base
        values.update(overrides)
        return cls(**values)


# -- logging -----------------------------------------------------------------------


class _NoRequestBodies(logging.Filter):
    """bolt logs a rejected request's whole body at INFO; a body from Slack carries its
    (deprecated) verification token and user text, so keep only the fact."""

    def filter(self, record: logging.LogRecord) -> bool:
        if "Invalid request signature" in str(record.msg):
            record.msg, record.args = "Invalid request signature or stale timestamp: 401", ()
        return True


def _quiet_request_bodies() -> None:
    bolt_log = logging.getLogger("slack_bolt.RequestVerification")
    if not any(isinstance(f, _NoRequestBodies) for f in bolt_log.filters):
        bolt_log.addFilter(_NoRequestBodies())


# -- retries and pacing ------------------------------------------------------------


def _retry_after(headers: Mapping[str, Any] | None) -> float | None:
    """Slack's ``Retry-After`` (integer seconds), or ``None`` when absent or malformed."""
    if not headers:
        return None
    for key, value in headers.items():
        if key.lower() == "retry-after":
            raw = value[0] if isinstance(value, list | tuple) else value
            try:
                seconds = int(str(raw).strip())
            except ValueError:
                return None
            return float(seconds) if seconds >= 0 else None
    return None


class _BoundedRateLimitRetry(AsyncRateLimitErrorRetryHandler):
    """slack_sdk's 429 handler, but only for waits we can afford in-process.

    The stock handler sleeps whatever ``Retry-After`` says (an hour blocks delivery for
    an hour) and raises on a non-integer value; longer or malformed waits are handed back
    to the outbox instead, with ``retry_after``.
    """

    def __init__(self, max_retry_count: int, max_wait: float) -> None:
        super().__init__(max_retry_count=max_retry_count)
        self.max_wait = max_wait

    async def _can_retry_async(self, *, state, request, response=None, error=None) -> bool:  # type: ignore[no-untyped-def]
        if response is None or response.status_code != 429:
            return False
        wait = _retry_after(response.headers)
        if wait is None:
            # absent: the stock handler waits about a second; malformed: it would raise
            has_header = any(k.lower() == "retry-after" for k in response.headers)
            return not has_header
        return wait <= self.max_wait


def _retry_handlers(settings: SlackSettings) -> list[AsyncRetryHandler]:
    return [
        AsyncConnectionErrorRetryHandler(max_retry_count=1),
        _BoundedRateLimitRetry(settings.rate_limit_retries, settings.max_retry_after),
        AsyncServerErrorRetryHandler(max_retry_count=settings.server_error_retries),
    ]


class _Pacer:
    """At most one message per ``interval`` per channel, in call order."""

    def __init__(self, interval: float) -> None:
        self.interval = interval
        self._locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._last: dict[str, float] = {}

    @contextlib.asynccontextmanager
    async def slot(self, channel: str) -> AsyncIterator[None]:
        async with self._locks[channel]:
            wait = self._last.get(channel, -math.inf) + self.interval - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)  # pacing is the point: Slack's per-channel limit
            try:
                yield
            finally:
                self._last[channel] = time.monotonic()


# -- the platform ------------------------------------------------------------------


class SlackPlatform:
    """Slack as a Marquee platform: ``async with SlackPlatform(...) as slack:``.

    ``commands`` are the declarations (``handlers.COMMANDS``); ``dispatch(name, args,
    ctx)`` answers one (``functools.partial(handlers.dispatch, store, settings=...)``);
    ``parse_args(spec, text)`` reads slash-command text (``handlers.parse_text_args``).

    With OAuth (``settings.client_id``), ``installations`` keeps each workspace's install
    and ``oauth_states`` the install flow's one-time states (both slack_sdk store
    interfaces; :mod:`bot.platforms.slack_oauth` implements them over Marquee's
    database). ``health`` adds the process's report to ``/healthz``.
    """

    name = "slack"
    #: one send at a time: Slack's per-workspace limits are not paced here beyond the
    #: per-channel spacing, so channels are not sent to side by side
    concurrent_sends: int | None = 1

    def __init__(
        self,
        settings: SlackSettings,
        *,
        commands: Sequence[CommandSpec],
        dispatch: Dispatch,
        parse_args: ParseArgs,
        metrics: Metrics | None = None,
        installations: AsyncInstallationStore | None = None,
        oauth_states: AsyncOAuthStateStore | None = None,
        health: Callable[[], Awaitable[Mapping[str, Any]]] | None = None,
    ) -> None:
        if settings.oauth and (installations is None or oauth_states is None):
            raise ValueError("OAuth installs need an installation store and a state store")
        self.settings = settings
        self._installations = installations
        self._oauth_states = oauth_states
        self._health = health
        self._specs = {spec.name: spec for spec in commands}
        self._dispatch = dispatch
        self._parse_args = parse_args
        self.metrics = metrics or Metrics()
        for name, help_text in (
            ("marquee_slack_commands_total", "Slash commands and button clicks answered"),
            ("marquee_slack_messages_total", "Messages accepted by Slack, by method"),
            ("marquee_slack_errors_total", "Failures talking to Slack or answering, by kind"),
            ("marquee_slack_installs_total", "Installs through /slack/install, by outcome"),
        ):
            self.metrics.counter(name, help_text)
        self._pacer = _Pacer(settings.pace_seconds)
        self._admins: dict[str, tuple[float, bool]] = {}
        self._inflight: set[asyncio.Task[Any]] = set()
        self._stack: contextlib.AsyncExitStack | None = None
        self._session: aiohttp.ClientSession | None = None
        self._client: AsyncWebClient | None = None
        self._socket: AsyncSocketModeHandler | None = None
        self._socket_task: asyncio.Task[None] | None = None
        self._identity: dict[str, Any] = {}
        # team id -> (looked up at, its bot's client): the sender's per-workspace tokens
        self._team_clients: dict[str, tuple[float, AsyncWebClient]] = {}
        self._rotator: AsyncTokenRotator | None = None
        self.app: AsyncApp | None = None
        self.port = 0

    # -- lifecycle ---------------------------------------------------------------------
    @property
    def url(self) -> str:
        """Where our aiohttp server listens, e.g. ``http://127.0.0.1:3000``."""
        host = self.settings.host
        host = "127.0.0.1" if host in ("0.0.0.0", "") else host
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.port}"

    async def __aenter__(self) -> SlackPlatform:
        stack = contextlib.AsyncExitStack()
        await stack.__aenter__()
        try:
            await self._start(stack)
        except BaseException:
            await stack.aclose()
            raise
        self._stack = stack
        return self

    async def __aexit__(self, *exc: object) -> None:
        stack, self._stack = self._stack, None
        if stack is not None:
            await stack.aclose()

    async def _start(self, stack: contextlib.AsyncExitStack) -> None:
        settings = self.settings
        _quiet_request_bodies()
        timeout = aiohttp.ClientTimeout(total=settings.request_timeout)
        self._session = aiohttp.ClientSession(timeout=timeout)
        stack.push_async_callback(self._session.close)
        # With OAuth this client has no token of its own: bolt gives each request a
        # copy carrying its workspace's token, and the sender looks tokens up by team.
        self._client = self._web_client(settings.bot_token)
        if settings.oauth:
            self._rotator = AsyncTokenRotator(
                client_id=settings.client_id or "",
                client_secret=settings.client_secret or "",
                client=self._client,
            )
        if settings.bot_token:
            await self._check_token()
        if not settings.serve:
            log.info(
                "slack: Web API client only (%s)",
                "per-workspace tokens" if settings.oauth else "one token",
            )
            return
        self.app = AsyncApp(
            client=self._client,
            # unused in Socket Mode (bolt skips verification there), required over HTTP
            signing_secret=settings.signing_secret or "",
            name="marquee",
            process_before_response=False,
            oauth_settings=self._oauth_settings(),
            user_facing_authorize_error_message=(
                "Marquee is not installed in this workspace (or its install was revoked). "
                "A workspace admin can install it again from Marquee's install page."
            ),
        )
        self._register(self.app)
        stack.push_async_callback(self._drain_inflight)

        web_app = web.Application()
        web_app.router.add_get("/healthz", self._healthz)
        web_app.router.add_get("/metrics", self._metrics)
        if not settings.socket_mode:
            web_app.router.add_post(settings.path, self._events)
        if settings.oauth:
            web_app.router.add_get(settings.install_path, self._oauth_page)
            web_app.router.add_get(settings.redirect_path, self._oauth_page)
        runner = web.AppRunner(
            web_app, access_log=None, handler_cancellation=True, shutdown_timeout=5.0
        )
        await runner.setup()
        stack.push_async_callback(runner.cleanup)
        site = web.TCPSite(runner, settings.host, settings.port)
        try:
            await site.start()
        except OSError as err:
            raise ConfigError(
                "slack.port", f"cannot listen on {settings.host}:{settings.port}: {err.strerror}"
            ) from err
        addresses = runner.addresses
        self.port = int(addresses[0][1]) if addresses else settings.port

        if settings.socket_mode:
            self._socket = AsyncSocketModeHandler(
                self.app, app_token=settings.app_token, web_client=self._client
            )
            stack.push_async_callback(self._stop_socket)
            # Ask for the websocket URL once here, so a bad app token fails the start
            # instead of bolt's connect() retrying it forever.
            self._socket.client.wss_uri = await self._socket_url()
            self._socket_task = asyncio.ensure_future(self._socket.connect_async())
        log.info(
            "slack: %s mode, listening on %s (%s)",
            "socket" if settings.socket_mode else "http",
            self.url,
            "installs through " + settings.install_path
            if settings.oauth
            else "team " + str(self._identity.get("team_id", "?")),
        )

    def _web_client(self, token: str | None) -> AsyncWebClient:
        """A Web API client on our session, base URL and retry handlers."""
        return AsyncWebClient(
            token=token,
            base_url=self.settings.api_base,
            timeout=max(1, math.ceil(self.settings.request_timeout)),
            session=self._session,
            retry_handlers=_retry_handlers(self.settings),
        )

    def _oauth_settings(self) -> AsyncOAuthSettings | None:
        settings = self.settings
        if not settings.oauth:
            return None
        assert self._installations is not None and self._oauth_states is not None
        return AsyncOAuthSettings(
            client_id=settings.client_id,
            client_secret=settings.client_secret,
            scopes=list(settings.scopes),
            user_scopes=[],  # Marquee acts as its bot only
            redirect_uri=settings.redirect_uri,
            install_path=settings.install_path,
            redirect_uri_path=settings.redirect_path,
            # straight to Slack's consent page: no intermediate "Add to Slack" page
            install_page_rendering_enabled=False,
            authorization_url=settings.authorize_url,
            installation_store=self._installations,
            installation_store_bot_only=True,
            state_store=self._oauth_states,
            logger=log,
        )

    async def _check_token(self) -> None:
        """Fail at start on a rejected token (named by its variable, never shown)."""
        assert self._client is not None
        try:
            response = await self._client.auth_test()
        except SlackApiError as err:
            code = _error_code(err)
            if code in _PERMANENT_REASONS:
                raise ConfigError(
                    "SLACK_BOT_TOKEN", f"Slack refused it: {code} ({_PERMANENT_REASONS[code]})"
                ) from None
            log.warning("slack: auth.test failed (%s); going on, bolt will retry", code)
            return
        except (aiohttp.ClientError, TimeoutError, OSError) as err:
            log.warning("slack: auth.test unreachable (%s); going on", type(err).__name__)
            return
        self._identity = {
            k: response.get(k) for k in ("team_id", "team", "user_id", "bot_id") if response.get(k)
        }
        # Slack names the token's scopes in a header: say early what the app lacks
        granted = _header(response.headers, "x-oauth-scopes")
        if granted is not None:
            have = {scope.strip() for scope in granted.split(",")}
            wanted = {"commands", "chat:write"}
            if self.settings.who_may_subscribe == "admins":
                wanted.add("users:read")
            missing = sorted(wanted - have)
            if missing:
                log.warning(
                    "slack: the bot token lacks %s; reinstall the app from `marquee slack "
                    "manifest`",
                    ", ".join(missing),
                )

    async def _socket_url(self) -> str | None:
        assert self._client is not None
        try:
            response = await self._client.apps_connections_open(app_token=self.settings.app_token)
        except SlackApiError as err:
            code = _error_code(err)
            if code in ("invalid_auth", "not_authed", "not_allowed_token_type", "token_revoked"):
                raise ConfigError(
                    "SLACK_APP_TOKEN",
                    f"Slack refused it: {code} (an app-level token with connections:write)",
                ) from None
            log.warning("slack: apps.connections.open failed (%s); will retry", code or "?")
            return None
        except (aiohttp.ClientError, TimeoutError, OSError) as err:
            log.warning("slack: apps.connections.open unreachable (%s)", type(err).__name__)
            return None
        url = response.get("url")
        return url if isinstance(url, str) else None

    async def _stop_socket(self) -> None:
        if self._socket_task is not None:
            self._socket_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._socket_task
        if self._socket is not None:
            with contextlib.suppress(Exception):  # closing a never-opened session
                await self._socket.close_async()

    async def _drain_inflight(self, grace: float = 5.0) -> None:
        """Let answers in progress finish (briefly), then cancel the rest."""
        pending = {t for t in self._inflight if not t.done()}
        if pending:
            _, still = await asyncio.wait(pending, timeout=grace)
            for task in still:
                task.cancel()
            if still:
                await asyncio.wait(still, timeout=1.0)

    # -- HTTP endpoints ----------------------------------------------------------------
    async def _events(self, request: web.Request) -> web.Response:
        assert self.app is not None
        bolt_request = await to_bolt_request(request)
        bolt_response = await self.app.async_dispatch(bolt_request)
        return await to_aiohttp_response(bolt_response)

    async def _healthz(self, request: web.Request) -> web.Response:
        return await healthz_response(self.health)

    async def health(self) -> dict[str, Any]:
        """Slack's part of ``/healthz`` (merged into the process's report if given)."""
        body: dict[str, Any] = {
            "ok": True,
            "platform": "slack",
            "mode": "socket" if self.settings.socket_mode else "http",
        }
        if self._socket is not None:
            connected = await self._socket.client.is_connected()
            body["socket_connected"] = connected
            body["ok"] = connected
        if self._identity.get("team_id"):
            body["team"] = self._identity["team_id"]
        if self.settings.oauth:
            body["installs"] = "oauth"
        if self._health is not None:
            report = dict(await self._health())
            ok = bool(report.get("ok", True)) and body["ok"]
            body = {**report, "slack": body, "ok": ok}
        return body

    async def _metrics(self, request: web.Request) -> web.Response:
        return await metrics_response(self.metrics)

    async def _oauth_page(self, request: web.Request) -> web.Response:
        """``/slack/install`` (to Slack's consent page) and ``/slack/oauth_redirect``
        (back from it: code for token, stored per workspace), as bolt runs them."""
        assert self.app is not None and self.app.oauth_flow is not None
        flow = self.app.oauth_flow
        bolt_request = await to_bolt_request(request)
        if request.path == self.settings.install_path:
            bolt_response = await flow.handle_installation(bolt_request)
        else:
            bolt_response = await flow.handle_callback(bolt_request)
            outcome = "ok" if bolt_response.status == 200 else "refused"
            self.metrics.inc("marquee_slack_installs_total", outcome=outcome)
            # a reinstall brings a new token: the sender must not keep the old one
            self._team_clients.clear()
        return await to_aiohttp_response(bolt_response)

    # -- listeners ---------------------------------------------------------------------
    def _register(self, app: AsyncApp) -> None:
        for spec in self._specs.values():
            app.command(f"/{spec.name}")(self._command_listener(spec))
        # An app configured from an older manifest may still offer a removed command.
        app.command(re.compile(r"^/.*"))(self._on_unknown_command)
        app.action({"action_id": _prefix_pattern(ACTION_RUN)})(self._on_run_button)
        app.action({"action_id": _prefix_pattern(ACTION_LINK)})(self._on_link_button)

    def _command_listener(self, spec: CommandSpec) -> Callable[..., Awaitable[None]]:
        async def on_command(ack: Any, body: dict[str, Any], client: AsyncWebClient) -> None:
            await self._on_command(spec, ack, body, client)

        on_command.__name__ = f"on_{spec.name}"
        return on_command

    async def _on_command(
        self,
        spec: CommandSpec,
        ack: Any,
        body: dict[str, Any],
        client: AsyncWebClient | None = None,
    ) -> None:
        self._track()
        response_url = _str(body.get("response_url"))
        work = asyncio.ensure_future(self._answer(spec, _str(body.get("text")), body, client))
        self._inflight.add(work)
        work.add_done_callback(self._inflight.discard)
        if not spec.slow:
            await asyncio.wait({work}, timeout=self.settings.ack_deadline)
        if work.done():
            messages, response_type = work.result()
            await ack({**messages[0], "response_type": response_type})
            rest = messages[1:]
        else:
            await ack({"response_type": "ephemeral", "text": f"Working on /{spec.name}…"})
            messages, response_type = await work
            rest = messages
        for message in rest[:_RESPONSE_URL_POSTS]:
            await self._post_response_url(response_url, {**message, "response_type": response_type})

    async def _answer(
        self,
        spec: CommandSpec,
        text: str,
        body: Mapping[str, Any],
        client: AsyncWebClient | None = None,
    ) -> tuple[list[dict[str, Any]], str]:
        """Parse, check, dispatch and render; never raises (errors become replies)."""
        # Slack sends command text with &, < and > escaped; the parser wants what was typed
        text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
        try:
            args = self._parse_args(spec, text)
        except CommandError as err:
            self.metrics.inc("marquee_slack_commands_total", command=spec.name, outcome="refused")
            reply = Reply.error(str(err))
        except Exception:  # a parser bug: the user still gets an answer
            log.exception("slack: parsing /%s failed", spec.name)
            self.metrics.inc("marquee_slack_errors_total", kind="handler")
            reply = Reply.error(_SORRY)
        else:
            try:
                reply = await self._run(spec, args, body, client)
            except CommandError as err:
                reply = Reply.error(str(err))
        response_type = "ephemeral" if (reply.ephemeral or spec.personal) else "in_channel"
        try:
            return render(reply, max_messages=_RESPONSE_URL_POSTS), response_type
        except Exception:  # a renderer bug must not leave the command unanswered
            log.exception("slack: rendering /%s failed", spec.name)
            self.metrics.inc("marquee_slack_errors_total", kind="render")
            return render(Reply.error(_SORRY)), "ephemeral"

    async def _run(
        self,
        spec: CommandSpec,
        args: Mapping[str, object],
        body: Mapping[str, Any],
        client: AsyncWebClient | None = None,
    ) -> Reply:
        outcome = "ok"
        try:
            ctx = await self._context(spec, body, client)
            reply = await self._dispatch(spec.name, args, ctx)
            if reply.severity == "error":
                outcome = "refused"
            return reply
        except CommandError:
            outcome = "refused"
            raise
        except Exception:  # a bug in a handler must still get the user an answer
            outcome = "failed"
            self.metrics.inc("marquee_slack_errors_total", kind="handler")
            log.exception("slack: /%s failed", spec.name)
            return Reply.error(_SORRY)
        finally:
            self.metrics.inc("marquee_slack_commands_total", command=spec.name, outcome=outcome)

    async def _on_unknown_command(self, ack: Any, body: dict[str, Any]) -> None:
        names = ", ".join(f"/{name}" for name in self._specs)
        command = _str(body.get("command"))[:40]
        reply = Reply.error(
            f"Marquee has no {command} command any more; the Slack app may need updating "
            f"from `marquee slack manifest`. Commands: {names}."
        )
        await ack({**render(reply)[0], "response_type": "ephemeral"})

    async def _on_link_button(self, ack: Any) -> None:
        # Slack sends block_actions for url buttons too; without an ack the user sees
        # a warning icon next to the button.
        await ack()

    async def _on_run_button(
        self,
        ack: Any,
        body: dict[str, Any],
        action: dict[str, Any],
        client: AsyncWebClient | None = None,
    ) -> None:
        await ack()
        self._track()
        response_url = _str(body.get("response_url"))
        try:
            command, pairs = decode_action_value(_str(action.get("value")))
            spec = self._specs.get(command)
            if spec is None:
                raise CommandError(f"/{command} is not a Marquee command any more.")
            args = _args_from_pairs(pairs)
            reply = await self._run(spec, args, body, client)
            response_type = "ephemeral" if (reply.ephemeral or spec.personal) else "in_channel"
        except ValueError:
            log.warning("slack: ignoring a button click with a foreign value")
            return
        except CommandError as err:
            reply, response_type = Reply.error(str(err)), "ephemeral"
        message = render(reply, max_messages=1)[0]
        if response_type == "ephemeral" and reply.severity == "error":
            # an error should not replace the page the user was reading
            await self._post_response_url(response_url, {**message, "response_type": "ephemeral"})
            return
        await self._post_response_url(
            response_url, {**message, "response_type": response_type, "replace_original": True}
        )

    def _track(self) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._inflight.add(task)
            task.add_done_callback(self._inflight.discard)

    async def _context(
        self, spec: CommandSpec, body: Mapping[str, Any], client: AsyncWebClient | None = None
    ) -> Context:
        """Who and where, from a slash command or a block_actions payload."""
        user = body.get("user")
        if isinstance(user, Mapping):  # block_actions
            user_id = _str(user.get("id"))
            name = _str(user.get("username") or user.get("name"))
            team = body.get("team")
            team_id = (
                _str(team.get("id")) if isinstance(team, Mapping) else _str(user.get("team_id"))
            )
            channel = body.get("channel")
            channel_id = _str(channel.get("id")) if isinstance(channel, Mapping) else ""
        else:  # slash command
            user_id = _str(body.get("user_id"))
            name = _str(body.get("user_name"))
            team_id = _str(body.get("team_id"))
            channel_id = _str(body.get("channel_id"))
        if not user_id or not channel_id:
            raise CommandError("Slack did not say who or where this was; please try again.")
        may_manage = await self._may_manage(spec, user_id, client, team_id)
        return Context(
            platform="slack",
            channel=f"slack:{team_id}/{channel_id}" if team_id else f"slack:{channel_id}",
            caller=Caller(user_id=user_id, display_name=name, can_manage_channel=may_manage),
            guild_or_team=team_id or None,
        )

    async def _may_manage(
        self,
        spec: CommandSpec,
        user_id: str,
        client: AsyncWebClient | None = None,
        team_id: str = "",
    ) -> bool:
        """Whether the caller may change what the channel receives. ``client`` is the
        request's (it carries the workspace's token when installs are per workspace)."""
        who = self.settings.who_may_subscribe
        if who == "everyone":
            return True
        if isinstance(who, tuple):
            return user_id in who
        if spec.permission != "manage_channel":
            return False  # users.info only when the answer matters
        key = f"{team_id}/{user_id}"
        cached = self._admins.get(key)
        now = time.monotonic()
        if cached is not None and now - cached[0] < _ADMIN_CACHE_SECONDS:
            return cached[1]
        client = client or self._client
        assert client is not None
        try:
            response = await client.users_info(user=user_id)
        except SlackApiError as err:
            self.metrics.inc("marquee_slack_errors_total", kind="users_info")
            log.warning("slack: users.info failed: %s", _error_code(err))
            raise CommandError(
                "Marquee could not check whether you are a workspace admin "
                f"(Slack said {_error_code(err)}). Please try again later."
            ) from None
        except (aiohttp.ClientError, TimeoutError, OSError):
            self.metrics.inc("marquee_slack_errors_total", kind="users_info")
            raise CommandError(
                "Marquee could not reach Slack to check your permissions. Please try again."
            ) from None
        profile = response.get("user") or {}
        is_admin = bool(
            profile.get("is_admin") or profile.get("is_owner") or profile.get("is_primary_owner")
        )
        self._admins[key] = (now, is_admin)
        return is_admin

    async def _post_response_url(self, url: str, message: dict[str, Any]) -> None:
        """Post to a command's response_url with retries (unlike bolt's ``respond``)."""
        if not url.startswith(("https://", "http://")):
            log.warning("slack: no usable response_url; answer dropped")
            self.metrics.inc("marquee_slack_errors_total", kind="response_url")
            return
        webhook = AsyncWebhookClient(
            url,
            timeout=max(1, math.ceil(self.settings.request_timeout)),
            session=self._session,
            retry_handlers=_retry_handlers(self.settings),
        )
        try:
            response = await webhook.send_dict(message)
        except (aiohttp.ClientError, TimeoutError, OSError) as err:
            self.metrics.inc("marquee_slack_errors_total", kind="response_url")
            log.warning("slack: response_url post failed: %s", type(err).__name__)
            return
        if response.status_code != 200:
            self.metrics.inc("marquee_slack_errors_total", kind="response_url")
            log.warning("slack: response_url answered %s", response.status_code)
            return
        self.metrics.inc("marquee_slack_messages_total", method="response_url")

    # -- Platform protocol -------------------------------------------------------------
    async def send(self, channel_id: str, reply: Reply, *, idempotency_key: str) -> str:
        """Post ``reply`` (split if long) and return the first message's ``ts``."""
        channel = _channel(channel_id)
        first_ts = ""
        for message in render(reply):
            payload = {
                "channel": channel,
                "text": message["text"],
                "blocks": message["blocks"],
                "unfurl_links": False,
                "unfurl_media": False,
                # the key travels with the message, so duplicates after a crash can be
                # recognised in the channel's history
                "metadata": {
                    "event_type": "marquee_alert",
                    "event_payload": {"key": idempotency_key},
                },
            }
            response = await self._call("chat.postMessage", channel_id, payload)
            first_ts = first_ts or _str(response.get("ts"))
        if not first_ts:
            raise TransientDeliveryError("slack chat.postMessage: no ts in Slack's answer")
        return first_ts

    async def edit(self, channel_id: str, message_ref: str, reply: Reply) -> None:
        """Replace an earlier alert (``chat.update``); if it is gone, post it afresh."""
        channel = _channel(channel_id)
        message = render(reply, max_messages=1)[0]
        try:
            payload = {
                "channel": channel,
                "ts": message_ref,
                "text": message["text"],
                "blocks": message["blocks"],
            }
            await self._call("chat.update", channel_id, payload)
        except PermanentDeliveryError as err:
            if getattr(err, "code", "") not in _MESSAGE_GONE:
                raise
            log.info(
                "slack: alert %s in %s is gone (%s); posting the update", message_ref, channel, err
            )
            await self.send(channel_id, reply, idempotency_key=f"edit-{message_ref}"[:25])

    async def _call(
        self, method: str, channel_id: str, payload: dict[str, Any]
    ) -> Mapping[str, Any]:
        assert self._client is not None, "use SlackPlatform as an async context manager"
        team = _team(channel_id)
        cached = team is not None and team in self._team_clients
        client = await self._sender(team)
        try:
            async with self._pacer.slot(_channel(channel_id)):
                response = await client.api_call(method, json=payload)
        except SlackApiError as err:
            if team and self.settings.oauth and _error_code(err) in _AUTH_CODES:
                # The token may have been replaced by a reinstall (another instance
                # saved it): look it up afresh, and try once more if it was cached.
                self._team_clients.pop(team, None)
                if cached:
                    return await self._call(method, channel_id, payload)
            raise self._delivery_error(method, err) from None
        except (aiohttp.ClientError, TimeoutError, OSError) as err:
            self.metrics.inc("marquee_slack_errors_total", kind="transient")
            raise TransientDeliveryError(f"slack {method}: {type(err).__name__}") from err
        self.metrics.inc("marquee_slack_messages_total", method=method)
        return response.data if isinstance(response.data, Mapping) else {}

    async def _sender(self, team: str | None) -> AsyncWebClient:
        """The client that posts in workspace ``team``: with OAuth, one carrying that
        workspace's installed bot token (cached briefly, rotated when it expires)."""
        assert self._client is not None
        if not self.settings.oauth:
            return self._client
        if not team:
            raise PermanentDeliveryError(
                "not_installed: this channel was subscribed without its workspace; "
                "subscribe it again"
            )
        cached = self._team_clients.get(team)
        now = time.monotonic()
        if cached is not None and now - cached[0] < self.settings.token_cache_seconds:
            return cached[1]
        assert self._installations is not None
        try:
            bot = await self._installations.async_find_bot(enterprise_id=None, team_id=team)
            if bot is not None and bot.bot_refresh_token and self._rotator is not None:
                refreshed = await self._rotator.perform_bot_token_rotation(
                    bot=bot, minutes_before_expiration=10
                )
                if refreshed is not None:
                    await self._installations.async_save_bot(refreshed)
                    bot = refreshed
        except StorageError as err:
            raise TransientDeliveryError(f"slack: installs unreadable: {err}") from err
        except SlackTokenRotationError as err:
            raise PermanentDeliveryError(
                "token_revoked: Slack refused to renew the workspace's token; install again"
            ) from err
        if bot is None or not bot.bot_token:
            raise PermanentDeliveryError(
                f"not_installed: Marquee is not installed in Slack workspace {team} "
                "(install it again from its install page)"
            )
        client = self._web_client(bot.bot_token)
        self._team_clients[team] = (now, client)
        return client

    def _delivery_error(self, method: str, err: SlackApiError) -> Exception:
        status = _status(err)
        code = _error_code(err)
        if status == 429 or code == "ratelimited":
            self.metrics.inc("marquee_slack_errors_total", kind="rate_limited")
            headers = getattr(err.response, "headers", None)
            wait = _retry_after(dict(headers) if headers is not None else None)
            return TransientDeliveryError(f"slack {method}: rate limited", retry_after=wait)
        if status >= 500 or code in _TRANSIENT_CODES or not code:
            self.metrics.inc("marquee_slack_errors_total", kind="transient")
            return TransientDeliveryError(f"slack {method}: {code or f'HTTP {status}'}")
        self.metrics.inc("marquee_slack_errors_total", kind="permanent")
        reason = _PERMANENT_REASONS.get(code)
        error = PermanentDeliveryError(f"{code}: {reason}" if reason else f"{code} ({method})")
        error.code = code  # type: ignore[attr-defined]
        return error


# -- helpers -----------------------------------------------------------------------


def _prefix_pattern(prefix: str) -> re.Pattern[str]:
    return re.compile(rf"^{re.escape(prefix)}:[a-z]?\d+$")


def _header(headers: Any, name: str) -> str | None:
    if not headers:
        return None
    for key, value in dict(headers).items():
        if str(key).lower() == name:
            return str(value[0] if isinstance(value, list | tuple) else value)
    return None


def _str(value: object) -> str:
    return value if isinstance(value, str) else ""


def _team(channel_id: str) -> str | None:
    """``"T01/C02"`` -> ``"T01"``; ``"C02"`` -> ``None``."""
    team, sep, _ = channel_id.rpartition("/")
    return team.strip() or None if sep else None


def _channel(channel_id: str) -> str:
    """``"T01/C02"`` (how Marquee addresses a Slack channel) or ``"C02"`` -> ``"C02"``."""
    channel = channel_id.rsplit("/", 1)[-1].strip()
    if not channel:
        raise PermanentDeliveryError(f"channel_not_found: not a Slack channel id: {channel_id!r}")
    return channel


def _status(err: SlackApiError) -> int:
    response = err.response
    status = getattr(response, "status_code", None)
    if status is None:
        status = getattr(response, "status", 0)  # a raw aiohttp response (unparsable body)
    try:
        return int(status)
    except (TypeError, ValueError):
        return 0


def _error_code(err: SlackApiError) -> str:
    data = getattr(err.response, "data", None)
    if isinstance(data, Mapping):
        code = data.get("error")
        if isinstance(code, str):
            return code[:100]
    return ""


def _args_from_pairs(pairs: Sequence[tuple[str, str]]) -> dict[str, object]:
    """Button arguments back to a dispatch mapping; a repeated key becomes a list."""
    args: dict[str, object] = {}
    for key, value in pairs:
        if key in args:
            previous = args[key]
            args[key] = [*previous, value] if isinstance(previous, list) else [previous, value]
        else:
            args[key] = value
    return args
