"""Records through the core service, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest

from deskbase.core.app import Deskbase
from deskbase.core.clock import FixedClock
from deskbase.core.context import Actor
from deskbase.core.errors import (
    Conflict,
    Forbidden,
    InvalidId,
    NotFound,
    PayloadTooLarge,
    PreconditionFailed,
    ValidationFailed,
)

T = {"subject": "Login fails", "status": "open", "priority": "high"}


def test_create_get_and_version_is_change_seq(core: Deskbase, ws: str, actor: Actor) -> None:
    rec, created = core.records.create(ws, "tickets", {"data": T}, actor)
    assert created and rec["version"] > 0
    assert core.records.get(ws, "tickets", rec["id"]) == rec
    feed = core.changes(ws, after=rec["version"] - 1, limit=1)["data"][0]
    assert feed["seq"] == rec["version"] and feed["entity_id"] == rec["id"] and feed["op"] == "create"


def test_explicit_id_upserts_and_bad_ids_are_refused(core: Deskbase, ws: str, actor: Actor) -> None:
    a, created = core.records.create(ws, "tickets", {"id": "T-1", "data": T}, actor)
    assert created and a["id"] == "T-1"
    b, created = core.records.create(ws, "tickets", {"id": "T-1", "data": {**T, "status": "closed"}}, actor)
    assert not created and b["version"] > a["version"] and b["data"]["status"] == "closed"
    with pytest.raises(InvalidId):
        core.records.create(ws, "tickets", {"id": "no spaces/allowed", "data": T}, actor)


def test_schema_violations_list_every_pointer(core: Deskbase, ws: str, actor: Actor) -> None:
    with pytest.raises(ValidationFailed) as exc:
        core.records.create(ws, "tickets", {"data": {"status": "nope", "priority": 3}}, actor)
    pointers = {e["pointer"] for e in exc.value.details["errors"]}
    assert {"/data", "/data/status", "/data/priority"} <= pointers
    with pytest.raises(ValidationFailed) as exc:
        core.records.create(ws, "customers", {"data": {"name": "x", "email": "not-an-email"}}, actor)
    assert exc.value.details["errors"][0]["pointer"] == "/data/email"


def test_replace_and_patch_with_if_match(core: Deskbase, ws: str, actor: Actor) -> None:
    rec, _ = core.records.create(ws, "tickets", {"data": {**T, "tags": ["a"]}}, actor)
    with pytest.raises(PreconditionFailed):
        core.records.patch(
            ws, "tickets", rec["id"], {"status": "closed"}, actor, if_match=rec["version"] + 99
        )
    p = core.records.patch(
        ws, "tickets", rec["id"], {"status": "waiting", "tags": None}, actor, if_match=rec["version"]
    )
    assert p["data"] == {"subject": "Login fails", "status": "waiting", "priority": "high"}
    with pytest.raises(ValidationFailed):  # the merged result must still validate
        core.records.patch(ws, "tickets", rec["id"], {"priority": None}, actor)
    r = core.records.replace(ws, "tickets", rec["id"], {**T, "priority": "low"}, actor, if_match=p["version"])
    assert r["data"]["priority"] == "low" and "tags" not in r["data"]
    assert core.records.get(ws, "tickets", rec["id"])["version"] == r["version"]


def test_soft_delete_keeps_history_and_deletes_links(
    core: Deskbase, ws: str, actor: Actor, clock: FixedClock
) -> None:
    t, _ = core.records.create(ws, "tickets", {"data": T}, actor)
    c, _ = core.records.create(ws, "customers", {"data": {"name": "A", "email": "a@example.com"}}, actor)
    link, _ = core.relationships.upsert(
        ws,
        {
            "rel_type": "submitted_by",
            "source": {"collection": "tickets", "id": t["id"]},
            "target": {"collection": "customers", "id": c["id"]},
        },
        actor,
    )
    clock.advance(minutes=5)
    d = core.records.delete(ws, "tickets", t["id"], actor)
    assert d["deleted"]
    with pytest.raises(NotFound):
        core.records.get(ws, "tickets", t["id"])
    assert core.records.get(ws, "tickets", t["id"], include_deleted=True)["deleted"]
    assert core.relationships.get(ws, link["id"])["deleted"]
    hist = core.records.history(ws, "tickets", t["id"])
    assert [h["op"] for h in hist] == ["create", "delete"]
    assert hist[1]["actor"]["id"] == actor.id and hist[1]["at"] > hist[0]["at"]
    with pytest.raises(NotFound):
        core.records.patch(ws, "tickets", t["id"], {"status": "open"}, actor)


def test_external_id_upsert_is_idempotent(core: Deskbase, ws: str, actor: Actor) -> None:
    body = {"data": T, "external_id": "Z-1", "external_source": "zendesk"}
    a, created_a = core.records.create(ws, "tickets", body, actor)
    b, created_b = core.records.create(ws, "tickets", {**body, "data": {**T, "status": "closed"}}, actor)
    assert created_a and not created_b and a["id"] == b["id"]
    assert core.records.query(ws, "tickets")["data"] == [b]


def test_data_cap(core: Deskbase, ws: str, actor: Actor) -> None:
    with pytest.raises(PayloadTooLarge):
        core.records.create(ws, "tickets", {"data": {**T, "description": "x" * (1024 * 1024 + 1)}}, actor)
    assert core.records.query(ws, "tickets")["data"] == []


def test_import_mode_needs_permission(core: Deskbase, ws: str, actor: Actor, clock: FixedClock) -> None:
    past = clock.now() - timedelta(days=30)
    rec, _ = core.records.create(ws, "tickets", {"data": T}, actor, at=past, created_at=past)
    assert rec["created_at"].startswith(past.date().isoformat())
    plain = Actor(
        "tok_x", "agent", grants=({"scope": {"workspaces": ["acme"]}, "permissions": ["write:records"]},)
    )
    with pytest.raises(Forbidden):
        core.records.create(ws, "tickets", {"data": T}, plain, at=past)


def test_unknown_workspace_and_collection(core: Deskbase, ws: str, actor: Actor) -> None:
    with pytest.raises(NotFound, match="workspace"):
        core.records.create("nope", "tickets", {"data": T}, actor)
    with pytest.raises(NotFound, match="collection"):
        core.records.create(ws, "nope", {"data": T}, actor)


def test_relationship_rules(core: Deskbase, ws: str, actor: Actor) -> None:
    t, _ = core.records.create(ws, "tickets", {"data": T}, actor)
    c1, _ = core.records.create(ws, "customers", {"data": {"name": "A", "email": "a@example.com"}}, actor)
    c2, _ = core.records.create(ws, "customers", {"data": {"name": "B", "email": "b@example.com"}}, actor)

    def link(target: dict, **kw: object) -> tuple[dict, bool]:
        return core.relationships.upsert(
            ws,
            {
                "rel_type": "submitted_by",
                "source": {"collection": "tickets", "id": t["id"]},
                "target": {"collection": "customers", "id": target["id"]},
                **kw,
            },
            actor,
        )

    first, created = link(c1)
    assert created
    again, created = link(c1)
    assert not created and again["id"] == first["id"]
    with pytest.raises(Conflict):
        link(c2)
    second, created = link(c2, replace=True)
    assert created and core.relationships.get(ws, first["id"])["deleted"]
    out = core.relationships.of_record(ws, "tickets", t["id"], "submitted_by", "outgoing")["data"]
    assert [r["target"]["id"] for r in out] == [c2["id"]]
    inc = core.relationships.of_record(ws, "customers", c2["id"], "submitted_by", "incoming")["data"]
    assert [r["id"] for r in inc] == [second["id"]]
    with pytest.raises(ValidationFailed, match="not allowed"):
        core.relationships.upsert(
            ws,
            {
                "rel_type": "submitted_by",
                "source": {"collection": "customers", "id": c1["id"]},
                "target": {"collection": "customers", "id": c2["id"]},
            },
            actor,
        )
    gone, _ = core.records.create(ws, "tickets", {"data": T}, actor)
    core.records.delete(ws, "tickets", gone["id"], actor)
    for target in (gone["id"], "missing"):
        with pytest.raises(ValidationFailed, match="does not exist or is deleted"):
            core.relationships.upsert(
                ws,
                {
                    "rel_type": "related_to",
                    "source": {"collection": "tickets", "id": t["id"]},
                    "target": {"collection": "tickets", "id": target},
                },
                actor,
            )
    with pytest.raises(NotFound):
        core.relationships.upsert(
            ws,
            {
                "rel_type": "nope",
                "source": {"collection": "tickets", "id": t["id"]},
                "target": {"collection": "tickets", "id": t["id"]},
            },
            actor,
        )


def test_relationship_pagination(core: Deskbase, ws: str, actor: Actor) -> None:
    t, _ = core.records.create(ws, "tickets", {"data": T}, actor)
    ops = [
        {
            "type": "upsert_record",
            "collection": "responses",
            "ref": f"r{i}",
            "data": {"body": str(i), "type": "reply"},
        }
        for i in range(7)
    ]
    ops += [
        {
            "type": "upsert_relationship",
            "rel_type": "has_response",
            "source": {"collection": "tickets", "id": t["id"]},
            "target": {"collection": "responses", "id": f"$ref:r{i}"},
        }
        for i in range(7)
    ]
    core.batch.run(ws, ops, actor)
    seen, cursor = [], None
    while True:
        page = core.relationships.of_record(
            ws, "tickets", t["id"], "has_response", "both", limit=3, cursor=cursor
        )
        seen += [r["id"] for r in page["data"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert len(seen) == 7 == len(set(seen))
