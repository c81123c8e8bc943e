"""What a user may do right now: their status and the grants of their roles, read once and kept briefly.

Every request of a user (a console session or a personal token) needs this, so it is cached for
`TOKEN_CACHE_SECONDS` like tokens are. Changes made through this process (suspension, a role or membership
change) drop the cached entries at once; another process sees them within that bound.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import and_, select
from sqlalchemy.engine import Connection

from deskbase.core.db import Database
from deskbase.core.errors import Unauthorized
from deskbase.core.grants import ANY, Grant
from deskbase.core.people_tables import memberships, roles, user_factors, users
from deskbase.core.roles import BUILT_IN, scoped
from deskbase.core.tables import workspaces

#: How long a user's access read from the store is trusted (the same bound as a token's).
ACCESS_CACHE_SECONDS = 1.0
SERVER_ADMIN_GRANTS: list[Grant] = [{"scope": {"workspaces": [ANY]}, "permissions": [ANY]}]
ACTIVE = "active"


@dataclass(frozen=True)
class Access:
    """A user as every request sees them: who they are and what their roles grant."""

    user_id: str
    email: str
    name: str
    time_zone: str
    server_admin: bool
    grants: tuple[Grant, ...]
    away: bool = False  #: their own away switch (core/agents.py)
    two_factor: bool = False  #: they switched on two-step sign-in (core/second_factor.py)
    #: the workspaces of theirs that require two-step sign-in (their `require_two_factor` setting)
    two_factor_required_by: tuple[str, ...] = ()

    @property
    def must_enrol(self) -> bool:
        """A workspace of theirs requires two-step sign-in and they have none yet: their console sessions
        reach only the enrolment pages until they set it up."""
        return bool(self.two_factor_required_by) and not self.two_factor


def requiring_two_factor(conn: Connection, user_id: str) -> tuple[str, ...]:
    """The user's workspaces whose settings require two-step sign-in (settings are JSON: checked here)."""
    rows = conn.execute(
        select(workspaces.c.id, workspaces.c.settings)
        .select_from(memberships.join(workspaces, workspaces.c.id == memberships.c.workspace_id))
        .where(memberships.c.user_id == user_id)
        .order_by(workspaces.c.id)
    ).all()
    return tuple(r.id for r in rows if (r.settings or {}).get("require_two_factor") is True)


def has_two_factor(conn: Connection, user_id: str) -> bool:
    row = conn.execute(select(user_factors.c.confirmed_at).where(user_factors.c.user_id == user_id)).first()
    return row is not None and row.confirmed_at is not None


def role_grants(conn: Connection, user_id: str) -> list[Grant]:
    """The grants of every membership of the user, each role scoped to its workspace (one query)."""
    m, r = memberships, roles
    rows = conn.execute(
        select(m.c.workspace_id, m.c.role, r.c.grants)
        .select_from(m.outerjoin(r, and_(r.c.workspace_id == m.c.workspace_id, r.c.name == m.c.role)))
        .where(m.c.user_id == user_id)
        .order_by(m.c.workspace_id)
    ).all()
    out: list[Grant] = []
    for row in rows:
        if row.role in BUILT_IN:
            out += scoped(row.workspace_id, BUILT_IN[row.role][1])
        elif row.grants:
            out += list(row.grants)
    return out


class AccessCache:
    def __init__(self, db: Database, monotonic: Callable[[], float] = time.monotonic) -> None:
        self.db = db
        self._monotonic = monotonic
        self._cache: dict[str, tuple[float, Access]] = {}
        self._lock = threading.Lock()

    def cached(self, user_id: str) -> Access | None:
        """The user's access when it is in memory and fresh (no store access: safe on the event loop)."""
        with self._lock:
            hit = self._cache.get(user_id)
        if hit is None or self._monotonic() - hit[0] >= ACCESS_CACHE_SECONDS:
            return None
        return hit[1]

    def get(self, user_id: str) -> Access:
        """The user's access, or Unauthorized when the user is gone or suspended."""
        found = self.cached(user_id)
        if found is not None:
            return found
        with self.db.read() as conn:
            row = conn.execute(select(users).where(users.c.id == user_id)).first()
            if row is None:
                raise Unauthorized("the user of this session or token no longer exists")
            if row.status != ACTIVE:
                raise Unauthorized("the user of this session or token is suspended")
            grants = SERVER_ADMIN_GRANTS if row.server_admin else role_grants(conn, user_id)
            required = requiring_two_factor(conn, user_id)
            enrolled = has_two_factor(conn, user_id)
        access = Access(
            row.id,
            row.email,
            row.name,
            row.time_zone,
            bool(row.server_admin),
            tuple(grants),
            bool(row.away),
            enrolled,
            required,
        )
        with self._lock:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[user_id] = (self._monotonic(), access)
        return access

    def forget(self, user_id: str | None = None) -> None:
        with self._lock:
            if user_id is None:
                self._cache.clear()
            else:
                self._cache.pop(user_id, None)
