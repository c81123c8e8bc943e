"""Shared fixtures: a fresh real store per test (SQLite in tmp_path, or PostgreSQL when asked), a FixedClock,
an admin actor and an HTTP client against the real ASGI app."""

from __future__ import annotations

import os
import queue
import sqlite3
import tempfile
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from deskbase.analytics.service import Analytics
from deskbase.config import Settings
from deskbase.core import migrate
from deskbase.core.app import Deskbase
from deskbase.core.clock import FixedClock
from deskbase.core.context import SYSTEM, Actor
from deskbase.core.db import Database
from deskbase.server import build

REPO = Path(__file__).resolve().parents[1]
SEED = REPO.parent / "shared" / "seed"
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--postgres", action="store_true", help="also run store tests on PostgreSQL")


def pytest_configure(config: pytest.Config) -> None:
    """Temporary stores live in memory (/dev/shm) unless TMPDIR says otherwise: a commit's fsync there costs
    nothing, where this disk takes 3 to 4 ms each. Durability tests lose nothing by it: they kill processes, not
    the machine, and a killed process's writes survive in tmpfs as they do in the page cache. Servers and workers
    started by tests inherit it."""
    shm = Path("/dev/shm")
    if "TMPDIR" not in os.environ and shm.is_dir() and os.access(shm, os.W_OK):
        os.environ["TMPDIR"] = str(shm)
        tempfile.tempdir = None  # forget a temporary directory chosen before this ran


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Files holding a `slow` test run first: workers take whole files in this order, and a minute-long file
    picked up last would leave one worker running alone at the end."""
    slow = {item.path for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: item.path not in slow)


def postgres_url() -> str | None:
    return os.environ.get("DESKBASE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def _pg_available(url: str) -> str | None:
    try:
        import psycopg

        with psycopg.connect(url.replace("postgresql+psycopg", "postgresql"), connect_timeout=2):
            return None
    except Exception as exc:  # any failure means "not here"
        return f"PostgreSQL not reachable at {url}: {exc}"


#: The store `migrated_template` migrated once for this test process (servers in other processes copy it too).
MIGRATED_STORE: Path | None = None


def seed_store(data_dir: Path) -> None:
    """Give a server about to start in another process an already migrated store, as in-process stores get:
    a copy of this process's migrated store with a store id of its own (no-op if the store exists)."""
    target = data_dir / "deskbase.db"
    if MIGRATED_STORE is None or target.exists():
        return
    data_dir.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(MIGRATED_STORE) as source, sqlite3.connect(target) as copy:
        source.backup(copy)
        copy.execute("UPDATE meta SET value = ? WHERE key = 'store_id'", (uuid.uuid4().hex,))
    copy.close()


