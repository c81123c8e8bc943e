"""Atomic batches: all or nothing, refs, duplicate external ids, the failing index named."""

from __future__ import annotations

from typing import Any

import pytest

from deskbase.core.app import Deskbase
from deskbase.core.context import Actor
from deskbase.core.errors import NotFound, ValidationFailed

T = {"subject": "s", "status": "open", "priority": "low"}


def n_changes(core: Deskbase, ws: str) -> int:
    return len(core.changes(ws, 0, 1000)["data"])


def test_mixed_batch_with_refs(core: Deskbase, ws: str, actor: Actor) -> None:
    existing, _ = core.records.create(ws, "tickets", {"data": T}, actor)
    ops: list[dict[str, Any]] = [
        {"type": "upsert_record", "collection": "tickets", "ref": "t", "data": T},
        {
            "type": "upsert_document",
            "collection": "customers",
            "ref": "c",
            "data": {"name": "C", "email": "c@x.io"},
        },
        {
            "type": "upsert_relationship",
            "rel_type": "submitted_by",
            "source": {"collection": "tickets", "id": "$ref:t"},
            "target": {"collection": "customers", "id": "$ref:c"},
        },
        {"type": "patch_record", "collection": "tickets", "id": "$ref:t", "data": {"status": "waiting"}},
        {
            "type": "patch_record",
            "collection": "tickets",
            "id": existing["id"],
            "data": {"priority": "urgent"},
        },
        {"type": "delete_document", "collection": "tickets", "id": existing["id"]},
    ]
    out = core.batch.run(ws, ops, actor)["results"]
    assert [r["index"] for r in out] == list(range(6))
    t_id = out[0]["record"]["id"]
    assert core.records.get(ws, "tickets", t_id)["data"]["status"] == "waiting"
    assert out[2]["relationship"]["target"]["id"] == out[1]["record"]["id"]
    assert core.records.get(ws, "tickets", existing["id"], include_deleted=True)["deleted"]
    hist = core.records.history(ws, "tickets", t_id)
    assert [h["op"] for h in hist] == ["create", "update"] and hist[0]["data"]["data"]["status"] == "open"


@pytest.mark.parametrize(
    ("bad_op", "error"),
    [
        ({"type": "upsert_record", "collection": "tickets", "data": {"status": "x"}}, ValidationFailed),
        ({"type": "patch_record", "collection": "tickets", "id": "missing", "data": {}}, NotFound),
        ({"type": "upsert_record", "collection": "nope", "data": T}, NotFound),
        ({"type": "frobnicate"}, ValidationFailed),
        ({"type": "patch_record", "collection": "tickets", "id": "$ref:never", "data": {}}, ValidationFailed),
        (
            {
                "type": "upsert_relationship",
                "rel_type": "related_to",
                "source": {"collection": "tickets", "id": "$ref:a"},
                "target": {"collection": "customers", "id": "$ref:a"},
            },
            ValidationFailed,
        ),
    ],
)
def test_one_bad_operation_writes_nothing(
    core: Deskbase, ws: str, actor: Actor, bad_op: dict, error: type
) -> None:
    before = n_changes(core, ws)
    ops = [
        {"type": "upsert_record", "collection": "tickets", "ref": "a", "data": T},
        {"type": "upsert_record", "collection": "tickets", "data": T},
        bad_op,
    ]
    with pytest.raises(error) as exc:
        core.batch.run(ws, ops, actor)
    assert exc.value.details["operation_index"] == 2
    assert n_changes(core, ws) == before
    assert core.records.query(ws, "tickets")["data"] == []


def test_duplicate_external_id_in_one_batch(core: Deskbase, ws: str, actor: Actor) -> None:
    op = {
        "type": "upsert_record",
        "collection": "tickets",
        "external_source": "z",
        "external_id": "1",
        "data": T,
    }
    with pytest.raises(ValidationFailed) as exc:
        core.batch.run(ws, [op, {**op}], actor)
    assert exc.value.details["operation_index"] == 1 and "operation 0" in exc.value.message


def test_batch_limit(core: Deskbase, ws: str, actor: Actor) -> None:
    ops = [{"type": "upsert_record", "collection": "tickets", "data": T}] * 1001
    with pytest.raises(ValidationFailed, match="at most 1000"):
        core.batch.run(ws, ops, actor)
    assert len(core.batch.run(ws, ops[:1000], actor)["results"]) == 1000
    page = core.records.query(ws, "tickets", limit=1000)
    assert len(page["data"]) == 1000


def test_batch_upserts_existing_by_external_id(core: Deskbase, ws: str, actor: Actor) -> None:
    op = {
        "type": "upsert_record",
        "collection": "tickets",
        "external_source": "z",
        "external_id": "1",
        "data": T,
    }
    first = core.batch.run(ws, [op], actor)["results"][0]
    second = core.batch.run(ws, [{**op, "data": {**T, "status": "closed"}}], actor)["results"][0]
    assert first["created"] and not second["created"]
    assert first["record"]["id"] == second["record"]["id"]
