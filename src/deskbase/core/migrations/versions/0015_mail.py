"""The email channel: mailboxes, the Message-ID index of stored messages, the outbound queue and its attempts.

Revision ID: 0015
"""

import sqlalchemy as sa
from alembic import op

from deskbase.core.tables import JsonType, UtcDateTime

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mailboxes",
        sa.Column("workspace_id", sa.String(63), primary_key=True),
        sa.Column("id", sa.String(63), primary_key=True),
        sa.Column("address", sa.String(320), nullable=False),
        sa.Column("name", sa.Text, nullable=True),
        sa.Column("inbound", JsonType, nullable=False),
        sa.Column("inbound_password", sa.Text, nullable=True),
        sa.Column("outbound", JsonType, nullable=True),
        sa.Column("outbound_password", sa.Text, nullable=True),
        sa.Column("auto_acknowledge", sa.Boolean, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
    )
    op.create_index("ix_mailboxes_address", "mailboxes", ["address"])
    op.create_table(
        "mail_messages",
        sa.Column("workspace_id", sa.String(63), primary_key=True),
        sa.Column("mailbox_id", sa.String(63), primary_key=True),
        sa.Column("message_id", sa.String(255), primary_key=True),
        sa.Column("direction", sa.String(8), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("ticket_id", sa.String(128), nullable=True),
        sa.Column("response_id", sa.String(128), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
    )
    op.create_index("ix_mail_messages_thread", "mail_messages", ["workspace_id", "message_id"])
    op.create_index("ix_mail_messages_ticket", "mail_messages", ["workspace_id", "ticket_id", "created_at"])
    op.create_table(
        "mail_outbox",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("workspace_id", sa.String(63), nullable=False),
        sa.Column("mailbox_id", sa.String(63), nullable=False),
        sa.Column("ticket_id", sa.String(128), nullable=False),
        sa.Column("response_id", sa.String(128), nullable=False),
        sa.Column("message_id", sa.String(255), nullable=False),
        sa.Column("envelope", JsonType, nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", UtcDateTime(), nullable=True),
        sa.Column("answer", sa.Text, nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
    )
    op.create_index("ix_mail_outbox_due", "mail_outbox", ["status", "next_attempt_at"])
    op.create_index("ix_mail_outbox_message", "mail_outbox", ["workspace_id", "message_id"])
    op.create_table(
        "mail_attempts",
        sa.Column("outbox_id", sa.String(40), primary_key=True),
        sa.Column("n", sa.Integer, primary_key=True),
        sa.Column("at", UtcDateTime(), nullable=False),
        sa.Column("code", sa.Integer, nullable=True),
        sa.Column("answer", sa.Text, nullable=True),
        sa.Column("duration_ms", sa.Integer, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("mail_attempts")
    op.drop_table("mail_outbox")
    op.drop_table("mail_messages")
    op.drop_table("mailboxes")
