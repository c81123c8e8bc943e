"""Human record numbers (`#1042`) for collections marked `"x-numbered": true`: a nullable `number` column,
unique per workspace and collection, and the counter each numbered collection draws from.

Revision ID: 0010
"""

import sqlalchemy as sa
from alembic import op

from deskbase.core.tables import SeqType

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A plain ADD COLUMN (batch mode would rebuild `records` on SQLite, and its search triggers with it).
    op.add_column("records", sa.Column("number", SeqType, nullable=True))
    op.create_index("ux_records_number", "records", ["workspace_id", "collection", "number"], unique=True)
    op.create_table(
        "record_numbers",
        sa.Column("workspace_id", sa.String(63), primary_key=True),
        sa.Column("collection", sa.String(63), primary_key=True),
        sa.Column("last", SeqType, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("record_numbers")
    op.drop_index("ux_records_number", "records")
    op.execute("ALTER TABLE records DROP COLUMN number")  # SQLite >= 3.35 and PostgreSQL, no table rebuild
