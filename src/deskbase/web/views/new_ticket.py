"""Create a ticket for a customer: pick an existing customer (search by name or email) or enter a new one;
the customer (when new), the ticket and their submitted_by link are written in one atomic core batch."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from deskbase.api.deps import requires
from deskbase.core.auth import authorize
from deskbase.core.errors import NotFound, ValidationFailed
from deskbase.web.agent_picker import agent_options
from deskbase.web.http import ActorDep, FormDep, core_of, may, redirect, render
from deskbase.web.pages import CustomerMatches, CustomerRef, NewTicketPage
from deskbase.web.queue import customer_ref, options_from_schema
from deskbase.web.routing import ConsoleRoute
from deskbase.web.shell import make_shell
from deskbase.web.ticket_edit import field_errors, parse_tags

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
MATCHES = 8
TICKET_FIELDS = ("subject", "description", "status", "priority", "category", "channel", "assignee", "tags")
CUSTOMER_FIELDS = ("name", "email", "plan", "company")
DEFAULTS = {"status": "open", "priority": "medium"}


def find_customers(core: Any, ws: str, text: str) -> list[CustomerRef]:
    text = text.strip()[:200]
    if not text:
        return []
    cond = {
        "or": [
            {"field": "data.email", "op": "eq", "value": text.lower()},
            {"field": "data.email", "op": "search", "value": text},
            {"field": "data.name", "op": "search", "value": text},
            {"field": "data.company", "op": "search", "value": text},
        ]
    }
    found = core.records.query(ws, "customers", cond, [{"field": "updated_at", "direction": "desc"}], MATCHES)
    return [customer_ref(c) for c in found["data"]]


def _page(request: Request, actor: Any, ws: str, values: dict[str, str], **kw: Any) -> NewTicketPage:
    core = core_of(request)
    options = options_from_schema(core.collections.get(ws, "tickets")["json_schema"])
    customer_options = core.collections.get(ws, "customers")["json_schema"].get("properties", {})
    options["plan"] = [str(v) for v in (customer_options.get("plan") or {}).get("enum") or []]
    return NewTicketPage(
        values=values,
        errors=kw.get("errors") or {},
        form_error=kw.get("form_error"),
        options=options,
        customer=kw.get("customer"),
        matches=kw.get("matches") or [],
        query=values.get("customer_query", ""),
        picker=agent_options(core, ws),
    )


@router.get("/w/{ws}/tickets/new", openapi_extra=requires("write:records"))
def new_ticket_form(ws: str, request: Request, actor: ActorDep, customer: str = "", q: str = "") -> Response:
    authorize(actor, "write:records", ws, "tickets")
    core = core_of(request)
    chosen = None
    if customer:
        try:
            chosen = customer_ref(core.records.get(ws, "customers", customer))
        except NotFound:
            chosen = None
    values = {**DEFAULTS, "customer_query": q}
    matches = find_customers(core, ws, q) if q else []
    page = _page(request, actor, ws, values, customer=chosen, matches=matches)
    return render(request, "new_ticket.html", page, make_shell(request, actor, "New ticket", ws, "new"))


@router.get("/w/{ws}/customers/search", openapi_extra=requires("read:records"))
def customer_search(ws: str, request: Request, actor: ActorDep, customer_query: str = "") -> Response:
    authorize(actor, "read:records", ws, "customers")
    matches = find_customers(core_of(request), ws, customer_query)
    page = CustomerMatches(matches, customer_query)
    return render(request, "new_ticket_matches.html", page, make_shell(request, actor, "", ws))


def _ticket_data(form: dict[str, str]) -> tuple[dict[str, Any], dict[str, str]]:
    data: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for name in TICKET_FIELDS:
        raw = (form.get(name) or "").strip()
        if name == "tags":
            if parse_tags(raw):
                data["tags"] = parse_tags(raw)
        elif raw:
            data[name] = raw
    if not data.get("subject"):
        errors["subject"] = "Subject can't be empty."
    for name in ("status", "priority"):
        if not data.get(name):
            errors[name] = f"Choose a {name}."
    return data, errors


@router.post("/w/{ws}/tickets/new", openapi_extra=requires("write:records", "write:relationships"))
def create_ticket(ws: str, request: Request, actor: ActorDep, form: FormDep) -> Response:
    authorize(actor, "write:records", ws, "tickets")
    authorize(actor, "write:relationships", ws, "tickets")
    core = core_of(request)
    values = {k: v for k, v in form.items() if isinstance(v, str)}
    data, errors = _ticket_data(form)
    customer_id = (form.get("customer_id") or "").strip()
    chosen: CustomerRef | None = None
    new_customer: dict[str, Any] | None = None
    if customer_id:
        try:
            chosen = customer_ref(core.records.get(ws, "customers", customer_id))
        except NotFound:
            errors["customer"] = "That customer no longer exists; search again."
    else:
        email = (form.get("customer_email") or "").strip()
        if not email:
            errors["customer"] = "Pick a customer, or enter the new customer's email and name."
        else:
            existing = core.records.query(
                ws, "customers", {"field": "data.email", "op": "eq", "value": email}, limit=1
            )
            if existing["data"]:
                chosen = customer_ref(existing["data"][0])
            else:
                authorize(actor, "write:records", ws, "customers")
                new_customer = {
                    k: (form.get(f"customer_{k}") or "").strip()
                    for k in CUSTOMER_FIELDS
                    if (form.get(f"customer_{k}") or "").strip()
                }
                if not new_customer.get("name"):
                    errors["customer_name"] = "A new customer needs a name."
    if errors:
        page = _page(request, actor, ws, values, errors=errors, customer=chosen)
        shell = make_shell(request, actor, "New ticket", ws, "new")
        return render(request, "new_ticket.html", page, shell, status=422)
    ops: list[dict[str, Any]] = []
    target = chosen.id if chosen else "$ref:customer"
    if new_customer is not None:
        ops.append(
            {"type": "upsert_record", "collection": "customers", "ref": "customer", "data": new_customer}
        )
    ticket_index = len(ops)
    ops.append({"type": "upsert_record", "collection": "tickets", "ref": "ticket", "data": data})
    ops.append(
        {
            "type": "upsert_relationship",
            "rel_type": "submitted_by",
            "source": {"collection": "tickets", "id": "$ref:ticket"},
            "target": {"collection": "customers", "id": target},
        }
    )
    try:
        result = core.batch.run(ws, ops, actor)
    except ValidationFailed as exc:
        index = exc.details.get("operation_index")
        if index == ticket_index:
            errors, general = field_errors(exc, "/data", f"/operations/{index}/data")
        elif new_customer is not None and index == 0:
            raw, general = field_errors(exc, "/data", "/operations/0/data")
            errors = {f"customer_{k}": v for k, v in raw.items()}
        else:
            errors, general = {}, exc.message
        page = _page(request, actor, ws, values, errors=errors, form_error=general, customer=chosen)
        shell = make_shell(request, actor, "New ticket", ws, "new")
        return render(request, "new_ticket.html", page, shell, status=422)
    ticket_id = result["results"][ticket_index]["record"]["id"]
    if not may(actor, "read:records", ws, "tickets"):
        return redirect(request, f"/w/{ws}/queue")
    return redirect(request, f"/w/{ws}/tickets/{ticket_id}")
