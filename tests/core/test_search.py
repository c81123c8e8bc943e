"""`x-search`: the `search` op on marked fields uses a trigram index (SQLite FTS5 kept by triggers; PostgreSQL
pg_trgm GIN) and answers exactly what the scan answers, on every write path, on SQLite and PostgreSQL."""

from __future__ import annotations

import copy
import logging
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy import event, select, text

from deskbase.config import Settings
from deskbase.core import migrate, search
from deskbase.core import tables as t
from deskbase.core.app import Deskbase
from deskbase.core.clock import FixedClock
from deskbase.core.context import SYSTEM, Actor
from deskbase.core.errors import ValidationFailed
from deskbase.core.filters import Compiler
from deskbase.core.schemas import x_search_fields
from deskbase.support.install import install
from deskbase.support.service import SlaService
from tests.conftest import _pg_available, postgres_url

SUBJECTS = [
    "Login fails after reset",
    "LOGIN FAILS on mobile",
    "login",
    "Lo",
    "100% CPU on export",
    "Progress stuck at 50%",
    "snake_case field names",
    "snakeXcase is not snake_case",
    "Path C:\\Users\\ana broken",
    "backslash \\ alone",
    "Ärger mit der Rechnung",
    "ärger, klein geschrieben",
    "Straße nicht gefunden",
    "naïve café résumé",
    "日本語のサポート",
    'He said "quoted" twice',
    "it's an apostrophe",
    "NEAR AND OR NOT * ^ : ( ) - +",
    "Hello World across words",
    "helloworld without the space",
    "İstanbul office",
    "e\u0301 combining accent",
    "Server 🔥 on fire 🔥🔥",
]
PATTERNS = [
    "login",
    "LOGIN",
    "Login Fails",
    "lo",
    "l",
    "o",
    "",
    "%",
    "0%",
    "100%",
    "50%",
    "_",
    "e_c",
    "snake_case",
    "\\",
    "c:\\users",
    "\\ a",
    "ärger",
    "ÄRGER",
    "Ä",
    "rger",
    "straße",
    "STRASSE",
    "café",
    "CAFÉ",
    "日本",
    "日本語",
    "本",
    '"quoted"',
    'd "q',
    '"',
    "it's",
    "'",
    "near and",
    "* ^ :",
    "( )",
    "o w",
    "hello world",
    "lloworl",
    "istanbul",
    "i̇stanbul",
    "e\u0301 c",
    "fails on",
    "nothing like this",
    "🔥 o",
    "🔥🔥",
    "🔥",
]


def ticket(subject: str, **extra: Any) -> dict[str, Any]:
    return {"subject": subject, "status": "open", "priority": "low", **extra}


def flt(field: str, value: str) -> dict[str, Any]:
    return {"field": f"data.{field}", "op": "search", "value": value}


def found(core: Deskbase, ws: str, value: str, field: str = "subject", **kw: Any) -> list[str]:
    res = core.records.query(ws, kw.pop("collection", "tickets"), flt(field, value), limit=1000, **kw)
    return sorted(r["id"] for r in res["data"])


def scanned(
    core: Deskbase,
    ws: str,
    value: str,
    field: str = "subject",
    collection: str = "tickets",
    deleted: bool = False,
) -> list[str]:
    """The scan's answer: the same filter compiled without knowledge of any x-search field."""
    r = t.records
    with core.db.read() as conn:
        cond = Compiler(conn.dialect.name).condition(flt(field, value))
        conds = [r.c.workspace_id == ws, r.c.collection == collection, cond]
        if not deleted:
            conds.append(r.c.deleted.is_(False))
        return sorted(row.id for row in conn.execute(select(r.c.id).where(*conds)))


