"""Slack installs kept in Marquee's own database (issue 9): slack_sdk's store interfaces.

bolt's OAuth flow (``/slack/install`` → Slack's consent page → ``/slack/oauth_redirect``)
asks an ``AsyncOAuthStateStore`` for a one-time ``state`` and an
``AsyncInstallationStore`` to keep the workspace's bot token; its authorize step then
finds the token of the workspace each request comes from. These two classes translate
between slack_sdk's models and :class:`storage.SlackInstallation`, so installs live next
to subscriptions on SQLite or PostgreSQL and every instance sees them.

Marquee installs as a bot only (no user scopes), so only the bot half of an
installation is kept.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from slack_sdk.oauth.installation_store.async_installation_store import AsyncInstallationStore
from slack_sdk.oauth.installation_store.models.bot import Bot
from slack_sdk.oauth.installation_store.models.installation import Installation
from slack_sdk.oauth.state_store.async_state_store import AsyncOAuthStateStore

from storage import SlackInstallation, Store

__all__ = ["StoreInstallations", "StoreOAuthStates"]

log = logging.getLogger(__name__)


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _timestamp(value: Any) -> datetime | None:
    """slack_sdk keeps times as epoch seconds (int or float)."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    try:
        return datetime.fromtimestamp(float(value), UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def _scopes(value: Any) -> tuple[str, ...]:
    parts = value.split(",") if isinstance(value, str) else (value or ())
    return tuple(str(p).strip() for p in parts if str(p).strip())


def _from_bot(bot: Bot) -> SlackInstallation:
    return SlackInstallation(
        team_id=bot.team_id,
        enterprise_id=bot.enterprise_id,
        is_enterprise_install=bool(bot.is_enterprise_install),
        bot_token=bot.bot_token,
        bot_id=bot.bot_id,
        bot_user_id=bot.bot_user_id,
        bot_scopes=_scopes(bot.bot_scopes),
        bot_refresh_token=bot.bot_refresh_token,
        bot_token_expires_at=_timestamp(bot.bot_token_expires_at),
        app_id=bot.app_id,
        team_name=bot.team_name,
        enterprise_name=bot.enterprise_name,
        installed_at=_timestamp(bot.installed_at),
    )


def _to_bot(inst: SlackInstallation) -> Bot:
    expires = inst.bot_token_expires_at
    installed = inst.installed_at or _utcnow()
    return Bot(
        app_id=inst.app_id,
        enterprise_id=inst.enterprise_id,
        enterprise_name=inst.enterprise_name,
        team_id=inst.team_id,
        team_name=inst.team_name,
        bot_token=inst.bot_token,
        bot_id=inst.bot_id or "",
        bot_user_id=inst.bot_user_id or "",
        bot_scopes=list(inst.bot_scopes),
        bot_refresh_token=inst.bot_refresh_token,
        bot_token_expires_at=int(expires.timestamp()) if expires else None,
        is_enterprise_install=inst.is_enterprise_install,
        installed_at=installed.timestamp(),
    )


class StoreInstallations(AsyncInstallationStore):
    """Workspace installs in Marquee's database (bot tokens only)."""

    def __init__(self, store: Store, *, clock: Callable[[], datetime] = _utcnow) -> None:
        self._store = store
        self._clock = clock

    @property
    def logger(self) -> logging.Logger:
        return log

    async def async_save(self, installation: Installation) -> None:
        """Keep a new install (bolt calls this at the end of the OAuth flow)."""
        if not installation.bot_token:
            # Marquee asks for bot scopes only; an install without a bot is of no use
            log.warning("slack: an install without a bot token was ignored")
            return
        await self.async_save_bot(installation.to_bot())
        log.info(
            "slack: installed in workspace %s (%s)",
            installation.team_id or installation.enterprise_id,
            installation.team_name or installation.enterprise_name or "?",
        )

    async def async_save_bot(self, bot: Bot) -> None:
        """Keep a bot's token (also after a token rotation)."""
        await self._store.save_slack_installation(_from_bot(bot), at=self._clock())

    async def async_find_bot(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        is_enterprise_install: bool | None = False,
    ) -> Bot | None:
        """The bot that answers in this workspace, or ``None`` (not installed there)."""
        inst = await self._store.slack_installation(
            team_id=None if is_enterprise_install else team_id, enterprise_id=enterprise_id
        )
        return _to_bot(inst) if inst is not None else None

    async def async_find_installation(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None = None,
        is_enterprise_install: bool | None = False,
    ) -> Installation | None:
        """The workspace's install as slack_sdk models it (bot half only)."""
        if user_id is not None:
            return None  # no user tokens are ever kept
        bot = await self.async_find_bot(
            enterprise_id=enterprise_id,
            team_id=team_id,
            is_enterprise_install=is_enterprise_install,
        )
        if bot is None:
            return None
        return Installation(
            app_id=bot.app_id,
            enterprise_id=bot.enterprise_id,
            enterprise_name=bot.enterprise_name,
            team_id=bot.team_id,
            team_name=bot.team_name,
            bot_token=bot.bot_token,
            bot_id=bot.bot_id,
            bot_user_id=bot.bot_user_id,
            bot_scopes=bot.bot_scopes,
            bot_refresh_token=bot.bot_refresh_token,
            bot_token_expires_at=bot.bot_token_expires_at,
            user_id="",
            is_enterprise_install=bot.is_enterprise_install,
            installed_at=bot.installed_at,
        )

    async def async_delete_bot(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        await self._store.delete_slack_installation(team_id=team_id, enterprise_id=enterprise_id)

    async def async_delete_installation(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None = None,
    ) -> None:
        if user_id is None:
            await self.async_delete_bot(enterprise_id=enterprise_id, team_id=team_id)


class StoreOAuthStates(AsyncOAuthStateStore):
    """One-time OAuth ``state`` values in Marquee's database, valid ``expiration_seconds``
    (any instance can finish an install another one began)."""

    def __init__(
        self,
        store: Store,
        *,
        expiration_seconds: float = 600,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self._store = store
        self._ttl = timedelta(seconds=expiration_seconds)
        self._clock = clock

    @property
    def logger(self) -> logging.Logger:
        return log

    async def async_issue(self, *args: Any, **kwargs: Any) -> str:
        state = secrets.token_urlsafe(32)
        now = self._clock()
        await self._store.issue_oauth_state(state, expires_at=now + self._ttl, now=now)
        return state

    async def async_consume(self, state: str) -> bool:
        if not isinstance(state, str) or not 0 < len(state) <= 200:
            return False
        return await self._store.consume_oauth_state(state, now=self._clock())
