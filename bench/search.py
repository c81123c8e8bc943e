"""Search at scale: the filter DSL's `search` op on an `x-search` field (trigram index) beside the scan it
replaces, on the same store in the same run, and what keeping the index costs writes.

`--size` tickets (100k; 1M with `--full`) are loaded through `core.batch.run` (synchronous=NORMAL, no external
ids, SLA upkeep as always); every 10,000th then gets a distinctive subject, so a rare pattern has a handful of
matches. Each case runs `--runs` times after a warm-up, interleaved round-robin: *indexed* is
`core.records.query` / `count` (what the API and console run); *scan* is the same query compiled without
knowledge of x-search fields — exactly what ran before — on the same connection setup. Both must return the
same ids (`agree`). `EXPLAIN QUERY PLAN` shows how SQLite answers the indexed side.

Writes: `--write-size` tickets (10k) through `core.batch.run` into two fresh stores, batch-interleaved with
synchronous=FULL: the support template as shipped, and the same with its search structures dropped (a store
before x-search); then 1,000-op batches of patches that leave the text alone (status) or change it (subject).

    .venv/bin/python bench/search.py [--size N] [--full] [--runs R] [--write-size N] [--json]
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from common import WORKSPACE, Report, log, open_core, parser, scratch, size_of, summary
from gen import ticket_batches
from query import interleave
from sqlalchemy import event, func, select

from deskbase.core import search
from deskbase.core import tables as t
from deskbase.core.context import SYSTEM
from deskbase.core.entity_state import record_from_row
from deskbase.core.filters import Compiler, Sorter, parse_sort

LIMIT = 50
RARE_EVERY = 10_000
RARE = "printer on fire"


def flt(value: str, field: str = "subject") -> dict[str, Any]:
    return {"field": f"data.{field}", "op": "search", "value": value}


QUEUE = {"and": [{"field": "data.status", "op": "eq", "value": "open"}, flt(RARE)]}
NEWEST = [{"field": "updated_at", "direction": "desc"}]
#: name -> (filter, sort, count?)
CASES: dict[str, tuple[dict[str, Any], list[dict[str, str]] | None, bool]] = {
    f"rare: subject '{RARE}', limit {LIMIT}": (flt(RARE), None, False),
    "no match: subject 'zebra crossing'": (flt("zebra crossing"), None, False),
    "common (~3%): subject 'refund'": (flt("refund"), None, False),
    "very common (~25%): description 'the'": (flt("the", "description"), None, False),
    f"queue: status=open + subject '{RARE}', newest first": (QUEUE, NEWEST, False),
    f"count: subject '{RARE}'": (flt(RARE), None, True),
    "count: subject 'refund'": (flt("refund"), None, True),
    "2 chars (scan both sides): subject 'fi'": (flt("fi"), None, False),
}


def load(core: Any, n: int) -> tuple[int, float]:
    """`n` tickets, then a distinctive subject on every RARE_EVERY-th; returns (rare tickets, records/s)."""
    ids: list[str] = []
    t0 = time.perf_counter()
    for ops in ticket_batches(n, None, 1000, external=False):
        out = core.batch.run(WORKSPACE, ops, SYSTEM)
        ids += [r["record"]["id"] for r in out["results"]]
        if len(ids) % 100_000 == 0:
            log(f"  {len(ids):,} tickets loaded")
    rate = n / (time.perf_counter() - t0)
    rare = ids[RARE_EVERY // 2 :: RARE_EVERY]
    patches = [
        {
            "type": "patch_record",
            "collection": "tickets",
            "id": rid,
            "data": {"subject": f"Printer on fire #{k}"},
        }
        for k, rid in enumerate(rare)
    ]
    if patches:
        core.batch.run(WORKSPACE, patches, SYSTEM)
    return len(rare), rate


def scan_query(core: Any, f: dict[str, Any], sort: Any, limit: int = LIMIT) -> list[str]:
    """`Records.query` as it was before x-search: the same steps, the filter compiled without search fields."""
    r = t.records
    with core.db.read() as conn:
        core.collections.require(conn, WORKSPACE, "tickets")
        comp = Compiler(conn.dialect.name)
        sorter = Sorter(comp, parse_sort(sort))
        conds = [r.c.workspace_id == WORKSPACE, r.c.collection == "tickets", r.c.deleted.is_(False)]
        q = select(r).where(*conds, comp.condition(f)).order_by(*sorter.order_by()).limit(limit + 1)
        rows = conn.execute(q).all()
    return [record_from_row(x).public()["id"] for x in rows[:limit]]


def scan_count(core: Any, f: dict[str, Any]) -> int:
    r = t.records
    with core.db.read() as conn:
        core.collections.require(conn, WORKSPACE, "tickets")
        conds = [r.c.workspace_id == WORKSPACE, r.c.collection == "tickets", r.c.deleted.is_(False)]
        q = select(func.count()).select_from(r).where(*conds, Compiler(conn.dialect.name).condition(f))
        return int(conn.execute(q).scalar_one())


def indexed_query(core: Any, f: dict[str, Any], sort: Any) -> list[str]:
    return [x["id"] for x in core.records.query(WORKSPACE, "tickets", f, sort, limit=LIMIT)["data"]]


def sides(core: Any) -> dict[str, tuple[Callable[[], Any], Callable[[], Any]]]:
    out = {}
    for name, (f, sort, count) in CASES.items():
        if count:
            out[name] = (partial(core.records.count, WORKSPACE, "tickets", f), partial(scan_count, core, f))
        else:
            out[name] = (partial(indexed_query, core, f, sort), partial(scan_query, core, f, sort))
    return out


def plans(core: Any, db_file: Path) -> list[list[str]]:
    """EXPLAIN QUERY PLAN of the SQL the core ran for a few indexed cases (captured from the engine)."""
    import sqlite3

    captured: list[tuple[str, Any]] = []

    def grab(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        captured.append((statement, parameters))

    rows: list[list[str]] = []
    event.listen(core.db.engine, "before_cursor_execute", grab)
    try:
        with sqlite3.connect(db_file) as raw:
            for name in [*list(CASES)[:3], list(CASES)[4]]:
                captured.clear()
                sides(core)[name][0]()
                statement, params = [c for c in captured if c[0].startswith("SELECT records.")][-1]
                for i, step in enumerate(raw.execute("EXPLAIN QUERY PLAN " + statement, params).fetchall()):
                    rows.append([name if i == 0 else "", step[3]])
    finally:
        event.remove(core.db.engine, "before_cursor_execute", grab)
    return rows


def storage(db_file: Path) -> list[list[Any]]:
    """MiB on disk (SQLite's dbstat): the records table and its indexes beside each field's FTS5 objects."""
    import sqlite3

    with sqlite3.connect(db_file) as raw:
        sizes = dict(raw.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name").fetchall())
    mib = 1024 * 1024
    own = ("records", "ix_records_", "sqlite_autoindex_records")
    rows: list[list[Any]] = [
        ["records table + its indexes", sum(v for k, v in sizes.items() if k.startswith(own)) / mib]
    ]
    for field in ("subject", "description", "name", "email", "company"):
        prefix = search.fts_table(field)
        total = sum(v for k, v in sizes.items() if k.startswith(prefix))
        rows.append([f"x-search {field} (FTS5 + shadow tables)", total / mib])
    return rows


def write_costs(root: Path, n: int) -> tuple[list[list[Any]], dict[str, float]]:
    """Tickets/s and patches/s into a store with the support template's search structures and one without."""
    stores = {"x-search": open_core(root / "w-search", "FULL"), "none": open_core(root / "w-none", "FULL")}
    with stores["none"].db.engine.begin() as conn:
        search.drop_search_indexes(conn)
    batches = list(ticket_batches(n, None, 1000, external=False))
    spent = dict.fromkeys(stores, 0.0)
    ids: dict[str, list[str]] = {k: [] for k in stores}
    for ops in batches:
        for name, core in stores.items():
            t0 = time.perf_counter()
            out = core.batch.run(WORKSPACE, ops, SYSTEM)
            spent[name] += time.perf_counter() - t0
            ids[name] += [r["record"]["id"] for r in out["results"]]
    rates = {f"create {k}": n / v for k, v in spent.items()}
    for kind, data in (("status", lambda i: {"status": "waiting" if i % 2 else "open"}),
                       ("subject", lambda i: {"subject": f"Renamed ticket {i}"})):  # fmt: skip
        spent = dict.fromkeys(stores, 0.0)
        done = 0
        for start in range(0, min(n, 5000), 1000):
            for name, core in stores.items():
                ops = [
                    {"type": "patch_record", "collection": "tickets", "id": rid, "data": data(start + i)}
                    for i, rid in enumerate(ids[name][start : start + 1000])
                ]
                t0 = time.perf_counter()
                core.batch.run(WORKSPACE, ops, SYSTEM)
                spent[name] += time.perf_counter() - t0
            done += len(ops)
        rates.update({f"patch {kind} {k}": done / v for k, v in spent.items()})
    for core in stores.values():
        core.close()
    rows = [
        [f"create tickets ({n:,}, 1,000-op batches)", rates["create x-search"], rates["create none"]],
        ["patch status (text unchanged)", rates["patch status x-search"], rates["patch status none"]],
        ["patch subject (re-indexed)", rates["patch subject x-search"], rates["patch subject none"]],
    ]
    for row in rows:
        row.append(row[1] / row[2])
    return rows, rates


def main() -> None:
    p = parser("search on x-search fields vs the scan", default_size=100_000, full_size=1_000_000)
    p.add_argument("--runs", type=int, default=30, help="timed runs per case and side (default 30)")
    p.add_argument("--write-size", type=int, default=10_000, help="tickets for the write-cost part (10k)")
    args = p.parse_args()
    n, runs = size_of(args), max(args.runs, 1)
    report = Report("search", {"tickets": n, "runs": runs, "limit": LIMIT, "write_size": args.write_size})
    with scratch("search", args.keep) as root:
        core = open_core(root / "store", "NORMAL")
        log(f"loading {n:,} tickets through core.batch.run")
        rare, rate = load(core, n)
        log(f"  loaded at {rate:,.0f} records/s; {rare} rare subjects")
        cases = sides(core)
        agree = {name: indexed() == scan() for name, (indexed, scan) in cases.items()}
        explained = plans(core, root / "store" / "deskbase.db")
        disk = storage(root / "store" / "deskbase.db")
        log(f"timing {runs} runs per case and side, interleaved")
        flat = {
            f"{name}|{side}": fn for name, fns in cases.items() for side, fn in zip("is", fns, strict=True)
        }
        times = interleave(flat, runs, warmup=2)
        core.close()
        log(f"write costs: {args.write_size:,} tickets into a store with and without x-search")
        writes, _ = write_costs(root, args.write_size)
    rows: list[list[Any]] = []
    for name in cases:
        i, s = summary(times[f"{name}|i"]), summary(times[f"{name}|s"])
        rows.append(
            [
                name,
                i["median_ms"],
                i["p99_ms"],
                s["median_ms"],
                s["p99_ms"],
                s["median_ms"] / i["median_ms"],
                agree[name],
            ]
        )
    report.table(
        f"search at {n:,} tickets (ms, {runs} interleaved runs per side; core facade, SQLite)",
        ["case", "indexed median", "indexed p99", "scan median", "scan p99", "scan/indexed", "agree"],
        rows,
    )
    report.table(
        "EXPLAIN QUERY PLAN of the indexed side (SQL captured from the core)", ["case", "plan"], explained
    )
    report.table(f"storage at {n:,} tickets (MiB)", ["object", "MiB"], disk)
    report.table(
        "write cost (rows/s, FULL, batch-interleaved; 'none' = the same template with its search structures dropped)",
        ["write", "with x-search", "without", "ratio"],
        writes,
    )
    report.note(f"load through core.batch.run (NORMAL, no external ids): {rate:,.0f} records/s")
    if not all(agree.values()):
        report.note(
            "DISAGREEMENT: the indexed and scanned answers differ for "
            + ", ".join(k for k, v in agree.items() if not v)
        )
    report.emit(args.json)


if __name__ == "__main__":
    main()
