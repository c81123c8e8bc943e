"""Trigram search indexes for `x-search` fields: the FTS5 tables and their triggers (SQLite, filled from the
records already stored) or GIN `gin_trgm_ops` indexes (PostgreSQL), for every field that a stored collection
schema marks. Workspaces that applied the support template before it carried `x-search` get them by applying
it again (`deskbase template apply support`), which is idempotent.

Revision ID: 0007
"""

import json

import sqlalchemy as sa
from alembic import op

from deskbase.core.schemas import x_search_fields
from deskbase.core.search import IDENTIFIER, drop_search_indexes, ensure_search_index

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    conn = op.get_bind()
    fields: set[str] = set()
    for (schema,) in conn.execute(sa.text("SELECT json_schema FROM collections")):
        fields.update(x_search_fields(schema if isinstance(schema, dict) else json.loads(schema)))
    # Stored before x-search was checked, a schema may name any key: only identifiers become SQL names.
    for field in sorted(f for f in fields if IDENTIFIER.match(f)):
        ensure_search_index(conn, field)


def downgrade() -> None:
    """The pg_trgm extension stays (other objects may use it)."""
    drop_search_indexes(op.get_bind())
