"""Concurrent writers on PostgreSQL (no global write lock): change-log consumers never skip a change that
commits late with a lower seq, nor see one that rolled back; concurrent writes of one record lose nothing.

Writers here draw their seqs (flush) and then hold their transactions open for random times, committing or
rolling back in random order, so commits land far out of seq order while two real consumers read: the change
feed paged by cursor and the replicator (on the shared chDB engine)."""

from __future__ import annotations

import itertools
import random
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from deskbase.analytics.service import Analytics
from deskbase.config import Settings
from deskbase.core.app import Deskbase
from deskbase.core.context import SYSTEM
from deskbase.core.errors import PreconditionFailed
from deskbase.server import build

pytestmark = [pytest.mark.postgres, pytest.mark.parametrize("store_url", ["postgresql"], indirect=True)]

WS = "acme"
NOTES = {"type": "object", "properties": {"n": {"type": "integer"}, "items": {"type": "array"}}}
WRITERS = 12
EACH = 8


class Abort(Exception):
    """Raised inside a writer's transaction to roll it back."""


@pytest.fixture
def stack(tmp_path: Path, store_url: str, chdb_engine: Any) -> Iterator[tuple[Deskbase, Analytics]]:
    settings = Settings(data_dir=str(tmp_path), database_url=store_url, sla_scheduler=False, webhooks=False)
    core, _app = build(settings, engine=chdb_engine)
    analytics: Analytics = core.extensions[Analytics]
    core.workspaces.put(WS, "Acme", None, SYSTEM)
    core.templates.apply(WS, "support", SYSTEM)
    core.collections.upsert(WS, "notes", {"name": "Notes", "json_schema": NOTES}, SYSTEM)
    yield core, analytics
    analytics.replica.stop()
    core.close()


def _writer(
    core: Deskbase, n: int, committed: dict[int, str], rolled: set[int], lock: threading.Lock
) -> None:
    """Transactions that each create a note and, half of the time, a ticket too (numbers, SLA state), draw
    their seqs, then wait a random time and commit or roll back."""
    rng = random.Random(n)
    for k in range(EACH):
        mine: list[tuple[int, str]] = []
        try:
            with core.db.tx() as tx:
                uow = core.records.begin(tx, WS, SYSTEM)
                note, _ = uow.upsert_record("notes", {"n": n * 100 + k}, None)
                staged = [note]
                if rng.random() < 0.5:
                    ticket, _ = uow.upsert_record(
                        "tickets", {"subject": f"t{n}-{k}", "status": "open", "priority": "low"}, None
                    )
                    staged.append(ticket)
                uow.flush()  # seqs are drawn here; the commit comes later, in random order
                mine = [(st.version, st.id) for st in staged]
                time.sleep(rng.uniform(0, 0.06))
                if rng.random() < 0.3:
                    raise Abort
        except Abort:
            with lock:
                rolled.update(seq for seq, _ in mine)
            continue
        with lock:
            committed.update(mine)


def test_consumers_see_every_committed_change_once_whatever_the_commit_order(
    stack: tuple[Deskbase, Analytics],
) -> None:
    core, analytics = stack
    start = core.last_seq(WS)
    committed: dict[int, str] = {}
    rolled: set[int] = set()
    lock = threading.Lock()
    fed: list[int] = []
    done = threading.Event()
    errors: list[BaseException] = []

    def feed() -> None:
        """A change-feed client paging by cursor while the writers run (and until it has caught up)."""
        cursor = start
        try:
            while True:
                page = core.changes(WS, after=cursor, limit=7)
                fed.extend(e["seq"] for e in page["data"] if e["entity"] == "record")
                moved = page["next_after"] != cursor
                cursor = page["next_after"]
                # Caught up: nothing new, and the cursor is past the last committed change (a page may stop
                # short at the horizon while a transaction is still in flight; a client just reads again).
                if done.is_set() and not moved and cursor >= core.last_seq(WS):
                    return
        except BaseException as exc:  # reported by the test thread
            errors.append(exc)

    def replicate() -> None:
        try:
            while not done.is_set():
                analytics.replica.step(limit=5)
        except BaseException as exc:
            errors.append(exc)

    consumers = [threading.Thread(target=feed), threading.Thread(target=replicate)]
    writers = [
        threading.Thread(target=_writer, args=(core, n, committed, rolled, lock)) for n in range(WRITERS)
    ]
    for th in consumers + writers:
        th.start()
    for th in writers:
        th.join()
    done.set()
    for th in consumers:
        th.join(timeout=60)
    assert not errors, errors
    assert rolled and committed  # both outcomes happened
    assert not rolled & set(committed)

    # The live feed consumer: every committed record change exactly once, in seq order, nothing rolled back.
    assert fed == sorted(committed)

    # A reader paging from the start afterwards gets the same.
    cursor, again = start, []
    while True:
        page = core.changes(WS, after=cursor, limit=13)
        again += [e["seq"] for e in page["data"] if e["entity"] == "record"]
        if page["next_after"] == cursor and cursor >= core.last_seq(WS):
            break
        cursor = page["next_after"]
    assert again == sorted(committed)

    # The replicator stepped concurrently in small batches: it has every committed record, at its version.
    analytics.replica.catch_up()
    rows = analytics.sql(WS, "SELECT id, version FROM records FINAL WHERE collection IN ('notes', 'tickets')")
    assert {(r[1], r[0]) for r in rows["data"]} == set(committed.items())
    assert analytics.replica.verify() == []


