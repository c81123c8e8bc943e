"""Tables of the mail package (migrations 0015 and later): mailboxes, the Message-ID index of every stored
message, the outbound queue with its attempts, when each sender was last acknowledged, and what the inbound
adapters remember per mailbox.

Declared on the core's metadata; only the mail package reads or writes them.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, Index, Integer, String, Table, Text

from deskbase.core.tables import JsonType, UtcDateTime, metadata

mailboxes = Table(
    "mailboxes",
    metadata,
    Column("workspace_id", String(63), primary_key=True),
    Column("id", String(63), primary_key=True),
    Column("address", String(320), nullable=False),  # lower-case; the listener and plus-addressing look it up
    Column("name", Text, nullable=True),
    Column("inbound", JsonType, nullable=False),  # without its password
    Column("inbound_password", Text, nullable=True),  # sealed (core.secrets); never returned
    Column("outbound", JsonType, nullable=True),  # without its password
    Column("outbound_password", Text, nullable=True),  # sealed
    Column("auto_acknowledge", Boolean, nullable=False),
    Column("version", Integer, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Index("ix_mailboxes_address", "address"),
)

mail_messages = Table(
    "mail_messages",
    metadata,
    Column("workspace_id", String(63), primary_key=True),
    Column("mailbox_id", String(63), primary_key=True),
    # The Message-ID without its angle brackets (a digest when longer than an index may hold): one message
    # per mailbox, whichever way it came in, and the key threading looks replies up by.
    Column("message_id", String(255), primary_key=True),
    Column("direction", String(8), nullable=False),  # inbound | outbound
    Column("status", String(16), nullable=False),  # stored | ignored (noise: no ticket was touched)
    Column("ticket_id", String(128), nullable=True),
    Column("response_id", String(128), nullable=True),
    Column("created_at", UtcDateTime(), nullable=False),
    Index("ix_mail_messages_thread", "workspace_id", "message_id"),
    Index("ix_mail_messages_ticket", "workspace_id", "ticket_id", "created_at"),
)

mail_outbox = Table(
    "mail_outbox",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("workspace_id", String(63), nullable=False),
    Column("mailbox_id", String(63), nullable=False),
    Column("ticket_id", String(128), nullable=False),
    # The response it sends (`ack:<ticket id>` for an acknowledgement): at most one row each, so queueing
    # the same reply twice (a re-read after a crash) queues nothing.
    Column("response_id", String(128), nullable=False),
    Column("kind", String(8), nullable=False, server_default="reply"),  # reply | ack | notify
    Column("message_id", String(255), nullable=False),
    Column("envelope", JsonType, nullable=False),  # {"from", "to": [...]}
    Column("message", Text, nullable=False),  # the MIME text, built once when queued
    Column("status", String(16), nullable=False),  # queued | sent | failed | bounced
    Column("attempts", Integer, nullable=False),  # since it was queued (or last retried by hand)
    Column("next_attempt_at", UtcDateTime(), nullable=True),
    Column("answer", Text, nullable=True),  # the last SMTP answer (or connection error)
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Index("ix_mail_outbox_due", "status", "next_attempt_at"),
    Index("ix_mail_outbox_message", "workspace_id", "message_id"),
    Index("ux_mail_outbox_response", "workspace_id", "response_id", unique=True),
    Index("ix_mail_outbox_thread", "workspace_id", "ticket_id", "id"),  # per-thread order
    Index("ix_mail_outbox_mailbox", "workspace_id", "mailbox_id", "id"),  # the outbox log, newest first
    Index("ix_mail_outbox_finished", "status", "updated_at"),  # pruning (retention.py)
)

mail_attempts = Table(
    "mail_attempts",
    metadata,
    Column("outbox_id", String(40), primary_key=True),
    Column("n", Integer, primary_key=True),
    Column("at", UtcDateTime(), nullable=False),
    Column("code", Integer, nullable=True),  # the SMTP reply code; None when no server answered
    Column("answer", Text, nullable=True),
    Column("duration_ms", Integer, nullable=False),
)

inbound_state = Table(
    "mail_inbound_state",
    metadata,
    Column("workspace_id", String(63), primary_key=True),
    Column("mailbox_id", String(63), primary_key=True),
    Column("source", String(600), nullable=True),  # host:port/user/folder the watermark belongs to
    Column("uidvalidity", BigInteger, nullable=True),
    Column("last_uid", BigInteger, nullable=False),
    Column("fetched", BigInteger, nullable=False),  # messages handed to the pipeline and committed
    Column("skipped", BigInteger, nullable=False),
    Column("idle", Boolean, nullable=True),  # whether the server offered IDLE at the last connection
    Column("last_poll_at", UtcDateTime(), nullable=True),  # the last poll that completed
    Column("last_error", Text, nullable=True),
    Column("last_error_at", UtcDateTime(), nullable=True),
    Column("failures", Integer, nullable=False),  # consecutive failed polls (the back-off grows with it)
    Column("updated_at", UtcDateTime(), nullable=False),
)

skipped_messages = Table(
    "mail_skipped",
    metadata,
    Column("workspace_id", String(63), primary_key=True),
    Column("mailbox_id", String(63), primary_key=True),
    Column("id", String(40), primary_key=True),  # UUIDv7: newest last
    Column("source", String(16), nullable=False),  # imap
    Column("ref", String(255), nullable=False),  # where it is: folder, UIDVALIDITY and UID
    Column("message_id", Text, nullable=True),
    Column("sender", Text, nullable=True),
    Column("subject", Text, nullable=True),
    Column("size", BigInteger, nullable=True),
    Column("code", String(40), nullable=False),  # payload_too_large, file_too_large, validation_failed, …
    Column("reason", Text, nullable=False),
    Column("at", UtcDateTime(), nullable=False),
    Index("ix_mail_skipped_at", "at"),  # pruning
)

#: When each sender was last sent an acknowledgement by a mailbox: the rate limit outlives restarts.
mail_acks = Table(
    "mail_acks",
    metadata,
    Column("workspace_id", String(63), primary_key=True),
    Column("mailbox_id", String(63), primary_key=True),
    Column("sender", String(320), primary_key=True),
    Column("last_at", UtcDateTime(), nullable=False),
    Index("ix_mail_acks_last", "last_at"),  # pruning
)
