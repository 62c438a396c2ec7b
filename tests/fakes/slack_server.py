"""A local Slack: Web API, response_url endpoint and Socket Mode websocket, on 127.0.0.1.

Built on :class:`tests.fakes.http.FakeHTTPServer` (recording, HTTP faults). It answers the
Web API methods Marquee uses (``auth.test``, ``chat.postMessage``, ``chat.update``,
``chat.postEphemeral``, ``users.info``, ``apps.connections.open``) with form or JSON
bodies and a Bearer token (or ``token`` parameter), like Slack; it can answer 429 with
an integer ``Retry-After``, 5xx, and ``ok: false`` errors; and it checks every message it
receives against Slack's published Block Kit limits and for unescaped markup
(:func:`message_problems`), recording what it finds in :attr:`FakeSlack.violations`.

:class:`SlackSigner` plays Slack's side of HTTP mode: it signs requests with
``v0=`` HMAC-SHA256 of ``v0:{timestamp}:{body}`` and the signing secret.

OAuth installs (issue 9): ``GET /oauth/v2/authorize`` plays the consent page a
workspace admin approves (it installs the app in :attr:`FakeSlack.installing_team` and
redirects back with a one-time ``code``), and ``oauth.v2.access`` trades that code, with
the app's client id and secret (HTTP Basic, as slack_sdk sends them), for the new
workspace's bot token. Every workspace token then works for the Web API methods, and
``auth.test`` names its own workspace.

The checks here are written independently of ``bot.render.slack`` on purpose: a
renderer bug must not be hidden by the same bug in the test.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import itertools
import json
import re
import time
import uuid
from collections import defaultdict, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode

import aiohttp
from aiohttp import web

from tests.fakes.http import FakeHTTPServer, Fault

__all__ = ["FakeSlack", "SignedResponse", "SlackSigner", "Workspace", "message_problems"]

BOT_TOKEN = "xoxb-1111-2222-fake-bot-token"
APP_TOKEN = "xapp-1-A111-3333-fake-app-token"
SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
TEAM_ID = "T0MARQUEE"
APP_ID = "A0MARQUEE"
BOT_USER_ID = "U0MARQBOT"
CLIENT_ID = "1111111111.2222222222"
CLIENT_SECRET = "3c0f1a9e8d7b6a5f4e3d2c1b0a998877"

# -- Slack's limits, as published (Block Kit reference, chat.postMessage) ------------

_MAX_BLOCKS = 50
_MAX_TEXT = 40_000
_HEADER = 150
_SECTION_TEXT = 3000
_FIELDS = 10
_FIELD_TEXT = 2000
_CONTEXT_ELEMENTS = 10
_ACTIONS_ELEMENTS = 25
_BUTTON_TEXT = 75
_BUTTON_VALUE = 2000
_BUTTON_URL = 3000
_ACTION_ID = 255
_BLOCK_ID = 255

# What we write ourselves: links and dates; anything else with < or > is unescaped
_LINK = re.compile(r"<https?://[^\s<>|]+(?:\|[^<>]*)?>")
_DATE = re.compile(r"<!date\^\d+\^[^|<>]+\|[^<>]*>")
_BARE_MENTION = re.compile(r"@(channel|here|everyone)\b", re.IGNORECASE)
_ENTITY = re.compile(r"&(?!amp;|lt;|gt;)")


def _markup_problems(where: str, text: str) -> list[str]:
    problems: list[str] = []
    rest = _DATE.sub("", _LINK.sub("", text))
    if "<" in rest or ">" in rest:
        problems.append(f"{where}: unescaped < or > (mention or markup would be parsed): {rest!r}")
    if _ENTITY.search(rest):
        problems.append(f"{where}: unescaped &: {rest[:200]!r}")
    if _BARE_MENTION.search(text):
        problems.append(f"{where}: bare @channel/@here/@everyone: {text[:200]!r}")
    return problems


def _text_object(where: str, obj: Any, limit: int, *, plain_only: bool = False) -> list[str]:
    if not isinstance(obj, dict) or obj.get("type") not in ("plain_text", "mrkdwn"):
        return [f"{where}: not a text object: {obj!r}"]
    if plain_only and obj["type"] != "plain_text":
        return [f"{where}: must be plain_text"]
    text = obj.get("text")
    if not isinstance(text, str) or not text.strip():
        return [f"{where}: text must be a non-empty string"]
    problems = []
    if len(text) > limit:
        problems.append(f"{where}: {len(text)} characters > {limit}")
    return problems + _markup_problems(where, text)


def _button(where: str, element: dict[str, Any], action_ids: set[str]) -> list[str]:
    problems = _text_object(f"{where}.text", element.get("text"), _BUTTON_TEXT, plain_only=True)
    action_id = element.get("action_id", "")
    if len(action_id) > _ACTION_ID:
        problems.append(f"{where}: action_id over {_ACTION_ID}")
    if action_id:
        if action_id in action_ids:
            problems.append(f"{where}: duplicate action_id {action_id}")
        action_ids.add(action_id)
    if "url" in element:
        url = element["url"]
        if not isinstance(url, str) or len(url) > _BUTTON_URL or not url.startswith("http"):
            problems.append(f"{where}: bad url")
    if len(element.get("value", "")) > _BUTTON_VALUE:
        problems.append(f"{where}: value over {_BUTTON_VALUE}")
    return problems


def message_problems(message: dict[str, Any]) -> list[str]:
    """Everything in ``message`` (``text`` + ``blocks``) that Slack would reject, truncate
    or parse as markup we did not mean."""
    problems: list[str] = []
    text = message.get("text")
    blocks = message.get("blocks")
    if isinstance(blocks, str):
        try:
            blocks = json.loads(blocks)
        except ValueError:
            return [f"blocks is not JSON: {blocks[:100]!r}"]
    if not text and not blocks:
        problems.append("neither text nor blocks")
    if text is not None:
        if not isinstance(text, str):
            problems.append("text is not a string")
        else:
            if len(text) > _MAX_TEXT:
                problems.append(f"text: {len(text)} characters > {_MAX_TEXT}")
            problems += _markup_problems("text", text)
    blocks = blocks or []
    if len(blocks) > _MAX_BLOCKS:
        problems.append(f"{len(blocks)} blocks > {_MAX_BLOCKS}")
    block_ids: set[str] = set()
    action_ids: set[str] = set()
    for i, block in enumerate(blocks):
        where = f"blocks[{i}]"
        kind = block.get("type")
        block_id = block.get("block_id")
        if block_id is not None:
            if len(block_id) > _BLOCK_ID:
                problems.append(f"{where}: block_id over {_BLOCK_ID}")
            if block_id in block_ids:
                problems.append(f"{where}: duplicate block_id {block_id}")
            block_ids.add(block_id)
        if kind == "header":
            problems += _text_object(f"{where}.text", block.get("text"), _HEADER, plain_only=True)
        elif kind == "section":
            if "text" not in block and "fields" not in block:
                problems.append(f"{where}: section without text or fields")
            if "text" in block:
                problems += _text_object(f"{where}.text", block["text"], _SECTION_TEXT)
            fields = block.get("fields", [])
            if len(fields) > _FIELDS:
                problems.append(f"{where}: {len(fields)} fields > {_FIELDS}")
            for j, f in enumerate(fields):
                problems += _text_object(f"{where}.fields[{j}]", f, _FIELD_TEXT)
            accessory = block.get("accessory")
            if accessory is not None:
                if accessory.get("type") != "button":
                    problems.append(f"{where}: unexpected accessory {accessory.get('type')}")
                else:
                    problems += _button(f"{where}.accessory", accessory, action_ids)
        elif kind == "context":
            elements = block.get("elements", [])
            if not elements or len(elements) > _CONTEXT_ELEMENTS:
                problems.append(f"{where}: {len(elements)} context elements (1..10)")
            for j, element in enumerate(elements):
                problems += _text_object(f"{where}.elements[{j}]", element, _SECTION_TEXT)
        elif kind == "actions":
            elements = block.get("elements", [])
            if not elements or len(elements) > _ACTIONS_ELEMENTS:
                problems.append(f"{where}: {len(elements)} actions elements (1..25)")
            for j, element in enumerate(elements):
                if element.get("type") != "button":
                    problems.append(f"{where}.elements[{j}]: not a button")
                else:
                    problems += _button(f"{where}.elements[{j}]", element, action_ids)
        elif kind == "divider":
            pass
        else:
            problems.append(f"{where}: unexpected block type {kind!r}")
    return problems


# -- the fake ------------------------------------------------------------------------


@dataclass
class Workspace:
    """A workspace the app was installed in through OAuth."""

    team_id: str
    team_name: str
    bot_token: str
    bot_user_id: str
    scopes: str
    installer: str


@dataclass
class ApiCall:
    """One Web API call as the fake understood it."""

    method: str
    token: str
    params: dict[str, Any]
    content_type: str
    at: float = field(default_factory=time.monotonic)


class FakeSlack:
    """``async with FakeSlack() as slack:`` then point ``api_base`` at ``slack.api_base``."""

    def __init__(
        self,
        *,
        bot_token: str = BOT_TOKEN,
        app_token: str = APP_TOKEN,
        team_id: str = TEAM_ID,
        client_id: str = CLIENT_ID,
        client_secret: str = CLIENT_SECRET,
    ) -> None:
        self.http = FakeHTTPServer()
        self.bot_token = bot_token
        self.app_token = app_token
        self.team_id = team_id
        # OAuth: the app's credentials, who approves the next install, and the results
        self.client_id = client_id
        self.client_secret = client_secret
        self.installing_team = ("T0SECOND", "Second Studio")
        self.redirect_url: str | None = None  # the app's configured Redirect URL
        self.workspaces: dict[str, Workspace] = {}  # bot token -> workspace
        self.authorize_requests: list[dict[str, str]] = []
        self._codes: dict[str, Workspace] = {}
        self.calls: list[ApiCall] = []
        self.messages: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)  # ch -> ts
        self.response_posts: dict[str, list[dict[str, Any]]] = defaultdict(list)
        self.violations: list[str] = []
        self.users: dict[str, dict[str, Any]] = {}
        self.archived: set[str] = set()
        self.not_in_channel: set[str] = set()
        self.missing: set[str] = set()
        self.scopes = "commands,chat:write,chat:write.public"
        self._errors: dict[str, deque[str]] = defaultdict(deque)
        self._ts = itertools.count(1)
        self._changed = asyncio.Condition()
        # Socket Mode
        self.sockets: list[web.WebSocketResponse] = []
        self.acks: dict[str, dict[str, Any]] = {}
        self.hello_sent = asyncio.Event()

    # -- setup -------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return self.http.url

    @property
    def api_base(self) -> str:
        return f"{self.http.url}/api/"

    async def __aenter__(self) -> FakeSlack:
        await self.http.__aenter__()
        for method in (
            "auth.test",
            "chat.postMessage",
            "chat.update",
            "chat.postEphemeral",
            "users.info",
            "apps.connections.open",
            "oauth.v2.access",
        ):
            for verb in ("GET", "POST"):
                self.http.route(verb, f"/api/{method}", self._api)
        self.http.route("GET", "/oauth/v2/authorize", self._authorize)
        self.http.route("POST", "/response/*", self._response_url)
        self.http.route("GET", "/socket", self._socket)
        return self

    async def __aexit__(self, *exc: object) -> None:
        for ws in list(self.sockets):
            await ws.close()
        await self.http.__aexit__(*exc)

    def add_user(self, user_id: str, *, admin: bool = False, owner: bool = False) -> None:
        self.users[user_id] = {
            "id": user_id,
            "team_id": self.team_id,
            "name": user_id.lower(),
            "is_admin": admin,
            "is_owner": owner,
            "is_primary_owner": False,
            "is_bot": False,
        }

    # -- faults ------------------------------------------------------------------------
    def error(self, method: str, code: str, times: int = 1) -> None:
        """The next ``times`` calls to ``method`` answer ``{"ok": false, "error": code}``."""
        self._errors[method].extend([code] * times)

    def rate_limit(self, method: str, retry_after: str = "1", times: int = 1) -> None:
        """The next ``times`` calls answer 429 with ``Retry-After`` (as Slack: integer)."""
        body = json.dumps({"ok": False, "error": "ratelimited"}).encode()
        headers = {"Retry-After": retry_after, "Content-Type": "application/json"}
        for _ in range(times):
            self.http.fail(f"/api/{method}", Fault.http(429, body, **headers))

    def server_error(self, method: str, status: int = 500, times: int = 1) -> None:
        for _ in range(times):
            self.http.fail(f"/api/{method}", Fault.http(status, b"<html>oops</html>"))

    def fault(self, method: str, *faults: Fault) -> None:
        self.http.fail(f"/api/{method}", *faults)

    # -- queries -----------------------------------------------------------------------
    def calls_to(self, method: str) -> list[ApiCall]:
        """Calls the fake answered itself (faults, such as 429s, are not among them)."""
        return [c for c in self.calls if c.method == method]

    def attempts(self, method: str) -> int:
        """Every HTTP request to ``method``, faulted ones included."""
        return len(self.http.requests_to(f"/api/{method}"))

    def new_response_url(self) -> str:
        return f"{self.http.url}/response/{uuid.uuid4().hex}"

    def posts_to(self, response_url: str) -> list[dict[str, Any]]:
        return self.response_posts.get(response_url.rsplit("/", 1)[-1], [])

    async def wait_for(self, predicate: Callable[[], Any], within: float = 5.0) -> Any:
        """Wait until ``predicate()`` is truthy (re-checked at every request/ack)."""
        async with asyncio.timeout(within):
            async with self._changed:
                while not (result := predicate()):
                    await self._changed.wait()
                return result

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    def check(self, where: str, message: dict[str, Any]) -> list[str]:
        problems = [f"{where}: {p}" for p in message_problems(message)]
        self.violations.extend(problems)
        return problems

    # -- Web API -----------------------------------------------------------------------
    async def _params(self, request: web.Request) -> tuple[dict[str, Any], str, str]:
        params: dict[str, Any] = dict(request.query)
        content_type = request.headers.get("Content-Type", "")
        body = await request.read()
        if body:
            if content_type.startswith("application/json"):
                params.update(json.loads(body))
            else:
                params.update(dict(parse_qsl(body.decode(), keep_blank_values=True)))
        auth = request.headers.get("Authorization", "")
        token = auth[len("Bearer ") :] if auth.startswith("Bearer ") else ""
        token = token or str(params.pop("token", ""))
        params.pop("token", None)
        return params, token, content_type

    async def _api(self, request: web.Request) -> web.Response:
        method = request.path.removeprefix("/api/")
        params, token, content_type = await self._params(request)
        self.calls.append(ApiCall(method, token, params, content_type))
        try:
            if method == "oauth.v2.access":
                return self._oauth_access(request, params)
            response = self._answer(method, params, token)
            if token == self.bot_token:  # Slack names the token's scopes on every answer
                response.headers["X-OAuth-Scopes"] = self.scopes
            elif token in self.workspaces:
                response.headers["X-OAuth-Scopes"] = self.workspaces[token].scopes
            return response
        finally:
            await self._notify()

    def _answer(self, method: str, params: dict[str, Any], token: str) -> web.Response:
        expected = self.app_token if method == "apps.connections.open" else self.bot_token
        if not token:
            return _fail("not_authed")
        workspace = self.workspaces.get(token) if method != "apps.connections.open" else None
        if token != expected and workspace is None:
            return _fail("invalid_auth")
        queued = self._errors.get(method)
        if queued:
            return _fail(queued.popleft())
        if method == "auth.test":
            return _ok(
                url="https://marquee-test.slack.com/",
                team=workspace.team_name if workspace else "Marquee Test",
                user="marquee",
                team_id=workspace.team_id if workspace else self.team_id,
                user_id=workspace.bot_user_id if workspace else BOT_USER_ID,
                bot_id="B0MARQUEE",
                is_enterprise_install=False,
            )
        if method == "users.info":
            user = self.users.get(str(params.get("user", "")))
            return _ok(user=user) if user else _fail("user_not_found")
        if method == "apps.connections.open":
            ws = f"ws://127.0.0.1:{self.http.port}/socket?ticket={uuid.uuid4().hex}"
            return _ok(url=ws)
        channel = str(params.get("channel", ""))
        if channel in self.missing:
            return _fail("channel_not_found")
        if channel in self.archived:
            return _fail("is_archived")
        if channel in self.not_in_channel:
            return _fail("not_in_channel")
        if self.check(method, params):
            return _fail("invalid_blocks")
        if method in ("chat.postMessage", "chat.postEphemeral"):
            ts = f"{int(time.time())}.{next(self._ts):06d}"
            self.messages[channel][ts] = dict(params)
            return _ok(channel=channel, ts=ts, message={"text": params.get("text"), "ts": ts})
        if method == "chat.update":
            ts = str(params.get("ts", ""))
            if ts not in self.messages.get(channel, {}):
                return _fail("message_not_found")
            self.messages[channel][ts] = {**self.messages[channel][ts], **params}
            return _ok(channel=channel, ts=ts, text=params.get("text"))
        return _fail("unknown_method")

    # -- OAuth ---------------------------------------------------------------------------
    def tokens_of(self, team_id: str) -> list[str]:
        """The bot tokens issued to a workspace through OAuth."""
        return [w.bot_token for w in self.workspaces.values() if w.team_id == team_id]

    async def _authorize(self, request: web.Request) -> web.Response:
        """The consent page, approved at once by an admin of :attr:`installing_team`."""
        query = dict(request.query)
        self.authorize_requests.append(query)
        await self._notify()
        if query.get("client_id") != self.client_id:
            return web.Response(status=400, text="invalid_client_id")
        redirect = query.get("redirect_uri") or self.redirect_url
        if not redirect:
            return web.Response(status=400, text="no redirect_uri and none configured")
        team_id, team_name = self.installing_team
        workspace = Workspace(
            team_id=team_id,
            team_name=team_name,
            bot_token=f"xoxb-{team_id.lower()}-{uuid.uuid4().hex[:16]}",
            bot_user_id=f"U{team_id[1:]}BOT"[:11],
            scopes=query.get("scope", ""),
            installer="U0ADMIN",
        )
        code = f"{int(time.time())}.{uuid.uuid4().hex}"
        self._codes[code] = workspace
        separator = "&" if "?" in redirect else "?"
        target = (
            f"{redirect}{separator}{urlencode({'code': code, 'state': query.get('state', '')})}"
        )
        raise web.HTTPFound(target)

    def _oauth_access(self, request: web.Request, params: dict[str, Any]) -> web.Response:
        client_id, client_secret = params.get("client_id"), params.get("client_secret")
        auth = request.headers.get("Authorization", "")
        if auth.startswith("Basic "):
            decoded = base64.b64decode(auth[len("Basic ") :]).decode()
            client_id, _, client_secret = decoded.partition(":")
        if client_id != self.client_id:
            return _fail("invalid_client_id")
        if client_secret != self.client_secret:
            return _fail("bad_client_secret")
        workspace = self._codes.pop(str(params.get("code", "")), None)
        if workspace is None:
            return _fail("invalid_code")
        self.workspaces[workspace.bot_token] = workspace
        return _ok(
            app_id=APP_ID,
            authed_user={"id": workspace.installer},
            scope=workspace.scopes,
            token_type="bot",
            access_token=workspace.bot_token,
            bot_user_id=workspace.bot_user_id,
            team={"id": workspace.team_id, "name": workspace.team_name},
            enterprise=None,
            is_enterprise_install=False,
        )

    async def _response_url(self, request: web.Request) -> web.Response:
        key = request.path.rsplit("/", 1)[-1]
        try:
            body = json.loads(await request.read())
        except ValueError:
            return web.Response(status=400, text="invalid_payload")
        self.response_posts[key].append(body)
        self.check(f"response_url {key}", body)
        await self._notify()
        return web.Response(text="ok")

    # -- Socket Mode -------------------------------------------------------------------
    async def _socket(self, request: web.Request) -> web.StreamResponse:
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        self.sockets.append(ws)
        await ws.send_json(
            {
                "type": "hello",
                "num_connections": len(self.sockets),
                "debug_info": {"host": "applink-fake", "approximate_connection_time": 18060},
                "connection_info": {"app_id": APP_ID},
            }
        )
        self.hello_sent.set()
        await self._notify()
        try:
            async for msg in ws:
                if msg.type != aiohttp.WSMsgType.TEXT:
                    continue
                data = json.loads(msg.data)
                envelope_id = data.get("envelope_id")
                if envelope_id:
                    self.acks[envelope_id] = data
                    if isinstance(data.get("payload"), dict):
                        self.check(f"ack {envelope_id}", data["payload"])
                    await self._notify()
        finally:
            self.sockets.remove(ws)
            await self._notify()
        return ws

    async def send_envelope(self, kind: str, payload: dict[str, Any]) -> str:
        """Deliver an event over the open socket as Slack does; returns its envelope_id."""
        if not self.sockets:
            raise AssertionError("no Socket Mode client connected")
        envelope_id = str(uuid.uuid4())
        await self.sockets[-1].send_json(
            {
                "envelope_id": envelope_id,
                "type": kind,
                "accepts_response_payload": kind in ("slash_commands", "interactive"),
                "payload": payload,
            }
        )
        return envelope_id

    # -- payloads as Slack sends them ----------------------------------------------------
    def command_payload(
        self,
        command: str,
        text: str = "",
        *,
        user_id: str = "U0ALICE",
        user_name: str = "alice",
        channel_id: str = "C0JOBS",
        channel_name: str = "jobs",
    ) -> dict[str, str]:
        return {
            "token": "gIkuvaNzQIHg97ATvDxqgjtO",  # the deprecated verification token
            "team_id": self.team_id,
            "team_domain": "marquee-test",
            "channel_id": channel_id,
            "channel_name": channel_name,
            "user_id": user_id,
            "user_name": user_name,
            "command": command,
            "text": text,
            "api_app_id": APP_ID,
            "is_enterprise_install": "false",
            "response_url": self.new_response_url(),
            "trigger_id": f"13345224609.738474920.{uuid.uuid4().hex[:12]}",
        }

    def block_actions_payload(
        self,
        action: dict[str, Any],
        *,
        user_id: str = "U0ALICE",
        channel_id: str = "C0JOBS",
        message: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        return {
            "type": "block_actions",
            "user": {
                "id": user_id,
                "username": user_id.lower(),
                "name": user_id.lower(),
                "team_id": self.team_id,
            },
            "api_app_id": APP_ID,
            "token": "gIkuvaNzQIHg97ATvDxqgjtO",
            "container": {
                "type": "message",
                "message_ts": "1700000000.000100",
                "channel_id": channel_id,
                "is_ephemeral": False,
            },
            "trigger_id": f"13345224609.738474920.{uuid.uuid4().hex[:12]}",
            "team": {"id": self.team_id, "domain": "marquee-test"},
            "enterprise": None,
            "is_enterprise_install": False,
            "channel": {"id": channel_id, "name": "jobs"},
            "message": message or {"type": "message", "ts": "1700000000.000100", "text": "…"},
            "state": {"values": {}},
            "response_url": self.new_response_url(),
            "actions": [{**action, "action_ts": f"{time.time():.6f}"}],
        }

    def iter_sent(self) -> Iterator[tuple[str, str, dict[str, Any]]]:
        for channel, messages in self.messages.items():
            for ts, message in messages.items():
                yield channel, ts, message


def _ok(**fields: Any) -> web.Response:
    return web.json_response({"ok": True, **fields})


def _fail(code: str) -> web.Response:
    return web.json_response({"ok": False, "error": code})


# -- Slack's side of HTTP mode ---------------------------------------------------------


@dataclass
class SignedResponse:
    status: int
    content_type: str
    text: str

    def json(self) -> Any:
        return json.loads(self.text)


class SlackSigner:
    """Posts to an HTTP-mode endpoint as Slack does, signed with the signing secret."""

    def __init__(self, url: str, signing_secret: str = SIGNING_SECRET) -> None:
        self.url = url
        self.signing_secret = signing_secret

    def sign(self, body: str, timestamp: int) -> str:
        base = f"v0:{timestamp}:{body}".encode()
        digest = hmac.new(self.signing_secret.encode(), base, hashlib.sha256).hexdigest()
        return f"v0={digest}"

    async def post(
        self,
        body: str,
        *,
        timestamp: int | None = None,
        signature: str | None = None,
        content_type: str = "application/x-www-form-urlencoded",
    ) -> SignedResponse:
        ts = int(time.time()) if timestamp is None else timestamp
        headers = {
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": str(ts),
            "X-Slack-Signature": signature if signature is not None else self.sign(body, ts),
            "User-Agent": "Slackbot 1.0 (+https://api.slack.com/robots)",
        }
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session,
            session.post(self.url, data=body.encode(), headers=headers) as resp,
        ):
            return SignedResponse(resp.status, resp.content_type, await resp.text())

    async def command(self, payload: dict[str, str], **kwargs: Any) -> SignedResponse:
        return await self.post(urlencode(payload), **kwargs)

    async def interaction(self, payload: dict[str, Any], **kwargs: Any) -> SignedResponse:
        return await self.post(urlencode({"payload": json.dumps(payload)}), **kwargs)
