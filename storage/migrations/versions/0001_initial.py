"""Initial schema: sources, postings, stories, subscriptions, outbox, digests, meta.

Revision ID: 0001
Revises:
Create Date: 2026-11-28

Written out in full (not via storage.schema) so this revision keeps creating exactly this
schema however storage/schema.py changes later.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _ts(name: str, nullable: bool = True) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _json(name: str) -> sa.Column:
    return sa.Column(name, sa.JSON(none_as_null=True), nullable=True)


def upgrade() -> None:
    is_pg = op.get_bind().dialect.name == "postgresql"

    op.create_table(
        "source_state",
        sa.Column("name", sa.String(), nullable=False),
        _ts("last_attempt"),
        _ts("last_success"),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("failure_count", sa.Integer(), nullable=False, server_default=sa.text("0")),
        _ts("next_attempt"),
        sa.Column("item_count", sa.Integer(), nullable=False, server_default=sa.text("0")),
        sa.Column("disabled_reason", sa.Text(), nullable=True),
        sa.Column("baseline_done", sa.Boolean(), nullable=False, server_default=sa.text("false")),
        _json("validators"),
        sa.Column("listing_hash", sa.String(), nullable=True),
        _json("warnings"),
        sa.Column("lease_owner", sa.String(), nullable=True),
        _ts("lease_until"),
        sa.PrimaryKeyConstraint("name", name="pk_source_state"),
    )

    op.create_table(
        "postings",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("external_id", sa.String(), nullable=False),
        sa.Column("company", sa.String(), nullable=False),
        sa.Column("company_key", sa.String(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("location", sa.Text(), nullable=False, server_default=""),
        sa.Column("remote", sa.Boolean(), nullable=True),
        sa.Column("department", sa.Text(), nullable=False, server_default=""),
        sa.Column("description", sa.Text(), nullable=False, server_default=""),
        _ts("posted_at"),
        _json("extra"),
        sa.Column("salary_min", sa.Float(), nullable=True),
        sa.Column("salary_max", sa.Float(), nullable=True),
        sa.Column("salary_currency", sa.String(), nullable=True),
        sa.Column("salary_period", sa.String(), nullable=True),
        sa.Column("salary_kind", sa.String(), nullable=True),
        sa.Column("salary_text", sa.Text(), nullable=True),
        sa.Column("annual_usd_min", sa.Float(), nullable=True),
        sa.Column("annual_usd_max", sa.Float(), nullable=True),
        sa.Column("top_usd", sa.Float(), nullable=True),
        sa.Column("ai_is", sa.Boolean(), nullable=True),
        sa.Column("ai_score", sa.Float(), nullable=True),
        _json("ai_reasons"),
        sa.Column("fingerprint", sa.String(), nullable=False),
        sa.Column("listing_hash", sa.String(), nullable=True),
        _ts("first_seen", nullable=False),
        _ts("last_seen", nullable=False),
        sa.Column("status", sa.String(), nullable=False, server_default="open"),
        _ts("closed_at"),
        sa.Column("miss_count", sa.Integer(), nullable=False, server_default=sa.text("0")),
        sa.PrimaryKeyConstraint("id", name="pk_postings"),
        sa.UniqueConstraint("source", "external_id", name="uq_postings_source_external_id"),
    )
    # SQLite sorts NULLs last in DESC order and cannot say NULLS LAST in an index.
    nulls_last = " NULLS LAST" if is_pg else ""
    op.create_index(
        "ix_postings_rank_pg" if is_pg else "ix_postings_rank_sqlite",
        "postings",
        [
            "status",
            "ai_is",
            sa.text(f"top_usd DESC{nulls_last}"),
            sa.text("first_seen DESC"),
            sa.text("id DESC"),
            "company_key",
        ],
    )
    op.create_index("ix_postings_company_key", "postings", ["company_key"])
    op.create_index("ix_postings_source_key", "postings", [sa.text("lower(source)")])
    op.create_index("ix_postings_first_seen", "postings", ["first_seen"])

    op.create_table(
        "source_companies",
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("company_key", sa.String(), nullable=False),
        sa.Column("company", sa.String(), nullable=False),
        sa.Column("open_count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("source", "company_key", name="pk_source_companies"),
    )

    op.create_table(
        "story_clusters",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        _ts("first_seen", nullable=False),
        _ts("last_seen", nullable=False),
        sa.Column("lead_story_id", sa.Integer(), nullable=True),
        sa.Column("size", sa.Integer(), nullable=False, server_default=sa.text("1")),
        _json("outlets"),
        sa.PrimaryKeyConstraint("id", name="pk_story_clusters"),
    )
    op.create_index("ix_story_clusters_last_seen", "story_clusters", ["last_seen"])

    op.create_table(
        "stories",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("guid", sa.String(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("outlet", sa.String(), nullable=False, server_default=""),
        _ts("published"),
        sa.Column("summary", sa.Text(), nullable=False, server_default=""),
        sa.Column("author", sa.String(), nullable=False, server_default=""),
        _json("topics"),
        _json("reasons"),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("content_hash", sa.String(), nullable=True),
        _ts("first_seen", nullable=False),
        _ts("last_seen", nullable=False),
        sa.Column("cluster_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["cluster_id"],
            ["story_clusters.id"],
            name="fk_stories_cluster_id_story_clusters",
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_stories"),
        sa.UniqueConstraint("source", "guid", name="uq_stories_source_guid"),
    )
    op.create_index("ix_stories_cluster_id", "stories", ["cluster_id"])
    op.create_index("ix_stories_first_seen", "stories", ["first_seen"])
    op.create_index("ix_stories_url", "stories", ["url"])

    op.create_table(
        "subscriptions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("channel", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False, server_default="all"),
        _json("companies"),
        sa.Column("min_salary_usd", sa.Float(), nullable=True),
        _json("keywords"),
        _json("exclude"),
        sa.Column("remote", sa.Boolean(), nullable=True),
        _json("topics"),
        sa.Column("min_score", sa.Float(), nullable=False, server_default=sa.text("0")),
        sa.Column("ai_only", sa.Boolean(), nullable=False, server_default=sa.text("true")),
        sa.Column("mode", sa.String(), nullable=False, server_default="instant"),
        sa.Column("digest_time", sa.String(), nullable=False, server_default="09:00"),
        sa.Column("tz", sa.String(), nullable=False, server_default="UTC"),
        _json("days"),
        sa.Column(
            "send_empty_digest", sa.Boolean(), nullable=False, server_default=sa.text("false")
        ),
        sa.Column("created_by", sa.String(), nullable=False, server_default=""),
        _ts("created_at", nullable=False),
        sa.Column("paused_reason", sa.Text(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False, server_default=sa.text("true")),
        sa.PrimaryKeyConstraint("id", name="pk_subscriptions"),
    )
    op.create_index("ix_subscriptions_channel", "subscriptions", ["channel"])

    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("dedupe_key", sa.String(), nullable=False),
        sa.Column("channel", sa.String(), nullable=False),
        sa.Column("item_kind", sa.String(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=True),
        sa.Column("event", sa.String(), nullable=False),
        sa.Column("subscription_id", sa.Integer(), nullable=True),
        _json("payload"),
        sa.Column("status", sa.String(), nullable=False, server_default="pending"),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default=sa.text("0")),
        _ts("next_attempt_at", nullable=False),
        _ts("created_at", nullable=False),
        _ts("sent_at"),
        sa.Column("message_ref", sa.String(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("claimed_by", sa.String(), nullable=True),
        _ts("claimed_until"),
        sa.PrimaryKeyConstraint("id", name="pk_outbox"),
        sa.UniqueConstraint("dedupe_key", name="uq_outbox_dedupe_key"),
    )
    pending = sa.text("status = 'pending'")
    op.create_index(
        "ix_outbox_pending_due",
        "outbox",
        ["next_attempt_at"],
        sqlite_where=pending,
        postgresql_where=pending,
    )
    op.create_index(
        "ix_outbox_pending_channel",
        "outbox",
        ["channel", "id"],
        sqlite_where=pending,
        postgresql_where=pending,
    )
    op.create_index("ix_outbox_item", "outbox", ["item_kind", "item_id"])

    op.create_table(
        "digests_sent",
        sa.Column("subscription_id", sa.Integer(), nullable=False),
        sa.Column("local_date", sa.Date(), nullable=False),
        _ts("sent_at", nullable=False),
        sa.PrimaryKeyConstraint("subscription_id", "local_date", name="pk_digests_sent"),
    )

    op.create_table(
        "meta",
        sa.Column("key", sa.String(), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_meta"),
    )

    if not is_pg:
        _sqlite_planner_stats()


# SQLite plans without statistics until someone runs ANALYZE, and without them it
# reads "WHERE source = ? AND status = 'open'" through the index that starts with status
# (half the table) instead of the one that starts with source (one board). These are
# the shapes of a real database (100,000 postings, 500 boards, two statuses), written
# the way SQLite documents for fixing plans ("Manual Control Of Query Plans Using
# SQLITE_STAT Tables"); a later ANALYZE replaces them with measured ones.
_STATS = {
    ("postings", None): "100000",
    ("postings", "sqlite_autoindex_postings_1"): "100000 200 1",
    ("postings", "ix_postings_rank_sqlite"): "100000 50000 25000 20 2 1 1",
    ("postings", "ix_postings_company_key"): "100000 200",
    ("postings", "ix_postings_source_key"): "100000 200",
    ("postings", "ix_postings_first_seen"): "100000 20",
    ("outbox", None): "100000",
    ("outbox", "sqlite_autoindex_outbox_1"): "100000 1",
    ("outbox", "ix_outbox_pending_due"): "100 2",
    ("outbox", "ix_outbox_pending_channel"): "100 5 1",
    ("outbox", "ix_outbox_item"): "100000 50000 10",
    ("stories", None): "50000",
    ("stories", "sqlite_autoindex_stories_1"): "50000 500 1",
    ("stories", "ix_stories_cluster_id"): "50000 3",
    ("stories", "ix_stories_first_seen"): "50000 5",
    ("stories", "ix_stories_url"): "50000 2",
    ("subscriptions", None): "10000",
    ("subscriptions", "ix_subscriptions_channel"): "10000 3",
}


def _sqlite_planner_stats() -> None:
    op.execute("ANALYZE")  # creates sqlite_stat1
    stat1 = sa.table("sqlite_stat1", sa.column("tbl"), sa.column("idx"), sa.column("stat"))
    for (table, index), stat in _STATS.items():
        op.execute(
            stat1.delete().where(
                stat1.c.tbl == table,
                stat1.c.idx.is_(None) if index is None else stat1.c.idx == index,
            )
        )
        op.execute(stat1.insert().values(tbl=table, idx=index, stat=stat))
    op.execute("ANALYZE sqlite_schema")  # this connection reloads them


def downgrade() -> None:
    for table in (
        "meta",
        "digests_sent",
        "outbox",
        "subscriptions",
        "stories",
        "story_clusters",
        "source_companies",
        "postings",
        "source_state",
    ):
        op.drop_table(table)
