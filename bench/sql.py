"""The seed's four SQL queries on the live chDB replica vs the engine's typed limit and PostgreSQL JSONB;
replica catch-up throughput; SQL read-your-writes lag under a steady write load.

Data: tickets (--size), customers (size/5), one submitted_by link per ticket, and a status patch on 10% of
the tickets (so the ReplacingMergeTree holds real duplicates), written through `core.batch.run` and
replicated by `Replica.catch_up` — which merges the parts after a backlog (`Replica.compact`, timed apart).

Compared, interleaved query by query in one run (median ms):
* live, endpoint: `Analytics.sql` (read-your-writes wait + guard + read-only run) with the seed text verbatim;
* live, engine:   the same text straight to `engine.query_readonly` (no guard), to split the costs;
* typed:          the same data in typed columns (MergeTree, merged, no FINAL) in another database of the
                  same chDB engine — the engine's limit;
* PostgreSQL:     JSONB tables in a scratch schema on 127.0.0.1:5432 (skipped with a message when absent).

Then the parts steady writes leave: --steady-steps replication steps of --steady-rows status updates on tickets
scattered over the key range, the queries on them, and again after the replicator's periodic merge.

    .venv/bin/python bench/sql.py [--size N] [--full] [--runs R] [--catchup N] [--no-pg] [--json]
                                  [--steady-steps N] [--steady-rows N]
"""

from __future__ import annotations

import random
import sqlite3
import threading
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from common import (
    PG_URL,
    SEED_QUERIES,
    WORKSPACE,
    Report,
    log,
    parser,
    percentile,
    scratch,
    setup_workspace,
    size_of,
)
from gen import SEED, batches, customer_op, customers, ticket_batches, ticket_data

from deskbase.analytics.engine import Limits
from deskbase.analytics.replica import database_of
from deskbase.analytics.service import Analytics
from deskbase.core.context import SYSTEM
from deskbase.core.errors import ReplicaLagging

QUERIES = {
    "Q1 agent_workload": "agent_workload",
    "Q2 open_tickets_by_priority": "open_tickets_by_priority",
    "Q3 tickets_by_category_and_channel": "tickets_by_category_and_channel",
    "Q4 tickets_by_customer_plan": "tickets_by_customer_plan",
}
TYPED_DB = "bench_typed"
FIELDS = ("status", "priority", "category", "channel", "assignee", "plan")
LIMITS = Limits(max_execution_time=120.0, max_memory_usage=8 * 1024**3, max_result_rows=10_000)

TYPED = {
    "agent_workload": """
        SELECT assignee AS agent, count() AS active_tickets, countIf(priority = 'urgent') AS urgent_count
        FROM records
        WHERE workspace_id = {workspace_id:String} AND collection = 'tickets' AND deleted = false
          AND status IN ('open', 'in_progress')
        GROUP BY agent ORDER BY active_tickets DESC""",
    "open_tickets_by_priority": """
        SELECT priority, count() AS ticket_count
        FROM records
        WHERE workspace_id = {workspace_id:String} AND collection = 'tickets' AND deleted = false
          AND status IN ('open', 'in_progress', 'waiting')
        GROUP BY priority ORDER BY ticket_count DESC""",
    "tickets_by_category_and_channel": """
        SELECT category, channel, count() AS ticket_count
        FROM records
        WHERE workspace_id = {workspace_id:String} AND collection = 'tickets' AND deleted = false
        GROUP BY category, channel ORDER BY ticket_count DESC""",
    "tickets_by_customer_plan": """
        WITH ticket_customers AS (
            SELECT source_id AS ticket_id, target_id AS customer_id FROM relationships
            WHERE workspace_id = {workspace_id:String} AND rel_type = 'submitted_by' AND deleted = false)
        SELECT c.plan AS plan, count() AS ticket_count
        FROM records t
        JOIN ticket_customers tc ON tc.ticket_id = t.id
        JOIN records c ON c.id = tc.customer_id AND c.workspace_id = {workspace_id:String} AND c.deleted = false
        WHERE t.workspace_id = {workspace_id:String} AND t.collection = 'tickets' AND t.deleted = false
        GROUP BY plan ORDER BY ticket_count DESC""",
}