def test_concurrent_writes_of_one_record_lose_nothing(stack: tuple[Deskbase, Analytics]) -> None:
    """8 threads patch their own key of one record (no If-Match: the row lock orders them) and append to one
    shared list (If-Match, retried on 412); versions only grow, one per change, in commit order."""
    core, _ = stack
    note, _ = core.records.create(WS, "notes", {"data": {"items": []}}, SYSTEM)
    rid, threads, rounds = note["id"], 8, 6
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            for k in range(rounds):
                core.records.patch(WS, "notes", rid, {f"w{n}": k}, SYSTEM)
                while True:
                    cur = core.records.get(WS, "notes", rid)
                    items = [*cur["data"]["items"], f"{n}.{k}"]
                    try:
                        core.records.patch(
                            WS, "notes", rid, {"items": items}, SYSTEM, if_match=cur["version"]
                        )
                        break
                    except PreconditionFailed:
                        continue
        except BaseException as exc:
            errors.append(exc)

    pool = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
    for th in pool:
        th.start()
    for th in pool:
        th.join()
    assert not errors, errors
    final = core.records.get(WS, "notes", rid)
    assert {f"w{n}": final["data"][f"w{n}"] for n in range(threads)} == {
        f"w{n}": rounds - 1 for n in range(threads)
    }
    assert sorted(final["data"]["items"]) == sorted(f"{n}.{k}" for n in range(threads) for k in range(rounds))
    history = core.records.history(WS, "notes", rid, limit=1000)
    seqs = [h["seq"] for h in history]
    assert len(seqs) == 1 + 2 * threads * rounds and seqs == sorted(seqs)
    assert final["version"] == seqs[-1]
    # Each list append was made on the version before it: the list grows by exactly one per change.
    lengths = [len(h["data"]["data"].get("items", [])) for h in history]
    assert all(b - a in (0, 1) for a, b in itertools.pairwise(lengths))


def test_concurrent_ticket_creates_get_distinct_numbers(stack: tuple[Deskbase, Analytics]) -> None:
    """Numbers are drawn without queueing creates behind each other: distinct, and a rolled-back create's
    number is a gap, never handed out twice."""
    core, _ = stack
    got: list[int] = []
    lock = threading.Lock()

    def create(n: int) -> None:
        for _ in range(5):
            rec, _ = core.records.create(
                WS, "tickets", {"data": {"subject": f"c{n}", "status": "open", "priority": "low"}}, SYSTEM
            )
            with lock:
                got.append(rec["number"])

    pool = [threading.Thread(target=create, args=(n,)) for n in range(8)]
    for th in pool:
        th.start()
    for th in pool:
        th.join()
    assert len(got) == 40 and len(set(got)) == 40


def test_a_change_in_flight_holds_the_horizon_until_it_commits(stack: tuple[Deskbase, Analytics]) -> None:
    """A transaction that drew a seq and has not committed holds every consumer below it, while a later
    change commits; once it commits, both arrive, in seq order."""
    core, analytics = stack
    start = core.last_seq(WS)
    analytics.replica.catch_up()
    with core.db.tx() as tx:
        uow = core.records.begin(tx, WS, SYSTEM)
        early, _ = uow.upsert_record("notes", {"n": 1}, None)
        uow.flush()
        # Nothing newer has completed yet: a snapshot would not even list this transaction as running.
        with core.db.read() as conn:
            final = core.db.horizon.seq(conn)
        assert final is not None and final < early.version
        late, _ = core.records.create(WS, "notes", {"data": {"n": 2}}, SYSTEM)
        assert late["version"] > early.version  # committed, above a seq still in flight
        with core.db.read() as conn:
            final = core.db.horizon.seq(conn)
        assert final is not None and final < early.version
        page = core.changes(WS, after=start, limit=10)  # waits a bounded time, then stops at the horizon
        assert [e["seq"] for e in page["data"] if e["entity"] == "record"] == []
        assert page["next_after"] < early.version
        analytics.replica.step()
        assert analytics.replica.watermark < early.version
    page = core.changes(WS, after=start, limit=10)
    assert [e["seq"] for e in page["data"] if e["entity"] == "record"] == [early.version, late["version"]]
    analytics.replica.catch_up()
    assert analytics.replica.watermark >= late["version"]
    rows = analytics.sql(WS, "SELECT version FROM records FINAL WHERE collection = 'notes' ORDER BY version")
    assert [r[0] for r in rows["data"]] == [early.version, late["version"]]
