"""API tokens: mint (the raw value is in this one response only), list, read, revoke; and `current`.

Minting, listing and revoking need `admin` somewhere: a token manages the tokens it minted (and theirs), a
server admin manages all. `GET /v1/tokens/current` (who am I) works for any valid token.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from deskbase.api.deps import ActorDep, CoreDep, requires, when
from deskbase.api.schemas import TokenCreate
from deskbase.core.auth import holds
from deskbase.core.context import Actor
from deskbase.core.errors import Forbidden

router = APIRouter(prefix="/v1/tokens", tags=["tokens"])


def _manager(actor: Actor) -> None:
    if not holds(actor, "admin"):
        raise Forbidden("managing tokens needs the 'admin' permission", {"permission": "admin"})


@router.post("", status_code=201, openapi_extra=requires("admin"))
def create_token(body: TokenCreate, core: CoreDep, actor: ActorDep, response: Response) -> dict[str, Any]:
    """Mint a token with grants equal to or narrower than the scope this token administers. The response
    is the only place the raw token (`token`) ever appears: store it now."""
    _manager(actor)
    grants = [g.model_dump(exclude_none=True) for g in body.grants]
    raw, out = core.tokens.mint(actor, body.name, grants, when(body.expires_at, "expires_at"))
    response.headers["Cache-Control"] = "no-store"
    return {**out, "token": raw}


@router.get("", openapi_extra=requires("admin"))
def list_tokens(core: CoreDep, actor: ActorDep) -> dict[str, Any]:
    """The tokens this token manages (never their raw values)."""
    _manager(actor)
    return {"data": core.tokens.list(actor)}


@router.get("/current", openapi_extra=requires())
def current_token(core: CoreDep, actor: ActorDep) -> dict[str, Any]:
    """The token making this request: id, name, grants, expiry."""
    return core.tokens.current(actor)


@router.get("/{token_id}", openapi_extra=requires("admin"))
def get_token(token_id: str, core: CoreDep, actor: ActorDep) -> dict[str, Any]:
    _manager(actor)
    return core.tokens.get(actor, token_id)


@router.delete("/{token_id}", openapi_extra=requires("admin"))
def revoke_token(token_id: str, core: CoreDep, actor: ActorDep) -> dict[str, Any]:
    """Revoke a token and every token minted from it; they fail with 401 from the next request on."""
    _manager(actor)
    return core.tokens.revoke(actor, token_id)
