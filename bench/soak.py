"""The issue-16 "Done means" run on PostgreSQL: 2 API processes (`serve --no-background`), 2 `deskbase worker`
processes, writer threads spread over both APIs for a fixed time, and the worker holding the loops' leases killed
with SIGKILL mid-run. Then, per check, PASS or FAIL: every acknowledged write is stored (ids and versions),
`deskbase analytics verify` is clean on the surviving worker's replica, each SLA breach is recorded once (and
every ticket left unanswered past its target has its breach), read-your-writes holds across the API processes
(a write acknowledged by one is read at its version by the other, by id and through SQL), and the leases moved
to the other worker (failover time measured; the issue's bound is 10 s).

Every process has a data directory of its own with `DESKBASE_REPLICATE=true`: each worker keeps an embedded
chDB replica (only the one holding the `replicator` lease runs the loop; the survivor resumes from its own
watermark), and each API process answers SQL from its own replica, which catches up on read. They share the
PostgreSQL store and `DESKBASE_SECRET_KEY`.

    .venv/bin/python bench/soak.py [--seconds 60] [--writers 16] [--json]

PostgreSQL: DESKBASE_BENCH_POSTGRES_URL (default postgresql://postgres@127.0.0.1:5432/test); a database of its
own per run, dropped afterwards. Exit status 1 if a check fails.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from soak_checks import WS, Outcome, check_sla, check_stored, fresh_database

TARGET_S = 3  # first-response target of every ticket: unanswered tickets breach during the run
LOOPS = ("replicator", "sla-scheduler", "webhooks")
PG_URL = os.environ.get("DESKBASE_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(url: str, data: Path, key: str, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        "DESKBASE_DATA_DIR": str(data),
        "DESKBASE_DATABASE_URL": url,
        "DESKBASE_SECRET_KEY": key,
        "DESKBASE_REPLICATE": "true",
        "DESKBASE_LOG_LEVEL": "warning",
        **extra,
    }


@contextmanager
def _processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Every process started in the run; terminated (killed after 30 s) at the end unless already gone."""
    procs: list[subprocess.Popen[bytes]] = []
    try:
        yield procs
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def _api(procs: list[subprocess.Popen[bytes]], url: str, data: Path, key: str) -> httpx.Client:
    """A `serve --no-background` on a free port, waited for; a client carrying its data dir's admin token."""
    port = _free_port()
    p = subprocess.Popen(
        [sys.executable, "-m", "deskbase.cli.main", "serve", "--no-background"],
        env=_env(url, data, key, DESKBASE_PORT=str(port)),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    procs.append(p)
    deadline = time.monotonic() + 120
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if p.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"API process on port {port} did not start")
        time.sleep(0.2)
    token = (data / "admin-token").read_text().strip()
    return httpx.Client(
        base_url=f"http://127.0.0.1:{port}/v1/workspaces/{WS}",
        headers={"Authorization": f"Bearer {token}"},
        timeout=60,
    )


def holders(eng: sa.Engine) -> dict[str, int]:
    """The pid holding each loop's lease (owners are `host:pid:nonce`)."""
    with eng.connect() as conn:
        rows = conn.execute(sa.text("SELECT name, owner FROM loop_state WHERE owner IS NOT NULL")).all()
    return {name: int(owner.split(":")[1]) for name, owner in rows if name in LOOPS}


def _setup(api: httpx.Client) -> None:
    """The workspace, the support template, and a policy whose 3 s first-response target every ticket has."""
    root = str(api.base_url).rsplit("/workspaces/", 1)[0]
    r = api.put(f"{root}/workspaces/{WS}", json={"name": "Soak"})
    assert r.status_code in (200, 201), r.text
    assert api.post("/templates/support").status_code in (200, 201)
    days = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    cal = {"name": "24x7", "timezone": "UTC", "weekly": {d: [["00:00", "24:00"]] for d in days}}
    r = api.put("/sla/calendars/always", json=cal)
    assert r.status_code in (200, 201), r.text
    policy = {
        "name": "soak",
        "calendar_id": "always",
        "match": {"field": "ticket.priority", "op": "eq", "value": "high"},
        "targets": {"first_response": {"high": {"seconds": TARGET_S, "business": False}}},
        "position": 0,  # ahead of the template's policies
    }
    r = api.put("/sla/policies/soak", json=policy)
    assert r.status_code in (200, 201), r.text


