"""The CPU cost of one write, in process: a ticket create, a status PATCH and an `add_response`, beside a raw
sqlite3 transaction writing a record row and a change-log row (the floor the store allows).

Figures are CPU milliseconds per write (`time.process_time`, the best of `--rounds`), Python function calls
per write (counted by cProfile) and SQL statements per write (SQLite's trace callback, BEGIN and COMMIT
included; an executemany counts once, as do the steps of triggers such as the search index's) — the last two
deterministic: they do not move with how
busy the machine is, so a change to the write path can be compared before/after on a shared machine, where
wall-clock rates are skewed. The store
is the support template's (validation, numbering, change log, SLA upkeep), `synchronous=FULL` with group
commit (the default), pre-loaded with `--size` tickets.

    .venv/bin/python bench/write_cpu.py [--size N] [--writes N] [--rounds N] [--json]
"""

from __future__ import annotations

import cProfile
import pstats
import random
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
from common import WORKSPACE, Report, log, open_core, parser, scratch, size_of
from gen import create_bodies, ticket_batches
from sqlalchemy import event

from deskbase.core.context import SYSTEM
from deskbase.core.ids import uuid7
from deskbase.support.tickets import add_response

Write = Callable[[int], Any]


def cpu_ms(write: Write, n: int, offset: int) -> float:
    t0 = time.process_time()
    for i in range(n):
        write(offset + i)
    return (time.process_time() - t0) / n * 1000.0


def calls(write: Write, n: int, offset: int) -> float:
    prof = cProfile.Profile()
    prof.enable()
    for i in range(n):
        write(offset + i)
    prof.disable()
    return pstats.Stats(prof).total_calls / n  # type: ignore[attr-defined,no-any-return]


class Statements:
    """Counts the statements SQLite runs on every connection of the core's engine (and the raw writer's)."""

    def __init__(self, engine: Any) -> None:
        self.n = 0
        self._last = ""
        event.listen(engine, "connect", lambda dbapi_conn, _record: self.watch(dbapi_conn))
        engine.dispose()  # pooled connections come back through "connect", traced

    def watch(self, conn: sqlite3.Connection) -> None:
        conn.set_trace_callback(self._one)

    def _one(self, sql: str) -> None:
        # A trigger's steps are traced as "-- …", and its statement again after each: one statement still.
        if sql.startswith("--"):
            return
        if sql != self._last:
            self.n += 1
        self._last = sql

    def per_write(self, write: Write, n: int, offset: int) -> float:
        before = self.n
        for i in range(n):
            write(offset + i)
        return (self.n - before) / n


def raw_writer(path: Path, bodies: list[dict[str, Any]]) -> tuple[sqlite3.Connection, Write]:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA synchronous=FULL")

    def write(i: int) -> None:
        conn.execute("BEGIN IMMEDIATE")
        seq = conn.execute("SELECT max(seq) FROM changes").fetchone()[0] + 1
        rid, data = uuid7(), orjson.dumps(bodies[i % len(bodies)]["data"]).decode()
        now = "2026-11-26 12:00:00.000000"
        conn.execute(
            "INSERT INTO changes (seq, workspace_id, entity, collection, entity_id, op, data, actor, actor_name,"
            " at) VALUES (?, ?, 'record', 'tickets', ?, 'create', ?, 'system', 'system', ?)",
            (seq, WORKSPACE, rid, data, now),
        )
        conn.execute(
            "INSERT INTO records (workspace_id, collection, id, data, version, deleted, created_at, updated_at,"
            " created_by, updated_by) VALUES (?, 'tickets', ?, ?, ?, 0, ?, ?, 'system', 'system')",
            (WORKSPACE, rid, data, seq, now, now),
        )
        conn.execute("COMMIT")

    return conn, write


def main() -> None:
    p = parser("CPU per write in process: create, PATCH, add_response", default_size=2_000, full_size=100_000)
    p.add_argument("--writes", type=int, default=300, help="writes of each kind per round (default 300)")
    p.add_argument("--rounds", type=int, default=3, help="rounds, the best kept (default 3)")
    args = p.parse_args()
    n, k = size_of(args), args.writes
    report = Report("write_cpu", {"preloaded_tickets": n, "writes": k, "rounds": args.rounds})
    with scratch("write_cpu", args.keep) as root:
        core = open_core(root, "FULL")
        log(f"preloading {n:,} tickets")
        for ops in ticket_batches(n, None, 1000, start=60_000_000, external=False):
            core.batch.run(WORKSPACE, ops, SYSTEM)
        bodies = create_bodies(k * (args.rounds + 1) + 300, seed=7)
        ids = [core.records.create(WORKSPACE, "tickets", b, SYSTEM)[0]["id"] for b in bodies[:200]]
        rng = random.Random(7)
        order = [rng.randrange(len(ids)) for _ in range(k)]
        statuses = ("open", "pending")
        writes: dict[str, Write] = {
            "create": lambda i: core.records.create(WORKSPACE, "tickets", bodies[200 + i], SYSTEM),
            "status PATCH": lambda i: core.records.patch(
                WORKSPACE, "tickets", ids[order[i % k]], {"data": {"status": statuses[i // k % 2]}}, SYSTEM
            ),
            "add_response": lambda i: add_response(
                core,
                WORKSPACE,
                ids[order[i % k]],
                {"body": f"reply {i}", "author": "agent@example.com"},
                SYSTEM,
            ),
        }
        conn, raw = raw_writer(root / "deskbase.db", bodies)
        writes["raw sqlite3 txn (record + change row)"] = raw
        best = {name: float("inf") for name in writes}
        for r in range(args.rounds):
            log(f"round {r + 1}/{args.rounds}")
            for name, write in writes.items():  # interleaved, so a busy spell skews every kind alike
                best[name] = min(best[name], cpu_ms(write, k, r * k))
        counted = {name: calls(write, 50, args.rounds * k) for name, write in writes.items()}
        traced = Statements(core.db.engine)
        traced.watch(conn)
        stmts = {name: traced.per_write(write, 50, args.rounds * k + 50) for name, write in writes.items()}
        conn.close()
        core.close()
    floor = best["raw sqlite3 txn (record + change row)"]
    report.table(
        "CPU per write in process (best of rounds), synchronous=FULL",
        ["write", "CPU ms", "Python calls", "SQL statements", "ratio to raw txn"],
        [[name, best[name], counted[name], stmts[name], best[name] / floor] for name in writes],
    )
    report.emit(args.json)


if __name__ == "__main__":
    main()
