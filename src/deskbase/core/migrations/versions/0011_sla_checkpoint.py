"""SLA fold checkpoints: `sla_tickets.checkpoint` holds each ticket's fold state after its last input, so a
write advances it by that input alone; `sla_instances.position` keeps instances in the order the fold made them
(reads serve stored rows). Existing tickets have no checkpoint: their next write replays once and stores one.

Revision ID: 0011
"""

import sqlalchemy as sa
from alembic import op

from deskbase.core.tables import JsonType

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sla_tickets") as batch:
        batch.add_column(sa.Column("checkpoint", JsonType, nullable=True))
    with op.batch_alter_table("sla_instances") as batch:
        batch.add_column(sa.Column("position", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("sla_instances") as batch:
        batch.drop_column("position")
    with op.batch_alter_table("sla_tickets") as batch:
        batch.drop_column("checkpoint")
