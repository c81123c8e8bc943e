"""Files: upload metadata (`files`) and the index of records referring to them (`file_refs`).

Revision ID: 0014
"""

import sqlalchemy as sa
from alembic import op

from deskbase.core.tables import SeqType, UtcDateTime

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "files",
        sa.Column("workspace_id", sa.String(63), primary_key=True),
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("content_type", sa.String(255), nullable=False),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("deleted", sa.Boolean, nullable=False),
        sa.Column("version", SeqType, nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("created_by", sa.String(128), nullable=True),
    )
    op.create_index("ix_files_sha256", "files", ["sha256"])
    op.create_index("ix_files_version", "files", ["version"])
    op.create_table(
        "file_refs",
        sa.Column("workspace_id", sa.String(63), primary_key=True),
        sa.Column("file_id", sa.String(40), primary_key=True),
        sa.Column("collection", sa.String(63), primary_key=True),
        sa.Column("record_id", sa.String(128), primary_key=True),
    )
    op.create_index("ix_file_refs_record", "file_refs", ["workspace_id", "collection", "record_id"])


def downgrade() -> None:
    op.drop_table("file_refs")
    op.drop_table("files")
