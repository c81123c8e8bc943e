"""Trigram indexes behind the filter DSL's `search` op on fields marked `"x-search": true`.

Like the `x-index` expression indexes there is one structure per field name, shared by every collection that
carries the field, created when a collection declaring it is upserted (and by migration 0007).

SQLite: an FTS5 table with the trigram tokenizer, `records_s_<key>_fts(text)`, mirrors
`json_extract(data, '$.<field>')` of every `records` row that has the field (live or soft-deleted, so
`include_deleted` reads stay exact) under that row's rowid. Three triggers on `records` keep it in the same
statement as the row, whatever wrote it (unit of work, bulk inserts, collection and workspace deletion), so
it cannot drift from the table; an update re-indexes only when the text (or the rowid) changes. The rowid is
stable: deskbase never rewrites it and VACUUM keeps it for tables with indexes. A migration that rebuilds
`records` (Alembic batch mode) drops the triggers with the old table: it must call `ensure_search_index`
again, which rebuilds any incomplete set from scratch.

The filter compiler narrows with `records.rowid IN (SELECT rowid FROM <fts> WHERE <fts> MATCH <phrase>)` and
keeps the scan's own `lower(...) LIKE` as a recheck on those candidates: FTS5 folds case for all of Unicode
while SQLite's `lower()` folds ASCII only, so the trigram match is a superset and the recheck makes results
identical to the scan. Patterns under 3 characters have no trigram and stay a scan. How the candidates are
used depends on how many there are (one bounded count first; SQLite has no statistics to decide this):
- few (<= SPARSE): they drive the query — looked up by rowid, then filtered and sorted;
- more: the usual index is walked and each row's rowid probed in the candidate set (no JSON parsing);
- very many (> DENSE) in a query that can stop at its page (a LIMIT in index order): no index at all — the
  scan meets a page's worth of matches within a few hundred rows, sooner than the set could be built
  (~0.2 µs per candidate). Counts without a limit keep the candidates.
The counts are over the whole store (the table is shared), so a collection with few matches among a store
with many may be scanned as before: slower than it could be, never wrong.

PostgreSQL: a GIN `gin_trgm_ops` index on `lower(data ->> '<field>')`, the exact expression the compiler
emits, so the planner uses it with no change to the query.

Either store without the means (pg_trgm absent and no right to create it; an SQLite without FTS5's trigram
tokenizer, before 3.34) skips the index with one warning and search stays a scan: never a failed upsert.
"""

from __future__ import annotations

import hashlib
import logging
import re
import sqlite3
from functools import cache
from typing import Any

from sqlalchemy import ColumnElement, String, literal_column, text
from sqlalchemy import column as sa_column
from sqlalchemy import select as sa_select
from sqlalchemy import table as sa_table
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

log = logging.getLogger(__name__)

IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
#: Trigrams need three characters; shorter patterns are answered by the scan.
MIN_CHARS = 3
#: Candidates (in the whole store) up to which they drive the query, and beyond which a query that can stop
#: at its page scans (see the module docstring). Crossovers measured at 100k-1M tickets, 50-row pages.
SPARSE = 2_000
DENSE = 20_000

_warned: set[str] = set()


def _warn_once(what: str, message: str, *args: Any) -> None:
    if what not in _warned:
        _warned.add(what)
        log.warning(message, *args)


@cache
def sqlite_trigram() -> bool:
    """Whether this process's SQLite has FTS5 with the trigram tokenizer (the library is one per process)."""
    try:
        with sqlite3.connect(":memory:") as probe:
            probe.execute("CREATE VIRTUAL TABLE t USING fts5(x, tokenize = 'trigram')")
        return True
    except sqlite3.Error:
        return False


def object_key(field: str) -> str:
    """The field's part of object names: SQLite and unquoted PostgreSQL names ignore case and PostgreSQL
    cuts names at 63 bytes, so mixed-case or long names get a hash of the exact name."""
    key = field.lower()
    if key != field or len(key) > 40:
        key = f"{key[:40]}_{hashlib.sha1(field.encode()).hexdigest()[:8]}"
    return key


