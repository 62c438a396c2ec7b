"""Rows a source's silent baseline stored (postings and stories): they were there before
Marquee looked, so a digest does not count them as new.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28

Written out in full (not via storage.schema), like 0001. Rows stored before this
migration keep ``false``: which of them a baseline stored is no longer known, and their
first digest is long past.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_TABLES = ("postings", "stories")


def upgrade() -> None:
    # Plain ALTER TABLE ADD COLUMN on both engines (a constant default: no table rewrite).
    # Not batch mode: on SQLite that copies the table and loses what Alembic cannot
    # reflect (the expression index ix_postings_source_key) and the planner statistics.
    for table in _TABLES:
        op.add_column(
            table, sa.Column("baseline", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    # ALTER TABLE DROP COLUMN: PostgreSQL, and SQLite since 3.35 (no index uses it).
    for table in _TABLES:
        op.execute(f"ALTER TABLE {table} DROP COLUMN baseline")
