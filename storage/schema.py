"""Marquee's tables: one ``metadata`` for SQLite and PostgreSQL alike.

This module describes the schema that the newest migration produces; the migrations in
``storage/migrations/versions`` are what create it (a test compares the two). Column
types are chosen to mean the same on both engines:

- timestamps are :class:`UTCDateTime`: aware UTC datetimes in and out on both engines;
- external strings are unbounded (``String()`` without a length), so a hostile 10 KB
  title is stored rather than failing a whole poll on PostgreSQL, and cleaned of what
  no engine can store (:class:`CleanString`);
- JSON columns hold lists and objects; Python ``None`` is SQL ``NULL``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    func,
    literal_column,
    text,
)

__all__ = [
    "CleanString",
    "CleanText",
    "UTCDateTime",
    "clean_text",
    "digests_sent",
    "meta",
    "metadata",
    "outbox",
    "postings",
    "rate_shares",
    "slack_installations",
    "slack_oauth_states",
    "source_companies",
    "source_state",
    "stories",
    "story_clusters",
    "subscriptions",
]

# Stable constraint names, so later migrations can refer to them on both engines.
metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UTCDateTime(TypeDecorator[datetime]):
    """An aware UTC datetime on both engines.

    PostgreSQL stores ``timestamptz``. SQLite has no time zones: the value is converted
    to UTC and stored in SQLAlchemy's fixed-width ISO form ("2026-11-28 16:54:03.000000"),
    so text comparison is time comparison, and it comes back with ``tzinfo=UTC``. A naive
    datetime is refused: guessing its zone is how alerts end up hours early.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime, got {type(value).__name__}")
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r}: Marquee stores aware UTC datetimes")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def clean_text(value: str) -> str:
    """``value`` as both engines can store it: without NUL characters (PostgreSQL refuses
    them) and with lone surrogates (which JSON escapes like "\\ud800" produce; no driver
    can encode them) replaced."""
    if "\x00" in value:
        value = value.replace("\x00", "")
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            value = value.encode("utf-8", "replace").decode("utf-8")
    return value


class CleanString(TypeDecorator[str]):
    """A string column that stores hostile text as data: see :func:`clean_text`. A job
    title with a NUL in it must not fail every poll of its board."""

    impl = String
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        return clean_text(value) if isinstance(value, str) else value


class CleanText(CleanString):
    impl = Text
    cache_ok = True


def _json() -> JSON:
    return JSON(none_as_null=True)


source_state = Table(
    "source_state",
    metadata,
    Column("name", CleanString(), primary_key=True),
    Column("last_attempt", UTCDateTime()),
    Column("last_success", UTCDateTime()),
    Column("last_error", CleanText()),
    Column("failure_count", Integer(), nullable=False, server_default=text("0")),
    Column("next_attempt", UTCDateTime()),
    Column("item_count", Integer(), nullable=False, server_default=text("0")),
    Column("disabled_reason", CleanText()),
    Column("baseline_done", Boolean(), nullable=False, server_default=text("false")),
    # url -> {"etag", "last_modified", "xxh3"}: conditional-GET memory (bot.http.Validator)
    Column("validators", _json()),
    Column("listing_hash", CleanString()),
    Column("warnings", _json()),
    # One instance polls a source at a time (issue 9): who holds it, and until when.
    Column("lease_owner", CleanString()),
    Column("lease_until", UTCDateTime()),
    # The first failed poll since the last success (issue 7: disabling after a while,
    # also for a source that never worked); cleared by a success.
    Column("failing_since", UTCDateTime()),
)

