"""Console sessions in the store (they survive restarts and span processes) and ticket presence.

Revision ID: 0006
"""

import sqlalchemy as sa
from alembic import op

from deskbase.core.tables import UtcDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "console_sessions",
        sa.Column("id_hash", sa.String(64), primary_key=True),
        sa.Column("token_id", sa.String(64), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("seen_at", UtcDateTime(), nullable=False),
    )
    op.create_index("ix_console_sessions_token", "console_sessions", ["token_id"])
    op.create_index("ix_console_sessions_seen", "console_sessions", ["seen_at"])
    op.create_table(
        "presence",
        sa.Column("workspace_id", sa.String(63), primary_key=True),
        sa.Column("ticket_id", sa.String(128), primary_key=True),
        sa.Column("actor_id", sa.String(64), primary_key=True),
        sa.Column("actor_name", sa.String(200), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("seen_at", UtcDateTime(), nullable=False),
    )
    op.create_index("ix_presence_seen", "presence", ["seen_at"])


def downgrade() -> None:
    op.drop_table("presence")
    op.drop_table("console_sessions")