def index_drift(core: Deskbase) -> dict[str, Any]:
    """SQLite: for each x-search field, FTS rows that differ from the records (rowid, text) they mirror, after
    FTS5's own integrity check. Empty when the index equals the table."""
    out: dict[str, Any] = {}
    with core.db.engine.begin() as conn:
        if conn.dialect.name != "sqlite":
            return out
        fields: set[str] = set()
        for (schema,) in conn.execute(select(t.collections.c.json_schema)):
            fields.update(x_search_fields(schema))
        for field in sorted(fields):
            table = search.fts_table(field)
            conn.exec_driver_sql(f"INSERT INTO {table}({table}) VALUES ('integrity-check')")
            have = set(conn.exec_driver_sql(f"SELECT rowid, text FROM {table}").all())
            want = set(
                conn.exec_driver_sql(
                    f"SELECT rowid, json_extract(data, '$.{field}') FROM records "
                    f"WHERE json_extract(data, '$.{field}') IS NOT NULL"
                ).all()
            )
            if have != want:
                out[field] = {"stale": sorted(have - want), "missing": sorted(want - have)}
    return out


@pytest.fixture
def statements(core: Deskbase) -> Iterator[list[tuple[str, Any]]]:
    seen: list[tuple[str, Any]] = []

    def grab(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        seen.append((statement, parameters))

    event.listen(core.db.engine, "before_cursor_execute", grab)
    yield seen
    event.remove(core.db.engine, "before_cursor_execute", grab)


def last_query(seen: list[tuple[str, Any]]) -> tuple[str, Any]:
    return [s for s in seen if s[0].lstrip().startswith("SELECT records.workspace_id")][-1]


def plan(core: Deskbase, statement: str, params: Any) -> str:
    with core.db.engine.connect() as conn:
        prefix = "EXPLAIN QUERY PLAN " if conn.dialect.name == "sqlite" else "EXPLAIN "
        return "\n".join(str(r[-1]) for r in conn.exec_driver_sql(prefix + statement, params))


# ---- the indexed answer is the scan's answer ---------------------------------------------------------------


def test_indexed_search_equals_the_scan(
    core: Deskbase, ws: str, actor: Actor, statements: list[tuple[str, Any]]
) -> None:
    ops = [
        {
            "type": "upsert_record",
            "collection": "tickets",
            "id": f"t{i:02d}",
            "data": ticket(s, description=s[::-1]),
        }
        for i, s in enumerate(SUBJECTS)
    ]
    core.batch.run(ws, ops, actor)
    core.records.delete(ws, "tickets", "t00", actor)  # soft-deleted: found only with include_deleted
    sqlite = core.db.is_sqlite
    for value in PATTERNS:
        for field in ("subject", "description"):
            assert found(core, ws, value, field) == scanned(core, ws, value, field), (field, value)
            assert found(core, ws, value, field, include_deleted=True) == scanned(
                core, ws, value, field, deleted=True
            ), (field, value)
            statement, _ = last_query(statements)
            uses_index = search.fts_table(field) in statement
            assert uses_index == (sqlite and len(value.lower()) >= search.MIN_CHARS), (
                field,
                value,
                statement,
            )
    assert found(core, ws, "login") == ["t01", "t02"]  # t00 is deleted
    assert found(core, ws, "0%") == ["t04", "t05"]
    assert found(core, ws, "e_c") == ["t06", "t07"] and found(core, ws, "snake_case") == ["t06", "t07"]
    assert found(core, ws, "c:\\users") == ["t08"] and found(core, ws, "\\ a") == ["t09"]
    assert found(core, ws, 'd "q') == ["t15"] and found(core, ws, "it's") == ["t16"]
    assert found(core, ws, "o w") == ["t18"] and found(core, ws, "lloworl") == ["t19"]
    # SQLite's lower() folds ASCII only, PostgreSQL's all of Unicode: the index keeps each store's answer.
    assert found(core, ws, "ärger") == (["t11"] if sqlite else ["t10", "t11"])
    if sqlite:  # a NUL cannot reach PostgreSQL text; FTS5 cannot take it either, so the scan answers
        assert found(core, ws, "a\x00b") == scanned(core, ws, "a\x00b") == []


def test_search_is_scoped_to_the_collection_and_workspace(core: Deskbase, ws: str, actor: Actor) -> None:
    """The FTS table of a field is shared by every collection and workspace carrying it."""
    notes = {"type": "object", "properties": {"subject": {"type": "string", "x-search": True}}}
    core.collections.upsert(ws, "notes", {"json_schema": notes}, actor)
    core.workspaces.put("other", "Other", None, actor)
    core.templates.apply("other", "support", actor)
    core.records.create(ws, "tickets", {"id": "mine", "data": ticket("Printer on fire")}, actor)
    core.records.create(ws, "notes", {"id": "note", "data": {"subject": "Printer on fire"}}, actor)
    core.records.create("other", "tickets", {"id": "theirs", "data": ticket("Printer on fire")}, actor)
    assert found(core, ws, "printer") == ["mine"]
    assert found(core, ws, "printer", collection="notes") == ["note"]
    assert found(core, "other", "printer") == ["theirs"]
    assert core.records.count(ws, "tickets", flt("subject", "on fire")) == 1


# ---- every write path keeps the index --------------------------------------------------------------------


def test_single_writes_keep_the_index_consistent(core: Deskbase, ws: str, actor: Actor) -> None:
    a, _ = core.records.create(ws, "tickets", {"data": ticket("Printer on fire", description="Smoke")}, actor)
    assert found(core, ws, "printer") == [a["id"]] and found(core, ws, "smoke", "description") == [a["id"]]
    core.records.replace(ws, "tickets", a["id"], ticket("Scanner jammed"), actor)
    assert found(core, ws, "printer") == [] and found(core, ws, "scanner") == [a["id"]]
    assert found(core, ws, "smoke", "description") == []  # the replacement has no description
    core.records.patch(ws, "tickets", a["id"], {"subject": "Fax offline", "description": "Beeps"}, actor)
    assert found(core, ws, "scanner") == [] and found(core, ws, "fax off") == [a["id"]]
    core.records.patch(ws, "tickets", a["id"], {"status": "waiting"}, actor)  # text unchanged
    assert found(core, ws, "fax off") == [a["id"]] and found(core, ws, "beeps", "description") == [a["id"]]
    core.records.patch(ws, "tickets", a["id"], {"description": None}, actor)  # merge patch removes it
    assert found(core, ws, "beeps", "description") == []
    assert index_drift(core) == {}
    core.records.delete(ws, "tickets", a["id"], actor)
    assert found(core, ws, "fax off") == [] and core.records.count(ws, "tickets", flt("subject", "fax")) == 0
    assert found(core, ws, "fax off", include_deleted=True) == [a["id"]]
    _, created = core.records.create(ws, "tickets", {"id": a["id"], "data": ticket("Fax is back")}, actor)
    assert created and found(core, ws, "fax is") == [a["id"]] and found(core, ws, "offline") == []
    ext, _ = core.records.create(
        ws,
        "tickets",
        {"data": ticket("Imported once"), "external_id": "Z-1", "external_source": "zendesk"},
        actor,
    )
    core.records.create(
        ws,
        "tickets",
        {"data": ticket("Imported twice"), "external_id": "Z-1", "external_source": "zendesk"},
        actor,
    )
    assert found(core, ws, "imported") == [ext["id"]] and found(core, ws, "twice") == [ext["id"]]
    assert found(core, ws, "once") == []
    assert index_drift(core) == {}


def test_batches_keep_the_index_consistent(core: Deskbase, ws: str, actor: Actor) -> None:
    # 1,200 creates: more than one multi-row INSERT chunk, and more than one batch request
    for start in (0, 600):
        ops = [
            {
                "type": "upsert_record",
                "collection": "tickets",
                "id": f"b{i:04d}",
                "data": ticket(f"Bulk item {i:04d}"),
            }
            for i in range(start, start + 600)
        ]
        core.batch.run(ws, ops, actor)
    assert len(found(core, ws, "bulk item")) == 1000  # the page limit
    assert core.records.count(ws, "tickets", flt("subject", "bulk item")) == 1200
    assert found(core, ws, "item 0777") == ["b0777"]
    ops: list[dict[str, Any]] = [
        {"type": "upsert_record", "collection": "tickets", "ref": "n", "data": ticket("Brand new printer")},
        {
            "type": "patch_record",
            "collection": "tickets",
            "id": "$ref:n",
            "data": {"subject": "Renamed printer"},
        },
        {
            "type": "patch_record",
            "collection": "tickets",
            "id": "b0001",
            "data": {"subject": "Patched in batch"},
        },
        {
            "type": "upsert_record",
            "collection": "tickets",
            "id": "b0002",
            "data": ticket("Replaced in batch"),
        },
        {"type": "delete_record", "collection": "tickets", "id": "b0003"},
        {
            "type": "upsert_record",
            "collection": "customers",
            "id": "c1",
            "data": {"name": "Ana Núñez", "email": "ana@x.io"},
        },
    ]
    out = core.batch.run(ws, ops, actor)["results"]
    new_id = out[0]["record"]["id"]
    assert found(core, ws, "printer") == [new_id] and found(core, ws, "brand new") == []
    assert found(core, ws, "in batch") == ["b0001", "b0002"]
    assert found(core, ws, "item 0001") == [] and found(core, ws, "item 0003") == []
    assert found(core, ws, "item 0003", include_deleted=True) == ["b0003"]
    assert found(core, ws, "núñez", "name", collection="customers") == ["c1"]
    assert found(core, ws, "ana@", "email", collection="customers") == ["c1"]
    assert index_drift(core) == {}
    with pytest.raises(ValidationFailed):  # a failing batch writes nothing, the index included
        core.batch.run(
            ws,
            [
                {
                    "type": "upsert_record",
                    "collection": "tickets",
                    "id": "ghost",
                    "data": ticket("Ghost ticket"),
                },
                {"type": "upsert_record", "collection": "tickets", "data": {"subject": "no status"}},
            ],
            actor,
        )
    assert found(core, ws, "ghost") == [] and index_drift(core) == {}


def test_collection_and_workspace_deletion_empty_the_index(core: Deskbase, ws: str, actor: Actor) -> None:
    core.workspaces.put("other", "Other", None, actor)
    core.templates.apply("other", "support", actor)
    for w in (ws, "other"):
        core.records.create(w, "tickets", {"id": "t1", "data": ticket("Printer on fire")}, actor)
        core.records.create(
            w, "customers", {"id": "c1", "data": {"name": "Ana Lima", "email": "a@x.io"}}, actor
        )
    core.collections.delete(ws, "tickets", actor)
    core.collections.upsert(
        ws, "tickets", copy.deepcopy(core.templates.definition("support")["collections"][0]), actor
    )
    assert found(core, ws, "printer") == [] and found(core, "other", "printer") == ["t1"]
    assert found(core, ws, "lima", "name", collection="customers") == ["c1"]
    assert index_drift(core) == {}
    core.workspaces.delete("other", actor)
    assert index_drift(core) == {}
    if core.db.is_sqlite:
        with core.db.read() as conn:
            rows = conn.exec_driver_sql(f"SELECT count(*) FROM {search.fts_table('subject')}").scalar()
            names = conn.exec_driver_sql(f"SELECT count(*) FROM {search.fts_table('name')}").scalar()
        assert (rows, names) == (0, 1)


# ---- with other filters, sorts and pages ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sparse", "dense"),
    [(2000, 20000), (3, 20000), (1, 3)],
    ids=["candidates-drive", "index-walk-probes", "dense-lists-scan"],
)
def test_search_with_filters_sorts_and_keyset_pages(
    core: Deskbase, ws: str, actor: Actor, monkeypatch: pytest.MonkeyPatch, sparse: int, dense: int
) -> None:
    """The same pages and counts as the scan (the same rows in a collection without x-search) under each plan
    (thresholds lowered to reach them with a few rows): trigram candidates drive the query, or are probed while
    an index is walked, or — very many, in a list that stops at its page — the scan answers."""
    monkeypatch.setattr(search, "SPARSE", sparse)
    monkeypatch.setattr(search, "DENSE", dense)
    for coll, marked in (("indexed", True), ("plain", False)):
        subject: dict[str, Any] = {"type": "string", "x-search": True} if marked else {"type": "string"}
        props = {
            "subject": subject,
            "status": {"type": "string", "x-index": True},
            "priority": {"type": "string"},
        }
        core.collections.upsert(ws, coll, {"json_schema": {"type": "object", "properties": props}}, actor)
        ops = []
        for i in range(40):
            data = {
                "subject": f"{'Refund' if i % 3 else 'Invoice'} request {i:02d}",
                "status": "open" if i % 2 else "waiting",
            }
            if i % 5:  # every fifth has no priority: NULLs sort last
                data["priority"] = ["low", "medium", "high", "urgent"][i % 4]
            ops.append({"type": "upsert_record", "collection": coll, "id": f"r{i:02d}", "data": data})
        core.batch.run(ws, ops, actor)
        core.records.delete(ws, coll, "r04", actor)
    searches = [
        flt("subject", "refund"),
        {"and": [flt("subject", "fund req"), {"field": "data.status", "op": "eq", "value": "open"}]},
        {"and": [flt("subject", "request"), flt("subject", "st 1")]},
        {"or": [flt("subject", "invoice"), {"field": "data.priority", "op": "eq", "value": "urgent"}]},
        {"and": [flt("subject", "quest"), {"field": "data.priority", "op": "in", "value": ["high", "low"]}]},
    ]
    sorts: list[Any] = [
        None,
        [{"field": "data.priority", "direction": "asc"}],
        [{"field": "updated_at", "direction": "desc"}],
        [{"field": "data.priority", "direction": "desc"}, {"field": "id", "direction": "desc"}],
    ]
    for f in searches:
        for sort in sorts:
            pages: dict[str, list[list[str]]] = {}
            for coll in ("indexed", "plain"):
                cursor, got = None, []
                while True:
                    res = core.records.query(ws, coll, f, sort, limit=4, cursor=cursor)
                    got.append([r["id"] for r in res["data"]])
                    cursor = res["next_cursor"]
                    if not cursor:
                        break
                pages[coll] = got
            assert pages["indexed"] == pages["plain"], (f, sort)
            assert sum(len(p) for p in pages["indexed"]) > 0, f
        assert core.records.count(ws, "indexed", f) == core.records.count(ws, "plain", f)
        assert core.records.count(ws, "indexed", f, limit=2) == core.records.count(ws, "plain", f, limit=2)


