"""Workspaces: PUT creates or updates, GET reads, DELETE removes everything in it."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from deskbase.api.deps import ActorDep, After, CoreDep, PageLimit, authorize, requires
from deskbase.api.schemas import WorkspacePatch, WorkspacePut
from deskbase.core.auth import authorize_scope, sees

router = APIRouter(prefix="/v1/workspaces", tags=["workspaces"])


@router.get("", openapi_extra=requires())
def list_workspaces(core: CoreDep, actor: ActorDep) -> dict[str, Any]:
    """The workspaces inside this token's scope."""
    return {"data": [w for w in core.workspaces.list() if sees(actor, w["id"])]}


@router.put("/{ws}", openapi_extra=requires("admin"))
def put_workspace(
    ws: str, body: WorkspacePut, core: CoreDep, actor: ActorDep, response: Response
) -> dict[str, Any]:
    authorize(actor, "admin", ws, whole_workspace=True)
    out, created = core.workspaces.put(ws, body.name, body.settings, actor)
    response.status_code = 201 if created else 200
    return out


@router.patch("/{ws}", openapi_extra=requires("admin"))
def patch_workspace(ws: str, body: WorkspacePatch, core: CoreDep, actor: ActorDep) -> dict[str, Any]:
    """Change the name or some settings, keeping the others: `{"settings": {"require_two_factor": true}}`
    makes every member set up two-step sign-in before their next console page (owners and admins)."""
    authorize(actor, "admin", ws, whole_workspace=True)
    return core.workspaces.patch(ws, body.name, body.settings, actor)


@router.get("/{ws}", openapi_extra=requires())
def get_workspace(ws: str, core: CoreDep, actor: ActorDep) -> dict[str, Any]:
    """Any token whose scope reaches the workspace reads it, as in the list."""
    authorize_scope(actor, ws)
    return core.workspaces.get(ws)


@router.delete("/{ws}", status_code=204, openapi_extra=requires("admin"))
def delete_workspace(ws: str, core: CoreDep, actor: ActorDep) -> Response:
    authorize(actor, "admin", ws, whole_workspace=True)
    core.workspaces.delete(ws, actor)
    return Response(status_code=204)


@router.get("/{ws}/changes", tags=["changes"], openapi_extra=requires("read:records"))
def changes(
    ws: str, core: CoreDep, actor: ActorDep, after: After = 0, limit: PageLimit = 100
) -> dict[str, Any]:
    """The change feed: every change of the workspace after `after` that this token may read, in commit
    order. `actor` (who made it) is shown to `read:audit` holders only. A page can be short while more
    follow (entries outside the token's scope are skipped): poll with `after=next_after` until it stops moving."""
    authorize(actor, "read:records", ws)
    return core.changes(ws, after, limit, actor)


@router.post("/{ws}/templates/{name}", tags=["templates"], openapi_extra=requires("write:collections"))
def apply_template(ws: str, name: str, core: CoreDep, actor: ActorDep) -> dict[str, Any]:
    """Apply a bundled template (idempotent): its collections, relationship types and extras."""
    authorize(actor, "write:collections", ws, whole_workspace=True)
    return core.templates.apply(ws, name, actor)


@router.get("/{ws}/templates", tags=["templates"], openapi_extra=requires("read:collections"))
def list_templates(ws: str, core: CoreDep, actor: ActorDep) -> dict[str, Any]:
    authorize(actor, "read:collections", ws)
    return {"data": [{"name": n} for n in core.templates.names()]}
