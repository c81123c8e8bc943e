"""Tables of the events package: outbound triggers, their deliveries (the per-trigger queue and log) and
attempts (migration 0012); inbound hooks and their ingest log (migration 0013).

Declared on the core's metadata; only the events package reads or writes them.
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
    Column("include_hook_writes", Boolean, nullable=False),  # the loop guard: see matching.matches
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
    Column(
        "last_attempt_at", UtcDateTime(), nullable=True
    ),  # when its newest attempt began (health reads it)
    UniqueConstraint("workspace_id", "trigger_id", "dedupe_key", name="uq_webhook_deliveries_dedupe"),
    Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),
    Index("ix_webhook_deliveries_queue", "workspace_id", "trigger_id", "order_key", "seq"),
    Index("ix_webhook_deliveries_log", "workspace_id", "trigger_id", "id"),
    Index("ix_webhook_deliveries_version", "version"),
    Index("ix_webhook_deliveries_attempted", "workspace_id", "trigger_id", "last_attempt_at"),
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

hooks = Table(
    "hooks",
    metadata,
    Column("workspace_id", String(63), primary_key=True),
    Column("id", String(63), primary_key=True),
    Column("ingest_key", String(64), nullable=False),  # the unguessable part of the ingest URL
    Column("collection", String(63), nullable=False),
    Column("mapping", JsonType, nullable=False),
    Column("external_id", Text, nullable=True),  # a JSON pointer into the payload
    Column("verify", String(24), nullable=False),  # standard-webhooks | none
    Column("secret", Text, nullable=True),  # sealed (core.secrets); None when verify is none
    Column("previous_secret", Text, nullable=True),  # sealed; still verifies until previous_until
    Column("previous_until", UtcDateTime(), nullable=True),
    Column("enabled", Boolean, nullable=False),
    Column("description", Text, nullable=True),
    Column("disabled_reason", Text, nullable=True),  # why it stopped: revoked or expired owner, an admin
    Column("owner_id", String(128), nullable=False),  # the token whose write scope the hook writes with
    Column("owner_grants", JsonType, nullable=False),
    Column("owner_admin", Boolean, nullable=False),
    Column("version", Integer, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    UniqueConstraint("ingest_key", name="uq_hooks_ingest_key"),
)

hook_ingests = Table(
    "hook_ingests",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("workspace_id", String(63), nullable=False),
    Column("hook_id", String(63), nullable=False),
    Column("webhook_id", String(256), nullable=True),
    # The webhook id of an accepted ingest (None for a refused one, which a later delivery may retry):
    # unique, so a delivery is applied at most once.
    Column("dedupe_key", String(256), nullable=True),
    Column("received_at", UtcDateTime(), nullable=False),
    Column("status", String(16), nullable=False),  # created | updated | failed
    Column("record_id", String(128), nullable=True),
    Column("error", JsonType, nullable=True),  # {code, message, details} of a refused ingest
    UniqueConstraint("workspace_id", "hook_id", "dedupe_key", name="uq_hook_ingests_dedupe"),
    Index("ix_hook_ingests_log", "workspace_id", "hook_id", "id"),
    Index("ix_hook_ingests_received", "received_at"),
)
