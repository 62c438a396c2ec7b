"""Slack installations and OAuth states: Marquee in many workspaces (issue 9).

Revision ID: 0003
Revises: 0001
Create Date: 2026-11-29

Written out in full (not via storage.schema), like 0001.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0001"
branch_labels = None
depends_on = None


def _ts(name: str, nullable: bool = True) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "slack_installations",
        sa.Column("enterprise_id", sa.String(), nullable=False, server_default=""),
        sa.Column("team_id", sa.String(), nullable=False, server_default=""),
        sa.Column(
            "is_enterprise_install", sa.Boolean(), nullable=False, server_default=sa.text("false")
        ),
        sa.Column("bot_token", sa.Text(), nullable=False),
        sa.Column("bot_id", sa.String(), nullable=True),
        sa.Column("bot_user_id", sa.String(), nullable=True),
        sa.Column("bot_scopes", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("bot_refresh_token", sa.Text(), nullable=True),
        _ts("bot_token_expires_at"),
        sa.Column("app_id", sa.String(), nullable=True),
        sa.Column("team_name", sa.String(), nullable=True),
        sa.Column("enterprise_name", sa.String(), nullable=True),
        sa.Column("installer_user_id", sa.String(), nullable=True),
        _ts("installed_at", nullable=False),
        sa.PrimaryKeyConstraint("enterprise_id", "team_id", name="pk_slack_installations"),
    )
    op.create_table(
        "slack_oauth_states",
        sa.Column("state", sa.String(), nullable=False),
        _ts("expires_at", nullable=False),
        sa.PrimaryKeyConstraint("state", name="pk_slack_oauth_states"),
    )


def downgrade() -> None:
    op.drop_table("slack_oauth_states")
    op.drop_table("slack_installations")
