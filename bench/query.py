"""Record reads at scale: filtered lists on x-index fields, a sorted list resumed by cursor, and point reads,
through the core facade and over HTTP (a live uvicorn server on the same store).

Tickets are loaded through `core.batch.run` (synchronous=NORMAL, no external ids: the fast path). Each query
runs >= 200 times after a warm-up, interleaved round-robin so that drift hits every query alike; the table
gives median and p99 in milliseconds. `EXPLAIN QUERY PLAN` of each list query (the exact SQL the core ran,
captured from the engine) shows which index it uses.

    .venv/bin/python bench/query.py [--size N] [--full] [--runs R] [--json]
"""

from __future__ import annotations

import random
import sqlite3
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import orjson
from common import WORKSPACE, Report, log, open_core, parser, scratch, server, size_of, summary, token_of
from gen import ticket_batches
from sqlalchemy import event

from deskbase.core.context import SYSTEM

LIMIT = 50
FILTERS: dict[str, Any] = {
    "status = open": {"field": "data.status", "op": "eq", "value": "open"},
    "priority in [high, urgent]": {"field": "data.priority", "op": "in", "value": ["high", "urgent"]},
}
SORT = [{"field": "data.priority", "direction": "asc"}]
HEALTHZ = "GET /healthz (HTTP floor: no auth, no store)"


def load(core: Any, n: int) -> tuple[list[str], float]:
    """Load `n` tickets; returns a sample of their ids (for point reads) and records/s."""
    ids: list[str] = []
    done = 0
    t0 = time.perf_counter()
    for ops in ticket_batches(n, None, 1000, external=False):
        out = core.batch.run(WORKSPACE, ops, SYSTEM)
        ids += [r["record"]["id"] for r in out["results"][::97]]
        done += len(ops)
        if done % 100_000 == 0:
            log(f"  {done:,} tickets loaded")
    return ids, n / (time.perf_counter() - t0)


