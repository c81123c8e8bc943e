"""Inbound hooks: manage them (workspace `admin`, like triggers) and the public ingest URL they receive at.

The ingest route takes no bearer token: a Standard Webhooks signature made with the hook's secret
authenticates the sender (or nothing does, for a hook saved with `"verify": "none"`). Secrets are write-only:
a hook's secret is in the response that made it and nowhere else.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from deskbase.api.body import parse
from deskbase.api.deps import ActorDep, authorize, if_match, requires
from deskbase.api.ratelimit import RateLimiter
from deskbase.api.routers.triggers import WebhooksDep
from deskbase.api.schemas import HookPut
from deskbase.core.context import Actor
from deskbase.core.errors import RateLimited

router = APIRouter(prefix="/v1/workspaces/{ws}", tags=["hooks"])
ingest_router = APIRouter(tags=["hooks"])
ADMIN = requires("admin")


def _admin(actor: Actor, ws: str) -> None:
    authorize(actor, "admin", ws, whole_workspace=True)


def _with_url(hook: dict[str, Any], request: Request) -> dict[str, Any]:
    return {**hook, "ingest_url": str(request.base_url).rstrip("/") + hook["ingest_path"]}


@router.put("/hooks/{hook_id}", openapi_extra=ADMIN)
def put_hook(
    ws: str,
    hook_id: str,
    body: HookPut,
    hooks: WebhooksDep,
    actor: ActorDep,
    request: Request,
    response: Response,
    if_match_header: Annotated[str | None, Header(alias="If-Match")] = None,
) -> dict[str, Any]:
    """Create (201) or replace (200) an inbound hook. The response has its `ingest_url` and, when a secret
    was made (a new hook that verifies signatures, or an update switching `verify` to standard-webhooks), the
    `secret` shown this once. The hook writes with the write scope of the token that configures it.
    `If-Match: <version>` replaces only that version (412 otherwise)."""
    _admin(actor, ws)
    out, secret, created = hooks.hooks.put(ws, hook_id, body.model_dump(), actor, if_match(if_match_header))
    if created:
        response.status_code = 201
    if secret is None:
        return _with_url(out, request)
    response.headers["Cache-Control"] = "no-store"
    return {**_with_url(out, request), "secret": secret}


@router.get("/hooks", openapi_extra=ADMIN)
def list_hooks(ws: str, hooks: WebhooksDep, actor: ActorDep, request: Request) -> dict[str, Any]:
    _admin(actor, ws)
    return {"data": [_with_url(h, request) for h in hooks.hooks.list(ws)]}


@router.get("/hooks/{hook_id}", openapi_extra=ADMIN)
def get_hook(ws: str, hook_id: str, hooks: WebhooksDep, actor: ActorDep, request: Request) -> dict[str, Any]:
    _admin(actor, ws)
    return _with_url(hooks.hooks.get(ws, hook_id), request)


@router.delete("/hooks/{hook_id}", status_code=204, openapi_extra=ADMIN)
def delete_hook(ws: str, hook_id: str, hooks: WebhooksDep, actor: ActorDep) -> Response:
    """Delete the hook and its ingest log (the records it wrote stay); its ingest URL answers 404 from now."""
    _admin(actor, ws)
    hooks.hooks.delete(ws, hook_id, actor)
    return Response(status_code=204)


@router.post("/hooks/{hook_id}/rotate-secret", openapi_extra=ADMIN)
def rotate_hook_secret(
    ws: str, hook_id: str, hooks: WebhooksDep, actor: ActorDep, request: Request, response: Response
) -> dict[str, Any]:
    """A new secret (shown this once); the previous one keeps verifying beside it for 24 hours."""
    _admin(actor, ws)
    out, secret = hooks.hooks.rotate(ws, hook_id, actor)
    response.headers["Cache-Control"] = "no-store"
    return {**_with_url(out, request), "secret": secret}


@router.get("/hooks/{hook_id}/ingests", openapi_extra=ADMIN)
def list_ingests(
    ws: str,
    hook_id: str,
    hooks: WebhooksDep,
    actor: ActorDep,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    status: Annotated[str | None, Query(description="created, updated or failed.")] = None,
) -> dict[str, Any]:
    """The ingest log, newest first: webhook id, when it was received, status, the record written, and the
    error of a refused payload."""
    _admin(actor, ws)
    return hooks.ingest.log(ws, hook_id, cursor, limit, status)


@ingest_router.post(
    "/v1/hooks/{ingest_key}/ingest",
    status_code=201,
    responses={
        200: {
            "description": "An existing record was updated, or a duplicate webhook id was ignored.",
            "content": {"application/json": {"schema": {}}},
        },
        429: {
            "description": "Too many payloads for this hook (the `rate_limit_*` settings, per hook); see "
            "Retry-After",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        },
        401: {
            "description": "Signature refused: a header missing, the timestamp over 5 minutes off, or no "
            "signature made with the hook's secret",
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        },
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "Any JSON document; the hook's mapping reads it.",
            "content": {"application/json": {"schema": {}}},
        }
    },
)
async def ingest(ingest_key: str, request: Request, hooks: WebhooksDep) -> JSONResponse:
    """Receive one payload (no bearer token): verify its Standard Webhooks signature, dedupe on `webhook-id`,
    map it and upsert the record. 201 created / 200 updated or duplicate, with the record id; 401 signature
    refused; 404 no such (enabled) hook; 413 too large; 422 the payload does not fit (see the ingest log)."""
    raw = await request.body()
    limiter: RateLimiter | None = getattr(request.app.state, "limiter", None)

    def throttle(hook: str) -> None:
        """The per-token limit's bucket, per hook: a runaway sender cannot flood the store through one URL."""
        if limiter is None:
            return
        wait = limiter.take(f"hook:{hook}")
        if wait:
            raise RateLimited(
                f"too many payloads for this hook (at most {limiter.per_second:g}/s, bursts of {limiter.burst}); "
                f"retry in {wait} s",
                {"retry_after": wait, "per_second": limiter.per_second, "burst": limiter.burst},
            )

    out = await run_in_threadpool(hooks.ingest, ingest_key, request.headers, raw, parse, throttle)
    return JSONResponse(out.public(), status_code=201 if out.status == "created" else 200)
