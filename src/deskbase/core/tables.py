"""Table definitions of the primary store (SQLAlchemy Core); Alembic migrations create and evolve them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

metadata = MetaData()

JsonType = JSON().with_variant(JSONB(), "postgresql")
SeqType = Integer().with_variant(BigInteger(), "postgresql")


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC in, aware UTC out, on both SQLite (naive text, sortable) and PostgreSQL (timestamptz)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):
            value = datetime.fromisoformat(value)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _ts(name: str, nullable: bool = False) -> Column[Any]:
    return Column(name, UtcDateTime(), nullable=nullable)


workspaces = Table(
    "workspaces",
    metadata,
    Column("id", String(63), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("settings", JsonType, nullable=False),
    Column("version", SeqType, nullable=False),
    _ts("created_at"),
    _ts("updated_at"),
    # The seq of the last change to the workspace, its collections or its relationship types (core/lookups.py).
    Column("schema_version", SeqType, nullable=False, server_default="0"),
)

collections = Table(
    "collections",
    metadata,
    Column("workspace_id", String(63), primary_key=True),
    Column("id", String(63), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("description", Text, nullable=True),
    Column("icon", String(64), nullable=True),
    Column("color", String(32), nullable=True),
    Column("json_schema", JsonType, nullable=False),
    Column("version", SeqType, nullable=False),
    _ts("created_at"),
    _ts("updated_at"),
)

relationship_types = Table(
    "relationship_types",
    metadata,
    Column("workspace_id", String(63), primary_key=True),
    Column("rel_type", String(63), primary_key=True),
    Column("description", Text, nullable=True),
    Column("source_collections", JsonType, nullable=False),
    Column("target_collections", JsonType, nullable=False),
    Column("schema", JsonType, nullable=True),
    Column("cardinality", String(8), nullable=False),
    Column("version", SeqType, nullable=False),
    _ts("created_at"),
    _ts("updated_at"),
)

records = Table(
    "records",
    metadata,
    Column("workspace_id", String(63), primary_key=True),
    Column("collection", String(63), primary_key=True),
    Column("id", String(128), primary_key=True),
    Column("data", JsonType, nullable=False),
    Column("version", SeqType, nullable=False),
    Column("deleted", Boolean, nullable=False, default=False),
    Column("external_id", String(256), nullable=True),
    Column("external_source", String(128), nullable=True),
    _ts("created_at"),
    _ts("updated_at"),
    Column("created_by", String(128), nullable=True),
    Column("updated_by", String(128), nullable=True),
    # A human number per workspace and collection (`#1042`) for collections marked `"x-numbered": true`.
    Column("number", SeqType, nullable=True),
    UniqueConstraint(
        "workspace_id", "collection", "external_source", "external_id", name="uq_records_external"
    ),
    Index("ix_records_created", "workspace_id", "collection", "created_at", "id", "deleted"),
    Index("ix_records_updated", "workspace_id", "collection", "updated_at", "id", "deleted"),
    Index("ux_records_number", "workspace_id", "collection", "number", unique=True),
)

#: The last number handed out per numbered collection: numbers only grow, so a deleted record's is never reused.
record_numbers = Table(
    "record_numbers",
    metadata,
    Column("workspace_id", String(63), primary_key=True),
    Column("collection", String(63), primary_key=True),
    Column("last", SeqType, nullable=False),
)

relationships = Table(
    "relationships",
    metadata,
    Column("workspace_id", String(63), primary_key=True),
    Column("id", String(128), primary_key=True),
    Column("rel_type", String(63), nullable=False),
    Column("source_collection", String(63), nullable=False),
    Column("source_id", String(128), nullable=False),
    Column("target_collection", String(63), nullable=False),
    Column("target_id", String(128), nullable=False),
    Column("data", JsonType, nullable=True),
    Column("version", SeqType, nullable=False),
    Column("deleted", Boolean, nullable=False, default=False),
    # Set to "<rel_type>|<source_collection>|<source_id>" while a cardinality-one link is live, so the
    # database itself refuses a second live link even under concurrent writers.
    Column("single_key", String(260), nullable=True),
    _ts("created_at"),
    _ts("updated_at"),
    Column("created_by", String(128), nullable=True),
    Column("updated_by", String(128), nullable=True),
    UniqueConstraint("workspace_id", "single_key", name="uq_relationships_single"),
    # covering (migration 0030): from a record to its links' other ends without reading the table
    Index(
        "ix_rel_source",
        "workspace_id",
        "source_collection",
        "source_id",
        "rel_type",
        "target_collection",
        "target_id",
        "deleted",
    ),
    Index(
        "ix_rel_target",
        "workspace_id",
        "target_collection",
        "target_id",
        "rel_type",
        "source_collection",
        "source_id",
        "deleted",
    ),
    Index("ix_rel_type", "workspace_id", "rel_type", "id"),
)

changes = Table(
    "changes",
    metadata,
    Column("seq", SeqType, primary_key=True, autoincrement=True),
    Column("workspace_id", String(63), nullable=False),
    Column("entity", String(32), nullable=False),
    Column("collection", String(63), nullable=True),
    Column("entity_id", String(128), nullable=False),
    Column("op", String(16), nullable=False),
    Column("data", JsonType, nullable=True),
    Column("actor", String(128), nullable=True),
    Column("actor_name", String(200), nullable=True),
    _ts("at"),
    #: the channel of the write (api, mcp, hook, sla …; see `Actor.source`); null for older entries
    Column("source", String(16), nullable=True),
    Index("ix_changes_ws_seq", "workspace_id", "seq"),
    Index("ix_changes_entity", "workspace_id", "entity", "collection", "entity_id", "seq"),
    sqlite_autoincrement=True,
)

tokens = Table(
    "tokens",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("grants", JsonType, nullable=False),
    _ts("created_at"),
    _ts("expires_at", nullable=True),
    _ts("revoked_at", nullable=True),
    _ts("last_used_at", nullable=True),
    Column("created_by", String(64), nullable=True),
    # The user a personal token belongs to (its rights never exceed that user's roles); null: a service token.
    Column("user_id", String(40), nullable=True),
    Index("ix_tokens_user", "user_id"),
)

#: Console sign-ins: the cookie's random session id is stored only as its SHA-256, mapped to the API token it
#: was exchanged for or to the user who signed in with a password, so sessions survive restarts and are
#: shared by every server process.
console_sessions = Table(
    "console_sessions",
    metadata,
    Column("id_hash", String(64), primary_key=True),
    Column("token_id", String(64), nullable=True),
    Column("user_id", String(40), nullable=True),
    _ts("created_at"),
    _ts("seen_at"),
    #: a single sign-on's issuer and ID token (the logout's `id_token_hint`), sealed with the server key
    Column("sso_logout", Text, nullable=True),
    Index("ix_console_sessions_token", "token_id"),
    Index("ix_console_sessions_user", "user_id"),
    Index("ix_console_sessions_seen", "seen_at"),
)

#: Who has a ticket open right now, and whether they are writing on it (heartbeats; rows older than a minute
#: mean nothing and are pruned). Not part of the change log: presence is not data.
presence = Table(
    "presence",
    metadata,
    Column("workspace_id", String(63), primary_key=True),
    Column("ticket_id", String(128), primary_key=True),
    Column("actor_id", String(64), primary_key=True),
    Column("actor_name", String(200), nullable=False),
    Column("state", String(16), nullable=False),
    _ts("seen_at"),
    Index("ix_presence_seen", "seen_at"),
)

#: An agent's unsent reply or note on a ticket, saved as they write (per token and ticket): it survives a
#: closed tab, a crash or a move to another device, and is dropped when the message is sent.
drafts = Table(
    "drafts",
    metadata,
    Column("workspace_id", String(63), primary_key=True),
    Column("ticket_id", String(128), primary_key=True),
    Column("actor_id", String(64), primary_key=True),
    Column("body", Text, nullable=False),
    Column("type", String(16), nullable=False),
    _ts("updated_at"),
)

#: When an agent last opened a ticket, as the workspace's change sequence then: anything that touches the ticket
#: later (a field change, a new message) has a higher sequence, so the queue can mark it as new to them.
ticket_reads = Table(
    "ticket_reads",
    metadata,
    Column("workspace_id", String(63), primary_key=True),
    Column("ticket_id", String(128), primary_key=True),
    Column("actor_id", String(64), primary_key=True),
    Column("seen_seq", SeqType, nullable=False),
    _ts("seen_at"),
)


#: Background loops (webhook dispatcher, later the replicator and mail): how far each has read its source (a
#: change `seq`) and which process holds it, so exactly one runs it and a restart resumes where it stopped.
loop_state = Table(
    "loop_state",
    metadata,
    Column("name", String(63), primary_key=True),
    Column("watermark", SeqType, nullable=False),
    Column("owner", String(128), nullable=True),
    _ts("lease_until", nullable=True),
    _ts("updated_at"),
)

#: Uploaded files: metadata only; the bytes live in the blob store under their sha256 (core/blobs.py).
#: A delete is a new version with deleted=true, so the SQL replica learns of it like any other change.
files = Table(
    "files",
    metadata,
    Column("workspace_id", String(63), primary_key=True),
    Column("id", String(40), primary_key=True),
    Column("name", String(255), nullable=False),
    Column("content_type", String(255), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("deleted", Boolean, nullable=False),
    Column("version", SeqType, nullable=False),
    _ts("created_at"),
    Column("created_by", String(128), nullable=True),
    Index("ix_files_sha256", "sha256"),
    Index("ix_files_version", "version"),
)

#: Which live records refer to which files (fields marked `x-files`), kept in each write's transaction: the
#: access check of a file read is one lookup on the primary key's prefix.
file_refs = Table(
    "file_refs",
    metadata,
    Column("workspace_id", String(63), primary_key=True),
    Column("file_id", String(40), primary_key=True),
    Column("collection", String(63), primary_key=True),
    Column("record_id", String(128), primary_key=True),
    Index("ix_file_refs_record", "workspace_id", "collection", "record_id"),
)


meta = Table(
    "meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)

stored_queries = Table(
    "stored_queries",
    metadata,
    Column("workspace_id", String(63), primary_key=True),
    Column("name", String(63), primary_key=True),
    Column("description", Text, nullable=True),
    Column("query", Text, nullable=False),
    Column("params", JsonType, nullable=False),
    Column("version", SeqType, nullable=False),
    _ts("created_at"),
    _ts("updated_at"),
)
