"""Where the seed queries' time goes on the replica: JSON or typed paths, one part or many (issue 16, item 6).

chDB alone, synthetic rows built by the engine (fast to load at 1M), the seed queries verbatim on the
read-only settings the endpoint uses (max_threads 2, 4,096-row blocks), median of --runs, each against the same
rows in typed columns without FINAL (the engine's limit). Two experiments:

* layouts: the replica's table as is (JSON), partitioned by collection (with and without
  `do_not_merge_across_partitions_select_final`), and with typed `Variant(String)` paths — each loaded in 12
  parts (10 batches, customers, a 10% status patch) with merges stopped, then merged to one part;
* live: one merged part, then 5 parts of 200 rows such as steady writes leave: new tickets (the key's tail, ids
  are time-ordered), updates of tickets scattered over the key range, updates of recent tickets.

    .venv/bin/python bench/replica_layouts.py [--size N] [--runs R] [--only layouts|live]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

SEED = Path(__file__).resolve().parents[2] / "shared" / "seed" / "queries"
NAMES = (
    "agent_workload",
    "open_tickets_by_priority",
    "tickets_by_category_and_channel",
    "tickets_by_customer_plan",
)
RO = "readonly=1&max_threads=2&max_block_size=4096"
VARIANT = ", ".join(
    f"{f} Variant(String)" for f in ("status", "priority", "assignee", "category", "channel", "plan")
)
TYPED = {
    "agent_workload": "SELECT assignee AS agent, count() AS active_tickets, countIf(priority = 'urgent') AS "
    "urgent_count FROM records WHERE workspace_id = {workspace_id:String} AND collection = 'tickets' AND deleted = "
    "false AND status IN ('open', 'in_progress') GROUP BY agent ORDER BY active_tickets DESC",
    "open_tickets_by_priority": "SELECT priority, count() AS ticket_count FROM records WHERE workspace_id = "
    "{workspace_id:String} AND collection = 'tickets' AND deleted = false AND status IN ('open', 'in_progress', "
    "'waiting') GROUP BY priority ORDER BY ticket_count DESC",
    "tickets_by_category_and_channel": "SELECT category, channel, count() AS ticket_count FROM records WHERE "
    "workspace_id = {workspace_id:String} AND collection = 'tickets' AND deleted = false GROUP BY category, channel "
    "ORDER BY ticket_count DESC",
    "tickets_by_customer_plan": "WITH ticket_customers AS (SELECT source_id AS ticket_id, target_id AS customer_id "
    "FROM relationships WHERE workspace_id = {workspace_id:String} AND rel_type = 'submitted_by' AND deleted = "
    "false) SELECT c.plan AS plan, count() AS ticket_count FROM records t JOIN ticket_customers tc ON tc.ticket_id "
    "= t.id JOIN records c ON c.id = tc.customer_id AND c.workspace_id = {workspace_id:String} AND c.deleted = "
    "false WHERE t.workspace_id = {workspace_id:String} AND t.collection = 'tickets' AND t.deleted = false GROUP "
    "BY plan ORDER BY ticket_count DESC",
}


def rid(prefix: str, n: str) -> str:
    return f"concat('{prefix}', leftPad(toString({n}), 9, '0'))"


def ticket(n: str, salt: int = 1) -> str:
    """A ticket's JSON text from a number: ~10% unassigned, the rest spread like the seed's."""
    return (
        f"concat('{{\"status\":\"', ['open','in_progress','waiting','resolved','closed'][1 + cityHash64({n},{salt}) % 5],"
        f" '\",\"priority\":\"', ['low','medium','high','urgent'][1 + cityHash64({n},2) % 4], '\"', "
        f"if(cityHash64({n},3) % 10 = 0, '', concat(',\"assignee\":\"agent', toString(cityHash64({n},3) % 40), '\"')), "
        f'\',"category":"cat\', toString(cityHash64({n},4) % 5), \'","channel":"\', '
        f"['email','web','phone','chat'][1 + cityHash64({n},5) % 4], '\",\"subject\":\"subject ', toString({n}), '\"}}')"
    )


CUSTOMER = (
    "concat('{\"name\":\"c', toString(number), '\",\"plan\":\"', ['free','pro','enterprise'][1 + cityHash64(number,7) "
    '% 3], \'","email":"c\', toString(number), \'@example.com"}\')'
)


class Bench:
    def __init__(self, size: int, runs: int) -> None:
        import chdb

        self.chdb = chdb
        self.path = tempfile.mkdtemp(prefix="deskbase-layouts-")
        self.admin = chdb.connect(self.path)
        self.n, self.nc, self.runs = size, max(1, size // 5), runs
        self.version = 100_000_000

    def x(self, sql: str) -> str:
        return str(self.admin.query(sql, "CSV").bytes().decode().strip())

    def create(self, db: str, data_type: str = "JSON", partition: str = "", stop_merges: bool = True) -> None:
        x = self.x
        x(f"CREATE DATABASE {db}")
        x(
            f"CREATE TABLE {db}.records (workspace_id String, collection LowCardinality(String), id String, "
            f"data {data_type}, version UInt64, deleted Bool) ENGINE = ReplacingMergeTree(version) "
            f"{partition and 'PARTITION BY collection'} ORDER BY (workspace_id, collection, id)"
        )
        x(
            f"CREATE TABLE {db}.relationships (workspace_id String, id String, rel_type LowCardinality(String), "
            f"source_id String, target_id String, version UInt64, deleted Bool) ENGINE = ReplacingMergeTree(version) "
            f"{partition and 'PARTITION BY rel_type'} ORDER BY (workspace_id, rel_type, source_id, id)"
        )
        if stop_merges:
            x(f"SYSTEM STOP MERGES {db}.records")
            x(f"SYSTEM STOP MERGES {db}.relationships")

    def load(self, db: str, batches: int) -> None:
        n, nc, x = self.n, self.nc, self.x
        x(
            f"INSERT INTO {db}.records SELECT 'bench', 'customers', {rid('c', 'number')}, {CUSTOMER}, number, false "
            f"FROM numbers({nc})"
        )
        step = n // batches
        for b in range(batches):
            src = f"numbers({b * step}, {step})"
            x(
                f"INSERT INTO {db}.records SELECT 'bench', 'tickets', {rid('t', 'number')}, {ticket('number')}, "
                f"{nc} + number, false FROM {src}"
            )
            x(
                f"INSERT INTO {db}.relationships SELECT 'bench', {rid('l', 'number')}, 'submitted_by', "
                f"{rid('t', 'number')}, {rid('c', f'cityHash64(number) % {nc}')}, {nc} + number, false FROM {src}"
            )
        x(
            f"INSERT INTO {db}.records SELECT 'bench', 'tickets', {rid('t', 'number')}, {ticket('number', 99)}, "
            f"10000000 + number, false FROM numbers({n}) WHERE number % 10 = 0"
        )

    def merge(self, db: str) -> float:
        t0 = time.perf_counter()
        for table in ("records", "relationships"):
            self.x(f"SYSTEM START MERGES {db}.{table}")
            self.x(f"OPTIMIZE TABLE {db}.{table} FINAL")
        return time.perf_counter() - t0

    def typed(self, source: str) -> None:
        x = self.x
        x("CREATE DATABASE typed")
        cols = ", ".join(
            f"{f} Nullable(String)" for f in ("status", "priority", "assignee", "category", "channel", "plan")
        )
        sel = ", ".join(
            f"data.{f}.:String" for f in ("status", "priority", "assignee", "category", "channel", "plan")
        )
        x(
            "CREATE TABLE typed.records (workspace_id String, collection LowCardinality(String), id String, "
            f"deleted Bool, version UInt64, {cols}) ENGINE = MergeTree ORDER BY (workspace_id, collection, id)"
        )
        x(
            f"INSERT INTO typed.records SELECT workspace_id, collection, id, deleted, version, {sel} "
            f"FROM {source}.records FINAL"
        )
        x(
            "CREATE TABLE typed.relationships ENGINE = MergeTree ORDER BY (workspace_id, rel_type, source_id, id) "
            f"AS SELECT * FROM {source}.relationships FINAL"
        )
        x("OPTIMIZE TABLE typed.records FINAL")
        x("OPTIMIZE TABLE typed.relationships FINAL")

    def parts(self, db: str) -> str:
        rows = self.x(
            f"SELECT table, count() FROM system.parts WHERE database = '{db}' AND active GROUP BY table ORDER BY table"
        )
        return " ".join(r.replace('"', "").replace(",", " ") for r in rows.splitlines())

    def run(self, db: str, sql: str, extra: str = "") -> tuple[float, list[str]]:
        conn = self.chdb.connect(f"{self.path}?{RO}&database={db}{extra}")
        t0 = time.perf_counter()
        out = conn.query(sql, "CSV", params={"workspace_id": "bench"}).bytes()
        ms = (time.perf_counter() - t0) * 1000
        conn.close()
        return ms, sorted(out.decode().splitlines())

    def compare(self, label: str, sides: list[tuple[str, str, str]], check: bool) -> None:
        """Interleaved runs; each side's median against typed."""
        for name in NAMES:
            seed = (SEED / f"{name}.sql").read_text()
            ref = self.run("typed", TYPED[name])[1]
            times: dict[str, list[float]] = {"typed": []}
            for side, _db, _extra in sides:
                times[side] = []
            for _ in range(self.runs):
                times["typed"].append(self.run("typed", TYPED[name])[0])
                for side, db, extra in sides:
                    ms, rows = self.run(db, seed, extra)
                    if check and rows != ref:
                        print(f"  {side}: {name} differs from typed")
                    times[side].append(ms)
            med = {k: statistics.median(v) for k, v in times.items()}
            cells = "  ".join(
                f"{k} {v:.0f} ({v / med['typed']:.2f}x)" for k, v in med.items() if k != "typed"
            )
            print(f"  {label:9s} {name[:24]:24s} typed {med['typed']:.0f} ms  {cells}", flush=True)


