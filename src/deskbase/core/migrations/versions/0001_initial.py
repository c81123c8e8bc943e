"""Initial schema: workspaces, collections, relationship types, records, relationships, change log, tokens.

Revision ID: 0001
"""

import sqlalchemy as sa
from alembic import op

from deskbase.core.tables import JsonType, SeqType, UtcDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _ts(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, UtcDateTime(), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "workspaces",
        sa.Column("id", sa.String(63), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("settings", JsonType, nullable=False),
        sa.Column("version", SeqType, nullable=False),
        _ts("created_at"),
        _ts("updated_at"),
    )
    op.create_table(
        "collections",
        sa.Column("workspace_id", sa.String(63), primary_key=True),
        sa.Column("id", sa.String(63), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("description", sa.Text, nullable=True),
        sa.Column("icon", sa.String(64), nullable=True),
        sa.Column("color", sa.String(32), nullable=True),
        sa.Column("json_schema", JsonType, nullable=False),
        sa.Column("version", SeqType, nullable=False),
        _ts("created_at"),
        _ts("updated_at"),
    )
    op.create_table(
        "relationship_types",
        sa.Column("workspace_id", sa.String(63), primary_key=True),
        sa.Column("rel_type", sa.String(63), primary_key=True),
        sa.Column("description", sa.Text, nullable=True),
        sa.Column("source_collections", JsonType, nullable=False),
        sa.Column("target_collections", JsonType, nullable=False),
        sa.Column("schema", JsonType, nullable=True),
        sa.Column("cardinality", sa.String(8), nullable=False),
        sa.Column("version", SeqType, nullable=False),
        _ts("created_at"),
        _ts("updated_at"),
    )
    op.create_table(
        "records",
        sa.Column("workspace_id", sa.String(63), primary_key=True),
        sa.Column("collection", sa.String(63), primary_key=True),
        sa.Column("id", sa.String(128), primary_key=True),
        sa.Column("data", JsonType, nullable=False),
        sa.Column("version", SeqType, nullable=False),
        sa.Column("deleted", sa.Boolean, nullable=False),
        sa.Column("external_id", sa.String(256), nullable=True),
        sa.Column("external_source", sa.String(128), nullable=True),
        _ts("created_at"),
        _ts("updated_at"),
        sa.Column("created_by", sa.String(128), nullable=True),
        sa.Column("updated_by", sa.String(128), nullable=True),
        sa.UniqueConstraint(
            "workspace_id", "collection", "external_source", "external_id", name="uq_records_external"
        ),
    )
    op.create_index("ix_records_created", "records", ["workspace_id", "collection", "created_at", "id"])
    op.create_index("ix_records_updated", "records", ["workspace_id", "collection", "updated_at", "id"])
    op.create_table(
        "relationships",
        sa.Column("workspace_id", sa.String(63), primary_key=True),
        sa.Column("id", sa.String(128), primary_key=True),
        sa.Column("rel_type", sa.String(63), nullable=False),
        sa.Column("source_collection", sa.String(63), nullable=False),
        sa.Column("source_id", sa.String(128), nullable=False),
        sa.Column("target_collection", sa.String(63), nullable=False),
        sa.Column("target_id", sa.String(128), nullable=False),
        sa.Column("data", JsonType, nullable=True),
        sa.Column("version", SeqType, nullable=False),
        sa.Column("deleted", sa.Boolean, nullable=False),
        sa.Column("single_key", sa.String(260), nullable=True),
        _ts("created_at"),
        _ts("updated_at"),
        sa.Column("created_by", sa.String(128), nullable=True),
        sa.Column("updated_by", sa.String(128), nullable=True),
        sa.UniqueConstraint("workspace_id", "single_key", name="uq_relationships_single"),
    )
    op.create_index(
        "ix_rel_source", "relationships", ["workspace_id", "source_collection", "source_id", "rel_type"]
    )
    op.create_index(
        "ix_rel_target", "relationships", ["workspace_id", "target_collection", "target_id", "rel_type"]
    )
    op.create_index("ix_rel_type", "relationships", ["workspace_id", "rel_type", "id"])
    op.create_table(
        "changes",
        sa.Column("seq", SeqType, primary_key=True, autoincrement=True),
        sa.Column("workspace_id", sa.String(63), nullable=False),
        sa.Column("entity", sa.String(32), nullable=False),
        sa.Column("collection", sa.String(63), nullable=True),
        sa.Column("entity_id", sa.String(128), nullable=False),
        sa.Column("op", sa.String(16), nullable=False),
        sa.Column("data", JsonType, nullable=True),
        sa.Column("actor", sa.String(128), nullable=True),
        sa.Column("actor_name", sa.String(200), nullable=True),
        _ts("at"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_changes_ws_seq", "changes", ["workspace_id", "seq"])
    op.create_index(
        "ix_changes_entity", "changes", ["workspace_id", "entity", "collection", "entity_id", "seq"]
    )
    op.create_table(
        "tokens",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("grants", JsonType, nullable=False),
        _ts("created_at"),
        _ts("expires_at", nullable=True),
        _ts("revoked_at", nullable=True),
        _ts("last_used_at", nullable=True),
        sa.Column("created_by", sa.String(64), nullable=True),
    )


def downgrade() -> None:
    for name in (
        "tokens",
        "changes",
        "relationships",
        "records",
        "relationship_types",
        "collections",
        "workspaces",
    ):
        op.drop_table(name)
