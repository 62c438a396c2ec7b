"""An index for the unchanged re-poll on SQLite: a source's postings by status, miss
count and last sighting (issue 8, re-poll).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29

A poll that finds its board unchanged reads the source's open postings that were
missing and refreshes ``last_seen`` of the rest (storage/_postings.py,
``_apply_not_modified``). On SQLite those columns lie after the description in each
row, so both statements followed every row's overflow pages; from this index they read
nothing else (1.3 -> 1.05 ms a not-modified poll, 200 postings a board). PostgreSQL
keeps long descriptions out of line (TOAST): its rows are short, and it gets no index.

Written out in full (not via storage.schema), like 0001.
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_INDEX = "ix_postings_source_state_sqlite"
_COLUMNS = ["source", "status", "miss_count", "last_seen"]
# Planner statistics in the shape 0001 wrote for the others (a later ANALYZE replaces
# them): 100,000 postings, 200 to a source, most open and seen.
_STAT = "100000 200 100 100 2"


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    op.create_index(_INDEX, "postings", _COLUMNS)
    has_stats = "SELECT 1 FROM sqlite_schema WHERE name = 'sqlite_stat1'"
    if op.get_bind().exec_driver_sql(has_stats).first() is None:
        return
    op.execute(f"DELETE FROM sqlite_stat1 WHERE tbl = 'postings' AND idx = '{_INDEX}'")
    op.execute(f"INSERT INTO sqlite_stat1 VALUES ('postings', '{_INDEX}', '{_STAT}')")
    op.execute("ANALYZE sqlite_schema")  # this connection reloads them


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.drop_index(_INDEX, table_name="postings")
