"""Compact shapes of what tools return: a model reads every token, so results carry what an agent acts on
(ids, numbers, versions, fields, clocks) and leave out the rest (internal bookkeeping, raw mail, HTML)."""

from __future__ import annotations

from typing import Any

from deskbase.mcp.calls import Caller
from deskbase.support import includes

#: Characters of one message body a ticket read includes; longer bodies are cut and marked.
BODY_CHARS = 8000
#: What get_ticket sideloads (its SLA clocks come with the read itself).
DETAIL = ("customer", "conversation", "related")
CLOCK_FIELDS = (
    "metric",
    "cycle",
    "state",
    "business",
    "paused",
    "target_at",
    "remaining_business_seconds",
    "remaining_calendar_seconds",
    "elapsed_business_seconds",
    "breached_at",
    "completed_at",
)
#: Message fields the email channel keeps for itself (raw MIME, HTML, headers): not for a model.
MAIL_ONLY = ("mail", "original")


def record(r: dict[str, Any]) -> dict[str, Any]:
    out = {k: r.get(k) for k in ("id", "number", "collection", "version", "created_at", "updated_at")}
    out["data"] = {k: v for k, v in (r.get("data") or {}).items() if k not in MAIL_ONLY}
    if r.get("deleted"):
        out["deleted"] = True
    return {k: v for k, v in out.items() if v is not None}


def customer(c: dict[str, Any]) -> dict[str, Any]:
    d = c.get("data") or {}
    return {"id": c["id"], **{k: d[k] for k in ("name", "email", "plan", "company") if d.get(k) is not None}}


def clock(instance: dict[str, Any]) -> dict[str, Any]:
    return {k: instance[k] for k in CLOCK_FIELDS if instance.get(k) is not None}


def ticket_row(t: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """A search row: the ticket's fields with its `customer` and `sla` includes (`support.includes.load`)."""
    d = t.get("data") or {}
    row: dict[str, Any] = {"id": t["id"], "number": t.get("number")}
    row.update({k: d.get(k) for k in ("subject", "status", "priority", "assignee")})
    if d.get("tags"):
        row["tags"] = d["tags"]
    cust = extra.get("customer")
    row["customer"] = customer(cust) if cust is not None else None
    row["sla"] = extra.get("sla")
    row["updated_at"] = t["updated_at"]
    return row


def message(m: dict[str, Any]) -> dict[str, Any]:
    """A conversation message (`support.tickets.conversation`): who (kind, author), when, what."""
    d = m.get("data") or {}
    body = str(d.get("body") or "")
    out: dict[str, Any] = {"id": m["id"], "kind": m["kind"], "author": d.get("author"), "at": m["at"]}
    out["body"] = body[:BODY_CHARS]
    if len(body) > BODY_CHARS:
        out["body_cut"] = len(body)
    if d.get("attachments"):
        out["attachments"] = d["attachments"]
    return out


def related(links: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`support.tickets.related` as compact rows."""
    out = []
    for link in links:
        t = link["ticket"]
        d = t.get("data") or {}
        row = {"relationship_id": link["relationship_id"], "id": t["id"], "number": t.get("number")}
        out.append(row | {k: d.get(k) for k in ("subject", "status", "priority")})
    return out


def ticket_detail(caller: Caller, ws: str, t: dict[str, Any], messages: int) -> dict[str, Any]:
    """get_ticket's answer for a ticket read with its SLA clocks and metrics (`hooks.enrich`)."""
    extra = includes.load(caller.core, caller.scope(ws), [t["id"]], DETAIL)[t["id"]]
    conversation = extra["conversation"]
    cust = extra["customer"]
    return {
        "ticket": record(t),
        "customer": customer(cust) if cust is not None else None,
        "conversation": [message(m) for m in conversation[-messages:]],
        "messages_total": len(conversation),
        "related": related(extra["related"]),
        "sla": [clock(i) for i in t.get("sla") or []],
        "metrics": t.get("metrics"),
    }
