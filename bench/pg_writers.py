"""Ticket creates per second on PostgreSQL with concurrent writers: 1, 4 and 8 writer threads through the
core service in one process, the same 8 writers spread over 2 and 4 processes (each its own interpreter
and its own `Deskbase` on the store: the N API processes the design recommends, without HTTP), and 1 and 2
API processes (`deskbase serve --no-background`, replicator off) under the same HTTP load, all on one fresh
schema in the same run.

Each in-process writer is a thread calling `core.records.create` on the support template's `tickets` (a
numbered collection with SLA upkeep: the full write path) in a closed loop for a fixed window after a
warm-up. A labelled extra row runs 8 writers through one process-wide lock, as every write was before
PostgreSQL writers ran concurrently (the ratio the change bought). After the run every acknowledged create
is checked to be stored, with a distinct number.

    .venv/bin/python bench/pg_writers.py [--duration S] [--clients N] [--no-http] [--json]

PostgreSQL: DESKBASE_BENCH_POSTGRES_URL (default postgresql://postgres@127.0.0.1:5432/test); a schema of its
own per run, dropped afterwards.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa
from common import PG_URL, WORKSPACE, Report, free_port, log, parser, scratch, setup_workspace, wait_http
from gen import create_bodies
from loadgen import LoadResult, have_wrk
from loadgen import run as load

from deskbase.config import Settings
from deskbase.core.app import Deskbase
from deskbase.core.context import SYSTEM
from deskbase.support.install import install

CREATE_PATH = f"/v1/workspaces/{WORKSPACE}/records/tickets"
WRITERS = (1, 4, 8)
#: The 8 writers spread over this many processes (8 / n threads each).
PROCESSES = (2, 4)


@contextmanager
def fresh_schema(url: str) -> Iterator[str]:
    """A schema of this run's own; yields the store URL that selects it."""
    base = url.replace("postgresql://", "postgresql+psycopg://", 1)
    schema = "bench_pgw_" + uuid.uuid4().hex[:10]
    eng = sa.create_engine(base)
    with eng.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    sep = "&" if "?" in base else "?"
    try:
        yield f"{base}{sep}options=-csearch_path%3D{schema}"
    finally:
        with eng.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        eng.dispose()


def writers_rate(
    core: Deskbase, bodies: list[dict[str, Any]], threads: int, warmup: float, duration: float, serial: bool
) -> tuple[float, int, float, list[str]]:
    """Creates per second of `threads` closed-loop writers over the measured window, how many, this process's
    CPU milliseconds per create (one interpreter: its threads share one core for Python, so 1000 / that is the
    most this process can do however many threads write), and the ids acknowledged."""
    gate = threading.Lock() if serial else None
    stop, counting = threading.Event(), threading.Event()
    counts = [0] * threads
    acked: list[list[str]] = [[] for _ in range(threads)]

    def create(body: dict[str, Any]) -> str:
        if gate is None:
            return str(core.records.create(WORKSPACE, "tickets", body, SYSTEM)[0]["id"])
        with gate:
            return str(core.records.create(WORKSPACE, "tickets", body, SYSTEM)[0]["id"])

    def run(n: int) -> None:
        i = n
        while not stop.is_set():
            rid = create(bodies[i % len(bodies)])
            i += threads
            acked[n].append(rid)
            if counting.is_set():
                counts[n] += 1

    pool = [threading.Thread(target=run, args=(n,)) for n in range(threads)]
    for th in pool:
        th.start()
    time.sleep(warmup)
    counting.set()
    t0, cpu0 = time.perf_counter(), time.process_time()
    time.sleep(duration)
    counting.clear()
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - cpu0
    stop.set()
    for th in pool:
        th.join()
    n = sum(counts)
    return n / elapsed, n, 1000 * cpu / max(1, n), [rid for part in acked for rid in part]


def _process_writers(
    url: str, data_dir: str, threads: int, warmup: float, duration: float, start: Any, out: Any
) -> None:
    """One writer process: its own Deskbase on the store, `threads` writers, its window opened together with
    the other processes' (`start`, a barrier); puts (creates, CPU ms per create, acknowledged ids)."""
    core = Deskbase.open(Settings(data_dir=data_dir, database_url=url, replicate=False))
    install(core)
    bodies = create_bodies(4000)
    start.wait()
    _rate, n, cpu_ms, ids = writers_rate(core, bodies, threads, warmup, duration, False)
    core.close()
    out.put((n, cpu_ms, ids))


