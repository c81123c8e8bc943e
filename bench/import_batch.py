"""Bulk import: tickets through `core.batch.run` in 1,000-op batches vs raw batched SQLite inserts of the same
rows into the same tables (a record row + a change-log row each, one transaction per batch).

Both sides get the same operations (the import API's shape: external id, historical `at`/`created_at`) and
write to identical schemas (created by deskbase's migrations + the support template, so the x-index
expression indexes and the x-search FTS5 triggers are maintained on both sides). Records go in as multi-row
INSERTs on both sides: one statement per row would make FTS5 flush per row (see core/bulk.py). Batches are
interleaved deskbase/raw so that disk and CPU drift hit both alike; each pair runs with synchronous=FULL (the
default) and NORMAL. A second deskbase row imports the same tickets without external ids, which isolates the
cost of the external-id path. Finally the same import goes through HTTP POST /v1/workspaces/{ws}/batch on a
real uvicorn server.

    .venv/bin/python bench/import_batch.py [--size N] [--full] [--http-size N] [--json]
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
from common import WORKSPACE, Report, detach_sla, log, open_core, parser, scratch, server, size_of, token_of
from gen import ticket_batches

from deskbase.core.context import SYSTEM
from deskbase.core.ids import uuid7

BATCH = 1000


def _sqlite_ts(iso_text: str) -> str:
    """The storage form SQLAlchemy's DateTime uses on SQLite (naive UTC text), from an ISO-8601 string."""
    v = datetime.fromisoformat(iso_text).astimezone(UTC)
    return v.strftime("%Y-%m-%d %H:%M:%S.%f")


class RawImporter:
    """The baseline: what a hand-written importer does with the DB-API and the same schema."""

    def __init__(self, path: Path, synchronous: str) -> None:
        self.conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        for pragma in (
            "journal_mode=WAL",
            f"synchronous={synchronous}",
            "foreign_keys=ON",
            "cache_size=-65536",
            "temp_store=MEMORY",
        ):
            self.conn.execute(f"PRAGMA {pragma}")

    def run(self, ops: list[dict[str, Any]]) -> None:
        c = self.conn
        c.execute("BEGIN IMMEDIATE")
        seq = c.execute("SELECT COALESCE(MAX(seq), 0) FROM changes").fetchone()[0]
        records, changes = [], []
        for op in ops:
            seq += 1
            rid = uuid7()
            created = _sqlite_ts(op["created_at"])
            at = _sqlite_ts(op["at"])
            data = op["data"]
            image = {
                "data": data,
                "deleted": False,
                "external_id": op["external_id"],
                "external_source": op["external_source"],
                "created_at": op["created_at"],
                "updated_at": op["at"],
            }
            records.append(
                (
                    WORKSPACE,
                    op["collection"],
                    rid,
                    orjson.dumps(data).decode(),
                    seq,
                    0,
                    op["external_id"],
                    op["external_source"],
                    created,
                    at,
                    "system",
                    "system",
                )
            )
            changes.append(
                (seq, WORKSPACE, "record", op["collection"], rid, "create", orjson.dumps(image).decode(),
                 "system", "system", at)
            )  # fmt: skip
        c.executemany(
            "INSERT INTO changes (seq, workspace_id, entity, collection, entity_id, op, data, actor, actor_name, at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            changes,
        )
        one = "(?,?,?,?,?,?,?,?,?,?,?,?)"
        for i in range(0, len(records), 500):
            chunk = records[i : i + 500]
            c.execute(
                "INSERT INTO records (workspace_id, collection, id, data, version, deleted, external_id, "
                "external_source, created_at, updated_at, created_by, updated_by) VALUES "
                + ", ".join([one] * len(chunk)),
                [v for row in chunk for v in row],
            )
        c.execute("COMMIT")

    def count(self) -> int:
        return int(
            self.conn.execute("SELECT count(*) FROM records WHERE collection = 'tickets'").fetchone()[0]
        )

    def close(self) -> None:
        self.conn.close()


def _count(core: Any) -> int:
    from sqlalchemy import text

    with core.db.read() as conn:
        return int(conn.execute(text("SELECT count(*) FROM records WHERE collection = 'tickets'")).scalar())


