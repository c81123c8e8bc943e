"""Teams: a workspace's named groups of members with an assignment rule (and its round-robin position).

Revision ID: 0024
"""

import sqlalchemy as sa
from alembic import op

from deskbase.core.tables import UtcDateTime

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "teams",
        sa.Column("workspace_id", sa.String(63), primary_key=True),
        sa.Column("id", sa.String(63), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("rule", sa.String(32), nullable=False),
        sa.Column("last_assigned", sa.String(40), nullable=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
    )
    op.create_table(
        "team_members",
        sa.Column("workspace_id", sa.String(63), primary_key=True),
        sa.Column("team_id", sa.String(63), primary_key=True),
        sa.Column("user_id", sa.String(40), primary_key=True),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("capacity", sa.Integer, nullable=True),
    )
    op.create_index("ix_team_members_user", "team_members", ["workspace_id", "user_id"])


def downgrade() -> None:
    op.drop_index("ix_team_members_user", "team_members")
    op.drop_table("team_members")
    op.drop_table("teams")
