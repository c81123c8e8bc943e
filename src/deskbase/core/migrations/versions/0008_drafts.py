"""Server-side drafts of the console's composer (per token and ticket).

Revision ID: 0008
"""

import sqlalchemy as sa
from alembic import op

from deskbase.core.tables import UtcDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "drafts",
        sa.Column("workspace_id", sa.String(63), primary_key=True),
        sa.Column("ticket_id", sa.String(128), primary_key=True),
        sa.Column("actor_id", sa.String(64), primary_key=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("drafts")
