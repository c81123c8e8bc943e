"""A workspace's teams: named groups of members with an assignment rule. Reading needs a scope that reaches
the workspace (agents see the teams they work in); changing them needs `admin` over the whole workspace."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from deskbase.api.deps import ActorDep, CoreDep, authorize, requires
from deskbase.api.schemas import TeamPut
from deskbase.core.auth import authorize_scope

router = APIRouter(prefix="/v1/workspaces/{ws}/teams", tags=["people"])
ADMIN = requires("admin")


@router.get("", openapi_extra=requires())
def list_teams(ws: str, core: CoreDep, actor: ActorDep) -> dict[str, Any]:
    """The workspace's teams by name, each with its rule and members (in rotation order)."""
    authorize_scope(actor, ws)
    return {"data": core.teams.list(ws)}


@router.get("/{team_id}", openapi_extra=requires())
def get_team(ws: str, team_id: str, core: CoreDep, actor: ActorDep) -> dict[str, Any]:
    authorize_scope(actor, ws)
    return core.teams.get(ws, team_id)


@router.put("/{team_id}", openapi_extra=ADMIN)
def put_team(
    ws: str, team_id: str, body: TeamPut, core: CoreDep, actor: ActorDep, response: Response
) -> dict[str, Any]:
    """Create or replace a team. Members must be members of the workspace (by user id or email); the rule
    assigns only those who are agents, online and under their capacity."""
    authorize(actor, "admin", ws, whole_workspace=True)
    out, created = core.teams.put(actor, ws, team_id, body.model_dump())
    response.status_code = 201 if created else 200
    return out


@router.delete("/{team_id}", status_code=204, openapi_extra=ADMIN)
def delete_team(ws: str, team_id: str, core: CoreDep, actor: ActorDep) -> Response:
    """Tickets naming the team keep its id; no ticket can be moved to it any more."""
    authorize(actor, "admin", ws, whole_workspace=True)
    core.teams.delete(actor, ws, team_id)
    return Response(status_code=204)
