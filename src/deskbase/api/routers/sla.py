"""SLA management: calendars and policies (versioned), a ticket's clocks and the policy that applies,
at-risk clocks, and what-if simulation of a candidate policy over past tickets."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response

from deskbase.api.deps import ActorDep, authorize, requires, when
from deskbase.api.schemas import SimulateBody, SlaConfigPut
from deskbase.core.app import Deskbase
from deskbase.core.errors import BadRequest, Unavailable
from deskbase.core.scope import ReadScope
from deskbase.support.service import SlaService
from deskbase.support.tickets import sla_events

router = APIRouter(prefix="/v1/workspaces/{ws}", tags=["sla"])
KINDS = {"calendars": "calendar", "policies": "policy"}
_DURATION = re.compile(r"^(\d+)([smhd])$")


def get_sla(request: Request) -> SlaService:
    core: Deskbase = request.app.state.core
    sla = core.extensions.get(SlaService)
    if sla is None:
        raise Unavailable("the SLA service is not installed on this server")
    return sla


SlaDep = Annotated[SlaService, Depends(get_sla)]


def _kind(plural: str) -> str:
    if plural not in KINDS:
        raise BadRequest("use /sla/calendars or /sla/policies", {"kind": plural})
    return KINDS[plural]


def parse_duration(value: str) -> timedelta:
    """`90s`, `45m`, `2h`, `3d`."""
    m = _DURATION.match(value.strip())
    if not m:
        raise BadRequest(f"duration {value!r} must look like 90s, 45m, 2h or 3d", {"within": value})
    n, unit = int(m.group(1)), m.group(2)
    return timedelta(seconds=n * {"s": 1, "m": 60, "h": 3600, "d": 86400}[unit])


@router.get("/sla/at-risk", openapi_extra=requires("read:records"))
def at_risk(
    ws: str,
    sla: SlaDep,
    actor: ActorDep,
    within: str = "2h",
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> dict[str, Any]:
    """Running clocks due within `within` (breached first), most urgent first."""
    authorize(actor, "read:records", ws, "tickets")
    sla.core.workspaces.get(ws)
    return {"data": sla.at_risk(ws, parse_duration(within), limit)}


@router.post("/sla/simulate", openapi_extra=requires("read:records"))
def simulate(ws: str, body: SimulateBody, sla: SlaDep, actor: ActorDep) -> dict[str, Any]:
    """Attainment by metric and priority of a candidate policy over tickets created in [start, end),
    beside the active policies, without changing anything."""
    authorize(actor, "read:records", ws, "tickets")
    start, end = when(body.start, "start"), when(body.end, "end")
    assert start is not None and end is not None
    if end <= start:
        raise BadRequest("end must be after start", {"start": body.start, "end": body.end})
    return sla.simulate(ws, body.policy, start, end, body.limit)


@router.get("/sla/attainment", openapi_extra=requires("read:records"))
def attainment(ws: str, sla: SlaDep, actor: ActorDep, start: str, end: str) -> dict[str, Any]:
    """Completed instances in [start, end) by metric and priority: achieved, breached, attainment."""
    authorize(actor, "read:records", ws, "tickets")
    s, e = when(start, "start"), when(end, "end")
    assert s is not None and e is not None
    return {"data": sla.attainment(ws, s, e)}


@router.post("/sla/rebuild", openapi_extra=requires("admin"))
def rebuild(ws: str, sla: SlaDep, actor: ActorDep) -> dict[str, Any]:
    """Recompute every ticket's SLA state and metrics from the change log."""
    authorize(actor, "admin", ws, whole_workspace=True)
    sla.core.workspaces.get(ws)
    return {"tickets": sla.rebuild(ws)}


@router.get("/tickets/{ticket_id}/sla", openapi_extra=requires("read:records"))
def ticket_sla(ws: str, ticket_id: str, sla: SlaDep, actor: ActorDep) -> dict[str, Any]:
    """Every SLA instance and event of the ticket, its metrics, and which policy applies and why."""
    authorize(actor, "read:records", ws, "tickets")
    view = sla.ticket_view(ws, ticket_id)
    return {**view, "events": sla_events(ReadScope(actor, ws), view["events"])}


# Generic configuration routes come last so /sla/at-risk, /sla/simulate … are matched first.
@router.get("/sla/{plural}", openapi_extra=requires("read:collections"))
def list_config(ws: str, plural: str, sla: SlaDep, actor: ActorDep) -> dict[str, Any]:
    """Current calendars, or policies in the order they are tried (the first match applies)."""
    authorize(actor, "read:collections", ws)
    return {"data": [v.public() for v in sla.config.current(ws, _kind(plural))]}


@router.put("/sla/{plural}/{cid}", openapi_extra=requires("write:collections"))
def put_config(
    ws: str, plural: str, cid: str, body: SlaConfigPut, sla: SlaDep, actor: ActorDep, response: Response
) -> dict[str, Any]:
    """Save a new version. Completed SLA instances never change; running ones keep the time already used
    and re-base the remaining time on this version from `effective_from` (default: now)."""
    authorize(actor, "write:collections", ws, whole_workspace=True)  # policies govern every ticket
    kind = _kind(plural)
    existed = any(v.id == cid for v in sla.config.current(ws, kind))
    out = sla.config.put(
        ws, kind, cid, body.definition, actor, body.position, when(body.effective_from, "effective_from")
    )
    response.status_code = 200 if existed else 201
    return out.public()


@router.get("/sla/{plural}/{cid}", openapi_extra=requires("read:collections"))
def get_config(ws: str, plural: str, cid: str, sla: SlaDep, actor: ActorDep) -> dict[str, Any]:
    authorize(actor, "read:collections", ws)
    return sla.config.get(ws, _kind(plural), cid).public()


@router.get("/sla/{plural}/{cid}/history", openapi_extra=requires("read:collections"))
def config_history(ws: str, plural: str, cid: str, sla: SlaDep, actor: ActorDep) -> dict[str, Any]:
    authorize(actor, "read:collections", ws)
    return {"data": [v.public() for v in sla.config.history(ws, _kind(plural), cid)]}


@router.delete("/sla/{plural}/{cid}", status_code=204, openapi_extra=requires("write:collections"))
def delete_config(ws: str, plural: str, cid: str, sla: SlaDep, actor: ActorDep) -> Response:
    authorize(actor, "write:collections", ws, whole_workspace=True)
    sla.config.delete(ws, _kind(plural), cid, actor)
    return Response(status_code=204)
