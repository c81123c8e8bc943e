"""Users: the people who sign in (server admins manage them), yourself (`/v1/users/me`), your personal tokens
and your password. Everyone else's view is limited to the people of the workspaces their scope reaches."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response

from deskbase.api.deps import ActorDep, CoreDep, if_match, requires, when
from deskbase.api.schemas import (
    PasswordChange,
    PasswordSet,
    PersonalTokenCreate,
    TotpConfirm,
    TotpProof,
    UserCreate,
    UserPatch,
)

router = APIRouter(prefix="/v1/users", tags=["users"])
IfMatch = Annotated[str | None, Header(alias="If-Match")]


def client_address(request: Request) -> str | None:
    return request.client.host if request.client else None


@router.post("", status_code=201, openapi_extra=requires("admin"))
def create_user(body: UserCreate, core: CoreDep, actor: ActorDep) -> dict[str, Any]:
    """A new active user (server admins). Without a password, send a reset link or invite them instead."""
    fields = body.model_dump(exclude={"password"}, exclude_none=True)
    return core.people.create(actor, fields, body.password)


@router.get("", openapi_extra=requires())
def list_users(
    core: CoreDep,
    actor: ActorDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[str | None, Query(max_length=254, description="`next_cursor` of the last page")] = None,
    email: Annotated[str | None, Query(max_length=254, description="Only the user with this email")] = None,
) -> dict[str, Any]:
    """Every user for a server admin; for anyone else, the people of the workspaces their scope reaches
    (and themselves). Ordered by email."""
    return core.people.list(actor, limit, cursor, email)


@router.get("/me")
def get_me(core: CoreDep, actor: ActorDep) -> dict[str, Any]:
    """The user behind this token, with their memberships (404 for a service token)."""
    return core.people.me(actor)


@router.patch("/me")
def patch_me(
    body: UserPatch, core: CoreDep, actor: ActorDep, if_match_header: IfMatch = None
) -> dict[str, Any]:
    """Your own profile, and your away switch (`{"away": true}`): while away, assignment rules pass you
    over and the assignee picker shows you as away (404 for a service token)."""
    me = core.people.me(actor)["id"]
    return core.people.patch(actor, me, body.model_dump(exclude_unset=True), if_match(if_match_header))


@router.post("/me/password", status_code=204)
def change_password(body: PasswordChange, request: Request, core: CoreDep, actor: ActorDep) -> Response:
    """Change your password (the current one is checked, throttled like a sign-in); your console sessions end."""
    core.signin.change(actor, body.current_password, body.new_password, client_address(request))
    return Response(status_code=204)


@router.get("/me/totp")
def totp_status(core: CoreDep, actor: ActorDep) -> dict[str, Any]:
    """Your two-step sign-in: `enabled`, `confirmed_at`, `pending` (an enrolment waiting for its code) and
    `recovery_codes_left`."""
    return core.factors.status(actor)


@router.post("/me/totp", status_code=201)
def totp_begin(core: CoreDep, actor: ActorDep, response: Response) -> dict[str, Any]:
    """Start enrolling an authenticator app: a new `secret` and its otpauth:// `uri`, switched on only by
    `POST /v1/users/me/totp/confirm` with a current code. `409` while two-step sign-in is on."""
    response.headers["Cache-Control"] = "no-store"
    return core.factors.begin(actor)


@router.post("/me/totp/confirm")
def totp_confirm(body: TotpConfirm, core: CoreDep, actor: ActorDep, response: Response) -> dict[str, Any]:
    """Switch two-step sign-in on with a current code; answers 10 one-time `recovery_codes`, only now."""
    response.headers["Cache-Control"] = "no-store"
    return core.factors.confirm(actor, body.code)


@router.post("/me/totp/disable", status_code=204)
def totp_disable(body: TotpProof, request: Request, core: CoreDep, actor: ActorDep) -> Response:
    """Switch two-step sign-in off, proven with your password or a current code (throttled like a sign-in)."""
    core.factors.disable(actor, body.password, body.code, client_address(request))
    return Response(status_code=204)


@router.post("/me/totp/recovery-codes")
def totp_recovery_codes(
    body: TotpProof, request: Request, core: CoreDep, actor: ActorDep, response: Response
) -> dict[str, Any]:
    """10 new recovery codes in place of the old ones, proven with your password or a current code."""
    response.headers["Cache-Control"] = "no-store"
    codes = core.factors.regenerate(actor, body.password, body.code, client_address(request))
    return {"recovery_codes": codes}


@router.get("/me/tokens")
def list_personal_tokens(core: CoreDep, actor: ActorDep) -> dict[str, Any]:
    return {"data": core.personal_tokens.list(actor)}


@router.post("/me/tokens", status_code=201)
def create_personal_token(
    body: PersonalTokenCreate, core: CoreDep, actor: ActorDep, response: Response
) -> dict[str, Any]:
    """A personal token: it acts as you, never beyond your roles (without grants: whatever your roles are at
    each use). The raw value is in this response only."""
    grants = [g.model_dump(exclude_none=True) for g in body.grants] if body.grants is not None else None
    raw, out = core.personal_tokens.mint(actor, body.name, grants, when(body.expires_at, "expires_at"))
    response.headers["Cache-Control"] = "no-store"
    return {**out, "token": raw}


@router.delete("/me/tokens/{token_id}")
def revoke_personal_token(token_id: str, core: CoreDep, actor: ActorDep) -> dict[str, Any]:
    return core.personal_tokens.revoke(actor, token_id)


@router.get("/{user_id}", openapi_extra=requires())
def get_user(user_id: str, core: CoreDep, actor: ActorDep) -> dict[str, Any]:
    """Yourself, a colleague from a workspace your scope reaches, or anyone for a server admin."""
    return core.people.get(actor, user_id)


@router.patch("/{user_id}")
def patch_user(
    user_id: str, body: UserPatch, core: CoreDep, actor: ActorDep, if_match_header: IfMatch = None
) -> dict[str, Any]:
    """Your own name, time zone, locale and avatar colour; a server admin changes anyone's, and email, status
    and server_admin too. `status: suspended` revokes the user's tokens and ends their sessions at once."""
    return core.people.patch(actor, user_id, body.model_dump(exclude_unset=True), if_match(if_match_header))


@router.delete("/{user_id}", status_code=204, openapi_extra=requires("admin"))
def delete_user(user_id: str, core: CoreDep, actor: ActorDep) -> Response:
    """Remove the user: their tokens are revoked, sessions ended and memberships removed (server admins)."""
    core.people.delete(actor, user_id)
    return Response(status_code=204)


@router.put("/{user_id}/password", status_code=204, openapi_extra=requires("admin"))
def set_password(user_id: str, body: PasswordSet, core: CoreDep, actor: ActorDep) -> Response:
    """Set a user's password (server admins); the user's console sessions end."""
    core.signin.set(actor, user_id, body.password)
    return Response(status_code=204)


@router.delete("/{user_id}/totp", status_code=204, openapi_extra=requires("admin"))
def reset_totp(user_id: str, core: CoreDep, actor: ActorDep) -> Response:
    """Switch a user's two-step sign-in off, recovery codes included (server admins): they enrol again."""
    core.factors.reset(actor, user_id)
    return Response(status_code=204)


@router.post("/{user_id}/password-reset", status_code=201, openapi_extra=requires("admin"))
def password_reset(user_id: str, core: CoreDep, actor: ActorDep, response: Response) -> dict[str, Any]:
    """A one-time console link (`path`, valid 24 h) for the user to set a new password (server admins)."""
    response.headers["Cache-Control"] = "no-store"
    return core.signin.reset_link(actor, user_id)
