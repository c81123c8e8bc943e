"""Webhook delivery: commit → delivery latency, deliveries per second, the write path's cost, slow-endpoint isolation.

deskbase in process (`deskbase.server.build`: the real core, support domain, dispatcher and SLA scheduler; no HTTP
server, the writes are `core.records.create`), delivering to a fast receiver in its own process
(bench/webhook_receiver.py: asyncio, answers 200 at once, or after 10 s on /slow).

Phases (each on a fresh store):
1. *throughput*: `--size` tickets (2,000) written with the dispatcher stopped and one trigger, then the dispatcher
   started: deliveries per second until the receiver holds them all (target ≥ 1,000/s), and the SQL statements
   and the CPU time (all threads) the process spent per delivery meanwhile — both far steadier than the rate
   on a shared machine.
2. *latency*: 3 triggers (`record.created`), a writer at 50 tickets/s for `--duration` s; for each (trigger,
   ticket) the seconds from `create` returning (the commit) to the receiver's arrival time (target p50 ≤ 50 ms,
   p99 ≤ 250 ms).
3. *isolation*: the same with a 4th trigger whose endpoint answers after 10 s: the other three's latency beside
   phase 2's (target: unchanged, ratio ≤ 1.2 on the p50 — the issue says "does not change").
4. *write cost*: sequential creates for `--duration` s with no trigger and with 3 active triggers, interleaved
   twice (target: with / without ≥ 0.9).
5. *write cost over HTTP* (the deployment topologies): sequential `POST …/records/tickets` over one kept-alive
   connection to `deskbase serve`, in four shapes interleaved twice: one process with no trigger; one process
   with 3 triggers (the dispatcher beside the API); `serve --no-background` + one `deskbase worker` with no
   trigger, and with 3 triggers (the dispatcher in the worker). Each shape's ratio is against its own
   no-trigger run.

    .venv/bin/python bench/webhooks.py [--size N] [--duration S] [--phases throughput,latency,...] [--json]
"""

from __future__ import annotations

import http.client
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, closing, contextmanager
from pathlib import Path
from typing import Any

import orjson
from common import (
    BENCH,
    WORKSPACE,
    Report,
    free_port,
    log,
    parser,
    percentile,
    scratch,
    setup_workspace,
    wait_http,
)
from gen import create_bodies
from sqlalchemy import event

from deskbase.config import Settings
from deskbase.core.context import SYSTEM
from deskbase.events.service import Webhooks
from deskbase.server import build
from deskbase.support.service import SlaService


@contextmanager
def receiver(root: Path, slow: float = 10.0) -> Iterator[tuple[str, Path]]:
    """The receiver process; yields its base URL and the file its arrivals are written to when it stops."""
    port = free_port()
    out = root / f"arrivals-{port}.jsonl"
    script = str(BENCH / "webhook_receiver.py")
    args = ["--port", str(port), "--out", str(out), "--slow", str(slow)]
    proc = subprocess.Popen([sys.executable, script, *args], stdout=subprocess.PIPE)
    assert proc.stdout is not None
    proc.stdout.readline()  # "ready"
    try:
        yield f"http://127.0.0.1:{port}", out
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def arrivals(out: Path) -> list[tuple[float, str, str]]:
    return [tuple(orjson.loads(line)) for line in out.read_bytes().splitlines()]  # type: ignore[misc]


@contextmanager
def deskbase(root: Path, name: str) -> Iterator[Any]:
    settings = Settings(
        data_dir=str(root / name),
        replicate=False,
        webhook_allow_networks="127.0.0.0/8",
        log_level="warning",
    )
    core, _app = build(settings)
    setup_workspace(core, WORKSPACE)
    core.extensions[SlaService].start()
    try:
        yield core
    finally:
        core.extensions[Webhooks].stop()
        core.extensions[SlaService].stop()
        core.close()


def add_triggers(core: Any, base: str, paths: list[str]) -> None:
    store = core.extensions[Webhooks].triggers
    for n, path in enumerate(paths):
        body = {"url": f"{base}{path}", "events": ["record.created"], "collections": ["tickets"]}
        store.put(WORKSPACE, f"t{n}", body, SYSTEM)


