"""Logging set-up: readable lines on stderr, with every secret redacted.

Secrets come only from the environment (``bot.config.Secrets``); the filter below
replaces any of their values wherever they appear in a record (message, arguments,
exception text), so a token can never reach a log even through a library's own
logging.
"""

from __future__ import annotations

import logging
import os
import re
import sys

__all__ = ["RedactingFilter", "setup_logging"]

_SECRET_VARS = (
    "DISCORD_TOKEN",
    "SLACK_BOT_TOKEN",
    "SLACK_SIGNING_SECRET",
    "SLACK_APP_TOKEN",
    "SLACK_CLIENT_SECRET",
)
# Tokens that never were in the environment: each Slack workspace's bot token comes from
# its OAuth install (slack_sdk logs the oauth.v2.access answer at DEBUG), so anything
# shaped like a Slack token is redacted too.
_SLACK_TOKEN = re.compile(r"\bxox[a-z](?:\.xox[a-z])?-[0-9A-Za-z-]{8,}")


class RedactingFilter(logging.Filter):
    """Replaces secret values with ``***`` in the formatted record."""

    def __init__(self, secrets: tuple[str, ...]) -> None:
        super().__init__()
        # short values would redact ordinary words; real tokens are long
        self.secrets = tuple(s for s in secrets if len(s) >= 8)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        exc_text = record.exc_text or ""
        for secret in self.secrets:
            message = message.replace(secret, "***")
            exc_text = exc_text.replace(secret, "***")
        message = _SLACK_TOKEN.sub("xox*-***", message)
        exc_text = _SLACK_TOKEN.sub("xox*-***", exc_text)
        record.msg, record.args = message, None
        record.exc_text = exc_text or None
        return True


def setup_logging(level: str = "WARNING", *, stream=None) -> None:
    """Configure the root logger once, with the redacting filter on the handler."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s"))
    secrets = tuple(v for k in _SECRET_VARS if (v := os.environ.get(k)))
    handler.addFilter(RedactingFilter(secrets))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # discord.py and aiohttp are chatty at INFO; keep them at WARNING unless debugging
    if level != "DEBUG":
        for name in ("discord", "aiohttp.access", "slack_bolt", "apscheduler", "httpx", "alembic"):
            logging.getLogger(name).setLevel(max(logging.WARNING, logging.getLevelName(level)))