def layouts(b: Bench) -> None:
    print(
        f"\nlayouts: {b.n:,} tickets, {b.nc:,} customers, {b.n:,} links, 10% patched; median ms of {b.runs}"
    )
    dbs = {"json": ("JSON", ""), "by_coll": ("JSON", "p"), "variant": (f"JSON({VARIANT})", "")}
    for db, (data_type, partition) in dbs.items():
        b.create(db, data_type, partition)
        b.load(db, 10)
    b.typed("json")
    sides = [
        ("json", "json", ""),
        ("by_coll", "by_coll", ""),
        ("by_coll+no_merge_across", "by_coll", "&do_not_merge_across_partitions_select_final=1"),
        ("variant_paths", "variant", ""),
    ]
    print("  parts:", {db: b.parts(db) for db in dbs})
    b.compare("unmerged", sides, check=True)
    for db in dbs:
        print(f"  {db} merged in {b.merge(db):.1f} s")
    b.compare("merged", sides, check=True)


def live(b: Bench) -> None:
    print(f"\nlive: {b.n:,} tickets merged, then 5 parts of 200 rows; median ms of {b.runs}")
    kinds = ("merged", "new", "scattered", "recent")
    for db in kinds:
        b.create(db, stop_merges=False)
        b.load(db, 1)
        b.merge(db)
        b.x(f"SYSTEM STOP MERGES {db}.records")
        b.x(f"SYSTEM STOP MERGES {db}.relationships")
        for p in range(5 if db != "merged" else 0):
            b.version += 200
            v = b.version
            if db == "new":
                src = f"numbers({b.n + p * 200}, 200)"
                b.x(
                    f"INSERT INTO {db}.records SELECT 'bench', 'tickets', {rid('t', 'number')}, {ticket('number')}, "
                    f"{v} + number, false FROM {src}"
                )
                continue
            pick = (
                f"cityHash64(number, {p}) % {b.n}"
                if db == "scattered"
                else f"{b.n} - 1 - cityHash64(number, {p}) % {max(1, b.n // 50)}"
            )
            b.x(
                f"INSERT INTO {db}.records SELECT 'bench', 'tickets', {rid('t', pick)}, {ticket('number', 77)}, "
                f"{v} + number, false FROM numbers(200)"
            )
    if "typed" not in b.x("SHOW DATABASES"):
        b.typed("merged")
    print("  parts:", {db: b.parts(db) for db in kinds})
    b.compare("live", [(k, k, "") for k in kinds], check=False)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", type=int, default=300_000, help="tickets (customers: a fifth)")
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--only", choices=("layouts", "live"))
    args = p.parse_args()
    b = Bench(args.size, args.runs)
    t0 = time.perf_counter()
    try:
        if args.only != "live":
            layouts(b)
        if args.only != "layouts":
            live(b)
    finally:
        b.admin.close()
        shutil.rmtree(b.path, ignore_errors=True)
    print(f"\ntook {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
