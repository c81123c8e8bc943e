"""Dependency aliases declared once: the core facade, the calling actor, request helpers.

Routers (API and console alike) authorise with `authorize(actor, permission, ws, collection)` first thing in a
route, filter lists with `collections_for`, and declare what they check with `openapi_extra=requires(...)`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from deskbase.api.ratelimit import spend
from deskbase.core.app import Deskbase
from deskbase.core.auth import authorize, authorize_any, collections_for, permits
from deskbase.core.clock import parse_iso
from deskbase.core.context import Actor
from deskbase.core.errors import BadRequest

PERMISSIONS_KEY = "x-deskbase-permissions"
#: What the change log records as the channel of writes made through the REST API (and so the CLI).
SOURCE = "api"
bearer = HTTPBearer(
    auto_error=False, bearerFormat="dsk_…", description="An API token: `Authorization: Bearer dsk_…`."
)


async def get_core(request: Request) -> Deskbase:
    """`async`: FastAPI runs a sync dependency in the thread pool, a hop that costs more than this does."""
    return request.app.state.core  # type: ignore[no-any-return]


async def get_actor(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> Actor:
    """Authenticate the bearer token, then spend one request of its rate limit (`ratelimit.spend`). A cached
    token is answered on the event loop; a lookup in the store runs in the thread pool."""
    core: Deskbase = request.app.state.core
    raw = credentials.credentials.strip() if credentials else None
    actor = core.tokens.authenticate_cached(raw, SOURCE)
    if actor is None:
        actor = await run_in_threadpool(core.tokens.authenticate, raw, SOURCE)
    spend(getattr(request.app.state, "limiter", None), actor)
    request.state.actor = actor
    return actor


def requires(*permissions: str) -> dict[str, Any]:
    """`openapi_extra` declaring the permissions a route checks, published in the OpenAPI document as
    `x-deskbase-permissions`. Clients read what a route needs there; the security walk (tests/security)
    checks each route behaves as declared. `requires()` marks a route any valid token may call."""
    return {PERMISSIONS_KEY: list(permissions)}


CoreDep = Annotated[Deskbase, Depends(get_core)]
ActorDep = Annotated[Actor, Depends(get_actor)]

INT64_MAX = 2**63 - 1
#: Integer query parameters carry real bounds, so a huge number is a 400 naming it, never a store overflow.
After = Annotated[int, Query(ge=0, le=INT64_MAX, description="Only entries after this version (sequence).")]
PageLimit = Annotated[int, Query(ge=1, le=1000, description="Entries per page (1-1000).")]
_QUERY_LIMIT_HELP = "Entries per page: 1 to the server's query_max_limit (default 1000)."
QueryLimit = Annotated[int, Query(ge=1, le=INT64_MAX, description=_QUERY_LIMIT_HELP)]
OptionalQueryLimit = Annotated[int | None, Query(ge=1, le=INT64_MAX, description=_QUERY_LIMIT_HELP)]


def if_match(value: str | None) -> int | None:
    """Parse an If-Match header carrying a version (`12`, `"12"` or `W/"12"`)."""
    if value is None or value.strip() == "*":
        return None
    v = value.strip()
    if v.startswith("W/"):
        v = v[2:]
    v = v.strip('"')
    if not v.isdigit():
        raise BadRequest(
            f"If-Match must carry a record version (an integer), not {value!r}", {"if_match": value}
        )
    return int(v)


def when(value: str | datetime | None, field: str = "at") -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    try:
        return parse_iso(value)
    except ValueError as exc:
        raise BadRequest(
            f"{field} must be an ISO-8601 time with an offset, e.g. 2026-01-31T09:00:00Z", {"field": field}
        ) from exc


__all__ = [
    "ActorDep",
    "After",
    "CoreDep",
    "OptionalQueryLimit",
    "PageLimit",
    "QueryLimit",
    "authorize",
    "authorize_any",
    "collections_for",
    "if_match",
    "permits",
    "requires",
    "when",
]
