"""Tables of outbound triggers: the triggers, their deliveries (the per-trigger queue and log) and attempts.

Declared on the core's metadata (migration 0010 creates them); only the events package reads or writes them.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Index, Integer, String, Table, Text, UniqueConstraint

from deskbase.core.tables import JsonType, SeqType, UtcDateTime, metadata

triggers = Table(
    "triggers",
    metadata,
    Column("workspace_id", String(63), primary_key=True),
    Column("id", String(63), primary_key=True),
    Column("url", Text, nullable=False),
    Column("events", JsonType, nullable=False),
    Column("collections", JsonType, nullable=True),
    Column("filter", JsonType, nullable=True),
    Column("enabled", Boolean, nullable=False),
    Column("disabled_reason", Text, nullable=True),
    Column("description", Text, nullable=True),
    Column("secret", Text, nullable=False),  # sealed (core.secrets); never returned
    Column("previous_secret", Text, nullable=True),  # sealed; still signs until previous_until
    Column("previous_until", UtcDateTime(), nullable=True),
    Column("owner_id", String(128), nullable=False),  # the token whose read scope the trigger delivers with
    Column("owner_grants", JsonType, nullable=False),
    Column("owner_admin", Boolean, nullable=False),
    Column("start_seq", SeqType, nullable=False),  # events at or below it predate the trigger
    Column("failing_since", UtcDateTime(), nullable=True),
    Column("version", Integer, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
)

webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("workspace_id", String(63), nullable=False),
    Column("trigger_id", String(63), nullable=False),
    Column("event_id", String(128), nullable=False),
    Column("dedupe_key", String(200), nullable=False),
    Column("event_type", String(40), nullable=False),
    Column("seq", SeqType, nullable=False),
    Column("order_key", String(260), nullable=False),  # deliveries of one (trigger, key) go out in seq order
    Column("payload", Text, nullable=False),
    Column("status", String(16), nullable=False),  # pending | failed | delivered | exhausted
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", UtcDateTime(), nullable=True),
    Column("last_status", Integer, nullable=True),
    Column("last_error", Text, nullable=True),
    Column("origin", String(16), nullable=False),  # live | replay | retry | test
    Column("version", SeqType, nullable=False),  # orders updates for the replica (see events/replication.py)
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Column("delivered_at", UtcDateTime(), nullable=True),
    UniqueConstraint("workspace_id", "trigger_id", "dedupe_key", name="uq_webhook_deliveries_dedupe"),
    Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
    Index("ix_webhook_deliveries_queue", "workspace_id", "trigger_id", "order_key", "seq"),
    Index("ix_webhook_deliveries_log", "workspace_id", "trigger_id", "id"),
    Index("ix_webhook_deliveries_version", "version"),
)

webhook_attempts = Table(
    "webhook_attempts",
    metadata,
    Column("delivery_id", String(40), primary_key=True),
    Column("n", Integer, primary_key=True),
    Column("at", UtcDateTime(), nullable=False),
    Column("status", Integer, nullable=True),
    Column("duration_ms", Integer, nullable=False),
    Column("error", Text, nullable=True),
    Column("response", Text, nullable=True),
)