class Writers:
    """Closed-loop writer threads, thread n on API n % 2: create a ticket, PATCH it, answer every other one.
    Each acknowledged write is kept (id and version); after a PATCH the other API process must read the ticket
    at that version by id, and every 10th through SQL (read-your-writes)."""

    def __init__(self, apis: list[httpx.Client], n: int) -> None:
        self.apis, self.n = apis, n
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.tickets: dict[str, int] = {}  # id -> last acknowledged version
        self.responses: list[str] = []
        self.unanswered: set[str] = set()
        self.answered: set[str] = set()
        self.writes = self.errors = self.ryw_reads = self.ryw_sql = 0
        self.refusals: dict[str, int] = {}  # SQL reads refused (and retried) by error code
        self.first_refusal = ""
        self.stale: list[str] = []
        self.threads = [threading.Thread(target=self._run, args=(i,), daemon=True) for i in range(n)]

    def start(self) -> None:
        for t in self.threads:
            t.start()

    def join(self) -> None:
        self.stop.set()
        for t in self.threads:
            t.join()

    def _ok(self, r: httpx.Response, status: int) -> dict[str, Any] | None:
        if r.status_code == status:
            return dict(r.json())
        with self.lock:
            self.errors += 1  # not acknowledged: nothing is expected of it (a 503 write_conflict may be one)
        return None

    def _run(self, n: int) -> None:
        mine, other = self.apis[n % 2], self.apis[(n + 1) % 2]
        i = 0
        while not self.stop.is_set():
            i += 1
            body = {"data": {"subject": f"soak {n}/{i}", "status": "open", "priority": "high"}}
            made = self._ok(mine.post("/records/tickets", json=body), 201)
            if made is None:
                continue
            rid = str(made["id"])
            with self.lock:
                self.tickets[rid], self.writes = int(made["version"]), self.writes + 1
            patched = self._ok(
                mine.patch(f"/records/tickets/{rid}", json={"data": {"subject": f"soak {n}/{i}!"}}), 200
            )
            if patched is not None:
                version = int(patched["version"])
                with self.lock:
                    self.tickets[rid], self.writes = max(self.tickets[rid], version), self.writes + 1
                self._read_back(other, rid, version, sql=i % 10 == 0)
            if i % 2:
                with self.lock:
                    self.unanswered.add(rid)
                continue
            answered = self._ok(mine.post(f"/tickets/{rid}/responses", json={"body": "on it"}), 201)
            if answered is not None:
                with self.lock:
                    self.responses.append(str(answered["id"]))
                    self.answered.add(rid)
                    self.writes += 1
            else:
                with self.lock:
                    self.unanswered.add(rid)

    def _read_back(self, api: httpx.Client, rid: str, version: int, sql: bool) -> None:
        got = api.get(f"/records/tickets/{rid}")
        seen = int(got.json()["version"]) if got.status_code == 200 else -1
        problem = None if seen >= version else f"GET {rid}: version {seen} < acknowledged {version}"
        if sql and problem is None:
            q = "SELECT version FROM records FINAL WHERE collection = 'tickets' AND id = {id:String}"
            r = api.post("/sql", json={"query": q, "params": {"id": rid}})
            for _ in range(50):  # refused honestly (429 over the caps, 503 replica_lagging): asked again
                code = r.json().get("error", {}).get("code") if r.status_code in (429, 503) else None
                if code not in ("rate_limited", "replica_lagging"):
                    break
                with self.lock:
                    self.refusals[code] = self.refusals.get(code, 0) + 1
                    self.first_refusal = self.first_refusal or r.json()["error"]["message"]
                time.sleep(float(r.headers.get("Retry-After", "0.2")))
                r = api.post("/sql", json={"query": q, "params": {"id": rid}})
            rows = r.json().get("data", []) if r.status_code == 200 else []
            seen = int(rows[0][0]) if rows else -1
            if seen < version:
                problem = f"SQL {rid}: {r.status_code} {r.text[:200]} version {seen} < acknowledged {version}"
        with self.lock:
            self.ryw_reads += 1
            self.ryw_sql += int(sql)
            if problem:
                self.stale.append(problem)