@pytest.fixture(scope="session", autouse=True)
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Migrating a new SQLite store runs every Alembic revision (about a third of a second) and most tests open
    a fresh store: each test process migrates one store and every new, empty SQLite store starts as a copy of
    it (the SQLite backup API, into the store's own connection) with a store id of its own. A store that
    already holds tables (the migration tests, reopened stores) takes the real upgrade, as do PostgreSQL and
    servers started in other processes."""
    global MIGRATED_STORE
    real_upgrade = migrate.upgrade
    template = tmp_path_factory.mktemp("migrated") / "deskbase.db"
    real_upgrade(Database(f"sqlite:///{template}"))
    MIGRATED_STORE = template

    def upgrade(db: Database) -> None:
        raw = db.engine.raw_connection() if db.is_sqlite else None
        try:
            target = raw.driver_connection if raw is not None else None
            if (
                not isinstance(target, sqlite3.Connection)
                or target.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
            ):
                real_upgrade(db)
                return
            with sqlite3.connect(template) as source:
                source.backup(target)
            target.execute("UPDATE meta SET value = ? WHERE key = 'store_id'", (uuid.uuid4().hex,))
        finally:
            if raw is not None:
                raw.close()

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(migrate, "upgrade", upgrade)
        yield


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(START)


@pytest.fixture
def actor() -> Actor:
    return SYSTEM


class _Dropper:
    """Drops finished tests' PostgreSQL databases on a thread of its own: a DROP DATABASE waits for the server to
    unlink every file (0.3 to 0.8 s here), and no test needs to wait for the one before it to be gone."""

    def __init__(self, url: str) -> None:
        import sqlalchemy as sa

        self.admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
        self.names: queue.Queue[str | None] = queue.Queue()
        self.thread = threading.Thread(target=self._run, name="pg-dropper", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while (name := self.names.get()) is not None:
            with self.admin.connect() as conn:
                conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def close(self) -> None:
        self.names.put(None)
        self.thread.join()
        self.admin.dispose()


@pytest.fixture(scope="session")
def pg_dropper() -> Iterator[_Dropper]:
    url = postgres_url()
    assert url
    dropper = _Dropper(url)
    yield dropper
    dropper.close()


@pytest.fixture(scope="session")
def pg_template(pg_dropper: _Dropper) -> Iterator[str]:
    """A PostgreSQL database migrated once per test process: each test's store is a copy of it (CREATE DATABASE
    … TEMPLATE, about 0.2 s, where running the migrations takes about 2.5 s)."""
    url = postgres_url()
    assert url
    reason = _pg_available(url)
    if reason:
        pytest.skip(reason)
    import sqlalchemy as sa

    name = "tmpl_" + uuid.uuid4().hex[:12]
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    db = Database(sa.make_url(url).set(database=name).render_as_string(hide_password=False))
    migrate.upgrade(db)
    db.dispose()
    yield name
    with admin.connect() as conn:
        conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Each store test runs on SQLite and on PostgreSQL (a fresh database per test, copied from the migrated
    template with a store id of its own), skipping PG when absent."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'deskbase.db'}"
        return
    template: str = request.getfixturevalue("pg_template")
    url = postgres_url()
    assert url
    import sqlalchemy as sa

    name = "t_" + uuid.uuid4().hex[:12]
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name} TEMPLATE {template}")
        # A test never outlives a crash of the PostgreSQL server (only of its own processes), so commits need not
        # wait for the server's WAL flush; what the store guarantees is its own, tested on SQLite with FULL sync.
        conn.exec_driver_sql(f"ALTER DATABASE {name} SET synchronous_commit = off")
    admin.dispose()
    test_url = sa.make_url(url).set(database=name).render_as_string(hide_password=False)
    eng = sa.create_engine(test_url)
    with eng.begin() as conn:
        conn.execute(sa.text("UPDATE meta SET value = :v WHERE key = 'store_id'"), {"v": uuid.uuid4().hex})
    eng.dispose()
    yield test_url
    request.getfixturevalue("pg_dropper").names.put(name)


@pytest.fixture
def core(tmp_path: Path, clock: FixedClock, store_url: str) -> Iterator[Deskbase]:
    app = Deskbase.open(Settings(data_dir=str(tmp_path), database_url=store_url), clock)
    from deskbase.support.install import install

    install(app)
    yield app
    app.close()


@pytest.fixture
def ws(core: Deskbase, actor: Actor) -> str:
    core.workspaces.put("acme", "Acme Support", None, actor)
    core.templates.apply("acme", "support", actor)
    return "acme"


class Api:
    """A thin wrapper over TestClient that adds the admin token and the workspace prefix."""

    def __init__(self, client: TestClient, token: str) -> None:
        self.client = client
        self.token = token

    def request(self, method: str, path: str, token: str | None = "default", **kw: Any) -> Any:
        headers = dict(kw.pop("headers", {}) or {})
        tok = self.token if token == "default" else token
        if tok:
            headers["Authorization"] = f"Bearer {tok}"
        return self.client.request(method, path, headers=headers, **kw)

    def get(self, path: str, **kw: Any) -> Any:
        return self.request("GET", path, **kw)

    def post(self, path: str, **kw: Any) -> Any:
        return self.request("POST", path, **kw)

    def put(self, path: str, **kw: Any) -> Any:
        return self.request("PUT", path, **kw)

    def patch(self, path: str, **kw: Any) -> Any:
        return self.request("PATCH", path, **kw)

    def delete(self, path: str, **kw: Any) -> Any:
        return self.request("DELETE", path, **kw)


@pytest.fixture
def api(tmp_path: Path, clock: FixedClock) -> Iterator[Api]:
    """The API without the SQL replica (fast); `sql_api` adds it."""
    core, app = build(Settings(data_dir=str(tmp_path), replicate=False, sla_scheduler=False), clock)
    raw, _ = core.tokens.ensure_admin_token(tmp_path)
    with TestClient(app, raise_server_exceptions=False) as client:
        a = Api(client, raw)
        a.core = core  # type: ignore[attr-defined]
        yield a


@pytest.fixture(scope="session")
def chdb_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """chDB opens one data path per process, so the whole test session shares one engine (and path)."""
    from tests.analytics._chdb import shared_engine

    yield shared_engine(tmp_path_factory)


@pytest.fixture
def sql_api(tmp_path: Path, clock: FixedClock, chdb_engine: Any) -> Iterator[Api]:
    """The API with the SQL replica on the shared engine; the replica resets itself for each new store."""
    yield from serve_sql_api(tmp_path, clock, chdb_engine)


def serve_sql_api(data_dir: Path, clock: FixedClock, chdb_engine: Any) -> Iterator[Api]:
    """`sql_api` for any scope: a module that only reads can share one server across its tests."""
    core, app = build(Settings(data_dir=str(data_dir), sla_scheduler=False), clock, engine=chdb_engine)
    raw, _ = core.tokens.ensure_admin_token(data_dir)
    with TestClient(app, raise_server_exceptions=False) as client:
        a = Api(client, raw)
        a.core = core  # type: ignore[attr-defined]
        a.analytics = app.state.core.extensions[Analytics]  # type: ignore[attr-defined]
        yield a


@pytest.fixture
def api_ws(api: Api) -> str:
    assert api.put("/v1/workspaces/acme", json={"name": "Acme Support"}).status_code == 201
    assert api.post("/v1/workspaces/acme/templates/support").status_code == 200
    return "acme"
