"""Collections and relationship types: schema-level resources of a workspace."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from deskbase.api.deps import ActorDep, CoreDep, authorize
from deskbase.api.schemas import CollectionPut, RelationshipTypePut

router = APIRouter(prefix="/v1/workspaces/{ws}", tags=["collections"])


@router.get("/collections")
def list_collections(ws: str, core: CoreDep, actor: ActorDep) -> dict[str, Any]:
    authorize(actor, "read:collections", ws)
    return {"data": core.collections.list(ws)}


@router.put("/collections/{collection}")
def put_collection(
    ws: str,
    collection: str,
    body: CollectionPut,
    core: CoreDep,
    actor: ActorDep,
    response: Response,
    force: bool = False,
) -> dict[str, Any]:
    """Create or update. A schema change that live records would violate is a 409 unless `force=true`."""
    authorize(actor, "write:collections", ws)
    out, created = core.collections.upsert(
        ws, collection, body.model_dump(exclude_unset=True), actor, force=force
    )
    response.status_code = 201 if created else 200
    return out


@router.get("/collections/{collection}")
def get_collection(ws: str, collection: str, core: CoreDep, actor: ActorDep) -> dict[str, Any]:
    authorize(actor, "read:collections", ws, collection)
    return core.collections.get(ws, collection)


@router.delete("/collections/{collection}", status_code=204)
def delete_collection(ws: str, collection: str, core: CoreDep, actor: ActorDep) -> Response:
    authorize(actor, "write:collections", ws, collection)
    core.collections.delete(ws, collection, actor)
    return Response(status_code=204)


@router.get("/collections/{collection}/history")
def collection_history(
    ws: str, collection: str, core: CoreDep, actor: ActorDep, after: int = 0, limit: int = 100
) -> dict[str, Any]:
    authorize(actor, "read:collections", ws, collection)
    return {"data": core.collections.history(ws, collection, after, min(limit, 1000))}


@router.get("/relationship-types", tags=["relationship types"])
def list_reltypes(ws: str, core: CoreDep, actor: ActorDep) -> dict[str, Any]:
    authorize(actor, "read:collections", ws)
    return {"data": core.reltypes.list(ws)}


@router.put("/relationship-types/{rel_type}", tags=["relationship types"])
def put_reltype(
    ws: str, rel_type: str, body: RelationshipTypePut, core: CoreDep, actor: ActorDep, response: Response
) -> dict[str, Any]:
    authorize(actor, "write:collections", ws)
    out, created = core.reltypes.upsert(
        ws, rel_type, body.model_dump(by_alias=True, exclude_unset=True), actor
    )
    response.status_code = 201 if created else 200
    return out


@router.get("/relationship-types/{rel_type}", tags=["relationship types"])
def get_reltype(ws: str, rel_type: str, core: CoreDep, actor: ActorDep) -> dict[str, Any]:
    authorize(actor, "read:collections", ws)
    return core.reltypes.get(ws, rel_type)


@router.delete("/relationship-types/{rel_type}", status_code=204, tags=["relationship types"])
def delete_reltype(ws: str, rel_type: str, core: CoreDep, actor: ActorDep) -> Response:
    authorize(actor, "write:collections", ws)
    core.reltypes.delete(ws, rel_type, actor)
    return Response(status_code=204)
