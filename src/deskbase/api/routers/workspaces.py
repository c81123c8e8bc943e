"""Workspaces: PUT creates or updates, GET reads, DELETE removes everything in it."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from deskbase.api.deps import ActorDep, CoreDep, authorize
from deskbase.api.schemas import WorkspacePut
from deskbase.core.auth import _covers

router = APIRouter(prefix="/v1/workspaces", tags=["workspaces"])


@router.get("")
def list_workspaces(core: CoreDep, actor: ActorDep) -> dict[str, Any]:
    items = [
        w
        for w in core.workspaces.list()
        if actor.is_admin or any(_covers(g, w["id"], None) for g in actor.grants)
    ]
    return {"data": items}


@router.put("/{ws}")
def put_workspace(
    ws: str, body: WorkspacePut, core: CoreDep, actor: ActorDep, response: Response
) -> dict[str, Any]:
    authorize(actor, "admin", ws)
    out, created = core.workspaces.put(ws, body.name, body.settings, actor)
    response.status_code = 201 if created else 200
    return out


@router.get("/{ws}")
def get_workspace(ws: str, core: CoreDep, actor: ActorDep) -> dict[str, Any]:
    authorize(actor, "read:collections", ws)
    return core.workspaces.get(ws)


@router.delete("/{ws}", status_code=204)
def delete_workspace(ws: str, core: CoreDep, actor: ActorDep) -> Response:
    authorize(actor, "admin", ws)
    core.workspaces.delete(ws, actor)
    return Response(status_code=204)


@router.get("/{ws}/changes", tags=["changes"])
def changes(ws: str, core: CoreDep, actor: ActorDep, after: int = 0, limit: int = 100) -> dict[str, Any]:
    """The change feed: every change of the workspace after `after`, in commit order."""
    authorize(actor, "read:audit", ws)
    return core.changes(ws, after, limit)


@router.post("/{ws}/templates/{name}", tags=["templates"])
def apply_template(ws: str, name: str, core: CoreDep, actor: ActorDep) -> dict[str, Any]:
    """Apply a bundled template (idempotent): its collections, relationship types and extras."""
    authorize(actor, "write:collections", ws)
    return core.templates.apply(ws, name, actor)


@router.get("/{ws}/templates", tags=["templates"])
def list_templates(ws: str, core: CoreDep, actor: ActorDep) -> dict[str, Any]:
    authorize(actor, "read:collections", ws)
    return {"data": [{"name": n} for n in core.templates.names()]}