def fts_table(field: str) -> str:
    """Ends in `_fts`, so no field's table can be another's FTS5 shadow table (`<name>_data`, `_idx`, …)."""
    return f"records_s_{object_key(field)}_fts"


def pg_index(field: str) -> str:
    return f"ix_records_s_{object_key(field)}"


def _triggers(field: str) -> tuple[str, str, str]:
    base = f"records_s_{object_key(field)}"
    return f"{base}_ai", f"{base}_au", f"{base}_ad"


# ---- maintenance -----------------------------------------------------------------------------------------


def ensure_search_index(conn: Connection, field: str) -> bool:
    """Create the field's search index if missing (in the caller's transaction); False when the store cannot
    have one (see the module docstring), in which case search on the field stays a scan."""
    if not IDENTIFIER.match(field):
        raise ValueError(f"x-search field {field!r} is not a plain identifier")
    if conn.dialect.name == "postgresql":
        schema = _trgm_schema(conn)
        if schema is None:
            return False
        conn.execute(
            text(
                f"CREATE INDEX IF NOT EXISTS {pg_index(field)} ON records "
                f"USING gin (lower(data ->> '{field}') \"{schema}\".gin_trgm_ops)"
            )
        )
        return True
    if not sqlite_trigram():
        _warn_once(
            "fts5",
            "SQLite %s lacks FTS5 with the trigram tokenizer (3.34+): `search` on x-search fields stays a scan",
            sqlite3.sqlite_version,
        )
        return False
    _sqlite_ensure(conn, field)
    return True


def drop_search_indexes(conn: Connection) -> None:
    """Remove every search structure (migration downgrade); records are untouched."""
    if conn.dialect.name == "postgresql":
        for name in _pg_search_indexes(conn):
            conn.execute(text(f"DROP INDEX IF EXISTS {name}"))
        return
    rows = conn.execute(
        text(
            "SELECT type, name FROM sqlite_master WHERE (type = 'trigger' AND name LIKE 'records_s_%' "
            "AND tbl_name = 'records') OR (type = 'table' AND name LIKE 'records_s_%_fts' AND sql LIKE "
            "'CREATE VIRTUAL TABLE%')"
        )
    ).all()
    for kind, name in sorted(rows, key=lambda r: r[0] != "trigger"):  # triggers first
        conn.exec_driver_sql(f"DROP {kind.upper()} IF EXISTS {name}")


def _sqlite_ensure(conn: Connection, field: str) -> None:
    table = fts_table(field)
    ai, au, ad = _triggers(field)
    wanted = {table, ai, au, ad}
    found = {
        r[0]
        for r in conn.execute(
            text("SELECT name FROM sqlite_master WHERE name IN (:a, :b, :c, :d)"),
            {"a": table, "b": ai, "c": au, "d": ad},
        )
    }
    if found == wanted:
        return
    # Nothing yet, or an incomplete set (triggers lost with a rebuilt table): start over from the records.
    for name in (ai, au, ad):
        conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {name}")
    conn.exec_driver_sql(f"DROP TABLE IF EXISTS {table}")
    conn.exec_driver_sql(
        f"CREATE VIRTUAL TABLE {table} USING fts5(text, tokenize = 'trigram', columnsize = 0)"
    )

    def value(row: str) -> str:
        return f"json_extract({row}.data, '$.{field}')"

    conn.exec_driver_sql(
        f"CREATE TRIGGER {ai} AFTER INSERT ON records WHEN {value('new')} IS NOT NULL BEGIN "
        f"INSERT INTO {table}(rowid, text) VALUES (new.rowid, {value('new')}); END"
    )
    # Text compared as text: 1 and 1.0 are equal numbers but index differently.
    conn.exec_driver_sql(
        f"CREATE TRIGGER {au} AFTER UPDATE ON records WHEN old.rowid IS NOT new.rowid "
        f"OR CAST({value('old')} AS TEXT) IS NOT CAST({value('new')} AS TEXT) BEGIN "
        f"DELETE FROM {table} WHERE rowid = old.rowid; "
        f"INSERT INTO {table}(rowid, text) SELECT new.rowid, {value('new')} WHERE {value('new')} IS NOT NULL; "
        "END"
    )
    conn.exec_driver_sql(
        f"CREATE TRIGGER {ad} AFTER DELETE ON records WHEN {value('old')} IS NOT NULL BEGIN "
        f"DELETE FROM {table} WHERE rowid = old.rowid; END"
    )
    conn.exec_driver_sql(
        f"INSERT INTO {table}(rowid, text) SELECT rowid, json_extract(data, '$.{field}') FROM records "
        f"WHERE json_extract(data, '$.{field}') IS NOT NULL"
    )


