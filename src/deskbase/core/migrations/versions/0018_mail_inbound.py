"""Inbound mail adapters: each mailbox's IMAP watermark and health, and the log of messages skipped for good.

Revision ID: 0018
"""

import sqlalchemy as sa
from alembic import op

from deskbase.core.tables import UtcDateTime

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mail_inbound_state",
        sa.Column("workspace_id", sa.String(63), primary_key=True),
        sa.Column("mailbox_id", sa.String(63), primary_key=True),
        sa.Column("source", sa.String(600), nullable=True),
        sa.Column("uidvalidity", sa.BigInteger, nullable=True),
        sa.Column("last_uid", sa.BigInteger, nullable=False),
        sa.Column("fetched", sa.BigInteger, nullable=False),
        sa.Column("skipped", sa.BigInteger, nullable=False),
        sa.Column("idle", sa.Boolean, nullable=True),
        sa.Column("last_poll_at", UtcDateTime(), nullable=True),
        sa.Column("last_error", sa.Text, nullable=True),
        sa.Column("last_error_at", UtcDateTime(), nullable=True),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
    )
    op.create_table(
        "mail_skipped",
        sa.Column("workspace_id", sa.String(63), primary_key=True),
        sa.Column("mailbox_id", sa.String(63), primary_key=True),
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("ref", sa.String(255), nullable=False),
        sa.Column("message_id", sa.Text, nullable=True),
        sa.Column("sender", sa.Text, nullable=True),
        sa.Column("subject", sa.Text, nullable=True),
        sa.Column("size", sa.BigInteger, nullable=True),
        sa.Column("code", sa.String(40), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("at", UtcDateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("mail_skipped")
    op.drop_table("mail_inbound_state")
