"""Group commit on SQLite: a write is acknowledged only after an fsync of the WAL that began after its commit;
concurrent writes share fsyncs; a failing transaction fails alone."""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import text

from deskbase.config import Settings
from deskbase.core.app import Deskbase
from deskbase.core.db import Database
from deskbase.core.walsync import WalSync


@pytest.fixture
def store(tmp_path: Path) -> Database:
    db = Database(f"sqlite:///{tmp_path / 'g.db'}")
    with db.tx() as tx:
        tx.conn.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, who TEXT)"))
    return db


def test_every_acknowledged_write_was_covered_by_a_later_fsync(store: Database, tmp_path: Path) -> None:
    synced: set[int] = set()
    lock = threading.Lock()

    def slow_fsync(fd: int) -> None:
        """What is committed when the fsync starts is what it makes durable (a slow disk: 5 ms)."""
        with sqlite3.connect(tmp_path / "g.db") as c:
            ids = {r[0] for r in c.execute("SELECT id FROM t")}
        time.sleep(0.005)
        os.fsync(fd)
        with lock:
            synced.update(ids)

    assert store.wal_sync is not None
    store.wal_sync = WalSync(store.wal_sync.wal_path, fsync=slow_fsync)
    failures: list[str] = []

    def writer(base: int) -> None:
        for i in range(25):
            rid = base + i
            with store.tx() as tx:
                tx.conn.execute(text("INSERT INTO t (id, who) VALUES (:id, 'x')"), {"id": rid})
            with lock:
                if rid not in synced:
                    failures.append(f"{rid} acknowledged before an fsync covered it")

    threads = [threading.Thread(target=writer, args=(1000 * n,)) for n in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert failures == []
    assert len(synced) == 200
    assert 0 < store.wal_sync.syncs < 200  # grouped: the writes shared fsyncs


def test_a_failing_transaction_fails_alone(store: Database) -> None:
    errors: list[BaseException] = []

    def good(n: int) -> None:
        with store.tx() as tx:
            tx.conn.execute(text("INSERT INTO t (id, who) VALUES (:id, 'good')"), {"id": n})

    def bad() -> None:
        try:
            with store.tx() as tx:
                tx.conn.execute(text("INSERT INTO t (id, who) VALUES (500, 'bad')"))
                raise RuntimeError("this unit fails after writing")
        except RuntimeError as exc:
            errors.append(exc)

    threads = [threading.Thread(target=good, args=(n,)) for n in range(10)]
    threads.insert(5, threading.Thread(target=bad))
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert len(errors) == 1
    with store.read() as conn:
        rows = dict(conn.execute(text("SELECT id, who FROM t")).all())  # type: ignore[arg-type]
    assert rows == {n: "good" for n in range(10)}


def test_settings_choose_the_commit_mode(tmp_path: Path) -> None:
    """FULL (the default) is served by group commit on NORMAL connections; turning it off, or asking for
    another level, keeps SQLite's own per-commit behaviour."""
    cases = [
        (Settings(data_dir=str(tmp_path / "a")), True, 1),
        (Settings(data_dir=str(tmp_path / "b"), sqlite_group_commit=False), False, 2),
        (Settings(data_dir=str(tmp_path / "c"), sqlite_synchronous="NORMAL"), False, 1),
    ]
    for settings, grouped, level in cases:
        core = Deskbase.open(settings)
        try:
            assert (core.db.wal_sync is not None) is grouped
            with core.db.read() as conn:
                assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == level
        finally:
            core.close()
