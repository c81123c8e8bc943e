"""Per-workspace access on a ClickHouse server: the second wall behind the SQL guard.

Each workspace database ``ws_<id>`` gets a user ``deskbase_ws_<id>`` that may only SELECT from that database,
and a settings profile of the same name that carries the SQL limits with constraints: the profile's values
are maxima the user may lower (the sandbox's own per-query settings do) but never raise, so a query the guard
wrongly let through still cannot lift a limit, write, or read another workspace.

``readonly = 2`` and not 1: with 1 the server refuses every setting sent with a query, including the
per-query limits and the output format settings (UTC, ISO dates) the API's result shape depends on; with 2
writes and DDL stay refused, and the constraints below keep the limits where they are. ``readonly`` itself
cannot be changed by a readonly=2 user.

The password is derived from the server's secret key (HMAC-SHA256 of the user name), so every deskbase
process sharing ``DESKBASE_SECRET_KEY`` signs in as the workspace user without a stored copy, and the server
only ever sees its SHA-256 (``IDENTIFIED WITH sha256_hash``): the plaintext is in no statement and no log.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from deskbase.analytics.ddl import Ddl
from deskbase.analytics.engine import Limits
from deskbase.analytics.replica_tables import IDENT, qi

USER_PREFIX = "deskbase_"
#: Settings the profile pins as maxima (each is one of Limits' settings).
_CAPPED = (
    "max_execution_time",
    "max_memory_usage",
    "max_result_rows",
    "max_result_bytes",
    "max_rows_to_read",
    "max_threads",
    "max_block_size",
)


def user_of(database: str) -> str:
    """The read-only user of a workspace database (also its settings profile's name)."""
    if not IDENT.match(database):
        raise ValueError(f"invalid database name {database!r}")
    return USER_PREFIX + database


@dataclass(frozen=True)
class Login:
    """Who a client signs in as: the administrative user (``user`` None: the configured one) or a workspace's."""

    user: str | None = None
    password: str = ""
    database: str | None = None

    def __repr__(self) -> str:
        return f"Login(user={self.user!r}, database={self.database!r})"


def profile_settings(limits: Limits) -> dict[str, str]:
    """The profile's values: the limits with one row more than the cap (the API reports ``truncated``)."""
    settings = limits.settings()
    return {name: settings[name] for name in _CAPPED} | {"readonly": "2", "allow_ddl": "0"}


def _literal(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def workspace_access(database: str, password: str, limits: Limits, ddl: Ddl) -> list[str]:
    """Statements creating (or bringing up to date) the workspace's profile, user and grant, in order.

    ``CREATE … OR REPLACE`` keeps them current when the limits or the secret key change; the grant is
    re-issued (granting twice is a no-op).
    """
    user = user_of(database)
    digest = hashlib.sha256(password.encode()).hexdigest()
    values = profile_settings(limits)
    parts = [
        f"{name} = {value} {f'MAX {value}' if name in _CAPPED else 'CONST'}" for name, value in values.items()
    ]
    on = ddl.on_cluster
    return [
        f"CREATE SETTINGS PROFILE OR REPLACE {qi(user)}{on} SETTINGS {', '.join(parts)}",
        f"CREATE USER OR REPLACE {qi(user)}{on} IDENTIFIED WITH sha256_hash BY {_literal(digest)} "
        f"DEFAULT DATABASE {qi(database)} SETTINGS PROFILE {_literal(user)}",
        f"REVOKE{on} ALL ON *.* FROM {qi(user)}",
        f"GRANT{on} SELECT ON {qi(database)}.* TO {qi(user)}",
    ]


def drop_workspace_access(database: str, ddl: Ddl) -> list[str]:
    """Statements removing the workspace's user and profile (when its workspace is deleted)."""
    user = user_of(database)
    on = ddl.on_cluster
    return [f"DROP USER IF EXISTS {qi(user)}{on}", f"DROP SETTINGS PROFILE IF EXISTS {qi(user)}{on}"]
