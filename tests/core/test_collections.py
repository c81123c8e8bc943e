"""Collections and workspaces: schema evolution rules, history, deletes, templates."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import text

from deskbase.core.app import Deskbase
from deskbase.core.context import Actor
from deskbase.core.errors import Conflict, NotFound, ValidationFailed
from deskbase.support.template import seed
from tests.conftest import SEED

T = {"subject": "s", "status": "open", "priority": "low"}


def test_template_is_the_seed_verbatim_and_idempotent(core: Deskbase, ws: str, actor: Actor) -> None:
    assert seed() == json.loads((SEED / "support-template.json").read_text())
    before = len(core.changes(ws, 0, 1000)["data"])
    report = core.templates.apply(ws, "support", actor)
    assert not any(c["created"] for c in report["collections"])
    assert len(core.changes(ws, 0, 1000)["data"]) == before
    tickets = core.collections.get(ws, "tickets")
    assert tickets["icon"] == "ticket" and tickets["color"] == "#ef4444"
    assert tickets["json_schema"]["properties"]["status"]["x-index"] is True
    assert core.reltypes.get(ws, "submitted_by")["cardinality"] == "one"
    for name in ("tickets", "customers", "responses"):
        schema = json.loads((SEED / f"{name}.schema.json").read_text())
        props = {
            k: {kk: vv for kk, vv in v.items() if kk not in ("x-index", "x-search")}
            for k, v in core.collections.get(ws, name)["json_schema"]["properties"].items()
        }
        if name in ("tickets", "responses"):  # deskbase's addition: file ids (see docs/files.md)
            assert props.pop("attachments")["x-files"] is True
            assert props.pop("mail")["type"] == "object"  # the email channel (see docs/email.md)
        if name == "tickets":
            assert props.pop("team")["type"] == "string"  # the ticket's team (see docs/people.md)
        if name == "responses":
            assert props.pop("original")["x-files"] is True  # the stored .eml of an email message
        if name == "customers":  # widened: non-ASCII addresses too (SMTPUTF8, see docs/email.md)
            assert (
                props["email"].pop("format") == "idn-email"
                and schema["properties"]["email"]["format"] == "email"
            )
            schema["properties"]["email"].pop("format")
        assert props == schema["properties"]


def test_incompatible_schema_change_is_refused_unless_forced(core: Deskbase, ws: str, actor: Actor) -> None:
    bad, _ = core.records.create(ws, "tickets", {"data": {**T, "status": "waiting"}}, actor)
    core.records.create(ws, "tickets", {"data": T}, actor)
    coll = core.collections.get(ws, "tickets")
    schema = json.loads(json.dumps(coll["json_schema"]))
    schema["properties"]["status"]["enum"] = ["open", "closed"]
    with pytest.raises(Conflict) as exc:
        core.collections.upsert(ws, "tickets", {"name": "Tickets", "json_schema": schema}, actor)
    assert [r["id"] for r in exc.value.details["offending_records"]] == [bad["id"]]
    assert core.collections.get(ws, "tickets")["version"] == coll["version"]
    forced, _ = core.collections.upsert(
        ws, "tickets", {"name": "Tickets", "json_schema": schema}, actor, force=True
    )
    assert forced["version"] > coll["version"]
    hist = core.collections.history(ws, "tickets")
    assert hist[-1]["data"]["forced"] is True and hist[-1]["op"] == "update"


def test_compatible_change_and_invalid_schema(core: Deskbase, ws: str, actor: Actor) -> None:
    coll = core.collections.get(ws, "tickets")
    schema = dict(coll["json_schema"])
    schema["properties"] = {**schema["properties"], "sentiment": {"type": "number"}}
    out, created = core.collections.upsert(ws, "tickets", {"name": "Tickets", "json_schema": schema}, actor)
    assert not created and out["version"] > coll["version"]
    with pytest.raises(ValidationFailed):
        core.collections.upsert(ws, "x", {"json_schema": {"type": "objectx"}}, actor)
    with pytest.raises(ValidationFailed):
        core.collections.upsert(
            ws, "x", {"json_schema": {"type": "object"}, "color": "url(javascript:1)"}, actor
        )


def test_delete_collection_removes_records_and_links(core: Deskbase, ws: str, actor: Actor) -> None:
    t, _ = core.records.create(ws, "tickets", {"data": T}, actor)
    c, _ = core.records.create(ws, "customers", {"data": {"name": "A", "email": "a@x.io"}}, actor)
    link, _ = core.relationships.upsert(
        ws,
        {
            "rel_type": "submitted_by",
            "source": {"collection": "tickets", "id": t["id"]},
            "target": {"collection": "customers", "id": c["id"]},
        },
        actor,
    )
    core.collections.delete(ws, "customers", actor)
    with pytest.raises(NotFound):
        core.collections.get(ws, "customers")
    with pytest.raises(NotFound):
        core.relationships.get(ws, link["id"])
    assert core.records.get(ws, "tickets", t["id"])["id"] == t["id"]


def test_workspaces(core: Deskbase, actor: Actor) -> None:
    w, created = core.workspaces.put("w1", "One", {"timezone": "Europe/Madrid"}, actor)
    assert created and w["settings"]["timezone"] == "Europe/Madrid"
    w2, created = core.workspaces.put("w1", "Uno", None, actor)
    assert not created and w2["name"] == "Uno" and w2["settings"]["timezone"] == "Europe/Madrid"
    core.templates.apply("w1", "support", actor)
    core.records.create("w1", "tickets", {"data": T}, actor)
    core.workspaces.delete("w1", actor)
    with pytest.raises(NotFound):
        core.workspaces.get("w1")
    core.workspaces.put("w1", "Again", None, actor)
    core.templates.apply("w1", "support", actor)
    assert core.records.query("w1", "tickets")["data"] == []


def test_put_keeps_fields_left_out_and_clears_explicit_nulls(core: Deskbase, ws: str, actor: Actor) -> None:
    coll = core.collections.get(ws, "tickets")
    out, _ = core.collections.upsert(
        ws, "tickets", {"json_schema": coll["json_schema"], "description": "New"}, actor
    )
    assert (out["name"], out["icon"], out["color"], out["description"]) == (
        "Tickets",
        "ticket",
        "#ef4444",
        "New",
    )
    out, _ = core.collections.upsert(ws, "tickets", {"json_schema": coll["json_schema"], "icon": None}, actor)
    assert out["icon"] is None and out["color"] == "#ef4444"
    rt, _ = core.reltypes.upsert(ws, "submitted_by", {"description": "who asked"}, actor)
    assert rt["cardinality"] == "one" and rt["source_collections"] == ["tickets"]


def test_fields_differing_only_in_case_each_get_their_index(core: Deskbase, ws: str, actor: Actor) -> None:
    """Index names ignore case (SQLite) and stop at 63 bytes (PostgreSQL): each field still gets its own."""
    long = "a_field_name_long_enough_to_pass_the_postgres_identifier_cap"
    schema = {
        "type": "object",
        "properties": {n: {"type": "string", "x-index": True} for n in ("Region", "region", long)},
    }
    core.collections.upsert(ws, "sites", {"name": "Sites", "json_schema": schema}, actor)
    with core.db.read() as conn:
        if conn.dialect.name == "postgresql":
            sql = "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = current_schema()"
        else:
            sql = "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
        defs = {n: d for n, d in conn.execute(text(sql)) if n.startswith("ix_records_x_")}
    for field in ("Region", "region", long):
        assert sum(f"'{field}'" in d or f"$.{field}'" in d for d in defs.values()) == 1, field
    core.records.create(ws, "sites", {"data": {"Region": "EU", "region": "us"}}, actor)
    hits = core.records.query(ws, "sites", {"field": "data.Region", "op": "eq", "value": "EU"})["data"]
    assert len(hits) == 1


def test_a_workspace_whose_template_predates_team_gets_it_by_applying_again(
    core: Deskbase, ws: str, actor: Actor
) -> None:
    """The template grew `team` on tickets: a workspace made before keeps its tickets (and accepted `team`
    meanwhile, as an extra field); applying the template again declares and indexes it."""
    coll = core.collections.get(ws, "tickets")
    old = json.loads(json.dumps(coll["json_schema"]))
    del old["properties"]["team"]
    core.collections.upsert(ws, "tickets", {"name": "Tickets", "json_schema": old}, actor)
    core.teams.put(actor, ws, "billing", {"name": "Billing"})
    kept, _ = core.records.create(ws, "tickets", {"data": {**T, "team": "billing"}}, actor)
    plain, _ = core.records.create(ws, "tickets", {"data": T}, actor)
    report = core.templates.apply(ws, "support", actor)
    tickets = next(c for c in report["collections"] if c["id"] == "tickets")
    assert tickets["version"] > coll["version"] and not tickets["created"]
    assert core.collections.get(ws, "tickets")["json_schema"]["properties"]["team"]["x-index"] is True
    assert core.records.get(ws, "tickets", kept["id"])["data"] == {**T, "team": "billing"}
    assert core.records.get(ws, "tickets", plain["id"])["data"] == T
    found = core.records.query(ws, "tickets", {"field": "data.team", "op": "eq", "value": "billing"})["data"]
    assert [r["id"] for r in found] == [kept["id"]]
