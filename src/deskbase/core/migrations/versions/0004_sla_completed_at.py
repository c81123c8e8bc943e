"""SLA instances: `completed_at` as an indexed column, so attainment over a period is an index range.

Revision ID: 0004
"""

import sqlalchemy as sa
from alembic import op

from deskbase.core.tables import UtcDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sla_instances") as batch:
        batch.add_column(sa.Column("completed_at", UtcDateTime(), nullable=True))
    op.create_index("ix_sla_instances_completed", "sla_instances", ["workspace_id", "completed_at"])


def downgrade() -> None:
    op.drop_index("ix_sla_instances_completed", "sla_instances")
    with op.batch_alter_table("sla_instances") as batch:
        batch.drop_column("completed_at")