@pytest.mark.parametrize(
    ("sparse", "dense"), [(2000, 20000), (1, 20000), (1, 2)], ids=["drive", "probe", "scan"]
)
def test_the_sla_queue_searches_through_the_index(
    core: Deskbase, ws: str, actor: Actor, monkeypatch: pytest.MonkeyPatch, sparse: int, dense: int
) -> None:
    """The console's queue (SLA-due order, its own walk) with the subject box filled: the same tickets, pages
    and total as the scan, under every plan."""
    monkeypatch.setattr(search, "SPARSE", sparse)
    monkeypatch.setattr(search, "DENSE", dense)
    ops = [
        {
            "type": "upsert_record",
            "collection": "tickets",
            "id": f"q{i:02d}",
            "data": ticket(
                f"{'Refund' if i % 2 else 'Login'} problem {i:02d}", priority=["low", "urgent"][i % 2]
            ),
        }
        for i in range(12)
    ]
    core.batch.run(ws, ops, actor)
    core.records.patch(ws, "tickets", "q03", {"status": "resolved"}, actor)  # no running clock any more
    sla = core.extensions[SlaService]
    for value in ("refund", "problem 0", "efun", "zebra"):
        f = {
            "and": [
                flt("subject", value),
                {"field": "data.status", "op": "in", "value": ["open", "resolved"]},
            ]
        }
        got, cursor, total = [], None, None
        while True:
            page = sla.queue(ws, "all", {"filter": f}, 2, cursor)
            got += [r["id"] for r in page["data"]]
            total = page["count"] if total is None else total
            cursor = page["next_cursor"]
            if not cursor:
                break
        assert sorted(got) == scanned(core, ws, value) and len(set(got)) == len(got), value
        assert total == len(got), value


