"""Collections and relationship types: schema-level resources of a workspace."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from deskbase.api.deps import ActorDep, After, CoreDep, PageLimit, authorize, collections_for, requires
from deskbase.api.schemas import CollectionPut, RelationshipTypePut
from deskbase.core.auth import audit_view, permits
from deskbase.core.context import Actor
from deskbase.core.errors import NotFound

router = APIRouter(prefix="/v1/workspaces/{ws}", tags=["collections"])


def _reltype_visible(actor: Actor, ws: str, rt: dict[str, Any]) -> bool:
    """A relationship type is visible when every collection it names is (an open end names none)."""
    named = [*(rt.get("source_collections") or []), *(rt.get("target_collections") or [])]
    return all(permits(actor, "read:collections", ws, c) for c in named)


@router.get("/collections", openapi_extra=requires("read:collections"))
def list_collections(ws: str, core: CoreDep, actor: ActorDep) -> dict[str, Any]:
    """The collections this token may read."""
    authorize(actor, "read:collections", ws)
    visible = collections_for(actor, "read:collections", ws)
    return {"data": [c for c in core.collections.list(ws) if visible is None or c["id"] in visible]}


@router.put("/collections/{collection}", openapi_extra=requires("write:collections"))
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
    authorize(actor, "write:collections", ws, collection)
    out, created = core.collections.upsert(
        ws, collection, body.model_dump(exclude_unset=True), actor, force=force
    )
    response.status_code = 201 if created else 200
    return out


@router.get("/collections/{collection}", openapi_extra=requires("read:collections"))
def get_collection(ws: str, collection: str, core: CoreDep, actor: ActorDep) -> dict[str, Any]:
    authorize(actor, "read:collections", ws, collection)
    return core.collections.get(ws, collection)


@router.delete("/collections/{collection}", status_code=204, openapi_extra=requires("write:collections"))
def delete_collection(ws: str, collection: str, core: CoreDep, actor: ActorDep) -> Response:
    authorize(actor, "write:collections", ws, collection)
    core.collections.delete(ws, collection, actor)
    return Response(status_code=204)


@router.get("/collections/{collection}/history", openapi_extra=requires("read:collections"))
def collection_history(
    ws: str, collection: str, core: CoreDep, actor: ActorDep, after: After = 0, limit: PageLimit = 100
) -> dict[str, Any]:
    """Every version of the collection's definition; who changed it is shown to `read:audit` holders."""
    authorize(actor, "read:collections", ws, collection)
    return {"data": audit_view(actor, core.collections.history(ws, collection, after, limit))}


@router.get("/relationship-types", tags=["relationship types"], openapi_extra=requires("read:collections"))
def list_reltypes(ws: str, core: CoreDep, actor: ActorDep) -> dict[str, Any]:
    """The relationship types whose collections this token may read."""
    authorize(actor, "read:collections", ws)
    return {"data": [rt for rt in core.reltypes.list(ws) if _reltype_visible(actor, ws, rt)]}


@router.put(
    "/relationship-types/{rel_type}",
    tags=["relationship types"],
    openapi_extra=requires("write:collections"),
)
def put_reltype(
    ws: str, rel_type: str, body: RelationshipTypePut, core: CoreDep, actor: ActorDep, response: Response
) -> dict[str, Any]:
    authorize(actor, "write:collections", ws, whole_workspace=True)
    out, created = core.reltypes.upsert(
        ws, rel_type, body.model_dump(by_alias=True, exclude_unset=True), actor
    )
    response.status_code = 201 if created else 200
    return out


@router.get(
    "/relationship-types/{rel_type}", tags=["relationship types"], openapi_extra=requires("read:collections")
)
def get_reltype(ws: str, rel_type: str, core: CoreDep, actor: ActorDep) -> dict[str, Any]:
    authorize(actor, "read:collections", ws)
    rt = core.reltypes.get(ws, rel_type)
    if not _reltype_visible(actor, ws, rt):
        raise NotFound(
            f"relationship type {rel_type!r} not found in workspace {ws!r}",
            {"workspace": ws, "rel_type": rel_type},
        )
    return rt


@router.delete(
    "/relationship-types/{rel_type}",
    status_code=204,
    tags=["relationship types"],
    openapi_extra=requires("write:collections"),
)
def delete_reltype(ws: str, rel_type: str, core: CoreDep, actor: ActorDep) -> Response:
    authorize(actor, "write:collections", ws, whole_workspace=True)
    core.reltypes.delete(ws, rel_type, actor)
    return Response(status_code=204)
