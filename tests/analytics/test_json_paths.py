"""The seed queries over the replica's untyped JSON column: absent fields stay NULL, one table holds every
collection's types (a schema change re-types nothing), and the periodic merge changes no answer.

Typed paths in the `JSON(...)` column were measured and refused (bench/json_typed_paths.py, docs/sql.md): a
`String` path turns an absent field into '', a `Nullable(String)` or `Variant(String)` one refuses
`.:Int64`/`.:String` spellings that work today. These tests pin what users rely on instead.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from deskbase.analytics.replica_tables import database_of
from deskbase.analytics.service import Analytics
from deskbase.config import Settings
from deskbase.core.clock import FixedClock
from deskbase.core.context import SYSTEM
from deskbase.server import build

WS = "acme"
SEED = Path(__file__).resolve().parents[3] / "shared" / "seed" / "queries"
#: (status, priority, assignee, category, channel): None leaves the field out of the record
TICKETS = [
    ("open", "urgent", "ana", "bug", "email"),
    ("open", "low", None, None, "web"),
    ("in_progress", "urgent", "ana", "billing", None),
    ("waiting", "high", "tom", None, None),
    ("open", "medium", None, "question", "chat"),
    ("closed", "low", "tom", "bug", "email"),
]
PLANS = ["pro", None, "free"]


@pytest.fixture
def world(tmp_path: Path, clock: FixedClock, chdb_engine: Any) -> Any:
    settings = Settings(data_dir=str(tmp_path), sla_scheduler=False, webhooks=False, replica_merge_seconds=60)
    core, _app = build(settings, clock, engine=chdb_engine)
    analytics: Analytics = core.extensions[Analytics]
    core.workspaces.put(WS, "Acme", None, SYSTEM)
    core.templates.apply(WS, "support", SYSTEM)
    try:
        yield core, analytics
    finally:
        analytics.replica.stop()
        core.close()


def seed_answers(analytics: Analytics) -> dict[str, list[tuple[Any, ...]]]:
    queries = {p.stem: p.read_text() for p in sorted(SEED.glob("*.sql"))}
    assert len(queries) == 4
    return {
        name: sorted(map(tuple, analytics.sql(WS, q, {})["data"]), key=repr) for name, q in queries.items()
    }


def expected(
    tickets: list[dict[str, Any]], plan_of: dict[str, str | None]
) -> dict[str, list[tuple[Any, ...]]]:
    """The seed queries' answers computed from the records, an absent field being NULL (None)."""
    active = [t for t in tickets if t.get("status") in ("open", "in_progress")]
    workload = Counter(t.get("assignee") for t in active)
    urgent = Counter(t.get("assignee") for t in active if t.get("priority") == "urgent")
    by_priority = Counter(
        t.get("priority") for t in tickets if t.get("status") in ("open", "in_progress", "waiting")
    )
    by_cat = Counter((t.get("category"), t.get("channel")) for t in tickets)
    by_plan = Counter(plan_of[t["_customer"]] for t in tickets)
    return {
        "agent_workload": sorted(((a, n, urgent[a]) for a, n in workload.items()), key=repr),
        "open_tickets_by_priority": sorted(by_priority.items(), key=repr),
        "tickets_by_category_and_channel": sorted(((c, ch, n) for (c, ch), n in by_cat.items()), key=repr),
        "tickets_by_customer_plan": sorted(by_plan.items(), key=repr),
    }


def load(core: Any) -> tuple[list[dict[str, Any]], dict[str, str | None]]:
    plan_of: dict[str, str | None] = {}
    customers = []
    for n, plan in enumerate(PLANS):
        data: dict[str, Any] = {"name": f"c{n}", "email": f"c{n}@example.com"}
        if plan is not None:
            data["plan"] = plan
        rec, _ = core.records.create(WS, "customers", {"data": data}, SYSTEM)
        plan_of[rec["id"]] = plan
        customers.append(rec["id"])
    tickets = []
    for n, fields in enumerate(TICKETS):
        names = ("status", "priority", "assignee", "category", "channel")
        data = {"subject": f"t{n}", **{k: v for k, v in zip(names, fields, strict=True) if v is not None}}
        rec, _ = core.records.create(WS, "tickets", {"data": data}, SYSTEM)
        customer = customers[n % len(customers)]
        link = {
            "type": "upsert_relationship",
            "rel_type": "submitted_by",
            "source": {"collection": "tickets", "id": rec["id"]},
            "target": {"collection": "customers", "id": customer},
        }
        core.batch.run(WS, [link], SYSTEM)
        tickets.append({**data, "_id": rec["id"], "_customer": customer})
    return tickets, plan_of


