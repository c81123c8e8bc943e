"""Notifications: one row per user and source change or SLA event; the notification loop's watermark starts
at the head of an existing change log, so an upgrade tells nobody about history.

Revision ID: 0023
"""

import sqlalchemy as sa
from alembic import op

from deskbase.core.clock import SystemClock
from deskbase.core.tables import JsonType, UtcDateTime, changes, loop_state

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "notifications",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("workspace_id", sa.String(63), nullable=False),
        sa.Column("user_id", sa.String(40), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("ticket_id", sa.String(128), nullable=True),
        sa.Column("actor", sa.String(128), nullable=True),
        sa.Column("actor_name", sa.String(200), nullable=True),
        sa.Column("source_key", sa.String(200), nullable=False),
        sa.Column("data", JsonType, nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("read_at", UtcDateTime(), nullable=True),
    )
    op.create_index("ux_notifications_source", "notifications", ["user_id", "source_key"], unique=True)
    op.create_index("ix_notifications_user", "notifications", ["user_id", "workspace_id", "id"])
    op.create_index("ix_notifications_unread", "notifications", ["user_id", "workspace_id", "read_at"])
    conn = op.get_bind()
    head = conn.execute(sa.select(sa.func.max(changes.c.seq))).scalar() or 0
    conn.execute(
        sa.insert(loop_state).values(name="notifications", watermark=head, updated_at=SystemClock().now())
    )


def downgrade() -> None:
    op.get_bind().execute(sa.delete(loop_state).where(loop_state.c.name == "notifications"))
    op.drop_table("notifications")