def _pg_search_indexes(conn: Connection) -> list[str]:
    return [
        r[0]
        for r in conn.execute(
            text(
                "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() "
                "AND tablename = 'records' AND indexname LIKE 'ix\\_records\\_s\\_%'"
            )
        )
    ]


def _trgm_schema(conn: Connection) -> str | None:
    """The schema holding pg_trgm, creating the extension if needed: in `public` when possible, so that it
    outlives any one schema (dropping a schema drops the extensions inside it, and every index using them)."""
    query = text(
        "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace "
        "WHERE e.extname = 'pg_trgm'"
    )
    schema = conn.execute(query).scalar()
    if schema is not None:
        return str(schema)
    error: Exception | None = None
    for statement in (
        "CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public",
        "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    ):
        try:
            with conn.begin_nested():
                conn.execute(text(statement))
            break
        except DBAPIError as exc:  # no privilege, no public schema, extension not installed…
            error = exc
    schema = conn.execute(query).scalar()
    if schema is not None:
        return str(schema)
    reason = getattr(error, "orig", error)
    _warn_once(
        "pg_trgm",
        "pg_trgm is not available (%s): `search` on x-search fields stays a sequential scan; "
        "a superuser can run CREATE EXTENSION pg_trgm",
        str(reason).splitlines()[0] if reason else "unknown reason",
    )
    return None


# ---- querying --------------------------------------------------------------------------------------------


def match_phrase(value: str) -> str | None:
    """An FTS5 phrase matching `value` as a substring (every character literal), or None when trigrams cannot
    help: fewer than 3 characters, or a NUL (which FTS5 query strings cannot carry)."""
    folded = value.lower()
    if len(folded) < MIN_CHARS or "\x00" in folded:
        return None
    return '"' + folded.replace('"', '""') + '"'


def count_candidates(conn: Connection, field: str, phrase: str, cap: int) -> int:
    """Trigram candidates in the whole store, counted up to `cap` + 1 (enough to pick a plan, cheaply)."""
    table = fts_table(field)
    n = conn.execute(
        text(f"SELECT count(*) FROM (SELECT 1 FROM {table} WHERE {table} MATCH :q LIMIT :n)"),
        {"q": phrase, "n": cap + 1},
    ).scalar_one()
    return int(n)


def rowids(field: str, phrase_param: Any) -> Any:
    """`SELECT rowid FROM <fts> WHERE <fts> MATCH <phrase>`: the trigram candidates' `records` rowids, of any
    workspace and collection carrying the field, not rechecked."""
    table = fts_table(field)
    fts = sa_table(table, sa_column("rowid"))
    return sa_select(fts.c.rowid).where(literal_column(table).op("MATCH")(phrase_param))


def candidates(field: str, phrase_param: Any, drive: bool) -> ColumnElement[bool]:
    """`records.rowid IN (<trigram matches>)`. Only the driving candidate set may be used to look rows up; any
    other is written `+records.rowid` (SQLite's way to keep a term out of index selection), so a dense set is
    only probed while the usual index is walked."""
    return literal_column("records.rowid" if drive else "+records.rowid").in_(rowids(field, phrase_param))


def unindexed(column: Any) -> ColumnElement[Any]:
    """`+records.<column>`: the same value, but the planner may not use it to pick an index — applied to
    `workspace_id` (the first column of every records index) when sparse search candidates drive a query."""
    return literal_column(f"+{column.table.name}.{column.name}", String())
