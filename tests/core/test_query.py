"""The filter DSL, sorting and keyset pagination, on SQLite and PostgreSQL, plus x-index index use."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from sqlalchemy import text

from deskbase.core.app import Deskbase
from deskbase.core.context import Actor
from deskbase.core.errors import InvalidFilter

PRIORITIES = ["low", "medium", "high", "urgent"]
STATUSES = ["open", "in_progress", "waiting", "resolved"]


@pytest.fixture
def seeded(core: Deskbase, ws: str, actor: Actor) -> list[dict[str, Any]]:
    ops = []
    for i, (p, s) in enumerate(itertools.product(PRIORITIES, STATUSES)):
        data: dict[str, Any] = {
            "subject": f"Ticket {i:02d} about Login",
            "status": s,
            "priority": p,
            "tags": ["vip"] if i % 3 == 0 else [],
        }
        if i % 4:
            data["assignee"] = f"agent{i % 3}"
        ops.append({"type": "upsert_record", "collection": "tickets", "id": f"t{i:02d}", "data": data})
    return [r["record"] for r in core.batch.run(ws, ops, actor)["results"]]


def ids(core: Deskbase, ws: str, **kw: Any) -> list[str]:
    return [r["id"] for r in core.records.query(ws, "tickets", limit=1000, **kw)["data"]]


def expect(seeded: list[dict[str, Any]], pred: Any) -> list[str]:
    return sorted(r["id"] for r in seeded if pred(r["data"]))


@pytest.mark.parametrize(
    ("flt", "pred"),
    [
        ({"field": "data.status", "op": "eq", "value": "open"}, lambda d: d["status"] == "open"),
        ({"field": "status", "op": "neq", "value": "open"}, lambda d: d["status"] != "open"),
        (
            {"field": "priority", "op": "in", "value": ["high", "urgent"]},
            lambda d: d["priority"] in ("high", "urgent"),
        ),
        ({"field": "priority", "op": "not_in", "value": ["low"]}, lambda d: d["priority"] != "low"),
        ({"field": "assignee", "op": "is_null"}, lambda d: "assignee" not in d),
        ({"field": "assignee", "op": "is_not_null"}, lambda d: "assignee" in d),
        ({"field": "assignee", "op": "neq", "value": "agent1"}, lambda d: d.get("assignee") != "agent1"),
        (
            {"field": "subject", "op": "like", "value": "Ticket 1%"},
            lambda d: d["subject"].startswith("Ticket 1"),
        ),
        ({"field": "subject", "op": "like", "value": "%login"}, lambda d: False),
        ({"field": "subject", "op": "ilike", "value": "%login"}, lambda d: True),
        ({"field": "subject", "op": "search", "value": "ket 0"}, lambda d: "ket 0" in d["subject"]),
        ({"field": "tags", "op": "has", "value": "vip"}, lambda d: "vip" in d["tags"]),
        ({"field": "subject", "op": "gte", "value": "Ticket 10"}, lambda d: d["subject"] >= "Ticket 10"),
        (
            {
                "and": [
                    {"field": "status", "op": "eq", "value": "open"},
                    {
                        "or": [
                            {"field": "priority", "op": "eq", "value": "urgent"},
                            {"field": "priority", "op": "lt", "value": "low"},
                        ]
                    },
                ]
            },
            lambda d: d["status"] == "open" and (d["priority"] == "urgent" or d["priority"] < "low"),
        ),
        ({"field": "id", "op": "in", "value": ["t01", "t02", "zz"]}, lambda d: False),
    ],
)
def test_filters_match_a_python_oracle(
    core: Deskbase, ws: str, seeded: list[dict[str, Any]], flt: Any, pred: Any
) -> None:
    got = sorted(ids(core, ws, filter=flt))
    if flt.get("field") == "id":
        assert got == ["t01", "t02"]
    else:
        assert got == expect(seeded, pred)


def test_time_and_version_filters(core: Deskbase, ws: str, seeded: list[dict[str, Any]]) -> None:
    t = seeded[5]
    assert ids(core, ws, filter={"field": "version", "op": "gt", "value": seeded[-2]["version"]}) == [
        seeded[-1]["id"]
    ]
    assert len(ids(core, ws, filter={"field": "created_at", "op": "lte", "value": t["created_at"]})) == 16


@pytest.mark.parametrize(
    "bad",
    [
        {"field": "status", "op": "almost", "value": "x"},
        {"field": "status", "op": "eq", "value": {"x": 1}},
        {"field": "status", "op": "eq", "value": None},
        {"field": "status", "op": "in", "value": "open"},
        {"field": "status", "op": "in", "value": []},
        {"field": "status", "op": "like", "value": 3},
        {"field": "data.bad-name", "op": "eq", "value": "x"},
        {"field": "x'; drop table records; --", "op": "eq", "value": "x"},
        {"field": "created_at", "op": "gt", "value": "yesterday"},
        {"field": "version", "op": "gt", "value": "1"},
        {"and": []},
        {"and": [], "field": "x"},
        {"field": "status", "op": "eq", "value": "x", "extra": 1},
        ["not", "an", "object"],
    ],
)
def test_invalid_filters_are_400(core: Deskbase, ws: str, bad: Any) -> None:
    with pytest.raises(InvalidFilter):
        core.records.query(ws, "tickets", filter=bad)


@pytest.mark.parametrize(
    "sort",
    [
        None,
        [{"field": "data.priority", "direction": "asc"}],
        [{"field": "data.assignee", "direction": "desc"}],
        [{"field": "data.status", "direction": "desc"}, {"field": "data.assignee", "direction": "asc"}],
        [{"field": "created_at", "direction": "desc"}],
        [{"field": "updated_at", "direction": "asc"}],
    ],
)
def test_keyset_pagination_visits_each_record_once_in_order(
    core: Deskbase, ws: str, seeded: list[dict[str, Any]], sort: Any
) -> None:
    full = ids(core, ws, sort=sort)
    paged, cursor = [], None
    while True:
        page = core.records.query(ws, "tickets", sort=sort, limit=5, cursor=cursor)
        paged += [r["id"] for r in page["data"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert paged == full and len(full) == len(seeded)
    if sort and sort[0]["field"] == "data.assignee":
        values = [
            r["data"].get("assignee") for r in core.records.query(ws, "tickets", sort=sort, limit=100)["data"]
        ]
        present = [v for v in values if v is not None]
        assert present == sorted(present, reverse=True) and values[len(present) :] == [None] * (
            len(values) - len(present)
        )


def test_bad_cursor_and_limit(core: Deskbase, ws: str, seeded: list[dict[str, Any]]) -> None:
    with pytest.raises(InvalidFilter):
        core.records.query(ws, "tickets", cursor="garbage!!")
    with pytest.raises(InvalidFilter):
        core.records.query(ws, "tickets", limit=0)
    with pytest.raises(InvalidFilter):
        core.records.query(ws, "tickets", limit=100000)


def test_x_index_fields_get_expression_indexes_used_by_filters(
    core: Deskbase, ws: str, seeded: list[dict[str, Any]]
) -> None:
    with core.db.engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            plan = conn.execute(
                text(
                    "EXPLAIN QUERY PLAN SELECT * FROM records WHERE workspace_id = :w AND collection = :c AND deleted = 0 "
                    "AND json_extract(records.data, '$.status') = :s ORDER BY id LIMIT 51"
                ),
                {"w": "acme", "c": "tickets", "s": "open"},
            ).all()
            detail = " ".join(str(r[-1]) for r in plan)
            assert "ix_records_x_status" in detail, detail
        else:
            names = {
                r[0]
                for r in conn.execute(text("SELECT indexname FROM pg_indexes WHERE tablename = 'records'"))
            }
            assert {"ix_records_x_status", "ix_records_x_priority", "ix_records_x_assignee"} <= names