POSTGRES = {
    "agent_workload": """
        SELECT data->>'assignee' AS agent, count(*) AS active_tickets,
               count(*) FILTER (WHERE data->>'priority' = 'urgent') AS urgent_count
        FROM records
        WHERE workspace_id = %(ws)s AND collection = 'tickets' AND NOT deleted
          AND data->>'status' IN ('open', 'in_progress')
        GROUP BY 1 ORDER BY active_tickets DESC""",
    "open_tickets_by_priority": """
        SELECT data->>'priority' AS priority, count(*) AS ticket_count
        FROM records
        WHERE workspace_id = %(ws)s AND collection = 'tickets' AND NOT deleted
          AND data->>'status' IN ('open', 'in_progress', 'waiting')
        GROUP BY 1 ORDER BY ticket_count DESC""",
    "tickets_by_category_and_channel": """
        SELECT data->>'category' AS category, data->>'channel' AS channel, count(*) AS ticket_count
        FROM records
        WHERE workspace_id = %(ws)s AND collection = 'tickets' AND NOT deleted
        GROUP BY 1, 2 ORDER BY ticket_count DESC""",
    "tickets_by_customer_plan": """
        WITH ticket_customers AS (
            SELECT source_id AS ticket_id, target_id AS customer_id FROM relationships
            WHERE workspace_id = %(ws)s AND rel_type = 'submitted_by' AND NOT deleted)
        SELECT c.data->>'plan' AS plan, count(*) AS ticket_count
        FROM records t
        JOIN ticket_customers tc ON tc.ticket_id = t.id
        JOIN records c ON c.id = tc.customer_id AND c.workspace_id = %(ws)s AND NOT c.deleted
        WHERE t.workspace_id = %(ws)s AND t.collection = 'tickets' AND NOT t.deleted
        GROUP BY 1 ORDER BY ticket_count DESC""",
}

RYW_QUERY = "SELECT count() FROM records FINAL WHERE id = {id:String} AND deleted = false"


# ---- loading -------------------------------------------------------------------------------------------


def open_live(data_dir: Path) -> tuple[Any, Analytics]:
    """The core and the analytics service exactly as `deskbase serve` wires them (`deskbase.server.build`:
    the support domain, its derived SLA tables registered on the replica), minus HTTP and background
    threads, which the measurements start themselves."""
    from deskbase.config import Settings
    from deskbase.server import build

    core, app = build(Settings(data_dir=str(data_dir), sqlite_synchronous="NORMAL", replicate=True))
    setup_workspace(core, WORKSPACE)
    analytics: Analytics = app.state.core.extensions[Analytics]
    return core, analytics


def load_primary(core: Any, n_tickets: int, n_customers: int, update_every: int) -> tuple[int, list[str]]:
    """Customers, then tickets each with its submitted_by link, then a status patch on every
    `update_every`-th ticket. Returns the number of operations written and the tickets' ids."""
    ids: list[str] = []
    for ops in batches((customer_op(c, external=False) for c in customers(n_customers)), 1000):
        ids += [r["record"]["id"] for r in core.batch.run(WORKSPACE, ops, SYSTEM)["results"]]
    written = n_customers
    patch_ids: list[str] = []
    ticket_ids: list[str] = []
    for ops in ticket_batches(n_tickets, ids, 1000, external=False):
        out = core.batch.run(WORKSPACE, ops, SYSTEM)["results"]
        patch_ids += [r["record"]["id"] for r in out[:: 2 * update_every]]
        ticket_ids += [r["record"]["id"] for r in out[::2]]
        written += len(ops)
        if written // 200_000 != (written - len(ops)) // 200_000:
            log(f"  {written:,} operations written")
    rng = random.Random(SEED)
    statuses = ("in_progress", "waiting", "resolved", "closed")
    patches = (
        {"type": "patch_record", "collection": "tickets", "id": rid, "data": {"status": rng.choice(statuses)}}
        for rid in patch_ids
    )
    for ops in batches(patches, 1000):
        core.batch.run(WORKSPACE, ops, SYSTEM)
    return written + len(patch_ids), ticket_ids