postings = Table(
    "postings",
    metadata,
    Column("id", Integer(), primary_key=True, autoincrement=True),
    Column("source", CleanString(), nullable=False),
    Column("external_id", CleanString(), nullable=False),
    Column("company", CleanString(), nullable=False),
    # lower-cased company name: what /ailistings and subscriptions match on
    Column("company_key", CleanString(), nullable=False),
    Column("title", CleanText(), nullable=False),
    Column("url", CleanText(), nullable=False),
    Column("location", CleanText(), nullable=False, server_default=""),
    Column("remote", Boolean()),
    Column("department", CleanText(), nullable=False, server_default=""),
    Column("description", CleanText(), nullable=False, server_default=""),
    Column("posted_at", UTCDateTime()),
    Column("extra", _json()),
    Column("salary_min", Float()),
    Column("salary_max", Float()),
    Column("salary_currency", CleanString()),
    Column("salary_period", CleanString()),
    Column("salary_kind", CleanString()),
    Column("salary_text", CleanText()),
    Column("annual_usd_min", Float()),
    Column("annual_usd_max", Float()),
    # Salary.top_usd (max, else min), denormalised: the one figure listings sort and
    # filter on, so an index serves "highest pay first".
    Column("top_usd", Float()),
    Column("ai_is", Boolean()),
    Column("ai_score", Float()),
    Column("ai_reasons", _json()),
    # sha256 of what defines "updated" (title, salary min/max/currency/period)
    Column("fingerprint", CleanString(), nullable=False),
    # the source's hash of this posting's listing entry: unchanged -> no detail fetch
    Column("listing_hash", CleanString()),
    Column("first_seen", UTCDateTime(), nullable=False),
    Column("last_seen", UTCDateTime(), nullable=False),
    Column("status", CleanString(), nullable=False, server_default="open"),
    Column("closed_at", UTCDateTime()),
    # consecutive successful polls this posting was absent from; 2 closes it
    Column("miss_count", Integer(), nullable=False, server_default=text("0")),
    # stored by its source's silent baseline poll: there before Marquee looked, so a
    # digest does not count it as new (migration 0006)
    Column("baseline", Boolean(), nullable=False, server_default=text("false")),
    UniqueConstraint("source", "external_id"),
)
# "Highest pay first, then newest" straight from an index. SQLite already sorts NULLs
# last in DESC order (and cannot say NULLS LAST in an index); PostgreSQL must be told.
# One index per engine, named apart so Alembic's comparison can tell them apart; the
# ``info["dialect"]`` marks it for storage/migrations/env.py.
_RANK = (postings.c.status, postings.c.ai_is)
_ORDER_PG = (
    postings.c.top_usd.desc().nulls_last(),
    postings.c.first_seen.desc(),
    postings.c.id.desc(),
)
_ORDER_SQLITE = (postings.c.top_usd.desc(), postings.c.first_seen.desc(), postings.c.id.desc())
# company_key makes it covering for salary_stats, remote for /ailistings remote:yes
# (without it each candidate's row was read: 155 ms at 200,000 postings; issue 8).
Index(
    "ix_postings_rank_pg",
    *_RANK,
    *_ORDER_PG,
    postings.c.company_key,
    postings.c.remote,
    info={"dialect": "postgresql"},
).ddl_if(dialect="postgresql")
Index(
    "ix_postings_rank_sqlite",
    *_RANK,
    *_ORDER_SQLITE,
    postings.c.company_key,
    postings.c.remote,
    info={"dialect": "sqlite"},
).ddl_if(dialect="sqlite")
# One company's open AI postings in rank order: /ailistings company:x reads its page
# and counts from the index alone, instead of every row of the company and a sort.
Index(
    "ix_postings_company_rank_pg",
    postings.c.company_key,
    *_RANK,
    *_ORDER_PG,
    info={"dialect": "postgresql"},
).ddl_if(dialect="postgresql")
Index(
    "ix_postings_company_rank_sqlite",
    postings.c.company_key,
    *_RANK,
    *_ORDER_SQLITE,
    info={"dialect": "sqlite"},
).ddl_if(dialect="sqlite")
# An unchanged re-poll reads a source's missing postings and refreshes the others'
# last_seen from this alone; on SQLite those columns otherwise meant following each
# row's overflow pages past the description (migration 0007; PostgreSQL keeps long
# descriptions out of line).
Index(
    "ix_postings_source_state_sqlite",
    postings.c.source,
    postings.c.status,
    postings.c.miss_count,
    postings.c.last_seen,
    info={"dialect": "sqlite"},
).ddl_if(dialect="sqlite")
# listings match a company by its name or by the source's name, in any case
Index("ix_postings_source_key", func.lower(postings.c.source))
Index("ix_postings_first_seen", postings.c.first_seen)

