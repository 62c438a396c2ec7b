"""Opening the chat platforms inside the app's lifecycle stack.

The adapters take everything as parameters (commands, dispatch, completion, the
command-hash memory); this module is the one place that binds them to the store and
the handlers, so neither adapter knows about storage.
"""

from __future__ import annotations

import functools
from contextlib import AsyncExitStack
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import handlers
from bot.platforms.base import Platform

if TYPE_CHECKING:
    from bot.app import App
    from bot.config import Config

__all__ = ["handler_settings", "open_discord", "open_slack"]


def handler_settings(config: Config, **extra: Any) -> handlers.HandlerSettings:
    """The handlers' settings from the config (``extra``: hooks such as
    ``on_subscriptions_changed``)."""
    return handlers.HandlerSettings(
        aliases={**handlers.DEFAULT_ALIASES, **config.commands.aliases},
        page_size=config.commands.page_size,
        default_digest_time=config.digest.default_time,
        default_tz=config.digest.default_tz,
        digest_grace=timedelta(seconds=config.digest.grace),
        high_salary_usd=config.alerts.high_salary,
        **extra,
    )


async def open_discord(app: App, stack: AsyncExitStack, *, gateway: bool = True) -> Platform:
    """Log in to Discord; with ``gateway``, register the commands if they changed and
    connect (the configured shards), else stay REST-only for sending."""
    from bot.platforms.discord import DiscordPlatform, DiscordSettings

    c = app.config
    settings = DiscordSettings(
        token=c.secrets.discord_token or "",
        api_base=c.discord.api_base,
        gateway_url=c.discord.gateway_url,
        guild_ids=c.discord.guild_ids,
        shard_count=c.discord.shard_count,
        shard_ids=c.discord.shard_ids,
        global_rate=c.discord.global_rate,
        global_burst=c.discord.global_burst,
        gateway=gateway,
        sync_commands=gateway,
    )
    hs = app.handler_settings or handler_settings(app.config)
    platform = DiscordPlatform(
        settings,
        commands=handlers.COMMANDS,
        dispatch=functools.partial(handlers.dispatch, app.store, settings=hs),
        complete_company=functools.partial(handlers.complete_company, app.store, settings=hs),
        load_commands_hash=functools.partial(app.store.get_meta, "discord.commands_hash"),
        save_commands_hash=functools.partial(app.store.set_meta, "discord.commands_hash"),
    )
    return await stack.enter_async_context(platform)


async def open_slack(app: App, stack: AsyncExitStack, *, serve: bool = True) -> Platform:
    """Serve Slack's slash commands (HTTP or Socket Mode) and its Web API client; with
    ``serve=False`` only the client (for sending). With ``[slack] client_id`` the
    workspaces' installs are kept in the store."""
    from bot.platforms.slack import SlackPlatform, SlackSettings

    settings = SlackSettings.from_config(app.config, serve=serve)
    installations = states = None
    if settings.oauth:
        from bot.platforms.slack_oauth import StoreInstallations, StoreOAuthStates

        installations = StoreInstallations(app.store)
        states = StoreOAuthStates(app.store)
    hs = app.handler_settings or handler_settings(app.config)
    platform = SlackPlatform(
        settings,
        commands=handlers.COMMANDS,
        dispatch=functools.partial(handlers.dispatch, app.store, settings=hs),
        parse_args=handlers.parse_text_args,
        metrics=app.metrics,
        installations=installations,
        oauth_states=states,
        health=app.health,
    )
    slack = await stack.enter_async_context(platform)
    slack.metrics.gauge(
        "marquee_outbox_backlog", "Alerts waiting to be delivered", app.store.outbox_backlog
    )
    return slack
