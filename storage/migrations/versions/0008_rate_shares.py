"""Who sends with a Discord bot token (issue 9): the processes delivering alerts pace
themselves to an equal share of Discord's global limit instead of each taking all of
it (``[discord] global_rate`` split by hand before).

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-29

Written out in full (not via storage.schema), like 0001.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rate_shares",
        sa.Column("bucket", sa.String(), nullable=False),
        sa.Column("owner", sa.String(), nullable=False),
        sa.Column("until", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("bucket", "owner", name="pk_rate_shares"),
    )


def downgrade() -> None:
    op.drop_table("rate_shares")
