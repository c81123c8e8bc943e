"""The link indexes carry the other end: `ix_rel_source` ends in (target_collection, target_id, deleted) and
`ix_rel_target` in (source_collection, source_id, deleted). Going from a record to what it is linked to then
reads the index alone, where each link cost a lookup in the relationships table too: searching words across
a ticket's messages and customer (support/ticket_words.py) walks thousands of links per query at 100k tickets.

Revision ID: 0030
"""

from alembic import op

revision = "0030"
down_revision = "0029"
branch_labels = None
depends_on = None

SOURCE = ["workspace_id", "source_collection", "source_id", "rel_type"]
TARGET = ["workspace_id", "target_collection", "target_id", "rel_type"]


def upgrade() -> None:
    op.drop_index("ix_rel_source", table_name="relationships")
    op.create_index("ix_rel_source", "relationships", [*SOURCE, "target_collection", "target_id", "deleted"])
    op.drop_index("ix_rel_target", table_name="relationships")
    op.create_index("ix_rel_target", "relationships", [*TARGET, "source_collection", "source_id", "deleted"])


def downgrade() -> None:
    for name, columns in (("ix_rel_source", SOURCE), ("ix_rel_target", TARGET)):
        op.drop_index(name, table_name="relationships")
        op.create_index(name, "relationships", columns)
