"""Everything the ticket page shows, gathered from core and support services: the ticket, its conversation
and timeline, the customer with their other tickets, related tickets and the SLA clocks. The timeline's words
are timeline.py's, the property form's patch and errors ticket_edit.py's."""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from deskbase.core.app import Deskbase
from deskbase.core.context import Actor
from deskbase.core.errors import NotFound
from deskbase.core.scope import ReadScope
from deskbase.support import customers, macros, tickets
from deskbase.support.reply_rules import may_reply_publicly
from deskbase.web import attachments as att
from deskbase.web import mail_view
from deskbase.web import undo as undos
from deskbase.web.agent_picker import agent_options, team_options
from deskbase.web.http import may
from deskbase.web.pages import Toast
from deskbase.web.queue import customer_ref, customers_of, options_from_schema, sla_service
from deskbase.web.sla import Clock, clock, most_urgent
from deskbase.web.ticket_edit import form_values
from deskbase.web.ticket_pages import (
    Attachment,
    Composer,
    CustomerPanel,
    MacroOption,
    Message,
    OtherTicket,
    RelatedTicket,
    SlaPanel,
    TicketPage,
)
from deskbase.web.timeline import timeline_items

OTHER_TICKETS = 5
AGENT_SAMPLE = 200
AGENT_TTL_SECONDS = 60.0


def other_ticket(t: dict[str, Any], workspace_id: str) -> OtherTicket:
    d = t.get("data") or {}
    return OtherTicket(
        id=t["id"],
        href=f"/w/{workspace_id}/tickets/{t['id']}",
        subject=str(d.get("subject") or "(no subject)"),
        status=str(d.get("status") or ""),
        priority=str(d.get("priority") or ""),
        updated_at=t["updated_at"],
        number=t.get("number"),
    )


def name_customers(
    core: Deskbase, workspace_id: str, actor: Actor, others: list[OtherTicket]
) -> list[OtherTicket]:
    """`others` with their customers' names (and companies), fetched for all of them at once (two queries,
    `queue.customers_of`): a picker of six tickets with one subject tells them apart by customer."""
    if not others or not (
        may(actor, "read:records", workspace_id, "customers")
        and may(actor, "read:relationships", workspace_id, "customers")
    ):
        return others
    refs = customers_of(core, workspace_id, actor, [o.id for o in others])

    def named(o: OtherTicket) -> OtherTicket:
        ref = refs.get(o.id)
        if ref is None:
            return o
        return replace(o, customer=f"{ref.name} ({ref.company})" if ref.company else ref.name)

    return [named(o) for o in others]


def tickets_by_id(core: Deskbase, workspace_id: str, ids: list[str]) -> dict[str, dict[str, Any]]:
    if not ids:
        return {}
    res = core.records.query(
        workspace_id, "tickets", {"field": "id", "op": "in", "value": sorted(set(ids))}, limit=len(set(ids))
    )
    return {t["id"]: t for t in res["data"]}


def unlinked_toast(
    core: Deskbase, workspace_id: str, ticket_id: str, other_id: str, incoming: bool, htmx: bool
) -> Toast | None:
    """Undo for an unlink: link the same two tickets again, the same way round, through the link form."""
    try:
        other = core.records.get(workspace_id, "tickets", other_id)
    except NotFound:
        return None
    o = other_ticket(other, workspace_id)
    name = f"#{o.number} {o.subject}" if o.number else o.subject
    fields = [("ticket", other_id), *([("direction", "incoming")] if incoming else [])]
    href = f"/w/{workspace_id}/tickets/{ticket_id}/related"
    return Toast(f"Unlinked {name}.", href, fields, undos.TOAST_SECONDS, htmx=htmx)


def customer_panel(
    core: Deskbase, workspace_id: str, actor: Actor, ticket_id: str, customer: dict[str, Any] | None
) -> CustomerPanel | None:
    """`customer`: the ticket's customer as the viewer may read it (`support.tickets.customer_of`)."""
    if customer is None:
        return None
    links = core.relationships.of_record(
        workspace_id, "customers", customer["id"], "submitted_by", "incoming", OTHER_TICKETS + 1, actor=actor
    )
    ids = [link["source"]["id"] for link in links["data"] if link["source"]["id"] != ticket_id]
    found = tickets_by_id(core, workspace_id, ids[:OTHER_TICKETS])
    others = sorted(
        (other_ticket(found[i], workspace_id) for i in ids if i in found), key=lambda o: o.updated_at
    )
    return CustomerPanel(
        customer=customer_ref(customer),
        href=f"/w/{workspace_id}/customers/{customer['id']}",
        other_tickets=list(reversed(others)),
        more=bool(links["next_cursor"]) or len(ids) > OTHER_TICKETS,
        total=customers.ticket_count(core, workspace_id, customer["id"]),
    )


