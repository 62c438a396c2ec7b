"""A source's first failure since it last worked (issue 7): a source that never worked
must be disabled too once it has failed for ``[polling] disable_after``.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29

Written out in full (not via storage.schema), like 0001.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("source_state") as batch:
        batch.add_column(sa.Column("failing_since", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("source_state") as batch:
        batch.drop_column("failing_since")