def steady_writes(core: Any, analytics: Analytics, ticket_ids: list[str], steps: int, per_step: int) -> None:
    """What the background replicator leaves while agents work: `steps` replication steps, each of
    `per_step` status patches on tickets spread over the whole key range (ClickHouse merges as it likes)."""
    rng = random.Random(SEED + 11)
    statuses = ("open", "in_progress", "waiting", "resolved", "closed")
    for _ in range(steps):
        ops = [
            {
                "type": "patch_record",
                "collection": "tickets",
                "id": rid,
                "data": {"status": rng.choice(statuses)},
            }
            for rid in rng.sample(ticket_ids, per_step)
        ]
        core.batch.run(WORKSPACE, ops, SYSTEM)
        analytics.replica.step()


def build_typed(engine: Any, source_db: str) -> None:
    engine.execute(f"DROP DATABASE IF EXISTS {TYPED_DB}")
    engine.execute(f"CREATE DATABASE {TYPED_DB}")
    cols = ", ".join(f"{f} Nullable(String)" for f in FIELDS)
    engine.execute(
        f"CREATE TABLE {TYPED_DB}.records (workspace_id String, collection LowCardinality(String), id String, "
        f"deleted Bool, version UInt64, {cols}) ENGINE = MergeTree ORDER BY (workspace_id, collection, id)"
    )
    engine.execute(
        f"CREATE TABLE {TYPED_DB}.relationships (workspace_id String, id String, "
        "rel_type LowCardinality(String), source_id String, target_id String, deleted Bool, version UInt64) "
        "ENGINE = MergeTree ORDER BY (workspace_id, rel_type, source_id, id)"
    )
    sel = ", ".join(f"data.{f}.:String" for f in FIELDS)
    engine.execute(
        f"INSERT INTO {TYPED_DB}.records SELECT workspace_id, collection, id, deleted, version, {sel} "
        f"FROM {source_db}.records FINAL"
    )
    engine.execute(
        f"INSERT INTO {TYPED_DB}.relationships SELECT workspace_id, id, rel_type, source_id, target_id, "
        f"deleted, version FROM {source_db}.relationships FINAL"
    )
    for table in ("records", "relationships"):
        engine.execute(f"OPTIMIZE TABLE {TYPED_DB}.{table} FINAL")


def active_parts(engine: Any, db: str) -> str:
    """Active parts of the replica's big tables, e.g. 'records 7, relationships 5'."""
    rows = engine.execute(
        "SELECT table, count() FROM system.parts WHERE database = {db:String} AND active "
        "AND table IN ('records', 'relationships') GROUP BY table ORDER BY table",
        {"db": db},
    ).rows
    return ", ".join(f"{t} {int(n)}" for t, n in rows)


