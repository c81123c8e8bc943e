"""Relationships between records, and atomic batches."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from deskbase.api.deps import ActorDep, CoreDep, authorize, authorize_any, requires, when
from deskbase.api.schemas import BatchBody, RelationshipCreate

router = APIRouter(prefix="/v1/workspaces/{ws}", tags=["relationships"])


@router.post(
    "/relationships",
    status_code=201,
    responses={200: {"description": "Nothing created: the live link already existed, or was replaced"}},
    openapi_extra=requires("write:relationships"),
)
def create_relationship(
    ws: str, body: RelationshipCreate, core: CoreDep, actor: ActorDep, response: Response
) -> dict[str, Any]:
    """Link two live records. A cardinality-one type refuses a second live link unless `replace` is true.
    Needs `write:relationships` on both ends' collections."""
    authorize(actor, "write:relationships", ws, body.source.collection)
    authorize(actor, "write:relationships", ws, body.target.collection)
    out, created = core.relationships.upsert(ws, body.model_dump(exclude={"at"}), actor, when(body.at))
    response.status_code = 201 if created else 200
    return out


@router.get("/relationships/{rel_id}", openapi_extra=requires("read:relationships"))
def get_relationship(ws: str, rel_id: str, core: CoreDep, actor: ActorDep) -> dict[str, Any]:
    """One link; a link with an end outside this token's scope is a 404, like a missing one."""
    authorize(actor, "read:relationships", ws)
    return core.relationships.get(ws, rel_id, actor)


@router.delete("/relationships/{rel_id}", openapi_extra=requires("write:relationships"))
def delete_relationship(
    ws: str, rel_id: str, core: CoreDep, actor: ActorDep, at: str | None = None
) -> dict[str, Any]:
    authorize(actor, "write:relationships", ws)
    return core.relationships.delete(ws, rel_id, actor, when(at))


@router.post("/batch", tags=["batch"], openapi_extra=requires("write:records", "write:relationships"))
def batch(ws: str, body: BatchBody, core: CoreDep, actor: ActorDep) -> dict[str, Any]:
    """Up to 1,000 operations in one transaction: all are applied, or none (the error names the index).
    Each operation needs its own permission in its collections: an operation on a collection outside the
    token's scope fails with 404 at its index, one lacking the permission with 403."""
    authorize_any(actor, ("write:records", "write:relationships"), ws)
    return core.batch.run(ws, body.operations, actor)
