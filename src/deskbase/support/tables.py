"""The support domain's tables: SLA configuration (versioned) and SLA state derived from the change log.

Declared on the core's metadata, so one schema (and the migration check) covers them; only the support domain
(and the adapters showing its results) reads or writes them.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Boolean, Column, Index, Integer, String, Table

from deskbase.core.tables import JsonType, SeqType, UtcDateTime, metadata


def _ts(name: str, nullable: bool = False) -> Column[Any]:
    return Column(name, UtcDateTime(), nullable=nullable)


sla_config = Table(
    "sla_config",
    metadata,
    Column("workspace_id", String(63), primary_key=True),
    Column("kind", String(16), primary_key=True),  # "calendar" | "policy"
    Column("id", String(63), primary_key=True),
    Column("version", SeqType, primary_key=True),
    Column("position", Integer, nullable=False),
    Column("definition", JsonType, nullable=True),
    Column("deleted", Boolean, nullable=False),
    _ts("effective_from"),
    _ts("created_at"),
    Index("ix_sla_config_ws", "workspace_id", "kind", "effective_from"),
)

sla_tickets = Table(
    "sla_tickets",
    metadata,
    Column("workspace_id", String(63), primary_key=True),
    Column("ticket_id", String(128), primary_key=True),
    Column("policy_id", String(63), nullable=True),
    Column("policy_version", SeqType, nullable=True),
    Column("running", Integer, nullable=False),
    Column("breached", Integer, nullable=False),
    _ts("due_at", nullable=True),
    Column("due_metric", String(32), nullable=True),
    _ts("next_due", nullable=True),
    Column("metrics", JsonType, nullable=False),
    Column("version", SeqType, nullable=False),
    _ts("evaluated_at"),
    # The fold's state after the ticket's last input (see support/sla_state.py); NULL: the next write replays.
    Column("checkpoint", JsonType, nullable=True),
    Index("ix_sla_tickets_next_due", "next_due"),
    Index("ix_sla_tickets_due", "workspace_id", "due_at", "running", "breached"),
    Index("ix_sla_tickets_version", "version"),
)

sla_instances = Table(
    "sla_instances",
    metadata,
    Column("workspace_id", String(63), primary_key=True),
    Column("ticket_id", String(128), primary_key=True),
    Column("metric", String(32), primary_key=True),
    Column("cycle", Integer, primary_key=True),
    Column("restarts", Integer, primary_key=True),
    Column("state", String(16), nullable=False),
    Column("running", Boolean, nullable=False),
    _ts("target_at"),
    Column("data", JsonType, nullable=False),
    Column("deleted", Boolean, nullable=False),
    Column("version", SeqType, nullable=False),
    _ts("completed_at", nullable=True),
    Column("position", Integer, nullable=False, server_default="0"),
    Index("ix_sla_instances_due", "workspace_id", "running", "target_at"),
    Index("ix_sla_instances_completed", "workspace_id", "completed_at"),
    Index("ix_sla_instances_version", "version"),
)

sla_events = Table(
    "sla_events",
    metadata,
    Column("workspace_id", String(63), primary_key=True),
    Column("ticket_id", String(128), primary_key=True),
    Column("event_key", String(200), primary_key=True),
    Column("metric", String(32), nullable=False),
    Column("cycle", Integer, nullable=False),
    Column("kind", String(16), nullable=False),
    _ts("at"),
    Column("details", JsonType, nullable=False),
    Column("deleted", Boolean, nullable=False),
    Column("version", SeqType, nullable=False),
    Index("ix_sla_events_version", "version"),
)

sla_escalations = Table(
    "sla_escalations",
    metadata,
    Column("workspace_id", String(63), primary_key=True),
    Column("ticket_id", String(128), primary_key=True),
    Column("step_key", String(200), primary_key=True),
    _ts("done_at"),
)
