"""Each workspace carries `schema_version`: the change seq of the last change to it, its collections or its
relationship types, so every process can tell with the one workspace read a write already makes whether the
collection and relationship-type rows it cached are still current (core/lookups.py).

Revision ID: 0029
"""

import sqlalchemy as sa
from alembic import op

revision = "0029"
down_revision = "0028"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("workspaces") as batch:
        batch.add_column(
            sa.Column(
                "schema_version",
                sa.Integer().with_variant(sa.BigInteger(), "postgresql"),
                nullable=False,
                server_default="0",
            )
        )
    op.execute("UPDATE workspaces SET schema_version = version")


def downgrade() -> None:
    with op.batch_alter_table("workspaces") as batch:
        batch.drop_column("schema_version")
