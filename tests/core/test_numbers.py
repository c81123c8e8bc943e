"""Human record numbers (`#1042`) for collections marked `"x-numbered": true`, on both stores: allocated in the
write transaction, consecutive, never reused, importable, findable, and given to existing records (oldest
first) when a collection starts numbering."""

from __future__ import annotations

import pytest

from deskbase.core.app import Deskbase
from deskbase.core.context import Actor
from deskbase.core.errors import Conflict, Forbidden, NotFound, ValidationFailed

T = {"subject": "s", "status": "open", "priority": "low"}


def _new(core: Deskbase, ws: str, actor: Actor, **body: object) -> dict:
    rec, _ = core.records.create(ws, "tickets", {"data": T, **body}, actor)
    return rec


def test_tickets_are_numbered_in_order_and_numbers_are_never_reused(
    core: Deskbase, ws: str, actor: Actor
) -> None:
    first, second = _new(core, ws, actor), _new(core, ws, actor)
    assert (first["number"], second["number"]) == (1, 2)
    core.records.delete(ws, "tickets", second["id"], actor)
    assert _new(core, ws, actor)["number"] == 3
    customer, _ = core.records.create(ws, "customers", {"data": {"name": "C", "email": "c@x.io"}}, actor)
    assert customer["number"] is None
    out = core.batch.run(
        ws, [{"type": "upsert_record", "collection": "tickets", "data": T} for _ in range(3)], actor
    )
    assert [r["record"]["number"] for r in out["results"]] == [4, 5, 6]
    replaced, created = core.records.create(ws, "tickets", {"id": first["id"], "data": T}, actor)
    assert not created and replaced["number"] == 1
    assert core.records.by_number(ws, "tickets", 5)["id"] == out["results"][1]["record"]["id"]
    with pytest.raises(NotFound):
        core.records.by_number(ws, "tickets", 2)  # deleted
    page = core.records.query(ws, "tickets", {"field": "number", "op": "in", "value": [1, 3]})["data"]
    assert sorted(r["number"] for r in page) == [1, 3]
    history = core.records.history(ws, "tickets", first["id"])
    assert history[0]["data"]["number"] == 1


def test_an_import_keeps_its_numbers(core: Deskbase, ws: str, actor: Actor) -> None:
    assert _new(core, ws, actor, number=1042)["number"] == 1042
    assert _new(core, ws, actor)["number"] == 1043
    assert _new(core, ws, actor, number=7)["number"] == 7
    with pytest.raises(Conflict):
        _new(core, ws, actor, number=1042)
    with pytest.raises(ValidationFailed):
        core.records.create(ws, "customers", {"data": {"name": "C", "email": "c@x.io"}, "number": 3}, actor)
    clerk = Actor(
        "tok_clerk", "clerk", ({"scope": {"workspaces": [ws]}, "permissions": ["write:records"]},), False
    )
    with pytest.raises(Forbidden):
        _new(core, ws, clerk, number=5000)
    assert _new(core, ws, clerk)["number"] == 1044
    ops = [
        {"type": "upsert_record", "collection": "tickets", "data": T, "number": 2000},
        {"type": "upsert_record", "collection": "tickets", "data": T, "number": 2000},
    ]
    with pytest.raises(Conflict):
        core.batch.run(ws, ops, actor)
    assert _new(core, ws, actor)["number"] == 1045  # the failed batch took nothing


def test_a_collection_that_starts_numbering_numbers_what_it_has(
    core: Deskbase, ws: str, actor: Actor
) -> None:
    schema = {"type": "object", "properties": {"title": {"type": "string"}}}
    core.collections.upsert(ws, "problems", {"name": "Problems", "json_schema": schema}, actor)
    ids = [core.records.create(ws, "problems", {"data": {"title": str(i)}}, actor)[0]["id"] for i in range(3)]
    core.records.delete(ws, "problems", ids[1], actor)
    seq = core.last_seq(ws)
    core.collections.upsert(
        ws, "problems", {"name": "Problems", "json_schema": {**schema, "x-numbered": True}}, actor
    )
    got = [core.records.get(ws, "problems", rid, include_deleted=True) for rid in ids]
    assert [g["number"] for g in got] == [1, 2, 3]
    assert [g["data"] for g in got] == [{"title": "0"}, {"title": "1"}, {"title": "2"}]
    feed = core.changes(ws, after=seq)["data"]
    assert sorted(e["data"]["number"] for e in feed if e["entity"] == "record") == [1, 2, 3]
    assert core.records.create(ws, "problems", {"data": {"title": "new"}}, actor)[0]["number"] == 4
