"""Engine, transactions and after-commit callbacks for the primary store (SQLite or PostgreSQL).

SQLite has one writer at a time (it is one file). PostgreSQL writers run concurrently: what keeps them
correct is in the transactions themselves (row locks taken where state is loaded, keyed locks from `Tx.lock`,
a whole-unit retry on a deadlock or a unique-key race: `Database.run`), and change-log consumers read below
the horizon (core/horizon.py), never past a change that may still commit with a lower seq.
"""

from __future__ import annotations

import hashlib
import logging
import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import orjson
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.pool import QueuePool

from deskbase.core import pipeline
from deskbase.core.errors import WriteConflict
from deskbase.core.horizon import Horizon
from deskbase.core.walsync import WalSync

if TYPE_CHECKING:
    from deskbase.core.entity_state import RecordState

log = logging.getLogger(__name__)
T = TypeVar("T")
#: SQLSTATEs that mean "two transactions met", not "this write is wrong": serialization failure, deadlock,
#: and a unique key another transaction took between our check and our insert (retrying sees its row).
CONTENTION = frozenset({"40001", "40P01", "23505"})
#: Attempts of one unit of work under contention (`Database.run`).
ATTEMPTS = 6
#: A pooled PostgreSQL connection idle longer than this is pinged before use (`_ping_when_idle`).
IDLE_PING_S = 5.0
#: Connections the record-number pool keeps open (PostgreSQL): each is held for one statement, but with
#: fewer than the writers drawing at once, every draw past them opened (forked a backend) and closed one.
NUMBER_POOL_SIZE = 8


def _json_dumps(value: Any) -> str:
    return orjson.dumps(value).decode()


