"""What declaring typed paths in the replica's `JSON(...)` column would change for users (issue 16, item 6).

Facts, not timings: for each way of declaring `priority`, every spelling a user may write today is run over the
same seven records (a string, an absent field, null, a number, '', a float, a boolean), and the result is
compared with the untyped column's. Then the cost of re-declaring typed paths (ALTER … MODIFY COLUMN) on a
table of --rows rows in two parts. Uses chDB alone, in a scratch directory.

    .venv/bin/python bench/json_typed_paths.py [--rows N]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from typing import Any

DECLARATIONS = (
    "JSON",
    "JSON(priority String)",
    "JSON(priority Nullable(String))",
    "JSON(priority LowCardinality(Nullable(String)))",
    "JSON(priority Variant(String))",
)
RECORDS = (
    '{"priority":"high","n":5}',
    "{}",
    '{"priority":null}',
    '{"priority":7}',
    '{"priority":""}',
    '{"priority":2.5}',
    '{"priority":true}',
)
EXPRESSIONS = (
    "data.priority.:String",
    "data.priority.:String IS NULL",
    "data.priority.:Int64",
    "toJSONString(data)",
)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=300_000, help="rows for the ALTER cost")
    args = p.parse_args()
    import chdb

    scratch = tempfile.mkdtemp(prefix="deskbase-typed-paths-")
    try:
        probe(chdb.connect(scratch), args.rows)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def probe(conn: Any, rows: int) -> None:

    def q(sql: str) -> str:
        try:
            return str(conn.query(sql, "TSV").bytes().decode().strip())
        except Exception as exc:  # the point is which spellings fail, and how
            return "ERROR " + str(exc).split("DB::Exception: ")[-1].split(". ")[0][:70]

    answers: dict[str, dict[str, Any]] = {}
    for decl in DECLARATIONS:
        q("DROP TABLE IF EXISTS t")
        q(f"CREATE TABLE t (k UInt8, data {decl}) ENGINE = MergeTree ORDER BY k")
        for i, rec in enumerate(RECORDS):
            q(f"INSERT INTO t SELECT {i}, '{rec}'")
        answers[decl] = {
            e: q(f"SELECT arrayStringConcat(groupArray(toString(ifNull(toString({e}), 'NULL'))), ' | ') FROM "
                 "(SELECT * FROM t ORDER BY k)")
            for e in EXPRESSIONS
        }  # fmt: skip
    print("records:", " ; ".join(RECORDS))
    for e in EXPRESSIONS:
        print(f"\n{e}")
        base = answers["JSON"][e]
        for decl in DECLARATIONS:
            got = answers[decl][e]
            same = "" if decl == "JSON" else ("  (same)" if got == base else "  (DIFFERS)")
            print(f"  {decl:50s} {got}{same}")

    q("DROP TABLE IF EXISTS a")
    q("CREATE TABLE a (k UInt64, data JSON, version UInt64) ENGINE = ReplacingMergeTree(version) ORDER BY k")
    row = "concat('{\"priority\":\"', ['low','high'][1 + number % 2], '\",\"n\":', toString(number), '}')"
    q(f"INSERT INTO a SELECT number, {row}, 1 FROM numbers({rows})")
    q(f"INSERT INTO a SELECT number, {row}, 2 FROM numbers({rows // 2})")
    print(f"\nre-declaring typed paths on {rows:,} + {rows // 2:,} rows (two parts):")
    for decl in ("JSON(priority Variant(String))", "JSON(priority Variant(String), n Int64)", "JSON"):
        t0 = time.perf_counter()
        out = q(f"ALTER TABLE a MODIFY COLUMN data {decl}")
        ms = (time.perf_counter() - t0) * 1000
        parts = q(
            "SELECT arrayStringConcat(groupArray(name), ' ') FROM system.parts WHERE table = 'a' AND active"
        )
        print(f"  {decl:42s} {out or 'ok'}  {ms:,.0f} ms  parts after: {parts} (a mutation rewrote them)")


if __name__ == "__main__":
    main()
