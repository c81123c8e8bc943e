"""Single-ticket create over HTTP vs a bare FastAPI echo, same load generator, same run.

Each server is a real uvicorn process (one worker) on a free 127.0.0.1 port, started by bench/launcher.py.
The load is 16 keep-alive clients in a closed loop (wrk with a Lua script when installed, else the Python
generator in bench/loadgen.py), rotating through realistic ticket bodies, for a warm-up then a fixed window.

Rows: bare echo (sync `def` handler, the same dispatch path as deskbase's routes; ratios are against it),
bare echo (`async def`, for reference), deskbase POST /v1/workspaces/bench/records/tickets with the replicator
off, and with it on (the real default: the chDB replicator thread shares the process). The store is
pre-loaded with --size tickets so inserts hit realistically deep indexes.

    .venv/bin/python bench/http_create.py [--size N] [--full] [--duration S] [--loadgen wrk|python] [--json]
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any

import orjson
from common import WORKSPACE, Report, log, open_core, parser, scratch, server, size_of, token_of
from gen import create_bodies, ticket_batches
from loadgen import LoadResult, have_wrk
from loadgen import run as load

from deskbase.core.context import SYSTEM
from deskbase.core.ids import uuid7

CREATE_PATH = f"/v1/workspaces/{WORKSPACE}/records/tickets"


def preload(data_dir: Path, n: int) -> None:
    core = open_core(data_dir, "NORMAL")
    # a plain create load: the external-id import path is measured by import_batch.py
    for ops in ticket_batches(n, None, 1000, start=50_000_000, external=False):
        core.batch.run(WORKSPACE, ops, SYSTEM)
    core.close()


def in_process(data_dir: Path, bodies: list[dict[str, Any]]) -> tuple[float, float]:
    """Sequential single-ticket creates without HTTP: `core.records.create` and, as the floor the store
    allows, raw sqlite3 transactions writing the same two rows (record + change-log entry); FULL sync."""
    core = open_core(data_dir, "FULL")
    t0 = time.perf_counter()
    for b in bodies:
        core.records.create(WORKSPACE, "tickets", b, SYSTEM)
    core_rate = len(bodies) / (time.perf_counter() - t0)
    core.close()
    conn = sqlite3.connect(data_dir / "deskbase.db", isolation_level=None)
    conn.execute("PRAGMA synchronous=FULL")
    now = "2026-11-26 12:00:00.000000"
    t0 = time.perf_counter()
    for b in bodies:
        conn.execute("BEGIN IMMEDIATE")
        seq = conn.execute("SELECT max(seq) FROM changes").fetchone()[0] + 1
        rid, data = uuid7(), orjson.dumps(b["data"]).decode()
        conn.execute(
            "INSERT INTO changes (seq, workspace_id, entity, collection, entity_id, op, data, actor, actor_name, at)"
            " VALUES (?, ?, 'record', 'tickets', ?, 'create', ?, 'system', 'system', ?)",
            (seq, WORKSPACE, rid, data, now),
        )
        conn.execute(
            "INSERT INTO records (workspace_id, collection, id, data, version, deleted, created_at, updated_at,"
            " created_by, updated_by) VALUES (?, 'tickets', ?, ?, ?, 0, ?, ?, 'system', 'system')",
            (WORKSPACE, rid, data, seq, now, now),
        )
        conn.execute("COMMIT")
    raw_rate = len(bodies) / (time.perf_counter() - t0)
    conn.close()
    return core_rate, raw_rate


def count_tickets(data_dir: Path) -> int:
    with sqlite3.connect(data_dir / "deskbase.db") as c:
        return int(c.execute("SELECT count(*) FROM records WHERE collection = 'tickets'").fetchone()[0])


def main() -> None:
    p = parser(
        "single-ticket create over HTTP vs bare FastAPI echo", default_size=10_000, full_size=1_000_000
    )
    p.add_argument("--duration", type=float, default=10.0, help="measured seconds per server (default 10)")
    p.add_argument("--warmup", type=float, default=2.0, help="warm-up seconds per server (default 2)")
    p.add_argument("--clients", type=int, default=16)
    p.add_argument("--loadgen", choices=["auto", "wrk", "python"], default="auto")
    args = p.parse_args()
    n = size_of(args)
    tool = ("wrk" if have_wrk() else "python") if args.loadgen == "auto" else args.loadgen
    bodies = [orjson.dumps(b) for b in create_bodies(2000)]
    report = Report(
        "http_create",
        {"preloaded_tickets": n, "clients": args.clients, "duration_s": args.duration, "loadgen": tool},
    )
    runs: list[tuple[str, LoadResult]] = []

    def measure(label: str, port: int, path: str, token: str | None = None) -> LoadResult:
        log(f"{label}: {args.warmup:g} s warm-up + {args.duration:g} s with {args.clients} clients ({tool})")
        r = load(port, path, bodies, token, args.clients, args.duration, args.warmup, tool)
        if r.status_errors or r.socket_errors:
            log(f"  {label}: {r.status_errors} HTTP errors, {r.socket_errors} socket errors")
        runs.append((label, r))
        return r

    with scratch("http", args.keep) as root:
        data_dir = root / "store"
        if n:
            log(f"preloading {n:,} tickets")
        preload(data_dir, n)
        with server("echo") as port:
            echo = measure("FastAPI echo (def)", port, "/echo")
            measure("FastAPI echo (async def)", port, "/echo-async")
        before = count_tickets(data_dir)
        with server("deskbase", data_dir=data_dir) as port:
            off = measure("deskbase create, replicator off", port, CREATE_PATH, token_of(data_dir))
        after_off = count_tickets(data_dir)
        with server("deskbase", "--detach-sla", data_dir=data_dir) as port:
            measure("  attribution: same, SLA hook detached", port, CREATE_PATH, token_of(data_dir))
        log("starting deskbase with the replicator on (catching up on the preload first)")
        t0 = time.perf_counter()
        with server("deskbase", "--replicate", "--catch-up", data_dir=data_dir, startup=900) as port:
            log(f"  replica ready after {time.perf_counter() - t0:.1f} s")
            on = measure("deskbase create, replicator on", port, CREATE_PATH, token_of(data_dir))
        created = count_tickets(data_dir) - before
        expected_min = off.requests + on.requests  # + the attribution run's, which we do not need
        if created < expected_min:
            raise RuntimeError(f"only {created} tickets were stored for {expected_min} measured 201s")
        log("in-process reference: sequential creates through the core and raw sqlite3")
        core_rate, raw_rate = in_process(data_dir, create_bodies(2000, seed=99))

    rows: list[list[Any]] = []
    for label, r in runs:
        rows.append([label, r.requests, r.rps, r.p50_ms, r.p99_ms, r.status_errors, r.rps / echo.rps])
    report.table(
        f"POST, {args.clients} keep-alive clients, one uvicorn worker (ratio = req/s vs echo (def))",
        ["server", "requests", "req/s", "p50 ms", "p99 ms", "errors", "ratio"],
        rows,
    )
    report.table(
        "in-process reference: sequential single creates, no HTTP, synchronous=FULL",
        ["path", "creates/s", "ms each"],
        [
            ["core.records.create", core_rate, 1000 / core_rate],
            ["raw sqlite3 txn (record + change row)", raw_rate, 1000 / raw_rate],
        ],
    )
    report.check("create/echo req/s ratio (replicator off)", off.rps / echo.rps, ">=", 0.5)
    report.check("create/echo req/s ratio (replicator on)", on.rps / echo.rps, ">=", 0.5)
    report.check("create p99 ms (replicator off)", off.p99_ms, "<=", 50)
    report.check("create p99 ms (replicator on)", on.p99_ms, "<=", 50)
    report.note(
        f"{after_off - before:,} tickets stored by the replicator-off run (warm-up included); "
        "deskbase runs with synchronous=FULL (the default)"
    )
    report.emit(args.json)


if __name__ == "__main__":
    main()
