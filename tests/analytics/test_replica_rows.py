"""The replica's rows equal the primary store's, value by value, on SQLite and PostgreSQL.

The replicator hands ClickHouse raw change rows (JSON as the store's text, instants as the store's timestamp
text) and ClickHouse builds the typed rows; these tests pin that the result is what the primary store holds:
tricky JSON (unicode, escapes, nesting, numbers), instants whatever offset the store writes them with,
deleted records and links, collections and relationship types, the change log, SLA state, and batches on
both insert paths (inline and Arrow).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from deskbase.analytics import replica as replica_module
from deskbase.analytics.inline import INLINE_BYTES, INLINE_ROWS
from deskbase.analytics.service import Analytics
from deskbase.config import Settings
from deskbase.core.app import Deskbase
from deskbase.core.clock import FixedClock
from deskbase.core.context import SYSTEM
from deskbase.server import build
from deskbase.support.service import SlaService
from deskbase.support.tickets import add_response

WS = "acme"
SCHEMA = {"type": "object", "properties": {"name": {"type": "string"}}}
#: Values the ClickHouse JSON type keeps as they are (it drops nulls and empty objects inside objects, as it
#: always has: those are not the replicator's to keep).
TRICKY: list[dict[str, Any]] = [
    {"name": "Zoë 👩🏽‍💻 ﷺ مرحبا", "n": 42, "neg": -7, "big": 9007199254740993, "f": 0.1, "tiny": 1e-7},
    {"name": "quotes \" and ' and \\ and / and \n\t\r", "ok": True, "no": False},
    {"name": "nested", "o": {"a": {"b": {"c": "deep"}}, "list": ["x", "y"]}, "tags": ["a", "b", "c"]},
    {"name": '{"looks": "like json"}', "s": "2026-03-02T09:00:00Z", "pct": "100%"},
    {"name": "", "zero": 0, "one": 1.5},
]


@pytest.fixture
def replica(
    tmp_path: Path, clock: FixedClock, store_url: str, chdb_engine: Any
) -> Iterator[tuple[Deskbase, Analytics]]:
    """A store (both kinds) with the analytics service on the shared engine; PostgreSQL's session time zone is
    +05:30, so the timestamp text the store hands over carries an offset."""
    if store_url.startswith("postgresql"):
        store_url = store_url.replace("options=-c", "options=-cTimeZone%3DAsia/Kolkata%20-c")
    settings = Settings(data_dir=str(tmp_path), database_url=store_url, sla_scheduler=False, webhooks=False)
    core, _app = build(settings, clock, engine=chdb_engine)
    analytics: Analytics = core.extensions[Analytics]
    core.workspaces.put(WS, "Acme", None, SYSTEM)
    core.templates.apply(WS, "support", SYSTEM)
    core.collections.upsert(
        WS, "things", {"name": "Things", "json_schema": SCHEMA, "icon": "box", "color": "#ff8800"}, SYSTEM
    )
    yield core, analytics
    analytics.replica.stop()
    core.close()


def sql(analytics: Analytics, query: str, **params: Any) -> list[list[Any]]:
    return list(analytics.sql(WS, query, params or None)["data"])


def primary_records(core: Deskbase, collection: str) -> dict[str, dict[str, Any]]:
    out = core.records.query(WS, collection, limit=1000, include_deleted=True)["data"]
    return {r["id"]: r for r in out}


def replica_records(analytics: Analytics, collection: str) -> dict[str, dict[str, Any]]:
    got = sql(
        analytics,
        "SELECT id, data, version, deleted, created_at, updated_at, external_id, external_source, number "
        "FROM records FINAL WHERE collection = {c:String}",
        c=collection,
    )
    keys = ("id", "data", "version", "deleted", "created_at", "updated_at", "external_id", "external_source")
    return {r[0]: {**dict(zip(keys, r[:8], strict=True)), "number": r[8]} for r in got}


def assert_records_equal(core: Deskbase, analytics: Analytics, collection: str) -> None:
    want = {
        rid: {k: r[k] for k in ("id", "data", "version", "deleted", "created_at", "updated_at",
                                "external_id", "external_source", "number")}
        for rid, r in primary_records(core, collection).items()
    }  # fmt: skip
    assert replica_records(analytics, collection) == want


def test_records_with_tricky_values_deleted_and_patched(replica: tuple[Deskbase, Analytics]) -> None:
    core, analytics = replica
    ops = [
        {
            "type": "upsert_record",
            "collection": "things",
            "id": f"t{i}",
            "data": data,
            "external_id": f"ext-{i}" if i % 2 else None,
            "external_source": "crm" if i % 2 else None,
            # import mode: instants with offsets, stored in UTC
            "created_at": f"2025-1{i % 3}-0{i + 1}T23:59:59.{i}99+05:30",
            "at": f"2026-01-0{i + 1}T00:00:00.5-08:00",
        }
        for i, data in enumerate(TRICKY)
    ]
    core.batch.run(WS, ops, SYSTEM)
    core.records.patch(WS, "things", "t0", {"name": "patched ✓", "f": None}, SYSTEM)
    core.records.delete(WS, "things", "t1", SYSTEM)
    core.records.create(
        WS, "tickets", {"data": {"subject": "s", "status": "open", "priority": "low"}}, SYSTEM
    )
    analytics.replica.catch_up()
    assert_records_equal(core, analytics, "things")
    assert_records_equal(core, analytics, "tickets")  # numbered: `number` arrives too
    assert sql(
        analytics, "SELECT data.name.:String, data.o.a.b.c.:String FROM records FINAL WHERE id = 't2'"
    ) == [["nested", "deep"]]
    assert sql(analytics, "SELECT created_at FROM records FINAL WHERE id = 't0'") == [
        ["2025-10-01T18:29:59.099Z"]
    ]


def test_links_collections_and_relationship_types(replica: tuple[Deskbase, Analytics]) -> None:
    core, analytics = replica
    core.records.create(WS, "customers", {"id": "c1", "data": {"name": "Ada", "email": "a@x.io"}}, SYSTEM)
    core.records.create(
        WS, "tickets", {"id": "k1", "data": {"subject": "s", "status": "open", "priority": "low"}}, SYSTEM
    )
    core.records.create(
        WS, "tickets", {"id": "k2", "data": {"subject": "s", "status": "open", "priority": "low"}}, SYSTEM
    )
    link = {"rel_type": "submitted_by", "source": {"collection": "tickets", "id": "k1"}}
    kept, _ = core.relationships.upsert(
        WS, {**link, "target": {"collection": "customers", "id": "c1"}}, SYSTEM
    )
    related = {
        "rel_type": "related_to",
        "source": {"collection": "tickets", "id": "k1"},
        "data": {"why": "dup ✓"},
    }
    gone, _ = core.relationships.upsert(
        WS, {**related, "target": {"collection": "tickets", "id": "k2"}}, SYSTEM
    )
    core.relationships.delete(WS, gone["id"], SYSTEM)
    analytics.replica.catch_up()

    got = sql(
        analytics,
        "SELECT id, rel_type, source_collection, source_id, target_collection, target_id, data, version, deleted, "
        "created_at, updated_at FROM relationships FINAL ORDER BY id",
    )
    want = []
    for rel in (core.relationships.get(WS, kept["id"]), core.relationships.get(WS, gone["id"])):
        want.append([rel["id"], rel["rel_type"], rel["source"]["collection"], rel["source"]["id"],
                     rel["target"]["collection"], rel["target"]["id"], rel["data"] or {}, rel["version"],
                     rel["deleted"], rel["created_at"], rel["updated_at"]])  # fmt: skip
    assert got == sorted(want)
    assert got[[r[0] for r in got].index(gone["id"])][6] == {"why": "dup ✓"}

    coll = core.collections.get(WS, "things")
    got = sql(
        analytics,
        "SELECT name, description, icon, color, json_schema, version, deleted FROM collections FINAL "
        "WHERE id = 'things'",
    )
    assert got == [[coll["name"], coll.get("description"), "box", "#ff8800", orjson.dumps(SCHEMA).decode(),
                    coll["version"], False]]  # fmt: skip
    rt = core.reltypes.get(WS, "submitted_by")
    got = sql(
        analytics,
        "SELECT description, source_collections, target_collections, schema, cardinality, deleted "
        "FROM relationship_types FINAL WHERE rel_type = 'submitted_by'",
    )
    assert got == [[rt["description"], ["tickets"], ["customers"], None, "one", False]]


def test_deleting_a_collection_and_a_relationship_type_in_one_batch(
    replica: tuple[Deskbase, Analytics],
) -> None:
    """Destructive changes act in order within one batch: rows before them go, rows after them stay."""
    core, analytics = replica
    core.records.create(WS, "things", {"id": "old", "data": {"name": "before"}}, SYSTEM)
    core.reltypes.upsert(
        WS, "likes", {"source_collections": ["things"], "target_collections": ["things"]}, SYSTEM
    )
    core.relationships.upsert(
        WS, {"rel_type": "likes", "source": {"collection": "things", "id": "old"},
             "target": {"collection": "things", "id": "old"}}, SYSTEM)  # fmt: skip
    core.reltypes.delete(WS, "likes", SYSTEM)
    core.collections.delete(WS, "things", SYSTEM)
    core.collections.upsert(WS, "things", {"name": "Things again", "json_schema": SCHEMA}, SYSTEM)
    core.records.create(WS, "things", {"id": "new", "data": {"name": "after"}}, SYSTEM)
    analytics.replica.catch_up()
    assert sql(analytics, "SELECT id FROM records FINAL WHERE collection = 'things'") == [["new"]]
    assert sql(analytics, "SELECT count() FROM relationships FINAL WHERE rel_type = 'likes'") == [[0]]
    assert sql(analytics, "SELECT deleted FROM relationship_types FINAL WHERE rel_type = 'likes'") == [[True]]
    assert sql(analytics, "SELECT name, deleted FROM collections FINAL WHERE id = 'things'") == [
        ["Things again", False]
    ]
    assert analytics.replica.verify() == []


def test_the_change_log_reaches_operations_log(replica: tuple[Deskbase, Analytics]) -> None:
    core, analytics = replica
    core.batch.run(WS, [{"type": "upsert_record", "collection": "things", "data": d} for d in TRICKY], SYSTEM)
    analytics.replica.catch_up()
    feed = core.changes(WS, after=0, limit=1000)["data"]
    got = sql(
        analytics,
        "SELECT seq, entity, collection, entity_id, op, (actor, actor_name), at, data FROM operations_log FINAL "
        "ORDER BY seq",
    )
    assert [r[:7] for r in got] == [
        [c["seq"], c["entity"], c["collection"], c["entity_id"], c["op"], list(c["actor"].values()), c["at"]]
        for c in feed
    ]
    assert [orjson.loads(r[7]) for r in got] == [c["data"] or {} for c in feed]


def test_sla_state_reaches_the_replica_as_stored(
    replica: tuple[Deskbase, Analytics], clock: FixedClock
) -> None:
    core, analytics = replica
    rec, _ = core.records.create(
        WS, "tickets", {"data": {"subject": "s", "status": "open", "priority": "urgent"}}, SYSTEM
    )
    clock.advance(minutes=7)
    add_response(core, WS, rec["id"], {"body": "on it", "type": "reply", "author": "maria"}, SYSTEM)
    analytics.replica.catch_up()
    view = core.extensions[SlaService].ticket_view(WS, rec["id"])
    columns = ("metric", "cycle", "restarts", "state", "priority", "policy_id", "policy_version", "business",
               "started_at", "target_at", "completed_at", "breached_at", "target_seconds",
               "elapsed_business_seconds", "elapsed_calendar_seconds", "paused")  # fmt: skip
    got = sql(
        analytics,
        f"SELECT {', '.join(columns)} FROM sla_instances FINAL WHERE ticket_id = {{t:String}} AND NOT deleted "
        "ORDER BY metric, cycle",
        t=rec["id"],
    )
    assert got == sorted([s[c] for c in columns] for s in view["sla"])
    assert any(row[3] == "achieved" and row[10] for row in got)  # a completed clock: completed_at is set
    got = sql(
        analytics,
        "SELECT metric, cycle, kind, at, details FROM sla_events FINAL WHERE ticket_id = {t:String} "
        "ORDER BY at, metric, kind",
        t=rec["id"],
    )
    want = sorted(
        ([e["metric"], e["cycle"], e["kind"], e["at"]] for e in view["events"]),
        key=lambda e: (e[3], e[0], e[2]),
    )
    assert [r[:4] for r in got] == want
    canonical = lambda d: orjson.dumps(d, option=orjson.OPT_SORT_KEYS)  # noqa: E731
    assert sorted(canonical(orjson.loads(r[4])) for r in got) == sorted(
        canonical(e["details"]) for e in view["events"]
    )
    m = view["metrics"]
    got = sql(
        analytics,
        "SELECT first_response_at, first_response_seconds_calendar, agent_replies, customer_replies, awaiting, "
        "one_touch, metrics FROM ticket_metrics FINAL WHERE ticket_id = {t:String}",
        t=rec["id"],
    )
    assert got[0][:6] == [m["first_response_at"], m["first_response_seconds_calendar"], m["agent_replies"],
                          m["customer_replies"], m["awaiting"], m["one_touch"]]  # fmt: skip
    assert m["first_response_seconds_calendar"] == 7 * 60
    assert orjson.loads(got[0][6]) == m


def test_batches_on_both_insert_paths(replica: tuple[Deskbase, Analytics]) -> None:
    """More rows than go inline, and one record too large to go inline in a small batch: both go by Arrow."""
    core, analytics = replica
    analytics.replica.catch_up()
    many = [
        {"type": "upsert_record", "collection": "things", "id": f"m{i}", "data": {"name": f"n{i}", "i": i}}
        for i in range(INLINE_ROWS * 3)
    ]
    core.batch.run(WS, many, SYSTEM)
    assert analytics.replica.step() == len(many)
    big = "ü'\\\"" * (INLINE_BYTES // 4)
    core.records.create(WS, "things", {"id": "big", "data": {"name": big}}, SYSTEM)
    assert analytics.replica.step() == 1
    assert_records_equal(core, analytics, "things")


def test_one_batch_across_workspaces_with_one_deleted(replica: tuple[Deskbase, Analytics]) -> None:
    core, analytics = replica
    for ws in ("beta", "gone"):
        core.workspaces.put(ws, ws.title(), None, SYSTEM)
        core.collections.upsert(ws, "things", {"name": "Things", "json_schema": SCHEMA}, SYSTEM)
    for i in range(3):
        for ws in (WS, "beta", "gone"):
            core.records.create(ws, "things", {"id": f"{ws}-{i}", "data": {"name": ws}}, SYSTEM)
    core.workspaces.delete("gone", SYSTEM)
    assert analytics.replica.catch_up() > 9
    for ws in (WS, "beta"):
        got = analytics.sql(ws, "SELECT id FROM records FINAL WHERE collection = 'things' ORDER BY id")[
            "data"
        ]
        assert got == [[f"{ws}-{i}"] for i in range(3)]
    gone = analytics.engine.execute("SELECT count() FROM system.databases WHERE name = 'ws_gone'").rows
    assert gone == [[0]]
    assert analytics.replica.verify() == []


def test_sla_rows_of_every_batch_when_a_backlog_is_read_ahead(
    replica: tuple[Deskbase, Analytics], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A catch-up reads each batch's derived rows with its changes while the previous batch is inserted: with
    batches of 3 changes, every ticket's metrics row and SLA clocks still arrive, at the version stored."""
    core, analytics = replica
    analytics.replica.catch_up()
    ids = []
    for i in range(7):
        rec, _ = core.records.create(
            WS, "tickets", {"data": {"subject": f"s{i}", "status": "open", "priority": "high"}}, SYSTEM
        )
        ids.append(rec["id"])
    add_response(core, WS, ids[2], {"body": "on it", "type": "reply", "author": "maria"}, SYSTEM)
    monkeypatch.setattr(replica_module, "BATCH", 3)
    assert analytics.replica.catch_up() >= 8
    sla = core.extensions[SlaService]
    want = {rid: len(sla.ticket_view(WS, rid)["sla"]) for rid in ids}
    got = sql(
        analytics,
        "SELECT ticket_id, count() FROM sla_instances FINAL WHERE NOT deleted GROUP BY ticket_id",
    )
    assert dict((r[0], r[1]) for r in got) == want
    metrics = sql(analytics, "SELECT ticket_id, agent_replies FROM ticket_metrics FINAL ORDER BY ticket_id")
    assert metrics == sorted([rid, 1 if rid == ids[2] else 0] for rid in ids)
    assert analytics.replica.verify() == []