class Postgres:
    """The same final state in PostgreSQL JSONB, in a scratch schema dropped on close."""

    def __init__(self, url: str) -> None:
        import psycopg

        self.conn = psycopg.connect(url, autocommit=True, connect_timeout=3)
        self.schema = f"deskbase_bench_{int(time.time())}"
        self.conn.execute(f"CREATE SCHEMA {self.schema}")
        self.conn.execute(f"SET search_path = {self.schema}")
        # "tuned": memory for hash aggregates and joins, parallel workers, no JIT compile on every run
        for s in ("work_mem = '256MB'", "max_parallel_workers_per_gather = 2", "jit = off"):
            self.conn.execute(f"SET {s}")

    def load(self, db_file: Path) -> int:
        c = self.conn
        c.execute(
            "CREATE TABLE records (workspace_id text, collection text, id text, data jsonb, deleted boolean, "
            "PRIMARY KEY (workspace_id, collection, id))"
        )
        c.execute(
            "CREATE TABLE relationships (workspace_id text, id text, rel_type text, source_id text, "
            "target_id text, deleted boolean, PRIMARY KEY (workspace_id, id))"
        )
        n = 0
        with sqlite3.connect(db_file) as src:
            with (
                c.cursor() as cur,
                cur.copy("COPY records (workspace_id, collection, id, data, deleted) FROM STDIN") as copy,
            ):
                for ws, coll, rid, data, deleted in src.execute(
                    "SELECT workspace_id, collection, id, data, deleted FROM records WHERE workspace_id = ?",
                    (WORKSPACE,),
                ):
                    copy.write_row((ws, coll, rid, data, bool(deleted)))
                    n += 1
            with (
                c.cursor() as cur,
                cur.copy(
                    "COPY relationships (workspace_id, id, rel_type, source_id, target_id, deleted) FROM STDIN"
                ) as copy,
            ):
                for row in src.execute(
                    "SELECT workspace_id, id, rel_type, source_id, target_id, deleted FROM relationships "
                    "WHERE workspace_id = ?",
                    (WORKSPACE,),
                ):
                    copy.write_row((*row[:5], bool(row[5])))
                    n += 1
        c.execute("CREATE INDEX ON relationships (workspace_id, rel_type, source_id)")
        c.execute("VACUUM ANALYZE records")
        c.execute("VACUUM ANALYZE relationships")
        return n

    def query(self, name: str) -> list[tuple[Any, ...]]:
        return self.conn.execute(POSTGRES[name], {"ws": WORKSPACE}).fetchall()

    def close(self) -> None:
        self.conn.execute(f"DROP SCHEMA IF EXISTS {self.schema} CASCADE")
        self.conn.close()


def postgres_or_reason(url: str) -> tuple[Postgres | None, str | None]:
    try:
        return Postgres(url), None
    except Exception as exc:  # any failure means "no PostgreSQL here": the benchmark says so and goes on
        return None, f"PostgreSQL skipped ({url}): {str(exc).splitlines()[0] if str(exc) else exc!r}"


def _norm(rows: list[Any]) -> list[tuple[str, ...]]:
    return sorted(tuple("" if v is None else str(v) for v in r) for r in rows)


# ---- measurements ----------------------------------------------------------------------------------------


def seed_sql(name: str) -> str:
    return (SEED_QUERIES / f"{name}.sql").read_text()


def compare_queries(
    analytics: Analytics, pg: Postgres | None, runs: int, check: bool = True
) -> tuple[dict[str, dict[str, list[float]]], dict[str, bool]]:
    """Median-ready timings of every side; `check` compares the sides' answers (off once the live replica
    has moved on from the typed copy)."""
    eng = analytics.engine
    db = database_of(WORKSPACE)
    params = {"workspace_id": WORKSPACE}

    def endpoint(text: str) -> list[Any]:
        return list(analytics.sql(WORKSPACE, text, None, LIMITS)["data"])

    def engine_rows(text: str, database: str) -> list[Any]:
        return eng.query_readonly(text, params, LIMITS, database=database).rows

    sides: dict[str, dict[str, Callable[[], list[Any]]]] = {}
    for label, name in QUERIES.items():
        text = seed_sql(name)
        sides[label] = {
            "endpoint": partial(endpoint, text),
            "engine": partial(engine_rows, text, db),
            "typed": partial(engine_rows, TYPED[name], TYPED_DB),
        }
        if pg is not None:
            sides[label]["postgres"] = partial(pg.query, name)
    agree: dict[str, bool] = {}
    for label, fns in sides.items():  # warm-up, and the results must agree
        results = {k: _norm(fn()) for k, fn in fns.items()}
        agree[label] = all(r == results["engine"] for r in results.values())
        if check and not agree[label]:
            log(f"  {label}: results differ between sides: { {k: v[:3] for k, v in results.items()} }")
    times: dict[str, dict[str, list[float]]] = {q: {k: [] for k in fns} for q, fns in sides.items()}
    for r in range(runs):
        for label, fns in sides.items():
            for side, fn in fns.items():
                t0 = time.perf_counter()
                fn()
                times[label][side].append((time.perf_counter() - t0) * 1000)
        log(f"  round {r + 1}/{runs} done")
    return times, agree


