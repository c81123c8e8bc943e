"""SLA configuration (versioned calendars and policies) and derived SLA state.

Revision ID: 0003
"""

from alembic import op

from deskbase.core.tables import sla_config, sla_escalations, sla_events, sla_instances, sla_tickets

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# These tables are new in this revision, so their definitions in tables.py are the revision's own; a later
# change to any of them gets an explicit migration of its own.
TABLES = (sla_config, sla_tickets, sla_instances, sla_events, sla_escalations)


def upgrade() -> None:
    bind = op.get_bind()
    for table in TABLES:
        table.create(bind)


def downgrade() -> None:
    bind = op.get_bind()
    for table in reversed(TABLES):
        table.drop(bind)
