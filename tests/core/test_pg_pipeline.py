"""PostgreSQL writes whose answer is not read are deferred and sent in one pipeline (core/pipeline.py): a unit
of work stays atomic whichever of its statements fails, contention on a deferred write is still retried, and
the pools (no ping per checkout) replace a connection the server closed while it sat idle."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from deskbase.config import Settings
from deskbase.core import bulk
from deskbase.core import db as dbmod
from deskbase.core.app import Deskbase
from deskbase.core.context import SYSTEM
from deskbase.core.errors import WriteConflict
from deskbase.support.install import install

pytestmark = [pytest.mark.postgres, pytest.mark.parametrize("store_url", ["postgresql"], indirect=True)]

WS = "acme"
NOTES = {"type": "object", "properties": {"n": {"type": "integer"}}}


@pytest.fixture
def core(tmp_path: Path, store_url: str) -> Iterator[Deskbase]:
    app = Deskbase.open(Settings(data_dir=str(tmp_path), database_url=store_url, replicate=False))
    install(app)
    app.workspaces.put(WS, "Acme", None, SYSTEM)
    app.templates.apply(WS, "support", SYSTEM)
    app.collections.upsert(WS, "notes", {"name": "Notes", "json_schema": NOTES}, SYSTEM)
    yield app
    app.close()


def _traces(core: Deskbase, rid: str) -> int:
    """Rows a record left: its record row and its change-log entries."""
    with core.db.read() as conn:
        return int(
            conn.exec_driver_sql(
                "SELECT (SELECT count(*) FROM records WHERE id = %s) + (SELECT count(*) FROM changes "
                "WHERE entity_id = %s)",
                (rid, rid),
            ).scalar_one()
        )


@pytest.mark.parametrize(
    ("row", "error"),
    [
        (("store_id", "taken"), WriteConflict),  # a unique key: contention, answered 503 / retried
        ((None, "no key"), Exception),  # a NOT NULL violation: a plain failure
    ],
)
def test_a_failing_deferred_write_rolls_back_the_whole_unit(
    core: Deskbase, row: tuple[str | None, str], error: type[Exception]
) -> None:
    with pytest.raises(error), core.db.tx() as tx:
        uow = core.records.begin(tx, WS, SYSTEM)
        ticket, _ = uow.upsert_record("tickets", {"subject": "s", "status": "open", "priority": "low"}, None)
        uow.flush()  # change-log, record and SLA rows queued
        bulk.execute(tx.conn, "INSERT INTO meta (key, value) VALUES (%s, %s)", row, defer=True)
    assert _traces(core, ticket.id) == 0
    with core.db.read() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM sla_tickets").scalar_one() == 0
    # the pool's connections are clean: the next unit commits
    note, created = core.records.create(WS, "notes", {"data": {"n": 1}}, SYSTEM)
    assert created and _traces(core, note["id"]) == 2


def test_a_deferred_write_fails_the_statement_after_it_not_a_later_one(core: Deskbase) -> None:
    """The queue goes out before the next statement, so a read in the same transaction never runs past a
    write that failed (it would answer from a transaction PostgreSQL has already aborted)."""
    with pytest.raises(Exception, match="null value"), core.db.tx() as tx:
        bulk.execute(tx.conn, "INSERT INTO meta (key, value) VALUES (%s, %s)", (None, "x"), defer=True)
        tx.conn.exec_driver_sql("SELECT 1")
        pytest.fail("the read ran after a failed write")


def test_concurrent_creates_of_one_id_retry_into_replaces(core: Deskbase) -> None:
    """Writers creating the same record id meet on its unique key, now at the deferred insert sent just
    before commit: the loser's unit runs again and replaces the winner's record, nothing is lost."""
    rid = "note-1"
    results: list[bool] = []
    errors: list[BaseException] = []
    gate = threading.Barrier(6)

    def write(n: int) -> None:
        gate.wait()
        try:
            _, created = core.records.create(WS, "notes", {"id": rid, "data": {"n": n}}, SYSTEM)
            results.append(created)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(6)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == [] and sorted(results) == [False] * 5 + [True]
    with core.db.read() as conn:
        versions = conn.exec_driver_sql(
            "SELECT count(*) FROM changes WHERE entity_id = %s", (rid,)
        ).scalar_one()
    assert versions == 6


def test_a_connection_closed_while_idle_is_replaced(core: Deskbase, monkeypatch: pytest.MonkeyPatch) -> None:
    """No ping per checkout: a connection idle past IDLE_PING_S is pinged, and one the server closed is
    replaced before the write uses it (the write and its record number succeed)."""
    core.records.create(
        WS, "tickets", {"data": {"subject": "a", "status": "open", "priority": "low"}}, SYSTEM
    )
    monkeypatch.setattr(dbmod, "IDLE_PING_S", 0.0)
    admin = sa.create_engine(core.db.url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        killed = conn.exec_driver_sql(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
        ).scalar_one()
    admin.dispose()
    assert killed >= 2  # the store's pool and the record-number pool
    ticket, created = core.records.create(
        WS, "tickets", {"data": {"subject": "b", "status": "open", "priority": "low"}}, SYSTEM
    )
    assert created and ticket["number"] == 2


def test_a_transaction_committed_by_sqlalchemy_itself_sends_its_deferred_writes(core: Deskbase) -> None:
    """Deferred writes in a transaction that is not a `Database.tx` (committed by SQLAlchemy directly) are
    sent before its commit, not dropped."""
    with core.db.engine.connect() as conn, conn.begin():
        bulk.execute(
            conn, "INSERT INTO meta (key, value) VALUES (%s, %s)", ("pipeline_probe", "1"), defer=True
        )
    with core.db.read() as conn:
        value = conn.exec_driver_sql("SELECT value FROM meta WHERE key = 'pipeline_probe'").scalar_one()
    assert value == "1"