def read_your_writes(core: Any, analytics: Analytics, samples: int, write_rate: float) -> dict[str, Any]:
    """Write one ticket, then immediately count it through Analytics.sql until the count shows it, while
    another thread writes tickets into the same workspace at `write_rate`/s."""
    ws = "bench-ryw"
    setup_workspace(core, ws)
    rng = random.Random(SEED + 7)
    stop = threading.Event()
    background = [0]

    def writer() -> None:
        wrng = random.Random(SEED + 8)
        period = 1.0 / write_rate
        next_at = time.perf_counter()
        while not stop.is_set():
            core.records.create(ws, "tickets", {"data": ticket_data(wrng)}, SYSTEM)
            background[0] += 1
            next_at += period
            stop.wait(max(0.0, next_at - time.perf_counter()))

    analytics.replica.catch_up()
    step_ms, step_cpu = [], []  # the floor: one write, one replication step, nothing else running
    for _ in range(30):
        core.records.create(ws, "tickets", {"data": ticket_data(rng)}, SYSTEM)
        t0, c0 = time.perf_counter(), time.process_time()
        analytics.replica.step()
        step_ms.append((time.perf_counter() - t0) * 1000)
        step_cpu.append((time.process_time() - c0) * 1000)
    analytics.start()
    thread = threading.Thread(target=writer, name="bench-writer", daemon=True)
    thread.start()
    lags: list[float] = []
    attempts: list[int] = []
    lagging = 0
    try:
        for _ in range(5):  # warm-up: the workspace database, connections, caches
            analytics.sql(ws, "SELECT count() FROM records", None, LIMITS)
        for _ in range(samples):
            rec, _created = core.records.create(ws, "tickets", {"data": ticket_data(rng)}, SYSTEM)
            acked = time.perf_counter()
            tries = 0
            while True:
                tries += 1
                try:
                    seen = analytics.sql(ws, RYW_QUERY, {"id": rec["id"]}, LIMITS)["data"][0][0]
                except ReplicaLagging:
                    lagging += 1
                    continue
                if seen == 1:
                    break
            lags.append((time.perf_counter() - acked) * 1000)
            attempts.append(tries)
            time.sleep(rng.uniform(0.0, 0.02))
    finally:
        stop.set()
        thread.join(timeout=10)
        analytics.replica.stop()
    elapsed_writes = background[0]
    idle = []
    for _ in range(50):
        t0 = time.perf_counter()
        analytics.sql(ws, RYW_QUERY, {"id": "none"}, LIMITS)
        idle.append((time.perf_counter() - t0) * 1000)
    return {
        "lags": lags,
        "max_attempts": max(attempts),
        "lagging_503": lagging,
        "background_writes": elapsed_writes,
        "idle_query_median": percentile(idle, 50),
        "idle_step_median": percentile(step_ms[5:], 50),
        "idle_step_cpu_median": percentile(step_cpu[5:], 50),
    }


def catch_up_rate(core: Any, analytics: Analytics, n: int) -> tuple[int, float, float]:
    """Write `n` records with the replicator stopped, then time `Replica.catch_up`: changes/s and the
    process's CPU ms per 1,000 changes (every thread's, the engine's included: the figure a busy machine
    disturbs least).

    The records are customers: on the replica a record costs the same whatever its collection (a records
    row + an operations_log row), and customers load fast on the primary (no SLA upkeep), which keeps the
    benchmark's own set-up short."""
    ws = "bench-catchup"
    setup_workspace(core, ws)
    analytics.replica.catch_up()  # the workspace's own setup changes are not part of the measurement
    for ops in batches((customer_op(c, external=False) for c in customers(n, seed=SEED + 3)), 1000):
        core.batch.run(ws, ops, SYSTEM)
    t0, c0 = time.perf_counter(), time.process_time()
    rows = analytics.replica.catch_up(compact=False)
    return rows, rows / (time.perf_counter() - t0), (time.process_time() - c0) * 1e6 / rows


