"""Engine, transactions and after-commit callbacks for the primary store (SQLite or PostgreSQL)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import QueuePool

from deskbase.core.walsync import WalSync

log = logging.getLogger(__name__)


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


class Tx:
    """One write transaction: the connection plus callbacks that run only after a successful commit."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self._after_commit: list[Callable[[], None]] = []
        self.changed_workspaces: dict[str, int] = {}
        self.commit_hooks_registered = False

    def after_commit(self, fn: Callable[[], None]) -> None:
        self._after_commit.append(fn)

    def note_change(self, workspace_id: str, seq: int) -> None:
        if seq > self.changed_workspaces.get(workspace_id, 0):
            self.changed_workspaces[workspace_id] = seq


class Database:
    """Owns the SQLAlchemy engine. Writers are serialised (one writer at a time on SQLite, and a transaction
    advisory lock on PostgreSQL) so change-log sequence numbers commit in order: the replicator and change
    feed can then trust that nothing below a seen seq is still in flight.

    On a SQLite file with `synchronous=FULL` and `group_commit` on (the defaults), durability comes from group
    commit (core/walsync.py): a transaction commits without its own fsync and is acknowledged after a shared
    fsync of the WAL, taken outside the write lock."""

    def __init__(self, url: str, sqlite_synchronous: str = "FULL", group_commit: bool = True) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        self.wal_sync: WalSync | None = None
        kwargs: dict[str, Any] = {"json_serializer": _json_dumps, "json_deserializer": orjson.loads}
        if self.is_sqlite:
            path = url.split("///", 1)[-1]
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
                if group_commit and sqlite_synchronous.upper() == "FULL":
                    self.wal_sync = WalSync(path + "-wal")
                    sqlite_synchronous = "NORMAL"
            kwargs.update(
                connect_args={"check_same_thread": False, "timeout": 30},
                poolclass=QueuePool,
                pool_size=8,
                max_overflow=16,
            )
        else:
            kwargs.update(pool_size=10, max_overflow=20, pool_pre_ping=True)
        self.engine: Engine = create_engine(url, **kwargs)
        self._write_lock = threading.Lock()
        if self.is_sqlite:
            self._install_sqlite_pragmas(sqlite_synchronous.upper())

    def _install_sqlite_pragmas(self, synchronous: str) -> None:
        if synchronous not in {"OFF", "NORMAL", "FULL", "EXTRA"}:
            raise ValueError(f"sqlite_synchronous must be OFF, NORMAL, FULL or EXTRA, not {synchronous!r}")

        @event.listens_for(self.engine, "connect")
        def _connect(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # we issue BEGIN ourselves (IMMEDIATE for writers)
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute(f"PRAGMA synchronous={synchronous}")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA cache_size=-65536")
            cur.execute("PRAGMA temp_store=MEMORY")
            cur.execute(
                "PRAGMA case_sensitive_like=ON"
            )  # `like` is case-sensitive everywhere; `ilike` is not
            cur.close()

        @event.listens_for(self.engine, "begin")
        def _begin(conn: Connection) -> None:
            mode = "IMMEDIATE" if conn.get_execution_options().get("deskbase_write") else "DEFERRED"
            conn.exec_driver_sql(f"BEGIN {mode}")

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read-only snapshot (SQLite WAL readers never block the writer)."""
        with self.engine.connect() as conn, conn.begin():
            yield conn

    @contextmanager
    def tx(self) -> Iterator[Tx]:
        """A write transaction; it returns once the commit is durable, and callbacks registered with
        `after_commit` run only if it commits."""
        ticket = 0
        with self._write_lock, self.engine.connect() as conn:
            conn = conn.execution_options(deskbase_write=True)
            t = Tx(conn)
            with conn.begin():
                if not self.is_sqlite:
                    conn.exec_driver_sql("SELECT pg_advisory_xact_lock(7243110)")
                yield t
            if self.wal_sync is not None:
                ticket = self.wal_sync.ticket()
        if ticket:
            self.wal_sync.wait(ticket)  # type: ignore[union-attr]
        for fn in t._after_commit:
            try:
                fn()
            except Exception:
                log.exception("after-commit callback failed")

    def dispose(self) -> None:
        self.engine.dispose()