def in_process(root: Path, n: int, synchronous: str) -> list[list[Any]]:
    """Interleave, batch by batch: raw inserts; deskbase with the import shape (external ids); deskbase
    without external ids; and, for attribution only, the latter with the SLA hook detached."""
    batches = list(ticket_batches(n, None, BATCH))
    plain = list(ticket_batches(n, None, BATCH, external=False))  # the same tickets, no external ids
    schema_core = open_core(root / f"raw-{synchronous}", synchronous)  # same migrations + template indexes
    schema_core.close()
    raw = RawImporter(root / f"raw-{synchronous}" / "deskbase.db", synchronous)
    cores = {k: open_core(root / f"{k}-{synchronous}", synchronous) for k in ("ext", "plain", "nosla")}
    variants: dict[str, tuple[str, Callable[[int], Any]]] = {
        "raw": ("raw sqlite3 (multi-row INSERT)", lambda i: raw.run(batches[i])),
        "ext": ("core.batch.run (import: ext ids)", lambda i: cores["ext"].batch.run(WORKSPACE, batches[i], SYSTEM)),
        "plain": ("core.batch.run (no ext ids)", lambda i: cores["plain"].batch.run(WORKSPACE, plain[i], SYSTEM)),
    }  # fmt: skip
    if detach_sla(cores["nosla"]):
        variants["nosla"] = (
            "  attribution: no ext ids, SLA hook detached",
            lambda i: cores["nosla"].batch.run(WORKSPACE, plain[i], SYSTEM),
        )
    spent = dict.fromkeys(variants, 0.0)
    for i in range(len(batches)):
        for key, (_, fn) in variants.items():
            t0 = time.perf_counter()
            fn(i)
            spent[key] += time.perf_counter() - t0
    counts = {"raw": raw.count(), **{k: _count(c) for k, c in cores.items() if k in variants}}
    raw.close()
    for c in cores.values():
        c.close()
    for k, v in counts.items():
        if v != n:
            raise RuntimeError(f"{k} import wrote {v} tickets, expected {n}")
    base = n / spent["raw"]
    return [
        [synchronous, label, n, spent[k], n / spent[k], n / spent[k] / base]
        for k, (label, _) in variants.items()
    ]


def over_http(root: Path, n: int) -> tuple[float, float]:
    """Records/s of POST /batch (server default: synchronous=FULL, replicator off), and of the same
    batches through core.batch.run in this process on a fresh store, measured right after."""
    batches = list(ticket_batches(n, None, BATCH, start=10_000_000))
    data_dir = root / "http"
    with server("deskbase", "--setup", data_dir=data_dir) as port:
        token = token_of(data_dir)
        bodies = [orjson.dumps({"operations": b}) for b in batches]
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=120) as client:
            t0 = time.perf_counter()
            for body in bodies:
                r = client.post(f"/v1/workspaces/{WORKSPACE}/batch", content=body)
                if r.status_code != 200:
                    raise RuntimeError(f"POST /batch answered {r.status_code}: {r.text[:500]}")
            http_s = time.perf_counter() - t0
    core = open_core(root / "http-core", "FULL")
    t0 = time.perf_counter()
    for b in batches:
        core.batch.run(WORKSPACE, b, SYSTEM)
    core_s = time.perf_counter() - t0
    core.close()
    return n / http_s, n / core_s


def main() -> None:
    p = parser("bulk import vs raw batched SQLite inserts", default_size=20_000, full_size=100_000)
    p.add_argument(
        "--http-size", type=int, default=None, help="tickets sent over HTTP (default min(size, 10k))"
    )
    args = p.parse_args()
    n = size_of(args)
    http_n = min(n, 10_000) if args.http_size is None else args.http_size
    report = Report("import_batch", {"tickets": n, "batch_ops": BATCH, "http_tickets": http_n})
    rows: list[list[Any]] = []
    with scratch("import", args.keep) as root:
        for sync in ("FULL", "NORMAL"):
            log(f"importing {n:,} tickets through every path, interleaved, synchronous={sync}")
            part = in_process(root, n, sync)
            rows += part
            report.check(f"import/raw ratio ({sync})", part[1][5], ">=", 0.6)
        report.table(
            "bulk import (records/s; ratio = deskbase / raw in the same run)",
            ["sync", "path", "records", "seconds", "records/s", "ratio"],
            rows,
        )
        if http_n > 0:
            log(f"importing {http_n:,} tickets through HTTP POST /batch")
            http_rps, core_rps = over_http(root, http_n)
            report.table(
                "batch import over HTTP (synchronous=FULL)",
                ["path", "records", "records/s", "ratio"],
                [
                    ["core.batch.run (in process)", http_n, core_rps, 1.0],
                    ["HTTP POST /batch (uvicorn)", http_n, http_rps, http_rps / core_rps],
                ],
            )
    report.emit(args.json)


if __name__ == "__main__":
    main()
