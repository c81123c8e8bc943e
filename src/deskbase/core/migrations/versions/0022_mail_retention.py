"""Indexes for pruning old mail bookkeeping (mail_retention_days): finished outbound messages by status and
age, skip-log entries and acknowledgement marks by age.

Revision ID: 0022
"""

from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_mail_outbox_finished", "mail_outbox", ["status", "updated_at"])
    op.create_index("ix_mail_skipped_at", "mail_skipped", ["at"])
    op.create_index("ix_mail_acks_last", "mail_acks", ["last_at"])


def downgrade() -> None:
    op.drop_index("ix_mail_acks_last", "mail_acks")
    op.drop_index("ix_mail_skipped_at", "mail_skipped")
    op.drop_index("ix_mail_outbox_finished", "mail_outbox")