class Tx:
    """One write transaction: the connection plus callbacks that run only after a successful commit."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self._after_commit: list[Callable[[], None]] = []
        self.changed_workspaces: dict[str, int] = {}
        #: Workspace rows a unit of work read in this transaction (`Records.begin`; on PostgreSQL only their
        #: `settings` and `schema_version`), dropped when the transaction changes the workspace's schema
        #: (core/lookups.py): what later in-transaction readers may reuse.
        self.workspace_rows: dict[str, Any] = {}
        #: The record states of the unit of work whose changes the in-transaction hooks are running for (loaded
        #: `FOR UPDATE` or written by it, current after its flush): what a hook may take instead of the rows.
        self.unit_records: Mapping[tuple[str, str], RecordState] = {}
        self.commit_hooks_registered = False

    def after_commit(self, fn: Callable[[], None]) -> None:
        self._after_commit.append(fn)

    def note_change(self, workspace_id: str, seq: int) -> None:
        if seq > self.changed_workspaces.get(workspace_id, 0):
            self.changed_workspaces[workspace_id] = seq

    def lock(self, name: str, shared: bool = False) -> None:
        """Hold the lock `name` until this transaction ends (PostgreSQL; SQLite's one writer holds them all).

        For what has no row to lock: a workspace's configuration (record writes hold it shared, changes to
        collections, relationship types, SLA settings… exclusively), a dedupe key not yet inserted, a blob."""
        if self.conn.dialect.name != "postgresql":
            return
        # Through the driver: often a write's first statement, sent in one round trip with its BEGIN.
        pipeline.run(self.conn, [lock_statement(name, shared)])


def lock_statement(name: str, shared: bool = False) -> tuple[str, tuple[int]]:
    """The PostgreSQL statement that takes `Tx.lock(name, shared)`, for callers that pipeline it."""
    key = int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "big", signed=True)
    fn = "pg_advisory_xact_lock_shared" if shared else "pg_advisory_xact_lock"
    return f"SELECT {fn}(%s)", (key,)


def _ping_when_idle(engine: Engine) -> None:
    """Check a pooled connection before use only when it sat idle (`IDLE_PING_S`), where a server restart or
    an idle timeout may have closed it: `pool_pre_ping` pings on every checkout, a round trip per write
    transaction and per drawn record number on a busy pool, whose connections were in use a moment ago
    (and a connection that fails in use is discarded with the pool's others by SQLAlchemy anyway)."""

    @event.listens_for(engine, "checkin")
    def _checkin(_dbapi_conn: Any, record: Any) -> None:
        record.info["deskbase_idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checkout(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        since = record.info.get("deskbase_idle_since")
        if since is None or time.monotonic() - since < IDLE_PING_S:
            return
        try:
            engine.dialect.do_ping(dbapi_conn)
        except Exception as exc:
            raise DisconnectionError("pooled connection closed while idle") from exc


def contention(exc: BaseException) -> bool:
    """Did PostgreSQL refuse a statement because another transaction got there first? (SQLAlchemy wraps the
    driver's error; the hot writes that go to the driver directly, core/bulk.py, raise it as it is.)"""
    orig = exc.orig if isinstance(exc, DBAPIError) else exc
    return getattr(orig, "sqlstate", None) in CONTENTION


class Database:
    """Owns the SQLAlchemy engine. On SQLite writers are serialised (one at a time, in-process lock and
    BEGIN IMMEDIATE), so change-log seqs commit in order. On PostgreSQL they are not: `horizon` tells
    consumers how far the log is final.

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
            kwargs.update(pool_size=10, max_overflow=20)
        self.engine: Engine = create_engine(url, **kwargs)
        if not self.is_sqlite:
            _ping_when_idle(self.engine)
            pipeline.install(self.engine)
        self._write_lock = threading.Lock() if self.is_sqlite else None
        self.horizon = Horizon(self.is_sqlite)
        self._autonomous: Engine | None = None
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
            # On the DB-API connection itself: SQLAlchemy's execution path costs many times the statement.
            conn.connection.driver_connection.execute(f"BEGIN {mode}")  # type: ignore[union-attr]

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read-only snapshot (SQLite WAL readers never block the writer)."""
        with self.engine.connect() as conn, conn.begin():
            yield conn

    @contextmanager
    def tx(self) -> Iterator[Tx]:
        """A write transaction; it returns once the commit is durable, and callbacks registered with
        `after_commit` run only if it commits. On PostgreSQL, contention (a deadlock, a unique key taken
        meanwhile) is raised as `WriteConflict`: `run` retries it, other callers answer 503 + Retry-After."""
        if self._write_lock is None:
            try:
                with self._tx(nullcontext()) as t:
                    yield t
            except Exception as exc:
                if contention(exc):
                    raise WriteConflict(
                        "a concurrent write got there first; retry", {"retry_after": 1}
                    ) from exc
                raise
            return
        with self._tx(self._write_lock) as t:
            yield t

    @contextmanager
    def _tx(self, lock: AbstractContextManager[Any]) -> Iterator[Tx]:
        """The transaction under `lock`; the durability wait (group commit) and the callbacks after it."""
        ticket = 0
        with lock, self.engine.connect() as conn:
            conn = conn.execution_options(deskbase_write=True)
            t = Tx(conn)
            with conn.begin():
                yield t
                if not self.is_sqlite:
                    pipeline.commit(conn)  # the deferred writes and COMMIT: their errors roll it back
            if self.wal_sync is not None:
                ticket = self.wal_sync.ticket()
        if ticket:
            self.wal_sync.wait(ticket)  # type: ignore[union-attr]
        for fn in t._after_commit:
            try:
                fn()
            except Exception:
                log.exception("after-commit callback failed")

    def run(self, work: Callable[[Tx], T]) -> T:
        """Run `work` in a write transaction, again from the start (a fresh transaction) when a concurrent
        writer made it fail (`WriteConflict`): `work` must do nothing outside the transaction it is given.
        Only PostgreSQL raises it; a few attempts with growing, jittered pauses settle any real contention."""
        for attempt in range(1, ATTEMPTS + 1):
            try:
                with self.tx() as tx:
                    return work(tx)
            except WriteConflict:
                if attempt == ATTEMPTS:
                    raise
                time.sleep(random.uniform(0, 0.002 * 2**attempt))
        raise AssertionError("unreachable")

    @contextmanager
    def autonomous(self) -> Iterator[Connection]:
        """A PostgreSQL connection whose every statement commits at once, apart from any caller's
        transaction: for counters that concurrent writers must not queue on until they commit (record
        numbers). Its own small pool, so a writer holding a connection never waits for one of its own pool.

        Its commits skip the WAL flush (`synchronous_commit=off`): a number is durable once the write that
        uses it commits, since that commit flushes the log up to and past it; a number whose write never
        commits is a gap either way."""
        if self._autonomous is None:
            engine = create_engine(
                self.url, pool_size=NUMBER_POOL_SIZE, max_overflow=8, isolation_level="AUTOCOMMIT"
            )
            _ping_when_idle(engine)

            @event.listens_for(engine, "connect")
            def _connect(dbapi_conn: Any, _record: Any) -> None:
                with dbapi_conn.cursor() as cur:
                    cur.execute("SET synchronous_commit = off")
                dbapi_conn.commit()  # a SET inside a transaction rolled back later would be undone

            self._autonomous = engine
        with self._autonomous.connect() as conn:
            yield conn

    def dispose(self) -> None:
        self.engine.dispose()
        if self._autonomous is not None:
            self._autonomous.dispose()
