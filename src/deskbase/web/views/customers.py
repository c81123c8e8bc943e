"""A customer's page: the profile (edited through the write path, at the version read), every ticket they
submitted with its status and SLA, how many messages, first and last contact, and their company's other
customers. Search and the ticket side panel link here."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import Response

from deskbase.api.deps import requires
from deskbase.core.auth import authorize
from deskbase.core.context import Actor
from deskbase.core.errors import Conflict, PreconditionFailed, ValidationFailed
from deskbase.core.scope import ReadScope
from deskbase.support import customers
from deskbase.web.http import ActorDep, FormDep, core_of, may, redirect, render
from deskbase.web.queue import rows as queue_rows
from deskbase.web.routing import ConsoleRoute
from deskbase.web.search_pages import CustomerPage, Peer
from deskbase.web.shell import make_shell

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
FIELDS = ("name", "email", "company", "plan")
DONE = {"resolved", "closed"}


def customer_href(ws: str, cid: str) -> str:
    return f"/w/{quote(ws)}/customers/{quote(cid)}"


def build(core: Any, ws: str, actor: Actor, cid: str, **form: Any) -> CustomerPage:
    rec = core.records.get(ws, "customers", cid)
    d = {**(rec.get("data") or {}), **{k: v for k, v in form.items() if k in FIELDS}}
    scope = ReadScope(actor, ws)
    tickets = customers.tickets_of(core, scope, cid)
    schema = core.collections.get(ws, "customers").get("json_schema") or {}
    plans = ((schema.get("properties") or {}).get("plan") or {}).get("enum") or []
    created = sorted(t["created_at"] for t in tickets)
    updated = sorted(t["updated_at"] for t in tickets)
    peers = customers.company_peers(core, scope, str(d.get("company") or ""), cid)
    return CustomerPage(
        id=cid,
        href=customer_href(ws, cid),
        record_href=f"/w/{quote(ws)}/collections/customers/{quote(cid)}",
        name=str(d.get("name") or ""),
        email=str(d.get("email") or ""),
        company=str(d.get("company") or ""),
        plan=str(d.get("plan") or ""),
        plans=[str(p) for p in plans],
        version=int(form.get("version") or rec["version"]),
        can_edit=may(actor, "write:records", ws, "customers"),
        rows=queue_rows(core, ws, actor, tickets, core.clock.now(), with_customers=False),
        ticket_count=len(tickets),
        open_count=sum(1 for t in tickets if (t.get("data") or {}).get("status") not in DONE),
        capped=len(tickets) >= customers.MAX_TICKETS,
        messages=customers.message_count(core, scope, [t["id"] for t in tickets]),
        first_contact=created[0] if created else None,
        last_contact=updated[-1] if updated else None,
        peers=[
            Peer(
                str(p["data"].get("name") or p["id"]),
                str(p["data"].get("email") or ""),
                customer_href(ws, p["id"]),
            )
            for p in peers
        ],
        errors=form.get("errors") or {},
        saved=bool(form.get("saved")),
    )


@router.get("/w/{ws}/customers/{cid}", openapi_extra=requires("read:records"))
def customer(ws: str, cid: str, request: Request, actor: ActorDep, saved: str = "") -> Response:
    authorize(actor, "read:records", ws, "customers")
    page = build(core_of(request), ws, actor, cid, saved=saved == "1")
    return render(
        request, "customer.html", page, make_shell(request, actor, page.name or "Customer", ws, "customer")
    )


@router.post("/w/{ws}/customers/{cid}", openapi_extra=requires("read:records", "write:records"))
def save_customer(ws: str, cid: str, request: Request, actor: ActorDep, form: FormDep) -> Response:
    """The profile through the write path, at the version the form was read (a stale form is refused)."""
    authorize(actor, "read:records", ws, "customers")
    authorize(actor, "write:records", ws, "customers")
    core = core_of(request)
    values = {k: (form.get(k) or "").strip() for k in FIELDS}
    patch: dict[str, Any] = {k: v for k, v in values.items() if v}
    patch.update({k: None for k in ("company", "plan") if not values[k]})
    try:
        version = int(form.get("version") or "0")
    except ValueError:
        version = 0
    try:
        core.records.patch(ws, "customers", cid, patch, actor, if_match=version or None)
    except (ValidationFailed, PreconditionFailed, Conflict) as exc:
        errors = {"form": exc.message[:1].upper() + exc.message[1:] + "."}
        for e in exc.details.get("errors") or []:
            name = str(e.get("pointer", "")).rsplit("/", 1)[-1]
            if name in FIELDS:
                errors[name] = str(e.get("message", exc.message))
        page = build(core, ws, actor, cid, **values, version=version, errors=errors)
        shell = make_shell(request, actor, page.name or "Customer", ws, "customer")
        return render(request, "customer.html", page, shell, status=exc.status)
    return redirect(request, customer_href(ws, cid) + "?saved=1")
