"""Small helpers shared by the benchmarks: arguments, timing, percentiles, scratch dirs, tables and JSON output.

Every benchmark measures deskbase beside a baseline *in the same run* (DESIGN §9) and reports figures and
ratios; targets are printed beside them, never asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from deskbase.support.service import SlaService

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
DATA = BENCH / ".data"
SEED_QUERIES = REPO.parent / "shared" / "seed" / "queries"
WORKSPACE = "bench"
PG_URL = os.environ.get("DESKBASE_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


# ---- arguments ---------------------------------------------------------------------------------------


def _terminated(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)


def parser(description: str, default_size: int, full_size: int) -> argparse.ArgumentParser:
    # SIGTERM (run_all's time bound, a user's kill) unwinds like Ctrl-C: servers stopped, scratch removed
    signal.signal(signal.SIGTERM, _terminated)
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--size", type=int, default=None, help=f"rows to load (default {default_size:,})")
    p.add_argument("--full", action="store_true", help=f"the DESIGN §9 size ({full_size:,})")
    p.add_argument("--json", action="store_true", help="print machine-readable results instead of a table")
    p.add_argument("--keep", action="store_true", help="keep the scratch data directory")
    p.set_defaults(_default_size=default_size, _full_size=full_size)
    return p


def size_of(args: argparse.Namespace) -> int:
    if args.size is not None:
        return int(args.size)
    return int(args._full_size if args.full else args._default_size)


def log(message: str) -> None:
    """Progress goes to stderr so that stdout stays a clean table (or JSON document)."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# ---- timing ------------------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100) with linear interpolation between closest ranks."""
    if not values:
        return float("nan")
    s = sorted(values)
    k = (len(s) - 1) * q / 100
    lo = int(k)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def summary(ms: list[float]) -> dict[str, float]:
    return {
        "n": len(ms),
        "median_ms": statistics.median(ms) if ms else float("nan"),
        "p99_ms": percentile(ms, 99),
        "min_ms": min(ms) if ms else float("nan"),
    }


def time_ms(fn: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    out = fn()
    return (time.perf_counter() - t0) * 1000.0, out


def repeat_ms(fn: Callable[[], Any], runs: int, warmup: int = 5) -> list[float]:
    for _ in range(warmup):
        fn()
    return [time_ms(fn)[0] for _ in range(runs)]


# ---- scratch space and processes -----------------------------------------------------------------------


@contextmanager
def scratch(name: str, keep: bool = False) -> Iterator[Path]:
    """A fresh directory under bench/.data (git-ignored), removed afterwards unless `keep`."""
    path = DATA / f"{name}-{os.getpid()}"
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    try:
        yield path
    finally:
        if keep:
            log(f"kept {path}")
        else:
            shutil.rmtree(path, ignore_errors=True)


def free_port() -> int:
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(port: int, path: str = "/healthz", timeout: float = 60.0) -> None:
    """Wait until 127.0.0.1:port answers `path` with any HTTP status."""
    import httpx

    deadline = time.monotonic() + timeout
    while True:
        try:
            httpx.get(f"http://127.0.0.1:{port}{path}", timeout=2.0)
            return
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"server on port {port} did not start within {timeout:.0f} s") from None
            time.sleep(0.1)


@contextmanager
def server(kind: str, *options: str, data_dir: Path | None = None, startup: float = 300.0) -> Iterator[int]:
    """Start `bench/launcher.py <kind>` (one uvicorn worker) on a free 127.0.0.1 port; yields the port.

    Stopped with SIGINT so that uvicorn runs the app's shutdown (replicator stop, store close)."""
    port = free_port()
    cmd = [sys.executable, str(BENCH / "launcher.py"), kind, "--port", str(port), *options]
    if data_dir is not None:
        cmd += ["--data-dir", str(data_dir)]
    errlog = (data_dir or DATA) / f"server-{kind}-{port}.log"
    errlog.parent.mkdir(parents=True, exist_ok=True)
    with open(errlog, "wb") as err:
        proc = subprocess.Popen(cmd, stdout=err, stderr=subprocess.STDOUT, cwd=REPO)
    try:
        try:
            wait_http(port, timeout=startup)
        except TimeoutError:
            raise RuntimeError(f"{kind} server failed to start:\n{errlog.read_text()[-3000:]}") from None
        yield port
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.returncode not in (0, -signal.SIGINT):
            log(f"{kind} server exited with {proc.returncode}; log tail:\n{errlog.read_text()[-2000:]}")
        errlog.unlink(missing_ok=True)


def token_of(data_dir: Path) -> str:
    """The admin token the launcher stored with `core.tokens.ensure_admin_token`."""
    return (data_dir / "admin-token").read_text().strip()


# ---- deskbase --------------------------------------------------------------------------------------------


def open_core(data_dir: Path, synchronous: str = "FULL", workspace: str | None = WORKSPACE) -> Any:
    """A core on `data_dir` with the support domain installed and (optionally) a workspace with the
    support template applied: exactly what `deskbase serve` wires, minus HTTP."""
    from deskbase.config import Settings
    from deskbase.core.app import Deskbase
    from deskbase.support.install import install

    core = Deskbase.open(Settings(data_dir=str(data_dir), sqlite_synchronous=synchronous, replicate=False))
    install(core)
    if workspace:
        setup_workspace(core, workspace)
    return core


