"""A workspace's people: roles (built-in and custom), members and invitations; and accepting an invitation.

Reading roles and members needs only a scope that reaches the workspace (as reading the workspace does);
changing them needs `admin` over the whole workspace. Accepting an invitation is public: the link's secret
(and, for an existing account, its password) is the credential.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from deskbase.api.deps import ActorDep, CoreDep, authorize, requires
from deskbase.api.openapi import ERROR_REF
from deskbase.api.routers.users import client_address
from deskbase.api.schemas import InvitationAccept, InvitationCreate, MemberPut, RolePut
from deskbase.core.auth import authorize_scope

router = APIRouter(prefix="/v1/workspaces/{ws}", tags=["people"])
accept_router = APIRouter(prefix="/v1/invitations", tags=["people"])
ADMIN = requires("admin")


def _admin(actor: Any, ws: str) -> None:
    authorize(actor, "admin", ws, whole_workspace=True)


@router.get("/roles", openapi_extra=requires())
def list_roles(ws: str, core: CoreDep, actor: ActorDep) -> dict[str, Any]:
    """The built-in roles and the workspace's custom roles, each a grants list."""
    authorize_scope(actor, ws)
    return {"data": core.roles.list(ws)}


@router.get("/roles/{role}", openapi_extra=requires())
def get_role(ws: str, role: str, core: CoreDep, actor: ActorDep) -> dict[str, Any]:
    authorize_scope(actor, ws)
    return core.roles.get(ws, role)


@router.put("/roles/{role}", openapi_extra=ADMIN)
def put_role(
    ws: str, role: str, body: RolePut, core: CoreDep, actor: ActorDep, response: Response
) -> dict[str, Any]:
    """Create or replace a custom role; its grants must be scoped to this workspace. Members holding it get
    the new rights at once (their personal tokens too)."""
    _admin(actor, ws)
    grants = [g.model_dump(exclude_none=True) for g in body.grants]
    out, created = core.roles.put(ws, role, grants, body.description)
    response.status_code = 201 if created else 200
    return out


@router.delete("/roles/{role}", status_code=204, openapi_extra=ADMIN)
def delete_role(ws: str, role: str, core: CoreDep, actor: ActorDep) -> Response:
    """Delete a custom role that no member holds."""
    _admin(actor, ws)
    core.roles.delete(ws, role)
    return Response(status_code=204)


def _two_factor(core: Any, actor: Any, members: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each member's `user.two_factor`, where the caller may see it (the user API's rule: themselves, the
    workspace's admins, server admins)."""
    with core.db.read() as conn:
        shown = core.factors.shown(conn, actor, [m["user"]["id"] for m in members])
    for m in members:
        if m["user"]["id"] in shown:
            m["user"]["two_factor"] = {"enabled": shown[m["user"]["id"]]}
    return members


@router.get("/members", openapi_extra=requires())
def list_members(ws: str, core: CoreDep, actor: ActorDep) -> dict[str, Any]:
    """The workspace's members with their roles, by email (and, for its admins, each one's `two_factor`)."""
    authorize_scope(actor, ws)
    return {"data": _two_factor(core, actor, core.members.list(ws))}


@router.get("/members/{user_id}", openapi_extra=requires())
def get_member(ws: str, user_id: str, core: CoreDep, actor: ActorDep) -> dict[str, Any]:
    authorize_scope(actor, ws)
    return _two_factor(core, actor, [core.members.get(ws, user_id)])[0]


@router.put("/members/{user_id}", openapi_extra=ADMIN)
def put_member(
    ws: str, user_id: str, body: MemberPut, core: CoreDep, actor: ActorDep, response: Response
) -> dict[str, Any]:
    """Add a user you can see (new people come by invitation) or change a member's role. Only an owner makes
    or unmakes owners."""
    _admin(actor, ws)
    out, created = core.members.put(actor, ws, user_id, body.role)
    response.status_code = 201 if created else 200
    return out


@router.delete("/members/{user_id}", status_code=204, openapi_extra=ADMIN)
def remove_member(ws: str, user_id: str, core: CoreDep, actor: ActorDep) -> Response:
    """The user loses the workspace at once (sessions and personal tokens included) and the triggers and
    hooks they configured stop."""
    _admin(actor, ws)
    core.members.remove(actor, ws, user_id)
    return Response(status_code=204)


@router.post("/invitations", status_code=201, openapi_extra=ADMIN)
def create_invitation(
    ws: str, body: InvitationCreate, core: CoreDep, actor: ActorDep, response: Response
) -> dict[str, Any]:
    """A one-time link (`path`, valid 7 days) for `email` to join with `role`. The secret (`token`) is in
    this response only: send the link to the person."""
    _admin(actor, ws)
    response.headers["Cache-Control"] = "no-store"
    return core.invitations.create(actor, ws, body.email, body.role)


@router.get("/invitations", openapi_extra=ADMIN)
def list_invitations(ws: str, core: CoreDep, actor: ActorDep) -> dict[str, Any]:
    """Pending invitations (never their links)."""
    _admin(actor, ws)
    return {"data": core.invitations.list(ws)}


@router.delete("/invitations/{invitation_id}", status_code=204, openapi_extra=ADMIN)
def revoke_invitation(ws: str, invitation_id: str, core: CoreDep, actor: ActorDep) -> Response:
    _admin(actor, ws)
    core.invitations.revoke(ws, invitation_id)
    return Response(status_code=204)


@accept_router.post(
    "/{token}/accept",
    responses={
        401: {"description": "Wrong password for the existing account", **ERROR_REF},
        429: {"description": "Too many wrong passwords; retry after `Retry-After` seconds", **ERROR_REF},
    },
)
def accept_invitation(token: str, body: InvitationAccept, request: Request, core: CoreDep) -> dict[str, Any]:
    """Accept an invitation (no bearer token: the link is the credential). A new person sends `name` and a
    `password` (8+ characters, not a common one); someone who has an account sends its password. Sign in to
    the console afterwards with the email and password."""
    user, ws = core.invitations.accept(
        token, body.password, body.name, body.time_zone, address=client_address(request)
    )
    return {"user": user, "workspace": ws}
