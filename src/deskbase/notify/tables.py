"""The notifications table (migration 0021). Declared on the core's metadata; only this package uses it.

One row per (user, source): `source_key` names the change or SLA event that caused it, so the loop that
derives notifications may read a change twice (at-least-once) and still store one row.
"""

from __future__ import annotations

from sqlalchemy import Column, Index, String, Table

from deskbase.core.tables import JsonType, UtcDateTime, metadata

notifications = Table(
    "notifications",
    metadata,
    Column("id", String(40), primary_key=True),  # UUIDv7: ordered by creation, the stream's event id
    Column("workspace_id", String(63), nullable=False),
    Column("user_id", String(40), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("ticket_id", String(128), nullable=True),
    Column("actor", String(128), nullable=True),  # who caused it (a token or user id), as the change log says
    Column("actor_name", String(200), nullable=True),
    Column("source_key", String(200), nullable=False),
    Column("data", JsonType, nullable=False),  # what the bell shows: ticket number and subject, metric …
    Column("created_at", UtcDateTime(), nullable=False),
    Column("read_at", UtcDateTime(), nullable=True),
    Index("ux_notifications_source", "user_id", "source_key", unique=True),
    Index("ix_notifications_user", "user_id", "workspace_id", "id"),
    Index("ix_notifications_unread", "user_id", "workspace_id", "read_at"),
)