def main() -> None:
    p = parser(
        "seed SQL on the live replica vs typed and PostgreSQL", default_size=100_000, full_size=1_000_000
    )
    p.add_argument("--runs", type=int, default=None, help="timed rounds (default 9; 5 with --full)")
    p.add_argument("--catchup", type=int, default=100_000, help="records for the catch-up measurement")
    p.add_argument("--ryw-samples", type=int, default=200)
    p.add_argument(
        "--ryw-write-rate", type=float, default=50.0, help="background writes/s during the lag test"
    )
    p.add_argument("--no-pg", action="store_true", help="skip PostgreSQL")
    p.add_argument("--steady-steps", type=int, default=5, help="replication steps of scattered updates")
    p.add_argument("--steady-rows", type=int, default=200, help="ticket updates per steady step")
    args = p.parse_args()
    n = size_of(args)
    n_customers = max(1, n // 5)
    runs = args.runs or (5 if args.full else 9)
    report = Report(
        "sql",
        {"tickets": n, "customers": n_customers, "links": n, "patched": "10%", "runs": runs},
    )
    pg: Postgres | None = None
    with scratch("sql", args.keep) as root:
        data_dir = root / "store"
        core, analytics = open_live(data_dir)
        engine = analytics.engine
        try:
            log(f"loading {n:,} tickets, {n_customers:,} customers, {n:,} links, 10% patched")
            t0 = time.perf_counter()
            ops, ticket_ids = load_primary(core, n, n_customers, update_every=10)
            log(f"  {ops:,} operations in {time.perf_counter() - t0:.1f} s")
            log("replicating (Replica.catch_up)")
            t0, c0 = time.perf_counter(), time.process_time()
            replicated = analytics.replica.catch_up(compact=False)
            initial_rate = replicated / (time.perf_counter() - t0)
            initial_cpu = (time.process_time() - c0) * 1e6 / replicated
            db = database_of(WORKSPACE)
            parts_unmerged = active_parts(engine, db)
            log(f"  {replicated:,} changes at {initial_rate:,.0f}/s; active parts {parts_unmerged}")
            t0 = time.perf_counter()
            analytics.replica.compact({db})  # what catch_up does after a backlog
            merge_s = time.perf_counter() - t0
            parts_before = active_parts(engine, db)
            log(f"  merged in {merge_s:.1f} s; active parts {parts_before}")
            log("building the typed baseline")
            build_typed(engine, db)
            if not args.no_pg:
                pg, reason = postgres_or_reason(PG_URL)
                if pg is None:
                    report.note(reason or "PostgreSQL skipped")
                    log(reason or "PostgreSQL skipped")
                else:
                    log("loading PostgreSQL (COPY from the primary store)")
                    pg.load(data_dir / "deskbase.db")
            else:
                report.note("PostgreSQL skipped (--no-pg)")
            log(f"running the four queries, {runs} interleaved rounds")
            times, agree = compare_queries(analytics, pg, runs)
            parts_after = active_parts(engine, db)
            log(f"steady writes: {args.steady_steps} steps of {args.steady_rows} scattered ticket updates")
            steady_writes(core, analytics, ticket_ids, args.steady_steps, args.steady_rows)
            parts_steady = active_parts(engine, db)
            steady, _ = compare_queries(analytics, None, 3, check=False)
            t0 = time.perf_counter()
            compactor = analytics.replica.compactor
            compactor.merge_due(now=time.monotonic() + compactor.merge_every)  # the periodic merge, now
            compactor.wait()
            steady_merge_s = time.perf_counter() - t0
            parts_merged = active_parts(engine, db)
            remerged, _ = compare_queries(analytics, None, 3, check=False)
            log(
                f"read-your-writes: {args.ryw_samples} samples, background writer at {args.ryw_write_rate:g}/s"
            )
            ryw = read_your_writes(core, analytics, args.ryw_samples, args.ryw_write_rate)
            log(f"catch-up: {args.catchup:,} records written with the replicator stopped")
            caught, catch_rate, catch_cpu = catch_up_rate(core, analytics, args.catchup)
        finally:
            if pg is not None:
                pg.close()
            analytics.close()
            core.close()

    rows: list[list[Any]] = []
    for label, sides in times.items():
        med = {k: percentile(v, 50) for k, v in sides.items()}
        pg_ms = med.get("postgres", float("nan"))
        rows.append(
            [label, med["endpoint"], med["engine"], med["typed"], pg_ms,
             med["endpoint"] / med["typed"], pg_ms / med["endpoint"], "yes" if agree[label] else "NO"]
        )  # fmt: skip
        bound = 1.3 if label.startswith("Q4") else 2.0
        report.check(f"{label[:2]} live/typed", med["endpoint"] / med["typed"], "<=", bound)
        if pg is not None:
            report.check(f"{label[:2]} PostgreSQL/live", pg_ms / med["endpoint"], ">=", 5)
    report.table(
        "seed queries, median ms (live = JSON + FINAL on the replica as left by the replicator)",
        ["query", "live endpoint", "live engine", "typed", "PostgreSQL", "live/typed", "PG/live", "agree"],
        rows,
    )
    steady_rows: list[list[Any]] = []
    for label in steady:
        before = {k: percentile(v, 50) for k, v in steady[label].items()}
        after = {k: percentile(v, 50) for k, v in remerged[label].items()}
        steady_rows.append(
            [label, before["endpoint"], before["endpoint"] / before["typed"], after["endpoint"],
             after["endpoint"] / after["typed"]]
        )  # fmt: skip
    report.table(
        f"after {args.steady_steps} steps of {args.steady_rows} scattered updates (parts {parts_steady}), then "
        f"the periodic merge ({steady_merge_s:.1f} s; parts {parts_merged}); median ms of 3",
        ["query", "live endpoint", "live/typed", "merged: live endpoint", "merged: live/typed"],
        steady_rows,
    )
    lags = ryw["lags"]
    report.table(
        "replica",
        ["figure", "value"],
        [
            ["initial catch-up, changes", replicated],
            ["initial catch-up, changes/s", initial_rate],
            ["  its CPU ms per 1,000 changes (all threads)", initial_cpu],
            [f"catch-up of a {args.catchup:,}-record batch, changes/s", catch_rate],
            ["  its CPU ms per 1,000 changes (all threads)", catch_cpu],
            ["active parts after the catch-up", parts_unmerged],
            ["merging them after the backlog, s", merge_s],
            ["active parts before the queries", parts_before],
            ["active parts after the queries", parts_after],
            ["read-your-writes lag p50 ms", percentile(lags, 50)],
            ["read-your-writes lag p99 ms", percentile(lags, 99)],
            ["read-your-writes lag max ms", max(lags)],
            ["  replication step of one write (idle), median ms", ryw["idle_step_median"]],
            ["  the same step's CPU, median ms (all threads)", ryw["idle_step_cpu_median"]],
            ["  the count query on an idle replica, median ms", ryw["idle_query_median"]],
            ["  queries needed until the write showed (max)", ryw["max_attempts"]],
            ["  background writes during the lag test", ryw["background_writes"]],
        ],
    )
    report.check("catch-up changes/s", catch_rate, ">=", 100_000)
    report.check("read-your-writes lag p99 ms", percentile(lags, 99), "<=", 50)
    report.note(f"catch-up measured on {caught:,} changes (one record each)")
    report.emit(args.json)


if __name__ == "__main__":
    main()
