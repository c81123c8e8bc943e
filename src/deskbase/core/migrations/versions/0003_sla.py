"""SLA configuration (versioned calendars and policies) and derived SLA state.

Revision ID: 0003
"""

import sqlalchemy as sa
from alembic import op

from deskbase.core.tables import JsonType, SeqType, UtcDateTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def _ts(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, UtcDateTime(), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "sla_config",
        sa.Column("workspace_id", sa.String(63), primary_key=True),
        sa.Column("kind", sa.String(16), primary_key=True),
        sa.Column("id", sa.String(63), primary_key=True),
        sa.Column("version", SeqType, primary_key=True),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("definition", JsonType, nullable=True),
        sa.Column("deleted", sa.Boolean, nullable=False),
        _ts("effective_from"),
        _ts("created_at"),
    )
    op.create_index("ix_sla_config_ws", "sla_config", ["workspace_id", "kind", "effective_from"])
    op.create_table(
        "sla_tickets",
        sa.Column("workspace_id", sa.String(63), primary_key=True),
        sa.Column("ticket_id", sa.String(128), primary_key=True),
        sa.Column("policy_id", sa.String(63), nullable=True),
        sa.Column("policy_version", SeqType, nullable=True),
        sa.Column("running", sa.Integer, nullable=False),
        sa.Column("breached", sa.Integer, nullable=False),
        _ts("due_at", nullable=True),
        sa.Column("due_metric", sa.String(32), nullable=True),
        _ts("next_due", nullable=True),
        sa.Column("metrics", JsonType, nullable=False),
        sa.Column("version", SeqType, nullable=False),
        _ts("evaluated_at"),
    )
    op.create_index("ix_sla_tickets_next_due", "sla_tickets", ["next_due"])
    op.create_index("ix_sla_tickets_due", "sla_tickets", ["workspace_id", "due_at"])
    op.create_index("ix_sla_tickets_version", "sla_tickets", ["version"])
    op.create_table(
        "sla_instances",
        sa.Column("workspace_id", sa.String(63), primary_key=True),
        sa.Column("ticket_id", sa.String(128), primary_key=True),
        sa.Column("metric", sa.String(32), primary_key=True),
        sa.Column("cycle", sa.Integer, primary_key=True),
        sa.Column("restarts", sa.Integer, primary_key=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("running", sa.Boolean, nullable=False),
        _ts("target_at"),
        sa.Column("data", JsonType, nullable=False),
        sa.Column("deleted", sa.Boolean, nullable=False),
        sa.Column("version", SeqType, nullable=False),
    )
    op.create_index("ix_sla_instances_due", "sla_instances", ["workspace_id", "running", "target_at"])
    op.create_index("ix_sla_instances_version", "sla_instances", ["version"])
    op.create_table(
        "sla_events",
        sa.Column("workspace_id", sa.String(63), primary_key=True),
        sa.Column("ticket_id", sa.String(128), primary_key=True),
        sa.Column("event_key", sa.String(200), primary_key=True),
        sa.Column("metric", sa.String(32), nullable=False),
        sa.Column("cycle", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        _ts("at"),
        sa.Column("details", JsonType, nullable=False),
        sa.Column("deleted", sa.Boolean, nullable=False),
        sa.Column("version", SeqType, nullable=False),
    )
    op.create_index("ix_sla_events_version", "sla_events", ["version"])
    op.create_table(
        "sla_escalations",
        sa.Column("workspace_id", sa.String(63), primary_key=True),
        sa.Column("ticket_id", sa.String(128), primary_key=True),
        sa.Column("step_key", sa.String(200), primary_key=True),
        _ts("done_at"),
    )


def downgrade() -> None:
    for name in ("sla_escalations", "sla_events", "sla_instances", "sla_tickets", "sla_config"):
        op.drop_table(name)
