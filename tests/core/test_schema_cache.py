"""Collection and relationship-type rows are cached per process and keyed by the workspace's schema_version:
a change made through one Deskbase is enforced by another on the same store at its very next write."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from deskbase.config import Settings
from deskbase.core.app import Deskbase
from deskbase.core.clock import FixedClock
from deskbase.core.context import Actor
from deskbase.core.errors import Conflict, NotFound, ValidationFailed

WS = "shared"
LOOSE = {"type": "object", "properties": {"title": {"type": "string"}}}
STRICT = {"type": "object", "properties": {"title": {"type": "string"}}, "required": ["size"]}


@pytest.fixture
def two(
    tmp_path: Path, clock: FixedClock, store_url: str, actor: Actor
) -> Iterator[tuple[Deskbase, Deskbase]]:
    """Two instances on one store (as two server processes would be), each with its own caches."""
    a = Deskbase.open(Settings(data_dir=str(tmp_path), database_url=store_url), clock)
    b = Deskbase.open(Settings(data_dir=str(tmp_path), database_url=store_url), clock)
    try:
        a.workspaces.put(WS, "Shared", None, actor)
        a.collections.upsert(WS, "notes", {"json_schema": LOOSE}, actor)
        yield a, b
    finally:
        b.close()
        a.close()


def test_a_schema_changed_by_one_instance_is_enforced_by_the_other_at_once(
    two: tuple[Deskbase, Deskbase], actor: Actor
) -> None:
    a, b = two
    b.records.create(WS, "notes", {"data": {"title": "cached"}}, actor)  # b now holds the loose schema
    a.collections.upsert(WS, "notes", {"json_schema": STRICT}, actor, force=True)
    with pytest.raises(ValidationFailed):
        b.records.create(WS, "notes", {"data": {"title": "no size"}}, actor)
    b.records.create(WS, "notes", {"data": {"title": "sized", "size": 3}}, actor)
    a.collections.upsert(WS, "notes", {"json_schema": LOOSE}, actor)
    b.records.create(WS, "notes", {"data": {"title": "loose again"}}, actor)


def test_a_collection_deleted_by_one_instance_is_gone_for_the_other(
    two: tuple[Deskbase, Deskbase], actor: Actor
) -> None:
    a, b = two
    b.records.create(WS, "notes", {"data": {"title": "cached"}}, actor)
    a.collections.delete(WS, "notes", actor)
    with pytest.raises(NotFound):
        b.records.create(WS, "notes", {"data": {"title": "after delete"}}, actor)


def test_a_workspace_made_again_under_its_id_is_not_served_from_the_old_cache(
    two: tuple[Deskbase, Deskbase], actor: Actor
) -> None:
    a, b = two
    b.records.create(WS, "notes", {"data": {"title": "cached"}}, actor)
    a.workspaces.delete(WS, actor)
    a.workspaces.put(WS, "Shared again", None, actor)
    a.collections.upsert(WS, "notes", {"json_schema": STRICT}, actor)
    with pytest.raises(ValidationFailed):
        b.records.create(WS, "notes", {"data": {"title": "no size"}}, actor)


def test_a_relationship_type_changed_by_one_instance_is_enforced_by_the_other(
    two: tuple[Deskbase, Deskbase], actor: Actor
) -> None:
    a, b = two
    a.reltypes.upsert(
        WS, "follows", {"source_collections": ["notes"], "target_collections": ["notes"]}, actor
    )
    n = [b.records.create(WS, "notes", {"data": {"title": str(i)}}, actor)[0]["id"] for i in range(3)]
    link = {"rel_type": "follows", "source": {"collection": "notes", "id": n[0]}}
    b.relationships.upsert(WS, {**link, "target": {"collection": "notes", "id": n[1]}}, actor)
    a.reltypes.upsert(WS, "follows", {"cardinality": "one"}, actor)
    with pytest.raises(Conflict):
        b.relationships.upsert(WS, {**link, "target": {"collection": "notes", "id": n[2]}}, actor)
    a.reltypes.delete(WS, "follows", actor)
    with pytest.raises(NotFound):
        b.relationships.upsert(WS, {**link, "target": {"collection": "notes", "id": n[2]}}, actor)