def related(
    core: Deskbase, workspace_id: str, actor: Actor, ticket_id: str, named: bool = True
) -> list[RelatedTicket]:
    """The ticket's related tickets (`named`: with their customers, for the panel)."""
    if not ReadScope(actor, workspace_id).links("tickets"):
        return []
    links = core.relationships.of_record(
        workspace_id, "tickets", ticket_id, "related_to", "both", 100, actor=actor
    )["data"]
    pairs = []
    for link in links:
        outgoing = link["source"]["id"] == ticket_id
        pairs.append((link["id"], link["target"]["id"] if outgoing else link["source"]["id"], outgoing))
    found = tickets_by_id(core, workspace_id, [p[1] for p in pairs])
    shown = [
        RelatedTicket(rid, other_ticket(found[other], workspace_id), "outgoing" if out else "incoming")
        for rid, other, out in pairs
        if other in found
    ]
    if not named:
        return shown
    tickets = name_customers(core, workspace_id, actor, [r.ticket for r in shown])
    return [replace(r, ticket=t) for r, t in zip(shown, tickets, strict=True)]


def sla_parts(
    core: Deskbase, workspace_id: str, ticket_id: str, now: datetime
) -> tuple[SlaPanel | None, Clock | None, list[dict[str, Any]]]:
    """The SLA panel, the header's most urgent clock and the SLA events for the timeline (one evaluation)."""
    sla = sla_service(core)
    if sla is None:
        return None, None, []
    view = sla.ticket_view(workspace_id, ticket_id)
    policy = view.get("policy") or None
    calendar = tz = None
    if policy:
        calendar = policy.get("calendar_id")
        tz = policy.get("calendar_timezone")
    clocks = [
        clock(i, now, exact=True, calendar=calendar, tz_label=tz or "UTC") for i in view.get("sla") or []
    ]
    clocks.sort(key=lambda c: (not c.running, c.metric, c.label))
    panel = SlaPanel(
        clocks=clocks,
        policy=f"{policy.get('name') or policy.get('id')} (v{policy.get('version')})" if policy else None,
        calendar=" · ".join(x for x in (calendar, tz) if x) or None,
        refresh_href=f"/w/{workspace_id}/tickets/{ticket_id}/sla",
        timezone=tz,
    )
    return panel, most_urgent(clocks), list(view.get("events") or [])


@dataclass
class Extras:
    """What an action hands back to the page beside the ticket itself (inline errors, the composer…)."""

    values: dict[str, Any] | None = None
    errors: dict[str, str] = field(default_factory=dict)
    form_error: str | None = None
    error_panel: str = "props"
    saved: str | None = None
    composer: Composer | None = None
    related_error: str | None = None
    toast: Toast | None = None


class AgentCache:
    """Assignee suggestions (names seen on recently updated tickets), recomputed at most once a minute."""

    def __init__(self) -> None:
        self._by_ws: dict[str, tuple[float, list[str]]] = {}

    def get(self, core: Deskbase, workspace_id: str) -> list[str]:
        hit = self._by_ws.get(workspace_id)
        if hit and time.monotonic() - hit[0] < AGENT_TTL_SECONDS:
            return hit[1]
        recent = core.records.query(
            workspace_id,
            "tickets",
            {"field": "data.assignee", "op": "is_not_null"},
            [{"field": "updated_at", "direction": "desc"}],
            AGENT_SAMPLE,
        )["data"]
        names = sorted({str(t["data"]["assignee"]) for t in recent if t["data"].get("assignee")})
        self._by_ws[workspace_id] = (time.monotonic(), names)
        return names


AGENTS = AgentCache()


def mentionable(core: Deskbase, workspace_id: str) -> list[dict[str, str]]:
    """The workspace's active members, whom the composer's @ autocompletes (by name, then email)."""
    people = [m["user"] for m in core.members.list(workspace_id) if m["user"]["status"] == "active"]
    return [{"id": u["id"], "name": u["name"], "email": u["email"]} for u in people]