def detach_sla(core: Any) -> bool:
    """Attribution only: unhook the SLA service's in-transaction evaluation, so that a labelled extra row
    shows what SLA upkeep costs. deskbase never runs like this; returns False if the hook is not found."""
    hook = getattr(core.extensions.get(SlaService), "_on_changes", None)
    if hook is None or hook not in core.hooks.in_transaction:
        return False
    core.hooks.in_transaction.remove(hook)
    return True


def setup_workspace(core: Any, workspace: str) -> None:
    from deskbase.core.context import SYSTEM

    core.workspaces.put(workspace, f"Benchmark ({workspace})", None, SYSTEM)
    core.templates.apply(workspace, "support", SYSTEM)


def machine() -> dict[str, Any]:
    info: dict[str, Any] = {
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "platform": platform.platform(terse=True),
    }
    try:
        from importlib.metadata import version

        info["chdb"] = version("chdb")
    except Exception:  # not installed: the chDB benchmarks say so themselves
        pass
    try:  # read-only: which code was measured (--no-optional-locks: not even an index refresh)
        git = ["git", "--no-optional-locks", "-C", str(REPO)]
        head = subprocess.run(
            [*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True, timeout=5
        )
        dirty = subprocess.run([*git, "status", "--porcelain"], capture_output=True, text=True, timeout=5)
        info["git"] = head.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        pass
    return info


def busy_cpu(seconds: float = 1.0) -> float:
    """Fraction of all CPUs busy over `seconds` (from /proc/stat), measured before a benchmark starts so
    that a run sharing the machine with other work says so instead of passing off skewed figures."""

    def sample() -> tuple[int, int]:
        with open("/proc/stat") as f:
            values = [int(v) for v in f.readline().split()[1:]]
        idle = values[3] + values[4]  # idle + iowait
        return sum(values), idle

    try:
        total0, idle0 = sample()
        time.sleep(seconds)
        total1, idle1 = sample()
    except OSError:
        return float("nan")
    return 1.0 - (idle1 - idle0) / max(1, total1 - total0)


# ---- reporting ---------------------------------------------------------------------------------------------


@dataclass
class Check:
    """One figure against its DESIGN §9 target."""

    name: str
    value: float
    target: str  # e.g. ">= 0.5"
    ok: bool | None

    @staticmethod
    def of(name: str, value: float, op: str, bound: float) -> Check:
        ok = None if value != value else (value >= bound if op == ">=" else value <= bound)
        return Check(name, value, f"{op} {bound:g}", ok)


@dataclass
class Report:
    benchmark: str
    params: dict[str, Any]
    tables: list[dict[str, Any]] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    busy_at_start: float = field(default_factory=busy_cpu)

    def __post_init__(self) -> None:
        if self.busy_at_start > 0.15:
            self.note(
                f"the machine was {self.busy_at_start:.0%} busy with other work when this benchmark started; "
                "its figures are skewed (rerun on a quiet machine)"
            )

    def table(self, title: str, headers: list[str], rows: list[list[Any]]) -> None:
        self.tables.append({"title": title, "headers": headers, "rows": rows})

    def check(self, name: str, value: float, op: str, bound: float) -> None:
        self.checks.append(Check.of(name, value, op, bound))

    def note(self, text: str) -> None:
        self.notes.append(text)

    def emit(self, as_json: bool) -> None:
        if as_json:
            doc = {
                "benchmark": self.benchmark,
                "params": self.params,
                "machine": machine(),
                "busy_at_start": round(self.busy_at_start, 3),
                "tables": self.tables,
                "checks": [asdict(c) for c in self.checks],
                "notes": self.notes,
            }
            print(json.dumps(doc, indent=1, default=str))
            return
        print(f"\n== {self.benchmark}  " + "  ".join(f"{k}={v}" for k, v in self.params.items()))
        for t in self.tables:
            print_table(t["title"], t["headers"], t["rows"])
        if self.checks:
            rows = [
                [c.name, fmt(c.value), c.target, "n/a" if c.ok is None else ("ok" if c.ok else "MISS")]
                for c in self.checks
            ]
            print_table("targets (DESIGN §9)", ["figure", "measured", "target", ""], rows)
        for n in self.notes:
            print(f"  note: {n}")
        sys.stdout.flush()


def fmt(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if value != value:
            return "-"
        if abs(value) >= 1000:
            return f"{value:,.0f}"
        if abs(value) >= 10:
            return f"{value:.1f}"
        return f"{value:.2f}"
    return str(value)


def print_table(title: str, headers: list[str], rows: list[list[Any]]) -> None:
    cells = [[fmt(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]

    def line(values: list[str]) -> str:
        first = values[0].ljust(widths[0])
        rest = [v.rjust(w) for v, w in zip(values[1:], widths[1:], strict=True)]
        return "  ".join([first, *rest])

    print(f"\n{title}")
    print(line(headers))
    print("  ".join("-" * w for w in widths))
    for r in cells:
        print(line(r))