def explain(core: Any, db_file: Path) -> list[list[str]]:
    """Capture the SQL each list query runs and ask SQLite for its plan."""
    captured: list[tuple[str, Any]] = []

    def grab(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        if "FROM records" in statement and "LIMIT" in statement:
            captured.append((statement, parameters))

    event.listen(core.db.engine, "before_cursor_execute", grab)
    try:
        cases: list[tuple[str, Callable[[], Any]]] = [
            (name, partial(core.records.query, WORKSPACE, "tickets", f, limit=LIMIT))
            for name, f in FILTERS.items()
        ]
        first = core.records.query(WORKSPACE, "tickets", sort=SORT, limit=LIMIT)
        cases.append(
            (
                "sort priority, page 2",
                lambda: core.records.query(
                    WORKSPACE, "tickets", sort=SORT, limit=LIMIT, cursor=first["next_cursor"]
                ),
            )
        )
        rows: list[list[str]] = []
        with sqlite3.connect(db_file) as raw:
            for name, fn in cases:
                captured.clear()
                fn()
                statement, params = captured[-1]
                plan = raw.execute("EXPLAIN QUERY PLAN " + statement, params).fetchall()
                for i, step in enumerate(plan):
                    rows.append([name if i == 0 else "", step[3]])
        return rows
    finally:
        event.remove(core.db.engine, "before_cursor_execute", grab)


def interleave(cases: dict[str, Callable[[], Any]], runs: int, warmup: int = 10) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {k: [] for k in cases}
    for _ in range(warmup):
        for fn in cases.values():
            fn()
    for _ in range(runs):
        for name, fn in cases.items():
            t0 = time.perf_counter()
            fn()
            times[name].append((time.perf_counter() - t0) * 1000)
    return times


def core_cases(core: Any, ids: list[str]) -> dict[str, Callable[[], Any]]:
    rng = random.Random(7)
    cursor = core.records.query(WORKSPACE, "tickets", sort=SORT, limit=LIMIT)["next_cursor"]
    cases: dict[str, Callable[[], Any]] = {
        name: partial(core.records.query, WORKSPACE, "tickets", f, limit=LIMIT) for name, f in FILTERS.items()
    }
    cases["sort priority, page 2"] = lambda: core.records.query(
        WORKSPACE, "tickets", sort=SORT, limit=LIMIT, cursor=cursor
    )
    cases["point read by id"] = lambda: core.records.get(WORKSPACE, "tickets", rng.choice(ids))
    return cases


def http_cases(client: httpx.Client, ids: list[str]) -> dict[str, Callable[[], Any]]:
    rng = random.Random(7)
    base = f"/v1/workspaces/{WORKSPACE}/records/tickets"

    def get(url: str, **params: Any) -> Any:
        r = client.get(url, params=params)
        if r.status_code != 200:
            raise RuntimeError(f"GET {url} answered {r.status_code}: {r.text[:300]}")
        return r

    sort = orjson.dumps(SORT).decode()
    cursor = get(base, sort=sort, limit=LIMIT).json()["next_cursor"]
    cases: dict[str, Callable[[], Any]] = {
        name: partial(get, base, filter=orjson.dumps(f).decode(), limit=LIMIT) for name, f in FILTERS.items()
    }
    cases["sort priority, page 2"] = lambda: get(base, sort=sort, limit=LIMIT, cursor=cursor)
    cases["point read by id"] = lambda: get(f"{base}/{rng.choice(ids)}")
    cases[HEALTHZ] = lambda: get("/healthz")
    return cases


def main() -> None:
    p = parser("record list and point-read latency", default_size=100_000, full_size=1_000_000)
    p.add_argument("--runs", type=int, default=200, help="timed runs per query (default 200)")
    args = p.parse_args()
    n = size_of(args)
    runs = max(args.runs, 1)
    report = Report("query", {"tickets": n, "runs": runs, "limit": LIMIT})
    with scratch("query", args.keep) as root:
        data_dir = root / "store"
        core = open_core(data_dir, "NORMAL")
        log(f"loading {n:,} tickets through core.batch.run")
        ids, rate = load(core, n)
        log(f"  loaded at {rate:,.0f} records/s; ANALYZE-free, as a fresh store is")
        plans = explain(core, data_dir / "deskbase.db")
        log(f"timing {runs} runs per query through the core facade")
        via_core = interleave(core_cases(core, ids), runs)
        core.close()
        with server("deskbase", data_dir=data_dir) as port:
            headers = {"Authorization": f"Bearer {token_of(data_dir)}"}
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=60) as client:
                log(f"timing {runs} runs per query over HTTP (uvicorn, keep-alive)")
                via_http = interleave(http_cases(client, ids), runs)
    rows: list[list[Any]] = []
    for name in via_core:
        c, h = summary(via_core[name]), summary(via_http[name])
        rows.append([name, c["median_ms"], c["p99_ms"], h["median_ms"], h["p99_ms"]])
        bound = 2.0 if name.startswith("point") else 20.0
        report.check(f"{name}: core median ms", c["median_ms"], "<=", bound)
        report.check(f"{name}: HTTP median ms", h["median_ms"], "<=", bound)
    floor = summary(via_http[HEALTHZ])
    rows.append([HEALTHZ, "-", "-", floor["median_ms"], floor["p99_ms"]])
    report.table(
        f"latency at {n:,} tickets (ms, {runs} runs each, limit {LIMIT}; HTTP = httpx client, keep-alive)",
        ["query", "core median", "core p99", "HTTP median", "HTTP p99"],
        rows,
    )
    report.table("EXPLAIN QUERY PLAN (SQL captured from the core)", ["query", "plan"], plans)
    report.note(f"load through core.batch.run (NORMAL, no external ids): {rate:,.0f} records/s")
    report.emit(args.json)


if __name__ == "__main__":
    main()
