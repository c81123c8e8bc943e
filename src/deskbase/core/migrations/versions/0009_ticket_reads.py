"""When each agent last opened each ticket (the console's "new since you looked" marker).

Revision ID: 0009
"""

import sqlalchemy as sa
from alembic import op

from deskbase.core.tables import SeqType, UtcDateTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ticket_reads",
        sa.Column("workspace_id", sa.String(63), primary_key=True),
        sa.Column("ticket_id", sa.String(128), primary_key=True),
        sa.Column("actor_id", sa.String(64), primary_key=True),
        sa.Column("seen_seq", SeqType, nullable=False),
        sa.Column("seen_at", UtcDateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("ticket_reads")