def test_absent_fields_are_null_in_the_seed_answers(world: Any) -> None:
    core, analytics = world
    tickets, plan_of = load(core)
    answers = seed_answers(analytics)
    assert answers == expected(tickets, plan_of)
    assert (None, 2, 0) in answers["agent_workload"]  # two unassigned active tickets: NULL, not ''
    assert (None, 2) in answers["tickets_by_customer_plan"]  # the two tickets of the customer without a plan
    nulls = analytics.sql(
        WS,
        "SELECT countIf(data.assignee.:String IS NULL), countIf(data.assignee.:String = '') FROM records FINAL "
        "WHERE collection = 'tickets' AND NOT deleted",
        {},
    )["data"]
    assert [list(r) for r in nulls] == [[2, 0]]


def test_a_schema_change_retypes_nothing(world: Any) -> None:
    """A property typed differently by another collection, or re-typed by a schema change, reads with its
    own type beside the seed queries, whose answers stay the same."""
    core, analytics = world
    tickets, plan_of = load(core)
    before = seed_answers(analytics)
    schema = {"type": "object", "properties": {"name": {"type": "string"}, "priority": {"type": "integer"}}}
    core.collections.upsert(WS, "assets", {"name": "Assets", "json_schema": schema}, SYSTEM)
    core.records.create(WS, "assets", {"data": {"name": "laptop", "priority": 3}}, SYSTEM)
    tickets_schema = core.collections.get(WS, "tickets")["json_schema"]
    tickets_schema["properties"]["score"] = {"type": "integer"}
    core.collections.upsert(WS, "tickets", {"name": "Tickets", "json_schema": tickets_schema}, SYSTEM)
    core.records.patch(WS, "tickets", tickets[0]["_id"], {"score": 7}, SYSTEM)
    rows = analytics.sql(
        WS,
        "SELECT collection, data.priority.:Int64, data.priority.:String, data.score.:Int64 FROM records FINAL "
        "WHERE NOT deleted AND (collection = 'assets' OR data.score.:Int64 IS NOT NULL) ORDER BY collection",
        {},
    )["data"]
    assert [list(r) for r in rows] == [["assets", 3, None, None], ["tickets", None, "urgent", 7]]
    assert seed_answers(analytics) == before == expected(tickets, plan_of)


def test_the_periodic_merge_leaves_one_part_and_the_same_answers(world: Any) -> None:
    core, analytics = world
    replica = analytics.replica
    tickets, plan_of = load(core)
    replica.catch_up()
    db = database_of(WS)
    analytics.engine.execute(f"SYSTEM STOP MERGES `{db}`.records")
    for t in tickets[:3]:  # updates of older rows, each in a part of its own
        core.records.patch(WS, "tickets", t["_id"], {"status": "waiting"}, SYSTEM)
        t["status"] = "waiting"
        replica.step()
    parts = "SELECT count() FROM system.parts WHERE database = {d:String} AND table = 'records' AND active"
    assert int(analytics.engine.execute(parts, {"d": db}).rows[0][0]) > 3
    unmerged = seed_answers(analytics)
    assert unmerged == expected(tickets, plan_of)
    analytics.engine.execute(f"SYSTEM START MERGES `{db}`.records")
    compactor = replica.compactor
    assert not compactor.merge_due()  # not yet: replica_merge_seconds has not passed
    assert compactor.merge_due(now=10**9)
    compactor.wait()
    assert int(analytics.engine.execute(parts, {"d": db}).rows[0][0]) == 1
    assert seed_answers(analytics) == unmerged
    assert not compactor.merge_due(now=2 * 10**9)  # nothing written since
