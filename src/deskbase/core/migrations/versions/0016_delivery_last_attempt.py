"""Webhook deliveries remember when they were last attempted, indexed per trigger, so a trigger's health
("last attempt") reads one index entry instead of joining and sorting every attempt of its log.

Revision ID: 0016
"""

import sqlalchemy as sa
from alembic import op

from deskbase.core.tables import UtcDateTime

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("webhook_deliveries", sa.Column("last_attempt_at", UtcDateTime(), nullable=True))
    op.execute(
        "UPDATE webhook_deliveries SET last_attempt_at = "
        "(SELECT max(a.at) FROM webhook_attempts a WHERE a.delivery_id = webhook_deliveries.id)"
    )
    op.create_index(
        "ix_webhook_deliveries_attempted",
        "webhook_deliveries",
        ["workspace_id", "trigger_id", "last_attempt_at"],
    )


def downgrade() -> None:
    op.drop_index("ix_webhook_deliveries_attempted", "webhook_deliveries")
    op.drop_column("webhook_deliveries", "last_attempt_at")
