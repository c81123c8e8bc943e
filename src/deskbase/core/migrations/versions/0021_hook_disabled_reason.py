"""Hooks say why they are disabled (`disabled_reason`), as triggers do: a revoked or expired owner token, or an
admin.

Revision ID: 0021
"""

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("hooks", sa.Column("disabled_reason", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("hooks") as batch:
        batch.drop_column("disabled_reason")