def test_the_trigram_index_is_used(
    core: Deskbase, ws: str, actor: Actor, statements: list[tuple[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLite: few matches are looked up by rowid from the FTS5 table; many are probed while the usual index is
    walked; very many in a list of one page are left to the scan. PostgreSQL: the planner picks the GIN index
    on a table large enough to need it."""
    core.records.create(ws, "tickets", {"id": "needle", "data": ticket("Printer on fire")}, actor)
    if core.db.is_sqlite:
        for start in range(0, search.SPARSE + 50, 1000):
            ops = [
                {"type": "upsert_record", "collection": "tickets", "data": ticket(f"Common words {i}")}
                for i in range(start, min(start + 1000, search.SPARSE + 50))
            ]
            core.batch.run(ws, ops, actor)
        fts = search.fts_table("subject")
        assert found(core, ws, "on fire") == ["needle"]
        sparse = plan(core, *last_query(statements))
        assert f"SCAN {fts} VIRTUAL TABLE" in sparse and "USING INTEGER PRIMARY KEY (rowid=?)" in sparse, (
            sparse
        )
        assert "+records.workspace_id" in last_query(statements)[0]
        res = core.records.query(ws, "tickets", flt("subject", "common words"), limit=10)
        assert len(res["data"]) == 10
        many = plan(core, *last_query(statements))
        assert f"SCAN {fts} VIRTUAL TABLE" in many and "(workspace_id=? AND collection=?)" in many, many
        assert "+records.rowid IN" in last_query(statements)[0]
        monkeypatch.setattr(search, "DENSE", search.SPARSE)  # 2,050 candidates are now "very many"
        assert len(core.records.query(ws, "tickets", flt("subject", "common words"), limit=10)["data"]) == 10
        assert fts not in last_query(statements)[0]  # a page of dense matches: the scan stops sooner
        assert core.records.count(ws, "tickets", flt("subject", "common words")) == search.SPARSE + 50
        assert f"+records.rowid IN (SELECT {fts}.rowid" in statements[-1][0]  # a full count keeps the index
        return
    # 20k more tickets, written around deskbase (the planner needs only rows), the GIN pending list merged,
    # statistics taken: a trigram lookup then beats walking the collection.
    with core.db.engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO records (workspace_id, collection, id, data, version, deleted, created_at, updated_at) "
            "SELECT 'acme', 'tickets', 'f' || g, jsonb_build_object('subject', 'filler ' || md5(g::text)), "
            "1000000 + g, false, now(), now() FROM generate_series(1, 20000) g"
        )
        conn.exec_driver_sql(f"SELECT gin_clean_pending_list('{search.pg_index('subject')}'::regclass)")
        conn.exec_driver_sql("ANALYZE records")
    assert found(core, ws, "on fire") == ["needle"]
    detail = plan(core, *last_query(statements))
    assert f"Bitmap Index Scan on {search.pg_index('subject')}" in detail, detail


def test_short_patterns_and_collections_without_x_search_scan(
    core: Deskbase, ws: str, actor: Actor, statements: list[tuple[str, Any]]
) -> None:
    schema = {"type": "object", "properties": {"subject": {"type": "string"}}}
    core.collections.upsert(ws, "notes", {"json_schema": schema}, actor)
    core.records.create(ws, "notes", {"id": "n1", "data": {"subject": "Printer on fire"}}, actor)
    core.records.create(ws, "tickets", {"id": "t1", "data": ticket("Printer on fire")}, actor)
    assert found(core, ws, "printer", collection="notes") == ["n1"]
    assert "_fts" not in last_query(statements)[0]
    assert found(core, ws, "on", collection="tickets") == ["t1"]  # two characters: no trigram
    assert "_fts" not in last_query(statements)[0]


# ---- the annotation ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("props", "pointer"),
    [
        ({"n": {"type": "integer", "x-search": True}}, "/json_schema/properties/n"),
        ({"n": {"enum": ["a", "b"], "x-search": True}}, "/json_schema/properties/n"),
        ({"n": {"type": ["string", "integer"], "x-search": True}}, "/json_schema/properties/n"),
        ({"n": {"type": "string", "x-search": "yes"}}, "/json_schema/properties/n/x-search"),
        ({"first name": {"type": "string", "x-search": True}}, "/json_schema/properties/first name"),
        (
            {"meta": {"type": "object", "properties": {"note": {"type": "string", "x-search": True}}}},
            "/json_schema/properties/meta/properties/note/x-search",
        ),
        (
            {"tags": {"type": "array", "items": {"type": "string", "x-search": True}}},
            "/json_schema/properties/tags/items/x-search",
        ),
    ],
)
def test_x_search_outside_top_level_strings_is_refused(
    core: Deskbase, ws: str, actor: Actor, props: dict[str, Any], pointer: str
) -> None:
    with pytest.raises(ValidationFailed) as exc:
        core.collections.upsert(ws, "notes", {"json_schema": {"type": "object", "properties": props}}, actor)
    assert pointer in [e["pointer"] for e in exc.value.details["errors"]], exc.value.details
    assert "x-search" in exc.value.message


def test_accepted_annotations_and_mixed_case_fields(core: Deskbase, ws: str, actor: Actor) -> None:
    """`Subject` and `subject` are different fields: SQLite names ignore case, so each gets its own objects."""
    props = {
        "subject": {"type": "string", "x-search": True},
        "Subject": {"type": ["string", "null"], "x-search": True},
        "body": {"type": "string", "x-search": False, "default": {"x-search": 1}},
        "x-search": {"type": "string"},
    }
    core.collections.upsert(ws, "notes", {"json_schema": {"type": "object", "properties": props}}, actor)
    assert search.fts_table("Subject") != search.fts_table("subject")
    core.records.create(
        ws, "notes", {"id": "a", "data": {"subject": "lower case", "Subject": "UPPER CASE"}}, actor
    )
    assert found(core, ws, "lower", collection="notes") == ["a"]
    assert found(core, ws, "lower", "Subject", collection="notes") == []
    assert found(core, ws, "upper", "Subject", collection="notes") == ["a"]
    assert index_drift(core) == {}


# ---- migration 0007 and PostgreSQL without pg_trgm ------------------------------------------------------------


def test_migration_builds_and_backfills_the_index(core: Deskbase, ws: str, actor: Actor) -> None:
    """Back at 0006 (no search structures), records written meanwhile are found after the upgrade; on SQLite,
    an incomplete set (a trigger lost) is rebuilt from the records."""
    core.records.create(ws, "tickets", {"id": "before", "data": ticket("Written before")}, actor)
    cfg = migrate._config()
    with core.db.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0006")
        # What a server of that version wrote meanwhile (its rows have no later columns, such as `number`).
        now = core.clock.now()
        conn.execute(
            sa.insert(t.records).values(
                workspace_id=ws,
                collection="tickets",
                id="during",
                data=ticket("Written while downgraded"),
                version=1_000_000,
                deleted=False,
                created_at=now,
                updated_at=now,
            )
        )
        renamed = {**ticket("Written before"), "subject": "Written before, renamed"}
        conn.execute(
            sa.update(t.records).where(t.records.c.id == "before").values(data=renamed, updated_at=now)
        )
    migrate.upgrade(core.db)
    assert found(core, ws, "written") == ["before", "during"] and found(core, ws, "renamed") == ["before"]
    assert index_drift(core) == {}
    if core.db.is_sqlite:
        with core.db.engine.begin() as conn:
            conn.exec_driver_sql("DROP TRIGGER records_s_subject_au")
        core.records.patch(ws, "tickets", "during", {"subject": "Changed without a trigger"}, actor)
        assert index_drift(core) != {}
        with core.db.engine.begin() as conn:
            search.ensure_search_index(conn, "subject")
        assert index_drift(core) == {} and found(core, ws, "without a trigger") == ["during"]


@pytest.fixture
def bare_postgres() -> Iterator[tuple[str, str]]:
    """A fresh database (no pg_trgm in it) and a role that may not create extensions there, but owns schema
    `app`; yields (database URL connecting as that role, role name)."""
    url = postgres_url()
    assert url
    reason = _pg_available(url)
    if reason:
        pytest.skip(reason)
    suffix = uuid.uuid4().hex[:10]
    db, role = f"deskbase_t_{suffix}", f"deskbase_noext_{suffix}"
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE ROLE {role} NOLOGIN")
        conn.exec_driver_sql(f"CREATE DATABASE {db}")
    base = url.rsplit("/", 1)[0] + f"/{db}"
    eng = sa.create_engine(base)
    with eng.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA app AUTHORIZATION {role}")
        present = conn.exec_driver_sql("SELECT count(*) FROM pg_extension WHERE extname = 'pg_trgm'").scalar()
    eng.dispose()
    try:
        if present:
            pytest.skip("template1 carries pg_trgm: every new database has it")
        yield f"{base}?options=-crole%3D{role}%20-csearch_path%3Dapp", role
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {db} WITH (FORCE)")
            conn.exec_driver_sql(f"DROP ROLE IF EXISTS {role}")
        admin.dispose()


def test_postgres_without_pg_trgm_warns_once_and_scans(
    bare_postgres: tuple[str, str],
    tmp_path: Path,
    clock: FixedClock,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    url, _ = bare_postgres
    monkeypatch.setattr(search, "_warned", set())
    app = Deskbase.open(Settings(data_dir=str(tmp_path), database_url=url), clock)
    try:
        install(app)
        with caplog.at_level(logging.WARNING, logger="deskbase.core.search"):
            app.workspaces.put("acme", "Acme", None, SYSTEM)
            app.templates.apply("acme", "support", SYSTEM)  # tickets and customers declare x-search
            schema = {"type": "object", "properties": {"subject": {"type": "string", "x-search": True}}}
            app.collections.upsert("acme", "notes", {"json_schema": schema}, SYSTEM)
        warnings = [r for r in caplog.records if "pg_trgm" in r.getMessage()]
        assert len(warnings) == 1, [r.getMessage() for r in caplog.records]
        app.records.create("acme", "tickets", {"id": "t1", "data": ticket("Printer on fire")}, SYSTEM)
        assert found(app, "acme", "ON FIRE") == ["t1"]
        with app.db.read() as conn:
            names = [
                r[0]
                for r in conn.execute(text("SELECT indexname FROM pg_indexes WHERE tablename = 'records'"))
            ]
        assert not [n for n in names if n.startswith("ix_records_s_")]
    finally:
        app.close()


def test_sqlite_without_trigram_warns_once_and_scans(
    core: Deskbase, actor: Actor, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """An SQLite before 3.34 (no trigram tokenizer), simulated by its capability probe: the template still
    applies, one warning says why, and search answers by scanning."""
    if not core.db.is_sqlite:
        pytest.skip("SQLite only")
    monkeypatch.setattr(search, "sqlite_trigram", lambda: False)
    monkeypatch.setattr(search, "_warned", set())
    with caplog.at_level(logging.WARNING, logger="deskbase.core.search"):
        core.workspaces.put("acme", "Acme", None, actor)
        core.templates.apply("acme", "support", actor)
    assert len([r for r in caplog.records if "trigram" in r.getMessage()]) == 1
    core.records.create("acme", "tickets", {"id": "t1", "data": ticket("Printer on fire")}, actor)
    assert found(core, "acme", "on fire") == ["t1"]
    with core.db.read() as conn:
        assert (
            conn.exec_driver_sql("SELECT count(*) FROM sqlite_master WHERE name LIKE 'records_s_%'").scalar()
            == 0
        )
