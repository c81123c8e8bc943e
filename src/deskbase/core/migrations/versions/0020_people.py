"""People: users, workspace memberships and custom roles, invitations, password resets, the sign-in throttle;
tokens may belong to a user, and console sessions may be a user's (password sign-in) instead of a token's.

Revision ID: 0020
"""

import sqlalchemy as sa
from alembic import op

from deskbase.core.tables import JsonType, UtcDateTime

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("email", sa.String(254), nullable=False, unique=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("time_zone", sa.String(64), nullable=False),
        sa.Column("locale", sa.String(35), nullable=False),
        sa.Column("avatar_colour", sa.String(7), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("server_admin", sa.Boolean, nullable=False),
        sa.Column("password_hash", sa.Text, nullable=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
    )
    op.create_table(
        "memberships",
        sa.Column("workspace_id", sa.String(63), primary_key=True),
        sa.Column("user_id", sa.String(40), primary_key=True),
        sa.Column("role", sa.String(63), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
    )
    op.create_index("ix_memberships_user", "memberships", ["user_id"])
    op.create_table(
        "roles",
        sa.Column("workspace_id", sa.String(63), primary_key=True),
        sa.Column("name", sa.String(63), primary_key=True),
        sa.Column("description", sa.Text, nullable=True),
        sa.Column("grants", JsonType, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("updated_at", UtcDateTime(), nullable=False),
    )
    op.create_table(
        "invitations",
        sa.Column("id", sa.String(40), primary_key=True),
        sa.Column("workspace_id", sa.String(63), nullable=False),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("role", sa.String(63), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created_by", sa.String(64), nullable=True),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
        sa.Column("accepted_at", UtcDateTime(), nullable=True),
        sa.Column("accepted_by", sa.String(40), nullable=True),
    )
    op.create_index("ix_invitations_workspace", "invitations", ["workspace_id", "email"])
    op.create_table(
        "password_resets",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.String(40), nullable=False),
        sa.Column("created_at", UtcDateTime(), nullable=False),
        sa.Column("expires_at", UtcDateTime(), nullable=False),
        sa.Column("used_at", UtcDateTime(), nullable=True),
    )
    op.create_index("ix_password_resets_user", "password_resets", ["user_id"])
    op.create_table(
        "signin_failures",
        sa.Column("key", sa.String(80), primary_key=True),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("last_failure_at", UtcDateTime(), nullable=False),
        sa.Column("blocked_until", UtcDateTime(), nullable=True),
    )
    op.create_index("ix_signin_failures_last", "signin_failures", ["last_failure_at"])
    with op.batch_alter_table("tokens") as batch:
        batch.add_column(sa.Column("user_id", sa.String(40), nullable=True))
        batch.create_index("ix_tokens_user", ["user_id"])
    with op.batch_alter_table("console_sessions") as batch:
        batch.alter_column("token_id", existing_type=sa.String(64), nullable=True)
        batch.add_column(sa.Column("user_id", sa.String(40), nullable=True))
        batch.create_index("ix_console_sessions_user", ["user_id"])


def downgrade() -> None:
    op.execute("DELETE FROM console_sessions WHERE token_id IS NULL")
    with op.batch_alter_table("console_sessions") as batch:
        batch.drop_index("ix_console_sessions_user")
        batch.drop_column("user_id")
        batch.alter_column("token_id", existing_type=sa.String(64), nullable=False)
    with op.batch_alter_table("tokens") as batch:
        batch.drop_index("ix_tokens_user")
        batch.drop_column("user_id")
    for index, table in (
        ("ix_signin_failures_last", "signin_failures"),
        ("ix_password_resets_user", "password_resets"),
        ("ix_invitations_workspace", "invitations"),
        ("ix_memberships_user", "memberships"),
    ):
        op.drop_index(index, table)
    for table in ("signin_failures", "password_resets", "invitations", "roles", "memberships", "users"):
        op.drop_table(table)
