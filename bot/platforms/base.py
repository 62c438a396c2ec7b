"""The seam between delivery and a chat platform.

A platform adapter translates only: a neutral :class:`handlers.reply.Reply` becomes a
Discord message with embeds, Slack blocks or console text. It holds no business logic.
Channels are addressed as ``"<platform>:<id>"``; adapters receive the ``<id>`` part.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from handlers.reply import Reply

__all__ = ["Platform", "split_channel"]


def split_channel(channel: str) -> tuple[str, str]:
    """``"discord:123"`` -> ``("discord", "123")``."""
    platform, sep, ident = channel.partition(":")
    if not sep or not ident:
        raise ValueError(f"not a channel address: {channel!r} (expected 'platform:id')")
    return platform, ident


@runtime_checkable
class Platform(Protocol):
    """What the delivery worker needs from a platform.

    ``send`` returns the platform's message reference (Discord message id, Slack
    ``ts``) so later events edit the same message. ``idempotency_key`` is stable for one
    outbox row (at most 25 characters: Discord's nonce limit), so a resend after a crash
    is recognised by platforms that support it. Errors are
    :class:`bot.errors.TransientDeliveryError` (retry later) or
    :class:`bot.errors.PermanentDeliveryError` (pause the subscription with the reason).

    ``concurrent_sends`` tells the delivery worker how many sends it may have in flight
    at once, each for a different channel (a channel's own rows always go one at a
    time, in order): ``None`` for no limit but the worker's batch, when the adapter
    paces the platform's limits itself (Discord); ``1`` when it does not.
    """

    name: str
    concurrent_sends: int | None

    async def send(self, channel_id: str, reply: Reply, *, idempotency_key: str) -> str: ...

    async def edit(self, channel_id: str, message_ref: str, reply: Reply) -> None: ...
