"""Inbound hooks (their settings and ingest log) and the triggers' loop guard (`include_hook_writes`).

Revision ID: 0013
"""

import sqlalchemy as sa
from alembic import op

from deskbase.core.tables import JsonType, UtcDateTime

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("triggers") as batch:
        batch.add_column(
            sa.Column("include_hook_writes", sa.Boolean, nullable=False, server_default=sa.false())
        )
    with op.batch_alter_table("triggers") as batch:
        batch.alter_column("include_hook_writes", server_default=None)
    op.create_table(
        "hooks",
        sa.Column("workspace_id", sa.String(63), primary_key=True),
        sa.Column("id", sa.String(63), primary_key=True),
        sa.Column("ingest_key", sa.String(64), nullable=False),
        sa.Column("collection", sa.String(63), nullable=False),
        sa.Column("mapping", JsonType, nullable=False),
        sa.Column("external_id", sa.Text, nullable=True),
        sa.Column("verify", sa.String(24), nullable=False),
        sa.Column("secret", sa.Text, nullable=True),
        sa.Column("previous_secret", sa.Text, nullable=True),
        sa.Column("previous_until", UtcDateTime(), nullable=True),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("description", sa.Text, nullable=True),
        sa.Column("owner_id", sa.String(128), nullable=False),
        sa.Column("owner_grants", JsonType, nullable=False),
        sa.Column("owner_admin", sa.Boolean, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
        sa.UniqueConstraint("ingest_key", name="uq_hooks_ingest_key"),
    )
    op.create_table(
        "hook_ingests",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("workspace_id", sa.String(63), nullable=False),
        sa.Column("hook_id", sa.String(63), nullable=False),
        sa.Column("webhook_id", sa.String(256), nullable=True),
        sa.Column("dedupe_key", sa.String(256), nullable=True),
        sa.Column("received_at", UtcDateTime(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("record_id", sa.String(128), nullable=True),
        sa.Column("error", JsonType, nullable=True),
        sa.UniqueConstraint("workspace_id", "hook_id", "dedupe_key", name="uq_hook_ingests_dedupe"),
    )
    op.create_index("ix_hook_ingests_log", "hook_ingests", ["workspace_id", "hook_id", "id"])
    op.create_index("ix_hook_ingests_received", "hook_ingests", ["received_at"])


def downgrade() -> None:
    op.drop_table("hook_ingests")
    op.drop_table("hooks")
    with op.batch_alter_table("triggers") as batch:
        batch.drop_column("include_hook_writes")
