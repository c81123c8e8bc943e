"""Outbound mail: one outbox row per response, per-thread order, the outbox log per mailbox, acknowledgement
rate limits, and the mail loop's watermark at the head of the change log: replies written before outbound mail
existed are history, never mailed (a store created from here on starts at 0 and misses no reply).

Revision ID: 0019
"""

import sqlalchemy as sa
from alembic import op

from deskbase.core.clock import SystemClock
from deskbase.core.tables import UtcDateTime, changes, loop_state

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("mail_outbox") as batch:
        batch.add_column(sa.Column("kind", sa.String(8), nullable=False, server_default="reply"))
    op.create_index("ux_mail_outbox_response", "mail_outbox", ["workspace_id", "response_id"], unique=True)
    op.create_index("ix_mail_outbox_thread", "mail_outbox", ["workspace_id", "ticket_id", "id"])
    op.create_index("ix_mail_outbox_mailbox", "mail_outbox", ["workspace_id", "mailbox_id", "id"])
    op.create_table(
        "mail_acks",
        sa.Column("workspace_id", sa.String(63), primary_key=True),
        sa.Column("mailbox_id", sa.String(63), primary_key=True),
        sa.Column("sender", sa.String(320), primary_key=True),
        sa.Column("last_at", UtcDateTime(), nullable=False),
    )
    conn = op.get_bind()
    head = conn.execute(sa.select(sa.func.max(changes.c.seq))).scalar() or 0
    conn.execute(sa.insert(loop_state).values(name="mail", watermark=head, updated_at=SystemClock().now()))


def downgrade() -> None:
    op.get_bind().execute(sa.delete(loop_state).where(loop_state.c.name == "mail"))
    op.drop_table("mail_acks")
    op.drop_index("ix_mail_outbox_mailbox", "mail_outbox")
    op.drop_index("ix_mail_outbox_thread", "mail_outbox")
    op.drop_index("ux_mail_outbox_response", "mail_outbox")
    with op.batch_alter_table("mail_outbox") as batch:
        batch.drop_column("kind")