# The companies with open postings, per source: refreshed by each poll that changed
# something, so autocomplete and company resolution read a few hundred rows, not every
# posting.
source_companies = Table(
    "source_companies",
    metadata,
    Column("source", CleanString(), primary_key=True),
    Column("company_key", CleanString(), primary_key=True),
    Column("company", CleanString(), nullable=False),
    Column("open_count", Integer(), nullable=False),
)
# the company list (autocomplete, company resolution) groups by key: read in key order
Index(
    "ix_source_companies_company_key",
    source_companies.c.company_key,
    source_companies.c.company,
)

story_clusters = Table(
    "story_clusters",
    metadata,
    Column("id", Integer(), primary_key=True, autoincrement=True),
    Column("title", CleanText(), nullable=False),
    Column("first_seen", UTCDateTime(), nullable=False),
    Column("last_seen", UTCDateTime(), nullable=False),
    # No foreign key: stories.cluster_id already points here, and a cycle of foreign
    # keys cannot be created table by table on SQLite.
    Column("lead_story_id", Integer()),
    Column("size", Integer(), nullable=False, server_default=text("1")),
    Column("outlets", _json()),
)
Index("ix_story_clusters_last_seen", story_clusters.c.last_seen)

stories = Table(
    "stories",
    metadata,
    Column("id", Integer(), primary_key=True, autoincrement=True),
    Column("source", CleanString(), nullable=False),
    Column("guid", CleanString(), nullable=False),
    Column("title", CleanText(), nullable=False),
    Column("url", CleanText(), nullable=False),
    Column("outlet", CleanString(), nullable=False, server_default=""),
    Column("published", UTCDateTime()),
    Column("summary", CleanText(), nullable=False, server_default=""),
    Column("author", CleanString(), nullable=False, server_default=""),
    Column("topics", _json()),  # topic -> score (0..1)
    Column("reasons", _json()),
    # the highest topic score, for "min_score" filters without reading JSON
    Column("score", Float()),
    Column("content_hash", CleanString()),
    Column("first_seen", UTCDateTime(), nullable=False),
    Column("last_seen", UTCDateTime(), nullable=False),
    Column("cluster_id", Integer(), ForeignKey("story_clusters.id", ondelete="SET NULL")),
    # stored by its feed's silent baseline poll (see postings.baseline)
    Column("baseline", Boolean(), nullable=False, server_default=text("false")),
    UniqueConstraint("source", "guid"),
)
Index("ix_stories_cluster_id", stories.c.cluster_id)
Index("ix_stories_first_seen", stories.c.first_seen)
Index("ix_stories_url", stories.c.url)

subscriptions = Table(
    "subscriptions",
    metadata,
    Column("id", Integer(), primary_key=True, autoincrement=True),
    Column("channel", CleanString(), nullable=False),  # "<platform>:<id>"
    Column("kind", CleanString(), nullable=False, server_default="all"),
    Column("companies", _json()),  # tuples are stored as JSON lists
    Column("min_salary_usd", Float()),
    Column("keywords", _json()),
    Column("exclude", _json()),
    Column("remote", Boolean()),
    Column("topics", _json()),
    Column("min_score", Float(), nullable=False, server_default=text("0")),
    Column("ai_only", Boolean(), nullable=False, server_default=text("true")),
    Column("mode", CleanString(), nullable=False, server_default="instant"),
    Column("digest_time", CleanString(), nullable=False, server_default="09:00"),
    Column("tz", CleanString(), nullable=False, server_default="UTC"),
    Column("days", _json()),
    Column("send_empty_digest", Boolean(), nullable=False, server_default=text("false")),
    Column("created_by", CleanString(), nullable=False, server_default=""),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("paused_reason", CleanText()),
    # Unsubscribing clears this instead of deleting: outbox rows and digest records
    # keep pointing at a real subscription.
    Column("active", Boolean(), nullable=False, server_default=text("true")),
)
Index("ix_subscriptions_channel", subscriptions.c.channel)

