"""Support-domain routes: replying to tickets and the ticket timeline."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response

from deskbase.api.deps import ActorDep, CoreDep, authorize, requires, when
from deskbase.api.replies import json_reply
from deskbase.api.schemas import ResponseCreate
from deskbase.core.scope import ReadScope
from deskbase.support import includes, tickets
from deskbase.support.service import SlaService

router = APIRouter(prefix="/v1/workspaces/{ws}/tickets", tags=["support"])


@router.post(
    "/{ticket_id}/responses",
    status_code=201,
    response_model=dict[str, Any],
    openapi_extra=requires("write:records", "write:relationships"),
)
def add_response(ws: str, ticket_id: str, body: ResponseCreate, core: CoreDep, actor: ActorDep) -> Response:
    """Reply to a ticket or add an internal note: the response and its has_response link, atomically."""
    authorize(actor, "write:records", ws, "responses")
    authorize(actor, "write:relationships", ws)
    out = tickets.add_response(core, ws, ticket_id, body.model_dump(exclude={"at"}), actor, when(body.at))
    return json_reply(out, 201)


@router.get("/{ticket_id}/responses", openapi_extra=requires("read:records", "read:relationships"))
def list_responses(ws: str, ticket_id: str, core: CoreDep, actor: ActorDep) -> dict[str, Any]:
    """The conversation in time order; each message says whether it is the customer's, an agent's or a note.
    Needs what the generic routes would: the tickets, the responses, and the links between them."""
    authorize(actor, "read:records", ws, "tickets")
    authorize(actor, "read:records", ws, "responses")
    authorize(actor, "read:relationships", ws, "tickets")
    authorize(actor, "read:relationships", ws, "responses")
    return {"data": tickets.conversation(core, ReadScope(actor, ws), ticket_id)}


@router.get("/{ticket_id}/timeline", openapi_extra=requires("read:records"))
def timeline(ws: str, ticket_id: str, core: CoreDep, actor: ActorDep) -> dict[str, Any]:
    """Messages, status/priority/assignee changes and SLA events interleaved by time. Messages appear only
    to a token that may read the responses and their links; who made a change only to `read:audit`."""
    authorize(actor, "read:records", ws, "tickets")
    sla = core.extensions.get(SlaService)
    events = sla.ticket_view(ws, ticket_id)["events"] if sla is not None else []
    return {"data": tickets.timeline(core, ReadScope(actor, ws), ticket_id, events)}


# Last, so a ticket whose id is "by-number" still reaches its own routes above.
@router.get("/by-number/{number}", openapi_extra=requires("read:records"))
def ticket_by_number(
    ws: str,
    number: Annotated[int, Path(ge=1, le=2**53 - 1, description="The ticket's number, as in `#1042`.")],
    core: CoreDep,
    actor: ActorDep,
    response: Response,
    include: Annotated[
        str | None,
        Query(description=f"As on `GET …/records/tickets/{{id}}`: {', '.join(includes.RECORD_INCLUDES)}."),
    ] = None,
) -> dict[str, Any]:
    """The ticket with this human number (with its SLA clocks and metrics, as `GET …/records/tickets/{id}`,
    and the same `include`)."""
    authorize(actor, "read:records", ws, "tickets")
    names = includes.parse(include, "tickets", includes.RECORD_INCLUDES)
    scope = ReadScope(actor, ws)
    includes.authorize_includes(scope, names)
    record = core.hooks.enrich(ws, core.records.by_number(ws, "tickets", number))
    if names:
        record = {**record, "included": includes.load(core, scope, [record["id"]], names)}
    response.headers["ETag"] = f'"{record["version"]}"'
    return record
