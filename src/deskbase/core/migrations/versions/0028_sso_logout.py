"""Console sessions opened by single sign-on keep what signing out at the provider needs (sealed); a sign-in
under way names its provider (there can be several).

Revision ID: 0028
"""

import sqlalchemy as sa
from alembic import op

revision = "0028"
down_revision = "0027"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("console_sessions") as batch:
        batch.add_column(sa.Column("sso_logout", sa.Text(), nullable=True))
    with op.batch_alter_table("sso_logins") as batch:
        batch.add_column(sa.Column("provider", sa.String(40), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sso_logins") as batch:
        batch.drop_column("provider")
    with op.batch_alter_table("console_sessions") as batch:
        batch.drop_column("sso_logout")
