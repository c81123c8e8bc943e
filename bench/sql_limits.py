"""SQL resource limits under load: does heavy SQL starve record reads, and how late does a timeout answer?

One real uvicorn server (one worker, the replicator on) with a short SQL time limit. Measured in one run:

* a record read (`GET …/records/tickets/{id}`, one keep-alive client in a closed loop) idle, then while 8
  CPU-bound SQL queries run at once (8 client threads, 4 tokens over 2 workspaces so that the per-token and
  per-workspace caps admit all 8), then while one token floods 42 queries at once (the red-team case: the
  caps answer 429 to all but two);
* the cancellation latency: the time from the limit to the 504 of a query whose single rows outlive the limit
  (ClickHouse checks its limits only between blocks; the watchdog answers at limit + 0.5 s).

    .venv/bin/python bench/sql_limits.py [--size N] [--duration S] [--limit S] [--json]
    .venv/bin/python bench/sql_limits.py serve --data-dir DIR --port P --limit S   (the server, started by the above)
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from common import (
    BENCH,
    REPO,
    WORKSPACE,
    Report,
    free_port,
    log,
    open_core,
    parser,
    percentile,
    scratch,
    setup_workspace,
    size_of,
    wait_http,
)
from gen import ticket_batches

from deskbase.analytics.service import Analytics
from deskbase.core.context import SYSTEM

OTHER = f"{WORKSPACE}-b"
#: CPU-bound until its time limit stops it (~0.3 ms a row: a block of 8,192 rows ends within ~3 s).
HEAVY = (
    "SELECT sum(editDistance(repeat('a', 600), repeat(char(98 + number % 20), 600))) FROM numbers(1000000)"
)
#: Rows that each outlive any small limit (~3 s a row): only the watchdog answers on time.
UNINTERRUPTIBLE = (
    "SELECT sum(editDistance(repeat('a', 40000), repeat(char(98 + number % 20), 40000))) FROM numbers(2)"
)


def serve(data_dir: Path, port: int, limit: float) -> None:
    import logging

    import uvicorn

    from deskbase.config import Settings
    from deskbase.server import build

    logging.basicConfig(level=logging.WARNING)
    settings = Settings(
        data_dir=str(data_dir),
        sqlite_synchronous="NORMAL",
        sql_max_execution_seconds=limit,
        log_level="warning",
    )
    core, app = build(settings)
    core.tokens.ensure_admin_token(settings.data_path)
    app.state.core.extensions[Analytics].replica.catch_up()
    uvicorn.run(app, host="127.0.0.1", port=port, workers=1, log_level="warning", access_log=False)


@contextmanager
def server(data_dir: Path, limit: float) -> Iterator[int]:
    port = free_port()
    cmd = [
        sys.executable,
        str(BENCH / "sql_limits.py"),
        "serve",
        "--data-dir",
        str(data_dir),
        "--port",
        str(port),
        "--limit",
        str(limit),
    ]
    errlog = data_dir.parent / "server.log"
    with open(errlog, "wb") as err:
        proc = subprocess.Popen(cmd, stdout=err, stderr=subprocess.STDOUT, cwd=REPO)
    try:
        try:
            wait_http(port, timeout=120)
        except TimeoutError:
            raise RuntimeError(f"server failed to start:\n{errlog.read_text()[-3000:]}") from None
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def prepare(data_dir: Path, n: int) -> tuple[list[str], list[tuple[str, str]]]:
    """Tickets in `bench`, a second workspace, and four SQL tokens (two per workspace): ids and tokens."""
    core = open_core(data_dir, "NORMAL")
    setup_workspace(core, OTHER)
    for ops in ticket_batches(n, None, 1000, external=False):
        core.batch.run(WORKSPACE, ops, SYSTEM)
    ids = [r["id"] for r in core.records.query(WORKSPACE, "tickets", limit=200)["data"]]
    tokens = []
    for ws in (WORKSPACE, OTHER):
        for i in range(2):
            raw, _ = core.tokens.create(
                f"sql-{ws}-{i}", [{"scope": {"workspaces": [ws]}, "permissions": ["sql", "read:records"]}]
            )
            tokens.append((ws, raw))
    core.tokens.ensure_admin_token(data_dir)
    core.close()
    return ids, tokens


def read_latencies(port: int, token: str, ids: list[str], seconds: float) -> list[float]:
    out: list[float] = []
    with httpx.Client(
        base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {token}"}, timeout=300
    ) as c:
        end = time.monotonic() + seconds
        i = 0
        while time.monotonic() < end:
            t0 = time.perf_counter()
            r = c.get(f"/v1/workspaces/{WORKSPACE}/records/tickets/{ids[i % len(ids)]}")
            out.append((time.perf_counter() - t0) * 1000.0)
            if r.status_code != 200:
                raise RuntimeError(f"record read failed: {r.status_code} {r.text[:200]}")
            i += 1
    return out


class SqlLoad:
    """Client threads each running a query in a loop until stopped; counts the answers by status."""

    def __init__(self, port: int, clients: list[tuple[str, str]], query: str) -> None:
        self.port, self.clients, self.query = port, clients, query
        self.stop = threading.Event()
        self.statuses: Counter[int] = Counter()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run, args=c, daemon=True) for c in clients]

    def _run(self, ws: str, token: str) -> None:
        with httpx.Client(
            base_url=f"http://127.0.0.1:{self.port}",
            headers={"Authorization": f"Bearer {token}"},
            timeout=120,
        ) as c:
            while not self.stop.is_set():
                r = c.post(f"/v1/workspaces/{ws}/sql", json={"query": self.query})
                with self._lock:
                    self.statuses[r.status_code] += 1
                    if r.status_code not in (200, 429, 504) and self.statuses[r.status_code] == 1:
                        log(f"unexpected SQL answer {r.status_code}: {r.text[:300]}")
                if r.status_code == 429:
                    self.stop.wait(float(r.headers.get("Retry-After", "1")))

    def __enter__(self) -> SqlLoad:
        for t in self._threads:
            t.start()
        time.sleep(1.0)  # let them all get in
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for t in self._threads:
            t.join()


def wait_engine_idle(port: int, token: str, seconds: float = 60) -> None:
    """Until a trivial query is admitted again (abandoned queries release their slots when they end)."""
    end = time.monotonic() + seconds
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {token}"}) as c:
        while time.monotonic() < end:
            if c.post(f"/v1/workspaces/{WORKSPACE}/sql", json={"query": "SELECT 1"}).status_code == 200:
                return
            time.sleep(0.2)


def cancellation(port: int, token: str, limit: float, runs: int) -> list[float]:
    """Seconds from the limit to the 504 of a query the engine cannot stop on time."""
    late: list[float] = []
    with httpx.Client(
        base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {token}"}, timeout=120
    ) as c:
        for _ in range(runs):
            wait_engine_idle(port, token)
            t0 = time.perf_counter()
            r = c.post(f"/v1/workspaces/{WORKSPACE}/sql", json={"query": UNINTERRUPTIBLE})
            elapsed = time.perf_counter() - t0
            if r.status_code != 504:
                raise RuntimeError(f"expected 504, got {r.status_code} {r.text[:200]}")
            late.append(elapsed - limit)
    return late


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "serve":
        sp = argparse.ArgumentParser()
        sp.add_argument("serve")
        sp.add_argument("--data-dir", type=Path, required=True)
        sp.add_argument("--port", type=int, required=True)
        sp.add_argument("--limit", type=float, required=True)
        a = sp.parse_args()
        serve(a.data_dir, a.port, a.limit)
        return
    p = parser("record reads while heavy SQL runs, and SQL cancellation latency", 2_000, 100_000)
    p.add_argument("--duration", type=float, default=6.0, help="measured seconds per phase (default 6)")
    p.add_argument("--limit", type=float, default=2.0, help="SQL time limit of the server (default 2 s)")
    p.add_argument("--cancel-runs", type=int, default=3)
    args = p.parse_args()
    n = size_of(args)
    report = Report("sql_limits", {"tickets": n, "duration_s": args.duration, "sql_limit_s": args.limit})
    with scratch("sql-limits", args.keep) as root:
        data_dir = root / "store"
        log(f"loading {n:,} tickets")
        ids, tokens = prepare(data_dir, n)
        admin = (data_dir / "admin-token").read_text().strip()
        with server(data_dir, args.limit) as port:
            read_latencies(port, admin, ids, 1.0)  # warm-up
            log(f"record reads, idle ({args.duration:g} s)")
            idle = read_latencies(port, admin, ids, args.duration)
            log("record reads while 8 heavy SQL queries run")
            with SqlLoad(port, tokens * 2, HEAVY) as heavy:
                busy = read_latencies(port, admin, ids, args.duration)
            wait_engine_idle(port, admin)
            log("record reads while one token sends 42 heavy SQL queries at once")
            with SqlLoad(port, [tokens[0]] * 42, HEAVY) as flood:
                flooded = read_latencies(port, admin, ids, args.duration)
            wait_engine_idle(port, admin)
            log(f"cancellation latency ({args.cancel_runs} runs)")
            late = cancellation(port, admin, args.limit, args.cancel_runs)
    p50_idle, p99_idle = percentile(idle, 50), percentile(idle, 99)
    rows = []
    for label, ms, load in (
        ("idle", idle, None),
        ("8 heavy SQL queries", busy, heavy),
        ("one token, 42 heavy SQL queries", flooded, flood),
    ):
        answers = ", ".join(f"{k}: {v}" for k, v in sorted(load.statuses.items())) if load else ""
        p50, p99 = percentile(ms, 50), percentile(ms, 99)
        rows.append([label, len(ms), p50, p99, p50 / p50_idle, p99 / p99_idle, answers])
    report.table(
        "record read GET …/records/tickets/{id} (ms; ratios against idle)",
        ["load", "reads", "p50", "p99", "p50 / idle", "p99 / idle", "SQL answers (status: count)"],
        rows,
    )
    report.table(
        "SQL cancellation: seconds from the limit to the 504 (query rows outlive the limit)",
        ["runs", "median", "max", "limit"],
        [[len(late), percentile(late, 50), max(late), args.limit]],
    )
    report.check("cancellation latency, max (s)", max(late), "<=", 1.0)
    report.check("record read p99 with 8 heavy SQL / idle", rows[1][5], "<=", 5.0)
    report.emit(args.json)


if __name__ == "__main__":
    main()