def processes_rate(
    url: str, root: Path, processes: int, writers: int, warmup: float, duration: float
) -> tuple[float, int, float, list[str]]:
    """`writers` closed-loop writers spread over `processes` processes (spawned: each a fresh interpreter),
    measured over one shared window: summed creates per second, how many, the mean CPU ms per create of the
    writer processes, and the ids acknowledged."""
    ctx = mp.get_context("spawn")
    start, out = ctx.Barrier(processes), ctx.Queue()
    procs = [
        ctx.Process(
            target=_process_writers,
            args=(url, str(root / f"proc{i}"), writers // processes, warmup, duration, start, out),
        )
        for i in range(processes)
    ]
    for proc in procs:
        proc.start()
    results = [out.get(timeout=300 + warmup + duration) for _ in procs]
    for proc in procs:
        proc.join()
        if proc.exitcode:
            raise RuntimeError(f"a writer process failed (exit {proc.exitcode})")
    n = sum(r[0] for r in results)
    cpu_ms = sum(r[0] * r[1] for r in results) / max(1, n)
    return n / duration, n, cpu_ms, [rid for r in results for rid in r[2]]


@contextmanager
def api_processes(n: int, url: str, data_dir: Path) -> Iterator[list[int]]:
    """n processes of `deskbase serve --no-background` on one store (replicator off); yields their ports."""
    procs: list[tuple[subprocess.Popen[bytes], int]] = []
    try:
        for _ in range(n):  # one after the other: the first mints the admin token the others then find
            port = free_port()
            env = {
                **os.environ,
                "DESKBASE_DATA_DIR": str(data_dir),
                "DESKBASE_DATABASE_URL": url,
                "DESKBASE_REPLICATE": "false",
                "DESKBASE_PORT": str(port),
                "DESKBASE_LOG_LEVEL": "warning",
            }
            proc = subprocess.Popen(
                [sys.executable, "-m", "deskbase.cli.main", "serve", "--no-background"],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            procs.append((proc, port))
            wait_http(port, timeout=120)
        yield [port for _, port in procs]
    finally:
        for proc, _ in procs:
            proc.terminate()
        for proc, _ in procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def spread_load(
    ports: list[int], bodies: list[bytes], token: str, clients: int, warmup: float, duration: float, tool: str
) -> tuple[float, float, float, int]:
    """The same closed-loop load split over the processes (clients / n each, at once); summed req/s, the
    worst p50 and p99, and the errors."""
    results: list[LoadResult] = []
    lock = threading.Lock()

    def one(port: int) -> None:
        r = load(port, CREATE_PATH, bodies, token, clients // len(ports), duration, warmup, tool)
        with lock:
            results.append(r)

    pool = [threading.Thread(target=one, args=(p,)) for p in ports]
    for th in pool:
        th.start()
    for th in pool:
        th.join()
    errors = sum(r.status_errors + r.socket_errors for r in results)
    return (
        sum(r.rps for r in results),
        max(r.p50_ms for r in results),
        max(r.p99_ms for r in results),
        errors,
    )


def stored(core: Deskbase, ids: list[str]) -> tuple[int, int]:
    """How many of the acknowledged ids are stored, and how many distinct numbers all tickets have."""
    with core.db.read() as conn:
        found = conn.exec_driver_sql(
            "SELECT count(*) FROM records WHERE workspace_id = %s AND collection = 'tickets' AND id = ANY(%s)",
            (WORKSPACE, ids),
        ).scalar_one()
        numbers, rows = conn.exec_driver_sql(
            "SELECT count(DISTINCT number), count(*) FROM records WHERE workspace_id = %s AND collection = 'tickets'",
            (WORKSPACE,),
        ).one()
    return int(found), int(numbers) - int(rows)


def main() -> None:
    p = parser(
        "ticket creates on PostgreSQL with 1/4/8 writers, 8 over 2/4 processes, and 1/2 API processes", 0, 0
    )
    p.add_argument("--duration", type=float, default=8.0, help="measured seconds per row (default 8)")
    p.add_argument("--warmup", type=float, default=2.0, help="warm-up seconds per row (default 2)")
    p.add_argument("--clients", type=int, default=16, help="HTTP clients in total (default 16)")
    p.add_argument("--loadgen", choices=["auto", "wrk", "python"], default="auto")
    p.add_argument("--no-http", action="store_true", help="skip the HTTP rows (API processes)")
    args = p.parse_args()
    tool = ("wrk" if have_wrk() else "python") if args.loadgen == "auto" else args.loadgen
    report = Report(
        "pg_writers",
        {"duration_s": args.duration, "clients": args.clients, "loadgen": tool, "store": "postgresql"},
    )
    bodies = create_bodies(4000)
    with scratch("pg_writers", args.keep) as root, fresh_schema(PG_URL) as url:
        core = Deskbase.open(Settings(data_dir=str(root / "core"), database_url=url, replicate=False))
        install(core)
        setup_workspace(core, WORKSPACE)
        rows: list[list[Any]] = []
        rates: dict[str, float] = {}
        acked: list[str] = []
        runs: list[tuple[str, int, bool]] = [(f"{w} writer{'s' if w > 1 else ''}", w, False) for w in WRITERS]
        runs.append(("  reference: 8 writers through one lock (as before)", 8, True))
        for label, threads, serial in runs:
            log(f"in-process, {label}: {args.warmup:g} s warm-up + {args.duration:g} s")
            rate, n, cpu_ms, ids = writers_rate(core, bodies, threads, args.warmup, args.duration, serial)
            acked += ids
            rates[label] = rate
            rows.append([label, threads, n, rate, cpu_ms, rate / rates["1 writer"]])
        for procs in PROCESSES:
            label = f"8 writers over {procs} processes"
            log(f"{label}: {args.warmup:g} s warm-up + {args.duration:g} s")
            rate, n, cpu_ms, ids = processes_rate(url, root, procs, 8, args.warmup, args.duration)
            acked += ids
            rates[label] = rate
            rows.append([label, 8 // procs, n, rate, cpu_ms, rate / rates["1 writer"]])
        found, duplicates = stored(core, acked)
        report.table(
            "ticket creates through the core service (threads per process; CPU ms/create of the writing "
            "processes; ratio vs 1 writer)",
            ["writers", "threads", "creates", "creates/s", "CPU ms/create", "ratio"],
            rows,
        )
        if found != len(acked) or duplicates:
            raise RuntimeError(
                f"{len(acked) - found} acknowledged creates missing, {duplicates} numbers twice"
            )
        report.note(
            f"all {len(acked):,} acknowledged in-process creates are stored, each with its own number"
        )
        core.close()
        if args.no_http:
            report_writers(report, rates, args.json)
            return

        wire = [orjson.dumps(b) for b in bodies]
        http_rows: list[list[Any]] = []
        http: dict[int, float] = {}
        for n in (1, 2):
            with api_processes(n, url, root / "api") as ports:
                token = (root / "api" / "admin-token").read_text().strip()
                log(
                    f"HTTP, {n} API process(es), {args.clients} clients: {args.warmup:g} s + {args.duration:g} s"
                )
                rps, p50, p99, errors = spread_load(
                    ports, wire, token, args.clients, args.warmup, args.duration, tool
                )
            http[n] = rps
            http_rows.append([n, rps, p50, p99, errors, rps / http[1]])
        report.table(
            f"POST …/records/tickets over HTTP, {args.clients} keep-alive clients split over the processes "
            "(serve --no-background, replicator off; ratio vs 1 process)",
            ["API processes", "req/s", "p50 ms", "p99 ms", "errors", "ratio"],
            http_rows,
        )
    report_writers(report, rates, args.json)


def report_writers(report: Report, rates: dict[str, float], as_json: bool) -> None:
    """The target checks (8 writers vs 1, in one process and over processes) and the report itself."""
    for label in ("8 writers", *(f"8 writers over {n} processes" for n in PROCESSES)):
        report.check(f"{label} vs 1 writer (creates/s)", rates[label] / rates["1 writer"], ">=", 3.0)
    report.note(
        f"8 concurrent writers vs the same 8 through one lock: "
        f"{rates['8 writers'] / rates['  reference: 8 writers through one lock (as before)']:.2f}x"
    )
    report.emit(as_json)


if __name__ == "__main__":
    main()
