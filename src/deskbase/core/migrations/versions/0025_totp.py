"""TOTP second factor: a user's sealed secret with its last accepted time step, and hashed recovery codes.

Revision ID: 0025
"""

import sqlalchemy as sa
from alembic import op

from deskbase.core.tables import UtcDateTime

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "user_factors",
        sa.Column("user_id", sa.String(40), primary_key=True),
        sa.Column("secret", sa.Text, nullable=False),
        sa.Column("confirmed_at", UtcDateTime(), nullable=True),
        sa.Column("last_step", sa.BigInteger, nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
    )
    op.create_table(
        "recovery_codes",
        sa.Column("user_id", sa.String(40), primary_key=True),
        sa.Column("code_hash", sa.String(64), primary_key=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("used_at", UtcDateTime(), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("recovery_codes")
    op.drop_table("user_factors")