outbox = Table(
    "outbox",
    metadata,
    Column("id", Integer(), primary_key=True, autoincrement=True),
    # e.g. "discord:42|posting:7|new": the same event is never queued twice for a channel
    Column("dedupe_key", CleanString(), nullable=False),
    Column("channel", CleanString(), nullable=False),
    Column("item_kind", CleanString(), nullable=False),  # posting | story | digest | notice
    Column("item_id", Integer()),
    Column("event", CleanString(), nullable=False),
    # No foreign key: a notice or digest row outlives the subscription that caused it.
    Column("subscription_id", Integer()),
    Column("payload", _json()),
    Column("status", CleanString(), nullable=False, server_default="pending"),
    Column("attempts", Integer(), nullable=False, server_default=text("0")),
    Column("next_attempt_at", UTCDateTime(), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("sent_at", UTCDateTime()),
    Column("message_ref", CleanString()),  # Discord message id / Slack ts, for later edits
    Column("last_error", CleanText()),
    Column("claimed_by", CleanString()),
    Column("claimed_until", UTCDateTime()),
    UniqueConstraint("dedupe_key"),
)
# Pending rows are few, sent ones pile up: the claim's indexes hold only pending rows.
# (Queries must compare status with the literal 'pending' to use them.)
_PENDING = outbox.c.status == literal_column("'pending'")
Index(
    "ix_outbox_pending_due",
    outbox.c.next_attempt_at,
    sqlite_where=_PENDING,
    postgresql_where=_PENDING,
)
Index(
    "ix_outbox_pending_channel",
    outbox.c.channel,
    outbox.c.id,
    sqlite_where=_PENDING,
    postgresql_where=_PENDING,
)
Index("ix_outbox_item", outbox.c.item_kind, outbox.c.item_id)

digests_sent = Table(
    "digests_sent",
    metadata,
    Column("subscription_id", Integer(), primary_key=True),
    Column("local_date", Date(), primary_key=True),  # the subscription's local day
    Column("sent_at", UTCDateTime(), nullable=False),
)

meta = Table(
    "meta",
    metadata,
    Column("key", CleanString(), primary_key=True),
    Column("value", CleanText(), nullable=False),
)

# Slack installs through the OAuth flow (issue 9): one row per workspace, or per
# Enterprise Grid organisation for an org-wide install (team_id ''). Absent ids are ''
# so they can be part of the key.
slack_installations = Table(
    "slack_installations",
    metadata,
    Column("enterprise_id", CleanString(), primary_key=True, server_default=""),
    Column("team_id", CleanString(), primary_key=True, server_default=""),
    Column("is_enterprise_install", Boolean(), nullable=False, server_default=text("false")),
    Column("bot_token", CleanText(), nullable=False),
    Column("bot_id", CleanString()),
    Column("bot_user_id", CleanString()),
    Column("bot_scopes", _json()),
    Column("bot_refresh_token", CleanText()),
    Column("bot_token_expires_at", UTCDateTime()),
    Column("app_id", CleanString()),
    Column("team_name", CleanString()),
    Column("enterprise_name", CleanString()),
    Column("installer_user_id", CleanString()),
    Column("installed_at", UTCDateTime(), nullable=False),
)

# OAuth state values handed to installing browsers, consumed once (CSRF protection that
# works whichever instance the browser comes back to).
slack_oauth_states = Table(
    "slack_oauth_states",
    metadata,
    Column("state", CleanString(), primary_key=True),
    Column("expires_at", UTCDateTime(), nullable=False),
)

# The processes sending with one Discord bot token (issue 9): each paces itself to an
# equal share of Discord's global limit (bot/rate_share.py). ``bucket`` is a hash of the
# token (bot.platforms.discord.rate_key), ``owner`` the instance; a row that is not
# renewed before ``until`` no longer counts.
rate_shares = Table(
    "rate_shares",
    metadata,
    Column("bucket", CleanString(), primary_key=True),
    Column("owner", CleanString(), primary_key=True),
    Column("until", UTCDateTime(), nullable=False),
)
