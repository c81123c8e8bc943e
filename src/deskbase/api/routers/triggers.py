"""Outbound triggers (webhooks): manage triggers, read the delivery log, retry, replay, send a test event.

Everything here needs `admin` over the whole workspace. Secrets are write-only: the signing secret is in the
create and rotate-secret responses only. Routes only queue work; the dispatcher sends.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request, Response

from deskbase.api.deps import ActorDep, if_match, requires
from deskbase.api.schemas import ReplayBody, TriggerPut
from deskbase.core.app import Deskbase
from deskbase.core.context import Actor
from deskbase.core.errors import Unavailable
from deskbase.events import health
from deskbase.events.service import Webhooks, authorize_manage

router = APIRouter(prefix="/v1/workspaces/{ws}", tags=["triggers"])
ADMIN = requires("admin")


def get_webhooks(request: Request) -> Webhooks:
    core: Deskbase = request.app.state.core
    hooks = core.extensions.get(Webhooks)
    if hooks is None:
        raise Unavailable("webhooks are not installed on this server")
    return hooks


WebhooksDep = Annotated[Webhooks, Depends(get_webhooks)]


def _admin(actor: Actor, ws: str) -> None:
    authorize_manage(actor, ws)


@router.put("/triggers/{trigger_id}", openapi_extra=ADMIN)
def put_trigger(
    ws: str,
    trigger_id: str,
    body: TriggerPut,
    hooks: WebhooksDep,
    actor: ActorDep,
    response: Response,
    if_match_header: Annotated[str | None, Header(alias="If-Match")] = None,
) -> dict[str, Any]:
    """Create (201, with `secret` shown this once) or replace (200) a trigger. The trigger delivers with the
    read scope of the token that configures it. `If-Match: <version>` replaces only that version (412)."""
    _admin(actor, ws)
    out, secret = hooks.triggers.put(ws, trigger_id, body.model_dump(), actor, if_match(if_match_header))
    if secret is None:
        return out
    response.status_code = 201
    response.headers["Cache-Control"] = "no-store"
    return {**out, "secret": secret}


@router.get("/triggers", openapi_extra=ADMIN)
def list_triggers(ws: str, hooks: WebhooksDep, actor: ActorDep) -> dict[str, Any]:
    _admin(actor, ws)
    return {"data": hooks.triggers.list(ws)}


@router.get("/triggers/{trigger_id}", openapi_extra=ADMIN)
def get_trigger(ws: str, trigger_id: str, hooks: WebhooksDep, actor: ActorDep) -> dict[str, Any]:
    """The trigger, whether it is enabled and, if not, why (`disabled_reason`)."""
    _admin(actor, ws)
    return hooks.triggers.get(ws, trigger_id)


@router.get("/triggers/{trigger_id}/health", openapi_extra=ADMIN)
def get_health(ws: str, trigger_id: str, hooks: WebhooksDep, actor: ActorDep) -> dict[str, Any]:
    """Deliveries pending, failed and exhausted (each the count the log filtered to that status lists), the
    last attempt, and the failure rate of settled deliveries over the last 24 hours and the newest 100."""
    _admin(actor, ws)
    return health.public(hooks.health(ws, trigger_id)[1])


@router.delete("/triggers/{trigger_id}", status_code=204, openapi_extra=ADMIN)
def delete_trigger(ws: str, trigger_id: str, hooks: WebhooksDep, actor: ActorDep) -> Response:
    """Delete the trigger with its queue and delivery log."""
    _admin(actor, ws)
    hooks.triggers.delete(ws, trigger_id, actor)
    return Response(status_code=204)


@router.post("/triggers/{trigger_id}/rotate-secret", openapi_extra=ADMIN)
def rotate_secret(
    ws: str, trigger_id: str, hooks: WebhooksDep, actor: ActorDep, response: Response
) -> dict[str, Any]:
    """A new signing secret (shown this once); the previous one keeps signing beside it for 24 hours."""
    _admin(actor, ws)
    out, secret = hooks.triggers.rotate(ws, trigger_id, actor)
    response.headers["Cache-Control"] = "no-store"
    return {**out, "secret": secret}


@router.post("/triggers/{trigger_id}/test", status_code=202, openapi_extra=ADMIN)
def test_trigger(ws: str, trigger_id: str, hooks: WebhooksDep, actor: ActorDep) -> dict[str, Any]:
    """Queue a `trigger.test` event; the response is its delivery (follow it in the delivery log)."""
    _admin(actor, ws)
    return hooks.test(ws, trigger_id, actor)


@router.get("/triggers/{trigger_id}/deliveries", openapi_extra=ADMIN)
def list_deliveries(
    ws: str,
    trigger_id: str,
    hooks: WebhooksDep,
    actor: ActorDep,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    status: str | None = None,
) -> dict[str, Any]:
    """Deliveries, newest first: event id, type, status and every attempt (time, HTTP status, duration,
    error, the first KiB of the response)."""
    _admin(actor, ws)
    return hooks.deliveries(ws, trigger_id, cursor, limit, status)


@router.post("/triggers/{trigger_id}/replay", status_code=202, openapi_extra=ADMIN)
def replay(ws: str, trigger_id: str, body: ReplayBody, hooks: WebhooksDep, actor: ActorDep) -> dict[str, Any]:
    """Queue again every matching event from change `since_seq` on (same event ids: receivers dedupe)."""
    _admin(actor, ws)
    return hooks.replay(ws, trigger_id, body.since_seq)


@router.get("/deliveries/{delivery_id}", openapi_extra=ADMIN)
def get_delivery(ws: str, delivery_id: str, hooks: WebhooksDep, actor: ActorDep) -> dict[str, Any]:
    _admin(actor, ws)
    return hooks.delivery(ws, delivery_id)


@router.post("/deliveries/{delivery_id}/retry", status_code=202, openapi_extra=ADMIN)
def retry_delivery(ws: str, delivery_id: str, hooks: WebhooksDep, actor: ActorDep) -> dict[str, Any]:
    """Send a delivery again as soon as its queue allows (also a delivered or exhausted one)."""
    _admin(actor, ws)
    return hooks.retry(ws, delivery_id)
