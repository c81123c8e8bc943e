"""OpenID Connect single sign-on: provider identities linked to users, and sign-ins under way.

Revision ID: 0027
"""

import sqlalchemy as sa
from alembic import op

from deskbase.core.tables import UtcDateTime

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "user_identities",
        sa.Column("issuer", sa.String(255), primary_key=True),
        sa.Column("subject", sa.String(255), primary_key=True),
        sa.Column("user_id", sa.String(40), nullable=False),
        sa.Column("email", sa.String(254), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("last_used_at", UtcDateTime(), nullable=False),
    )
    op.create_index("ix_user_identities_user", "user_identities", ["user_id"])
    op.create_table(
        "sso_logins",
        sa.Column("state_hash", sa.String(64), primary_key=True),
        sa.Column("nonce", sa.String(64), nullable=False),
        sa.Column("code_verifier", sa.String(128), nullable=False),
        sa.Column("next_path", sa.Text(), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
    )
    op.create_index("ix_sso_logins_expires", "sso_logins", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_sso_logins_expires", "sso_logins")
    op.drop_table("sso_logins")
    op.drop_index("ix_user_identities_user", "user_identities")
    op.drop_table("user_identities")
