"""Store identity (so a replica can tell it belongs to this store) and stored SQL queries.

Revision ID: 0002
"""

import uuid

import sqlalchemy as sa
from alembic import op

from deskbase.core.tables import JsonType, SeqType, UtcDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    meta = op.create_table(
        "meta",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )
    op.bulk_insert(meta, [{"key": "store_id", "value": uuid.uuid4().hex}])
    op.create_table(
        "stored_queries",
        sa.Column("workspace_id", sa.String(63), primary_key=True),
        sa.Column("name", sa.String(63), primary_key=True),
        sa.Column("description", sa.Text, nullable=True),
        sa.Column("query", sa.Text, nullable=False),
        sa.Column("params", JsonType, nullable=False),
        sa.Column("version", SeqType, nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("stored_queries")
    op.drop_table("meta")
