"""Indexes for /ailistings filters (issue 8): the rank index also holds ``remote``; one
company's postings in rank order; the company list in key order.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28

Written out in full (not via storage.schema), like 0001. Upgrading a database that
already holds postings builds the new indexes from its rows (on PostgreSQL the table
is locked against writes meanwhile: seconds for 200,000 postings).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# the order /ailistings sorts by; SQLite sorts NULLs last in DESC order and cannot say
# NULLS LAST in an index
_ORDER = ("top_usd DESC{nulls}", "first_seen DESC", "id DESC")

# Planner statistics for the new indexes, in the shape 0001 wrote for the others (a
# later ANALYZE replaces them with measured ones): 100,000 postings, 200 companies.
# (DROP INDEX drops an index's statistics too.)
_SQLITE_STATS = {
    "ix_postings_rank_sqlite": "100000 50000 25000 20 2 1 1 1 1",
    "ix_postings_company_rank_sqlite": "100000 500 250 125 2 1 1",
}
_SQLITE_STATS_0004 = {
    "ix_postings_rank_sqlite": "100000 50000 25000 20 2 1 1",
    "ix_postings_company_key": "100000 200",
}


def _suffix() -> str:
    return "pg" if op.get_bind().dialect.name == "postgresql" else "sqlite"


def _order() -> list[sa.TextClause]:
    nulls = " NULLS LAST" if _suffix() == "pg" else ""
    return [sa.text(column.format(nulls=nulls)) for column in _ORDER]


def _rank_index(*extra: str) -> None:
    op.create_index(
        f"ix_postings_rank_{_suffix()}",
        "postings",
        ["status", "ai_is", *_order(), "company_key", *extra],
    )


def upgrade() -> None:
    suffix = _suffix()
    op.drop_index(f"ix_postings_rank_{suffix}", table_name="postings")
    _rank_index("remote")
    op.create_index(
        f"ix_postings_company_rank_{suffix}",
        "postings",
        ["company_key", "status", "ai_is", *_order()],
    )
    # its first column leads the new company index
    op.drop_index("ix_postings_company_key", table_name="postings")
    op.create_index(
        "ix_source_companies_company_key", "source_companies", ["company_key", "company"]
    )
    if suffix == "sqlite":
        _sqlite_planner_stats(_SQLITE_STATS)


def _sqlite_planner_stats(stats: dict[str, str]) -> None:
    has_stats = sa.text("SELECT 1 FROM sqlite_schema WHERE name = 'sqlite_stat1'")
    if op.get_bind().execute(has_stats).first() is None:
        return
    stat1 = sa.table("sqlite_stat1", sa.column("tbl"), sa.column("idx"), sa.column("stat"))
    for index, stat in stats.items():
        op.execute(stat1.delete().where(stat1.c.tbl == "postings", stat1.c.idx == index))
        op.execute(stat1.insert().values(tbl="postings", idx=index, stat=stat))
    op.execute("ANALYZE sqlite_schema")  # this connection reloads them


def downgrade() -> None:
    suffix = _suffix()
    op.drop_index("ix_source_companies_company_key", table_name="source_companies")
    op.create_index("ix_postings_company_key", "postings", ["company_key"])
    op.drop_index(f"ix_postings_company_rank_{suffix}", table_name="postings")
    op.drop_index(f"ix_postings_rank_{suffix}", table_name="postings")
    _rank_index()
    if suffix == "sqlite":
        _sqlite_planner_stats(_SQLITE_STATS_0004)
