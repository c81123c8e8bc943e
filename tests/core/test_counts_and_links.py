"""records.count (the filter DSL, counted), relationships.linked (a page's links in one query) and per-token
preferences — on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from deskbase.core.app import Deskbase
from deskbase.core.context import Actor
from deskbase.core.errors import InvalidFilter, NotFound, ValidationFailed
from deskbase.core.preferences import MAX_BYTES

TICKETS = [
    {"subject": "a", "status": "open", "priority": "high", "assignee": "maria", "tags": ["vip"]},
    {"subject": "b", "status": "open", "priority": "low"},
    {"subject": "c", "status": "waiting", "priority": "high", "assignee": "tom"},
    {"subject": "d", "status": "closed", "priority": "urgent", "assignee": "maria", "tags": ["vip", "sso"]},
]


@pytest.fixture
def ids(core: Deskbase, ws: str, actor: Actor) -> list[str]:
    return [core.records.create(ws, "tickets", {"data": d}, actor)[0]["id"] for d in TICKETS]


@pytest.mark.parametrize(
    ("flt", "expected"),
    [
        (None, 4),
        ({"field": "data.status", "op": "eq", "value": "open"}, 2),
        ({"field": "data.status", "op": "in", "value": ["open", "waiting"]}, 3),
        (
            {
                "and": [
                    {"field": "data.assignee", "op": "eq", "value": "maria"},
                    {"field": "data.status", "op": "in", "value": ["open", "waiting"]},
                ]
            },
            1,
        ),
        ({"field": "data.assignee", "op": "is_null"}, 1),
        ({"field": "data.tags", "op": "has", "value": "vip"}, 2),
        ({"field": "data.subject", "op": "search", "value": "C"}, 1),
        (
            {
                "or": [
                    {"field": "data.priority", "op": "eq", "value": "urgent"},
                    {"field": "data.priority", "op": "eq", "value": "low"},
                ]
            },
            2,
        ),
    ],
)
def test_count_matches_the_query(core: Deskbase, ws: str, ids: list[str], flt: object, expected: int) -> None:
    assert core.records.count(ws, "tickets", flt) == expected
    assert len(core.records.query(ws, "tickets", flt, limit=100)["data"]) == expected


def test_count_skips_deleted_records_unless_asked(
    core: Deskbase, ws: str, ids: list[str], actor: Actor
) -> None:
    core.records.delete(ws, "tickets", ids[0], actor)
    assert core.records.count(ws, "tickets") == 3
    assert core.records.count(ws, "tickets", include_deleted=True) == 4


def test_a_count_can_stop_at_a_limit(core: Deskbase, ws: str, ids: list[str]) -> None:
    assert core.records.count(ws, "tickets", limit=3) == 3
    assert core.records.count(ws, "tickets", limit=10) == 4
    assert (
        core.records.count(ws, "tickets", {"field": "data.priority", "op": "eq", "value": "high"}, limit=1)
        == 1
    )
    with pytest.raises(InvalidFilter):
        core.records.count(ws, "tickets", limit=0)


def test_count_rejects_what_query_rejects(core: Deskbase, ws: str) -> None:
    with pytest.raises(InvalidFilter):
        core.records.count(ws, "tickets", {"field": "data.status", "op": "nope", "value": 1})
    with pytest.raises(NotFound):
        core.records.count(ws, "nope")


def test_linked_returns_a_pages_links_in_one_call(
    core: Deskbase, ws: str, ids: list[str], actor: Actor
) -> None:
    customers = [
        core.records.create(ws, "customers", {"data": {"name": n, "email": f"{n}@x.example"}}, actor)[0]["id"]
        for n in ("ana", "ben")
    ]
    for tid, cid in zip(ids[:3], [customers[0], customers[1], customers[0]], strict=True):
        core.relationships.upsert(
            ws,
            {
                "rel_type": "submitted_by",
                "source": {"collection": "tickets", "id": tid},
                "target": {"collection": "customers", "id": cid},
            },
            actor,
        )
    links = core.relationships.linked(ws, "submitted_by", "tickets", ids)
    assert {(link["source"]["id"], link["target"]["id"]) for link in links} == {
        (ids[0], customers[0]),
        (ids[1], customers[1]),
        (ids[2], customers[0]),
    }
    incoming = core.relationships.linked(ws, "submitted_by", "customers", [customers[0]], "incoming")
    assert {link["source"]["id"] for link in incoming} == {ids[0], ids[2]}
    core.records.delete(ws, "tickets", ids[0], actor)  # its links go with it
    assert len(core.relationships.linked(ws, "submitted_by", "tickets", ids)) == 2
    assert core.relationships.linked(ws, "submitted_by", "tickets", []) == []
    with pytest.raises(InvalidFilter):
        core.relationships.linked(ws, "submitted_by", "tickets", ids, "both")


def test_preferences_are_per_token_and_merge(core: Deskbase) -> None:
    assert core.preferences.get("tok_a") == {}
    assert core.preferences.update("tok_a", {"shortcuts": False, "me": "maria"}) == {
        "shortcuts": False,
        "me": "maria",
    }
    assert core.preferences.update("tok_a", {"me": None}) == {"shortcuts": False}
    assert core.preferences.get("tok_b") == {}
    with pytest.raises(ValidationFailed):
        core.preferences.update("tok_a", {"blob": "x" * (MAX_BYTES + 1)})
    assert core.preferences.get("tok_a") == {"shortcuts": False}
