"""What the command layer may be tuned with: built once from the config at start-up."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

__all__ = ["DEFAULT_ALIASES", "HandlerSettings"]

# Short names people type for the companies Marquee watches out of the box. Config
# ``[commands] aliases`` adds to (and may override) these.
DEFAULT_ALIASES: Mapping[str, str] = {
    "nflx": "netflix",
    "dis": "disney",
    "walt disney": "disney",
    "nvda": "nvidia",
    "hf": "hugging face",
    "huggingface": "hugging face",
    "nbcu": "nbcuniversal",
    "nbc": "nbcuniversal",
    "spot": "spotify",
    "oai": "openai",
    "open ai": "openai",
}


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class HandlerSettings:
    """Tunables of the command layer. ``aliases`` maps what users type to a company
    name (both compared case- and punctuation-insensitively); ``clock`` is injectable so
    tests and digests see one notion of "now"; ``on_subscriptions_changed`` is told the
    channel whenever a command added or removed subscriptions there (the digest
    scheduler reschedules from it)."""

    aliases: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_ALIASES))
    page_size: int = 5
    default_digest_time: str = "09:00"
    default_tz: str = "UTC"
    digest_grace: timedelta = timedelta(hours=6)
    high_salary_usd: float = 300_000.0
    digest_postings: int = 8
    digest_stories: int = 5
    news_days: int = 7
    max_subscriptions_per_channel: int = 25
    clock: Callable[[], datetime] = _utcnow
    on_subscriptions_changed: Callable[[str], object] | None = None

    def now(self) -> datetime:
        """The current time, timezone-aware (UTC if the clock returned a naive value)."""
        now = self.clock()
        return now if now.tzinfo is not None else now.replace(tzinfo=UTC)
