"""Background loop state (watermark + lease) and outbound triggers: triggers, deliveries, attempts.

Revision ID: 0012
"""

import sqlalchemy as sa
from alembic import op

from deskbase.core.tables import JsonType, SeqType, UtcDateTime

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "loop_state",
        sa.Column("name", sa.String(63), primary_key=True),
        sa.Column("watermark", SeqType, nullable=False),
        sa.Column("owner", sa.String(128), nullable=True),
        sa.Column("lease_until", UtcDateTime(), nullable=True),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
    )
    op.create_table(
        "triggers",
        sa.Column("workspace_id", sa.String(63), primary_key=True),
        sa.Column("id", sa.String(63), primary_key=True),
        sa.Column("url", sa.Text, nullable=False),
        sa.Column("events", JsonType, nullable=False),
        sa.Column("collections", JsonType, nullable=True),
        sa.Column("filter", JsonType, nullable=True),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("disabled_reason", sa.Text, nullable=True),
        sa.Column("description", sa.Text, nullable=True),
        sa.Column("secret", sa.Text, nullable=False),
        sa.Column("previous_secret", sa.Text, nullable=True),
        sa.Column("previous_until", UtcDateTime(), nullable=True),
        sa.Column("owner_id", sa.String(128), nullable=False),
        sa.Column("owner_grants", JsonType, nullable=False),
        sa.Column("owner_admin", sa.Boolean, nullable=False),
        sa.Column("start_seq", SeqType, nullable=False),
        sa.Column("failing_since", UtcDateTime(), nullable=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
    )
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("workspace_id", sa.String(63), nullable=False),
        sa.Column("trigger_id", sa.String(63), nullable=False),
        sa.Column("event_id", sa.String(128), nullable=False),
        sa.Column("dedupe_key", sa.String(200), nullable=False),
        sa.Column("event_type", sa.String(40), nullable=False),
        sa.Column("seq", SeqType, nullable=False),
        sa.Column("order_key", sa.String(260), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", UtcDateTime(), nullable=True),
        sa.Column("last_status", sa.Integer, nullable=True),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("origin", sa.String(16), nullable=False),
        sa.Column("version", SeqType, nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.Column("delivered_at", UtcDateTime(), nullable=True),
        sa.UniqueConstraint("workspace_id", "trigger_id", "dedupe_key", name="uq_webhook_deliveries_dedupe"),
    )
    op.create_index("ix_webhook_deliveries_due", "webhook_deliveries", ["status", "next_attempt_at"])
    op.create_index(
        "ix_webhook_deliveries_queue",
        "webhook_deliveries",
        ["workspace_id", "trigger_id", "order_key", "seq"],
    )
    op.create_index("ix_webhook_deliveries_log", "webhook_deliveries", ["workspace_id", "trigger_id", "id"])
    op.create_index("ix_webhook_deliveries_version", "webhook_deliveries", ["version"])
    op.create_table(
        "webhook_attempts",
        sa.Column("delivery_id", sa.String(40), primary_key=True),
        sa.Column("n", sa.Integer, primary_key=True),
        sa.Column("at", UtcDateTime(), nullable=False),
        sa.Column("status", sa.Integer, nullable=True),
        sa.Column("duration_ms", sa.Integer, nullable=False),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("response", sa.Text, nullable=True),
    )


def downgrade() -> None:
    op.drop_table("webhook_attempts")
    op.drop_table("webhook_deliveries")
    op.drop_table("triggers")
    op.drop_table("loop_state")
