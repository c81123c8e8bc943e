"""The analytics facade used by adapters: the replica, the sandboxed SQL endpoint and stored queries."""

from __future__ import annotations

import logging
import shutil
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from deskbase.analytics.chdb_engine import ChdbEngine
from deskbase.analytics.ddl import Ddl
from deskbase.analytics.engine import Engine, EngineError, Limits
from deskbase.analytics.gate import SqlGate
from deskbase.analytics.guard import check_query
from deskbase.analytics.replica import Replica
from deskbase.analytics.replica_tables import TABLES, database_of
from deskbase.analytics.server import ServerEngine, http_connector, parse_server_url
from deskbase.analytics.sql import run_sql
from deskbase.config import Settings
from deskbase.core.app import Deskbase
from deskbase.core.errors import Forbidden, Unavailable
from deskbase.core.secrets import SecretBox

log = logging.getLogger(__name__)

#: How long the server's own queries (console dashboards) wait for a slot under the concurrency caps.
OWN_QUERY_WAIT = 15.0
#: Tables a workspace's SQL may read; the support domain adds its own (sla_instances, …) via `allow`.
BASE_TABLES = frozenset(TABLES)
#: The permission reading each table needs beside `sql`; any other table needs `read:records`.
TABLE_PERMISSIONS = {
    "relationships": "read:relationships",
    "collections": "read:collections",
    "relationship_types": "read:collections",
    "operations_log": "read:audit",
    "files": "read:files",
}


def table_check(may: Callable[[str], bool]) -> Callable[[frozenset[str]], None]:
    """Refuse (403, naming the table and permission) a query reading a table the caller may not read."""

    def check(tables: frozenset[str]) -> None:
        for table in sorted(tables):
            perm = TABLE_PERMISSIONS.get(table, "read:records")
            if not may(perm):
                raise Forbidden(
                    f"reading table {table!r} needs the {perm!r} permission over the whole workspace",
                    {"permission": perm, "table": table},
                )

    return check


def open_embedded_engine(path: Path) -> ChdbEngine:
    """Open chDB on `path`; a directory that cannot be opened is moved aside and replaced (then rebuilt)."""
    try:
        return ChdbEngine(str(path))
    except EngineError:
        raise
    except Exception as exc:  # chDB raises plain RuntimeErrors for a damaged directory
        aside = path.with_name(f"{path.name}.broken-{int(time.time())}")
        log.error(
            "cannot open the analytics replica at %s (%s); moving it to %s and rebuilding", path, exc, aside
        )
        shutil.move(str(path), str(aside))
        return ChdbEngine(str(path))


def sql_limits(s: Settings) -> Limits:
    """The SQL limits the settings give (a workspace user's profile caps exactly these on a server)."""
    return Limits(
        max_execution_time=s.sql_max_execution_seconds,
        max_memory_usage=s.sql_max_memory_bytes,
        max_result_rows=s.sql_max_result_rows,
        max_result_bytes=s.sql_max_result_bytes,
        max_threads=s.sql_max_threads,
    )


def open_server_engine(settings: Settings) -> ServerEngine:
    """The ClickHouse server of ``clickhouse_url``; a bad URL or an unreachable server is one clear
    Unavailable (the CLI prints it on one line), never a traceback."""
    try:
        target = parse_server_url(
            settings.clickhouse_url, settings.clickhouse_user, settings.clickhouse_password
        )
        ddl = Ddl(settings.clickhouse_cluster or None)
    except ValueError as exc:
        raise Unavailable(f"cannot use the ClickHouse server: {exc}") from None
    box = SecretBox.for_settings(settings.secret_key, settings.data_path)
    return ServerEngine(
        http_connector(target),
        ddl=ddl,
        passwords=box.derive if settings.clickhouse_workspace_users else None,
        limits=sql_limits(settings),
        label=f"ClickHouse server {target.describe()}",
    )


class Analytics:
    def __init__(self, core: Deskbase, engine: Engine) -> None:
        self.core = core
        self.engine = engine
        self.replica = Replica(core, engine)
        self.allowed_tables = set(BASE_TABLES)
        s = core.settings
        self.gate = SqlGate(
            s.sql_max_concurrent_per_token, s.sql_max_concurrent_per_workspace, s.sql_max_concurrent
        )
        self.limits()  # a limit set to 0 or less fails the start, not every query

    def allow(self, *tables: str) -> None:
        self.allowed_tables.update(tables)

    def limits(self) -> Limits:
        return sql_limits(self.core.settings)

    def sql(
        self,
        workspace_id: str,
        query: str,
        params: dict[str, Any] | None = None,
        limits: Limits | None = None,
        may: Callable[[str], bool] | None = None,
        caller: str | None = None,
    ) -> dict[str, Any]:
        """Run a user query on the workspace's replica after it has caught up with the workspace's writes.

        `may(permission)` answers for the caller; tables it may not read are refused before anything runs.
        `caller` (the token's id; None for the server's own queries) is counted against the concurrency caps
        until the engine has let go of the query, even after a timeout has been answered. A client's query
        over a cap is refused at once; the server's own (a dashboard's panels, loading together) wait for a
        slot, up to OWN_QUERY_WAIT seconds.
        """
        self.core.workspaces.get(workspace_id)
        wait = 0.0 if caller is not None else OWN_QUERY_WAIT
        with self.gate.admit(caller, workspace_id, wait) as ticket:
            self.replica.wait_for(workspace_id)
            self.replica.ensure_workspace(workspace_id)
            return run_sql(
                self.engine,
                database_of(workspace_id),
                workspace_id,
                query,
                params,
                limits or self.limits(),
                self.allowed_tables,
                request_id=uuid.uuid4().hex[:12],
                check_tables=table_check(may) if may is not None else None,
                ticket=ticket,
            )

    def check(self, workspace_id: str, query: str) -> None:
        """Run the sandbox's checks on a query without executing it (stored queries are checked on save).
        An unknown workspace is a 404 before anything is created in the replica."""
        self.core.workspaces.get(workspace_id)
        self.replica.ensure_workspace(workspace_id)
        check_query(self.engine, query, frozenset(self.allowed_tables), database=database_of(workspace_id))

    def start(self) -> None:
        self.replica.start()

    def close(self) -> None:
        self.replica.stop()
        self.engine.close()