def _wait(cond: Any, timeout: float, step: float = 0.05) -> float | None:
    """Seconds until cond() held, or None after timeout."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if cond():
            return time.monotonic() - t0
        time.sleep(step)
    return None


def run(
    url: str, root: Path, seconds: float = 60, writers: int = 16, failover_bound: float = 10.0
) -> Outcome:
    """The whole scenario on the (empty or migrated) PostgreSQL database at `url`, processes' data under `root`."""
    out = Outcome()
    key = secrets.token_hex(32)
    eng = sa.create_engine(url)
    with ExitStack() as stack:
        procs = stack.enter_context(_processes())
        apis = [stack.enter_context(_api(procs, url, root / f"api{n}", key)) for n in (1, 2)]
        _setup(apis[0])
        wdirs = [root / "worker1", root / "worker2"]
        workers = []
        for d in wdirs:
            d.mkdir(parents=True, exist_ok=True)
            w = subprocess.Popen(
                [sys.executable, "-m", "deskbase.cli.main", "worker"],
                env=_env(url, d, key),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            procs.append(w)
            workers.append(w)
        pids = {w.pid for w in workers}
        if (
            _wait(lambda: set(LOOPS) <= holders(eng).keys() and set(holders(eng).values()) <= pids, 120)
            is None
        ):
            raise RuntimeError(f"the workers did not take the leases: {holders(eng)}")

        load = Writers(apis, writers)
        t0 = time.monotonic()
        load.start()
        time.sleep(seconds / 2)
        held = holders(eng)
        leader_pid = held["replicator"]
        leader = next(w for w in workers if w.pid == leader_pid)
        survivor = next(w for w in workers if w.pid != leader_pid)
        moved = sorted(name for name, pid in held.items() if pid == leader_pid)
        leader.send_signal(signal.SIGKILL)
        leader.wait(timeout=10)
        killed = time.monotonic()
        took = _wait(lambda: all(holders(eng).get(n) == survivor.pid for n in moved), 60)
        time.sleep(max(0.0, seconds - (time.monotonic() - t0)))
        load.join()
        elapsed = time.monotonic() - t0
        # Every ticket left unanswered breaches TARGET_S after its creation; give the survivor time to record it.
        time.sleep(TARGET_S + 3)
        survivor.send_signal(signal.SIGTERM)
        survivor.wait(timeout=60)
        for api in apis:
            api.close()
        for p in procs:
            if p.poll() is None:
                p.terminate()
                p.wait(timeout=60)

        out.figures.update(
            seconds=round(elapsed, 1),
            writers=writers,
            acknowledged_writes=load.writes,
            writes_per_s=round(load.writes / elapsed, 1),
            refused_requests=load.errors,
            tickets=len(load.tickets),
            responses=len(load.responses),
            killed_after_s=round(killed - t0, 1),
            leases_moved=moved,
            failover_s=None if took is None else round(took, 2),
            ryw_reads=load.ryw_reads,
            ryw_sql_reads=load.ryw_sql,
            sql_refusals_retried=load.refusals,
            first_sql_refusal=load.first_refusal,
        )
        check_stored(out, eng, load)
        check_sla(out, eng, load)
        out.check(
            "read-your-writes across API processes",
            not load.stale,
            f"{load.ryw_reads} reads by id, {load.ryw_sql} through SQL; stale: {load.stale[:3]}",
        )
        out.check(
            f"failover (leases {', '.join(moved)} to the other worker, <= {failover_bound:g} s)",
            took is not None and took <= failover_bound,
            "never" if took is None else f"{took:.2f} s after the kill",
        )
        verify = subprocess.run(
            [
                sys.executable,
                "-m",
                "deskbase.cli.main",
                "analytics",
                "verify",
                "--data-dir",
                str(wdirs[workers.index(survivor)]),
            ],
            env=_env(url, wdirs[workers.index(survivor)], key),
            capture_output=True,
            text=True,
            timeout=600,
        )
        detail = (verify.stdout + verify.stderr).strip().splitlines()
        out.check(
            "analytics verify (the surviving worker's replica)",
            verify.returncode == 0,
            " | ".join(detail[-3:]),
        )
    eng.dispose()
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seconds", type=float, default=60.0, help="how long the writers write (default 60)")
    p.add_argument("--writers", type=int, default=16, help="writer threads over both APIs (default 16)")
    p.add_argument("--json", action="store_true", help="print the figures and checks as JSON")
    args = p.parse_args()
    with tempfile.TemporaryDirectory(prefix="deskbase-soak-") as tmp, fresh_database(PG_URL) as url:
        out = run(url, Path(tmp), args.seconds, args.writers)
    if args.json:
        print(json.dumps({"figures": out.figures, "checks": out.checks, "ok": out.ok}, indent=2))
    else:
        print(f"soak on PostgreSQL: 2 API processes, 2 workers, {args.writers} writers, {args.seconds:g} s")
        for k, v in out.figures.items():
            print(f"  {k}: {v}")
        for name, ok, detail in out.checks:
            print(f"{'PASS' if ok else 'FAIL'}  {name}: {detail}")
    sys.exit(0 if out.ok else 1)


if __name__ == "__main__":
    main()