def wait_for(out_count: Any, expected: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if out_count() >= expected:
            return True
        time.sleep(0.05)
    return False


def delivered(core: Any, trigger_ids: tuple[str, ...] = ("t0", "t1", "t2")) -> int:
    marks = ", ".join(f"'{t}'" for t in trigger_ids)
    with core.db.read() as conn:
        sql = (
            f"SELECT count(*) FROM webhook_deliveries WHERE status = 'delivered' AND trigger_id IN ({marks})"
        )
        return int(conn.exec_driver_sql(sql).scalar() or 0)


def throughput(root: Path, n: int) -> tuple[float, int, float, float]:
    """Deliveries per second over a backlog of `n`, tickets arrived, SQL statements and process CPU ms per
    delivery (everything the process ran meanwhile, the bench's own polling included: steady enough to compare
    versions of the dispatcher on a busy machine)."""
    statements = [0]

    def count(*_args: Any) -> None:
        statements[0] += 1

    with receiver(root) as (base, out), deskbase(root, "throughput") as core:
        add_triggers(core, base, ["/fast"])
        for b in create_bodies(n, seed=7):
            core.records.create(WORKSPACE, "tickets", b, SYSTEM)
        event.listen(core.db.engine, "before_cursor_execute", count)
        t0, cpu0 = time.perf_counter(), time.process_time()
        core.extensions[Webhooks].start()
        done = wait_for(lambda: delivered(core), n, 300)
        elapsed, cpu = time.perf_counter() - t0, time.process_time() - cpu0
        event.remove(core.db.engine, "before_cursor_execute", count)
    got = len({rid for _, _, rid in arrivals(out)})
    if not done or got < n:
        log(f"  throughput: only {got} of {n} tickets arrived")
    return n / elapsed, got, statements[0] / max(got, 1), cpu * 1000 / max(got, 1)


def latency(root: Path, name: str, duration: float, slow: bool) -> list[float]:
    """Seconds from commit to arrival per fast trigger path, while a writer makes 50 tickets/s."""
    paths = ["/a", "/b", "/c"] + (["/slow"] if slow else [])
    committed: dict[str, float] = {}
    with receiver(root) as (base, out), deskbase(root, name) as core:
        add_triggers(core, base, paths)
        core.extensions[Webhooks].start()
        bodies = create_bodies(int(duration * 50) + 50, seed=11)
        t0 = time.perf_counter()
        for i, b in enumerate(bodies[: int(duration * 50)]):
            due = t0 + i / 50
            wait = due - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
            rec, _ = core.records.create(WORKSPACE, "tickets", b, SYSTEM)
            committed[rec["id"]] = time.time()
        wait_for(lambda: delivered(core), len(committed) * 3, 60)
    fast = [
        (t - committed[rid]) * 1000
        for t, path, rid in arrivals(out)
        if path in ("/a", "/b", "/c") and rid in committed
    ]
    if len(fast) < len(committed) * 3:
        log(f"  {name}: {len(fast)} of {len(committed) * 3} fast deliveries arrived")
    return fast


def stop(proc: subprocess.Popen[bytes], signum: int) -> None:
    """Ask a process to stop; on a loaded machine its loops may take a while, but it never outlives the bench."""
    proc.send_signal(signum)
    try:
        proc.wait(timeout=120)
    except subprocess.TimeoutExpired:
        log(f"  process {proc.pid} did not stop within 120 s: killed")
        proc.kill()
        proc.wait()


@contextmanager
def worker(data_dir: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`deskbase worker` on the same data directory running the dispatcher (the scale-out shape)."""
    env = {
        **os.environ,
        "DESKBASE_DATA_DIR": str(data_dir),
        "DESKBASE_REPLICATE": "false",
        "DESKBASE_SLA_SCHEDULER": "false",
        "DESKBASE_WEBHOOK_ALLOW_NETWORKS": "127.0.0.0/8",
        "DESKBASE_LOG_LEVEL": "warning",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "deskbase.cli.main", "worker"], env=env, stdout=subprocess.DEVNULL
    )
    try:
        yield proc
    finally:
        stop(proc, signal.SIGTERM)


def write_rate(root: Path, base: str, duration: float) -> dict[str, float]:
    """Sequential creates per second without triggers, with 3 (dispatcher in this process), and with 3 and
    the dispatcher in a `deskbase worker` process; interleaved twice."""
    rates: dict[str, list[float]] = {"none": [], "in-process": [], "worker": []}
    for rnd in range(2):
        for mode in rates:
            with deskbase(root, f"write-{rnd}-{mode}") as core, ExitStack() as stack:
                if mode != "none":
                    add_triggers(core, base, ["/a", "/b", "/c"])
                if mode == "in-process":
                    core.extensions[Webhooks].start()
                if mode == "worker":
                    stack.enter_context(worker(root / f"write-{rnd}-{mode}"))
                bodies = iter(create_bodies(20_000, seed=13 + rnd))
                n, t0 = 0, time.perf_counter()
                while time.perf_counter() - t0 < duration:
                    core.records.create(WORKSPACE, "tickets", next(bodies), SYSTEM)
                    n += 1
                rates[mode].append(n / (time.perf_counter() - t0))
                if mode == "worker" and not wait_for(lambda: delivered(core), 1, 30):
                    log("  write cost: the worker delivered nothing")
    return {mode: sum(r) / len(r) for mode, r in rates.items()}


def serve_env(data_dir: Path) -> dict[str, str]:
    return {
        **os.environ,
        "DESKBASE_DATA_DIR": str(data_dir),
        "DESKBASE_REPLICATE": "false",
        "DESKBASE_WEBHOOK_ALLOW_NETWORKS": "127.0.0.0/8",
        "DESKBASE_LOG_LEVEL": "warning",
    }


@contextmanager
def served(data_dir: Path, background: bool) -> Iterator[int]:
    """`deskbase serve` on `data_dir` (with its background loops, or `--no-background`); yields the port."""
    port = free_port()
    cmd = [sys.executable, "-m", "deskbase.cli.main", "serve", "--port", str(port)]
    cmd += [] if background else ["--no-background"]
    proc = subprocess.Popen(cmd, env=serve_env(data_dir), stdout=subprocess.DEVNULL)
    try:
        wait_http(port, timeout=600)  # a store and the app's start take minutes at a load average of 30
        yield port
    finally:
        stop(proc, signal.SIGINT)


def delivered_in(data_dir: Path) -> int:
    """Deliveries the store holds as delivered (read beside the serving processes)."""
    with closing(sqlite3.connect(data_dir / "deskbase.db", timeout=30)) as conn:
        return int(
            conn.execute("SELECT count(*) FROM webhook_deliveries WHERE status = 'delivered'").fetchone()[0]
        )


def http_write_rate(root: Path, base: str, duration: float) -> dict[str, float]:
    """Sequential HTTP creates per second in the four shapes (module docstring, phase 5), interleaved twice."""
    shapes = ("one process", "one process, 3 triggers", "API + worker", "API + worker, 3 triggers")
    rates: dict[str, list[float]] = {shape: [] for shape in shapes}
    for rnd in range(2):
        for shape in shapes:
            data_dir = root / f"http-{rnd}-{len(rates[shape])}-{shapes.index(shape)}"
            with deskbase(root, data_dir.name) as core:
                if shape.endswith("3 triggers"):
                    add_triggers(core, base, ["/a", "/b", "/c"])
                token, _ = core.tokens.ensure_admin_token(data_dir)
            split = shape.startswith("API")
            with served(data_dir, background=not split) as port, ExitStack() as stack:
                if split:
                    stack.enter_context(worker(data_dir))
                conn = http.client.HTTPConnection("127.0.0.1", port)
                headers = {"authorization": f"Bearer {token}", "content-type": "application/json"}
                path = f"/v1/workspaces/{WORKSPACE}/records/tickets"
                bodies = iter(create_bodies(20_000, seed=17 + rnd))
                n, t0 = 0, time.perf_counter()
                while time.perf_counter() - t0 < duration:
                    conn.request("POST", path, orjson.dumps(next(bodies)), headers)
                    resp = conn.getresponse()
                    resp.read()
                    if resp.status != 201:
                        raise RuntimeError(f"create answered {resp.status}")
                    n += 1
                rates[shape].append(n / (time.perf_counter() - t0))
                conn.close()
                if shape.endswith("3 triggers") and not wait_for(lambda d=data_dir: delivered_in(d), 1, 30):
                    log(f"  HTTP write cost ({shape}): nothing was delivered")
    return {shape: sum(r) / len(r) for shape, r in rates.items()}


PHASES = ("throughput", "latency", "isolation", "write", "http-write")


def main() -> None:
    p = parser("webhook deliveries: latency, throughput, write cost, isolation", 2_000, 20_000)
    p.add_argument("--duration", type=float, default=10.0, help="seconds of writing per phase (default 10)")
    p.add_argument(
        "--phases", default=",".join(PHASES), help=f"comma-separated, of {', '.join(PHASES)} (default all)"
    )
    args = p.parse_args()
    n = args.size or 2_000
    phases = {x.strip() for x in args.phases.split(",") if x.strip()}
    if phases - set(PHASES):
        p.error(f"unknown phases: {', '.join(sorted(phases - set(PHASES)))}")
    report = Report("webhooks", {"tickets": n, "duration_s": args.duration, "phases": sorted(phases)})
    with scratch("webhooks", args.keep) as root:
        if "throughput" in phases:
            log(f"throughput: {n:,} tickets queued for one trigger")
            rate, got, per_delivery, cpu_ms = throughput(root, n)
            report.table(
                "deliveries (one trigger, a fast local receiver)",
                ["queued", "arrived", "deliveries/s", "SQL statements per delivery", "CPU ms per delivery"],
                [[n, got, rate, per_delivery, cpu_ms]],
            )
            report.check("deliveries per second", rate, ">=", 1000)
        rows = []
        if "latency" in phases:
            log("latency: 3 triggers, 50 writes/s")
            plain = latency(root, "latency", args.duration, slow=False)
            rows.append(["3 triggers", plain])
            report.check("latency p50 ms", percentile(plain, 50), "<=", 50)
            report.check("latency p99 ms", percentile(plain, 99), "<=", 250)
        if "isolation" in phases:
            log("isolation: the same beside a trigger whose endpoint answers in 10 s")
            beside = latency(root, "isolation", args.duration, slow=True)
            rows.append(["3 triggers + one 10 s endpoint", beside])
            if "latency" in phases:
                ratio = percentile(beside, 50) / percentile(plain, 50)
                report.check("p50 beside a slow endpoint / alone", ratio, "<=", 1.2)
        if rows:
            report.table(
                "commit → delivery at 50 writes/s (ms)",
                ["triggers", "deliveries", "p50", "p99", "max"],
                [
                    [label, len(ms), percentile(ms, 50), percentile(ms, 99), max(ms, default=0)]
                    for label, ms in rows
                ],
            )
        if "write" in phases:
            log("write cost: sequential creates without and with 3 triggers")
            with receiver(root) as (base, _out):
                rates = write_rate(root, base, args.duration)
            without, with3, with_worker = rates["none"], rates["in-process"], rates["worker"]
            report.table(
                "sequential creates per second, in process (mean of two interleaved runs)",
                ["no trigger", "3 triggers", "ratio", "3 triggers, dispatcher in a worker", "ratio"],
                [[without, with3, with3 / without, with_worker, with_worker / without]],
            )
            report.check("writes with 3 triggers / without", with3 / without, ">=", 0.9)
            report.check(
                "writes with 3 triggers, dispatcher in a worker / without", with_worker / without, ">=", 0.9
            )
        if "http-write" in phases:
            log("write cost over HTTP: one process, and serve --no-background + a worker")
            with receiver(root) as (base, _out):
                http = http_write_rate(root, base, args.duration)
            one, one3 = http["one process"], http["one process, 3 triggers"]
            split, split3 = http["API + worker"], http["API + worker, 3 triggers"]
            report.table(
                "sequential HTTP creates per second, one connection (mean of two interleaved runs)",
                ["topology", "no trigger", "3 triggers", "ratio"],
                [
                    ["deskbase serve", one, one3, one3 / one],
                    ["serve --no-background + worker", split, split3, split3 / split],
                ],
            )
            report.check("HTTP writes with 3 triggers / without, one process", one3 / one, ">=", 0.9)
            report.check("HTTP writes with 3 triggers / without, API + worker", split3 / split, ">=", 0.9)
    report.emit(args.json)


if __name__ == "__main__":
    main()