def macro_options(core: Deskbase, workspace_id: str, actor: Actor) -> list[MacroOption]:
    """The macros this agent may use: they must be able to read them and to write a response."""
    if not (
        may(actor, "read:records", workspace_id, "macros")
        and may(actor, "write:records", workspace_id, "responses")
    ):
        return []
    out = []
    for m in macros.listed(core, workspace_id):
        d = m.get("data") or {}
        out.append(MacroOption(m["id"], str(d.get("name") or m["id"]), d.get("shortcut") or None))
    return out


def message(workspace_id: str, m: dict[str, Any], files: dict[str, Attachment] | None = None) -> Message:
    """A response of `support.tickets.conversation` (with its kind and time) as the page shows it, with
    the attachments of it that `files` (those the viewer may read) holds, and the email it was."""
    data = m.get("data") or {}
    named = att.file_ids(data)
    shown = [files[f] for f in named if f in files] if files else []
    return Message(
        id=m["id"],
        kind=m["kind"],
        author=str(data.get("author") or ""),
        body=str(data.get("body") or ""),
        at=m["at"],
        attachments=shown,
        unreadable=len(named) - len(shown),
        mail=mail_view.view(workspace_id, m, files or {}),
    )


def opening(ticket: dict[str, Any], customer: dict[str, Any] | None) -> Message | None:
    """The ticket's description as the conversation's first message, by the customer (named when the
    viewer may read them): what they asked, where agents read everything else they wrote."""
    text = (ticket.get("data") or {}).get("description")
    if not isinstance(text, str) or not text.strip():
        return None
    c = (customer or {}).get("data") or {}
    return Message(
        id=f"opening-{ticket['id']}",
        kind="customer",
        author=mail_view.person(c.get("name"), c.get("email")),
        body=text.strip(),
        at=ticket["created_at"],
        opening=True,
    )


def build(
    core: Deskbase, workspace_id: str, actor: Actor, ticket_id: str, now: datetime, me: str, x: Extras
) -> TicketPage:
    ticket = core.records.get(workspace_id, "tickets", ticket_id)
    options = options_from_schema(core.collections.get(workspace_id, "tickets")["json_schema"])
    sla_panel, urgent, events = sla_parts(core, workspace_id, ticket_id, now)
    scope = ReadScope(actor, workspace_id)
    raw = tickets.timeline(core, scope, ticket_id)
    responses = [i["message"] for i in raw if i["type"] == "message"]
    named = [
        f
        for r in responses
        for f in att.file_ids(r.get("data") or {}) + mail_view.original_id(r.get("data") or {})
    ]
    files = att.readable(core, workspace_id, actor, named)
    conversation = [message(workspace_id, r, files) for r in responses]
    customer = tickets.customer_of(core, scope, ticket_id)
    first = opening(ticket, customer)
    agents = AGENTS.get(core, workspace_id)
    assignee = (ticket.get("data") or {}).get("assignee")
    suggestions = sorted({*agents, me, *([assignee] if assignee else [])})
    return TicketPage(
        ticket=ticket,
        values=x.values if x.values is not None else form_values(ticket.get("data") or {}),
        errors=x.errors,
        form_error=x.form_error,
        error_panel=x.error_panel,
        saved=x.saved,
        options=options,
        conversation=([first] if first else []) + conversation,
        seen=conversation[-1].id if conversation else "",
        email=mail_view.email_notice(ticket, customer, scope.through("tickets", "customers")),
        picker=agent_options(core, workspace_id),
        teams=team_options(core, workspace_id),
        composer=x.composer or Composer(),
        macros=macro_options(core, workspace_id, actor),
        customer=customer_panel(core, workspace_id, actor, ticket_id, customer),
        related=related(core, workspace_id, actor, ticket_id),
        related_error=x.related_error,
        related_query="",
        related_matches=[],
        sla=sla_panel,
        urgent=urgent,
        timeline=timeline_items(raw, events),
        can_edit=may(actor, "write:records", workspace_id, "tickets"),
        can_reply=may(actor, "write:records", workspace_id, "responses")
        and may(actor, "write:relationships", workspace_id, "tickets"),
        can_link=may(actor, "write:relationships", workspace_id, "tickets"),
        agents=suggestions,
        mentionable=mentionable(core, workspace_id),
        href=f"/w/{workspace_id}/tickets/{ticket_id}",
        can_attach=may(actor, "write:files", workspace_id),
        notes_only=not may_reply_publicly(actor, workspace_id),
        max_file_size=att.size_text(core.settings.max_file_bytes),
        max_files=att.MAX_FILES,
    )
