"""Run every benchmark in sequence: small default sizes (the whole run stays under 10 minutes on 2 cores),
or the DESIGN §9 sizes with --full.

    .venv/bin/python bench/run_all.py [--full] [--json] [--only NAME ...]

Each benchmark runs in its own process (chDB may open only one data path per process) under a time bound.
With --json the output is one JSON document holding every benchmark's results.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

from common import BENCH, machine

BENCHMARKS = (
    "http_create",
    "write_cpu",
    "import_batch",
    "query",
    "search",
    "sql",
    "console",
    "webhooks",
    "mcp_calls",
    "mail_ingest",
    "mail_send",
    "access",
)
TIMEOUT_S = {"small": 600, "full": 3600}  # per benchmark


def main() -> None:
    p = argparse.ArgumentParser(description="run all deskbase benchmarks")
    p.add_argument("--full", action="store_true", help="DESIGN §9 sizes (1M tickets; takes much longer)")
    p.add_argument("--json", action="store_true", help="one machine-readable JSON document")
    p.add_argument("--only", nargs="+", choices=BENCHMARKS, help="run only these")
    args = p.parse_args()
    timeout = TIMEOUT_S["full" if args.full else "small"]
    docs = []
    failed = []
    started = time.perf_counter()
    for name in args.only or BENCHMARKS:
        cmd = [sys.executable, str(BENCH / f"{name}.py")]
        if args.full:
            cmd.append("--full")
        if args.json:
            cmd.append("--json")
        print(f"\n### {name}: {' '.join(cmd[1:])}", file=sys.stderr, flush=True)
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, text=True, stdout=subprocess.PIPE if args.json else None)
        try:
            stdout, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.terminate()  # SIGTERM: the benchmark stops its servers and removes its scratch data
            try:
                proc.communicate(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate()
            print(f"### {name}: timed out after {timeout} s", file=sys.stderr)
            failed.append(name)
            continue
        print(
            f"### {name}: {time.perf_counter() - t0:.0f} s, exit {proc.returncode}",
            file=sys.stderr,
            flush=True,
        )
        if proc.returncode != 0:
            failed.append(name)
        elif args.json:
            docs.append(json.loads(stdout))
    total = time.perf_counter() - started
    print(
        f"\n### all done in {total:.0f} s" + (f"; failed: {', '.join(failed)}" if failed else ""),
        file=sys.stderr,
    )
    if args.json:
        print(
            json.dumps({"machine": machine(), "seconds": round(total), "failed": failed, "benchmarks": docs})
        )
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
