"""Ticket conveniences on top of the core: replies (response + has_response link in one transaction), the
conversation, classification of messages (customer / agent / internal note), and the ticket timeline."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.engine import Connection

from deskbase.core import tables as t
from deskbase.core.app import Deskbase
from deskbase.core.clock import iso, parse_iso
from deskbase.core.context import Actor
from deskbase.core.entity_state import RecordState, record_from_row
from deskbase.core.errors import NotFound, ValidationFailed
from deskbase.core.people_tables import memberships
from deskbase.core.scope import ReadScope
from deskbase.core.writer import UnitOfWork

RESPONSE_TYPES = ("reply", "internal_note")
TRACKED_FIELDS = ("status", "priority", "assignee", "team", "category", "channel")
#: edits the timeline shows as well (not listed on "created": the subject is the page's title, tags its chips)
EDITED_FIELDS = ("subject", "tags")
NUMBER = re.compile(r"^(#?)(\d{1,15})$")


def text_condition(text: str) -> dict[str, Any]:
    """What a search box means (the console's and MCP's `search_tickets`): `#1042` is that ticket, bare
    digits a number or subject words, anything else words of the subject (the `x-search` trigram index)."""
    words = {"field": "data.subject", "op": "search", "value": text}
    m = NUMBER.match(text.strip())
    if not m:
        return words
    number = {"field": "number", "op": "eq", "value": int(m.group(2))}
    return number if m.group(1) else {"or": [number, words]}


def add_response(
    core: Deskbase,
    workspace_id: str,
    ticket_id: str,
    body: dict[str, Any],
    actor: Actor,
    at: datetime | None = None,
    response_id: str | None = None,
) -> dict[str, Any]:
    """Create a response and link it to the ticket atomically (`POST …/tickets/{id}/responses`).

    `response_id` names the response: a held console reply sent again after a crash replaces itself
    instead of being sent twice.

    `author` defaults to the calling token's name, `timestamp` to the change time. `mentions` (internal
    notes only) lists the user ids of members the note is for: stored as ids, so a rename changes nothing.
    """
    kind = body.get("type", "reply")
    if kind not in RESPONSE_TYPES:
        raise ValidationFailed(
            "type must be 'reply' or 'internal_note'", [{"pointer": "/type", "message": "invalid"}]
        )
    mentions = _mentions(core, workspace_id, kind, body.get("mentions"))
    dated = core.records.change_time(actor, at, workspace_id, "responses")

    def stage(uow: UnitOfWork) -> RecordState:
        uow.live_record("tickets", ticket_id)
        when = uow.when(dated)
        data = {
            "body": body.get("body"),
            "type": kind,
            "author": body.get("author") or actor.name,
            "timestamp": body.get("timestamp") or iso(when),
        }
        if body.get("attachments"):
            data["attachments"] = body["attachments"]
        if mentions:
            data["mentions"] = mentions
        st, _ = uow.upsert_record("responses", data, when, rid=response_id)
        uow.upsert_relationship("has_response", ("tickets", ticket_id), ("responses", st.id), None, when)
        return st

    return core.records.run(workspace_id, actor, stage).public()  # after the flush: with its version


def _mentions(core: Deskbase, workspace_id: str, kind: str, ids: Any) -> list[str]:
    """The mentioned user ids, each a member of the workspace, in order without repeats."""
    if not ids:
        return []
    if kind != "internal_note":
        raise ValidationFailed(
            "only an internal note mentions people",
            [{"pointer": "/mentions", "message": "internal notes only"}],
        )
    wanted = list(dict.fromkeys(ids))
    with core.db.read() as conn:
        members = {
            r.user_id
            for r in conn.execute(
                select(memberships.c.user_id).where(
                    memberships.c.workspace_id == workspace_id, memberships.c.user_id.in_(wanted)
                )
            )
        }
    bad = [
        {"pointer": f"/mentions/{i}", "message": "not a member of this workspace"}
        for i, u in enumerate(wanted)
        if u not in members
    ]
    if bad:
        raise ValidationFailed("a mention names someone who is not a member of this workspace", bad)
    return wanted


def _linked_many(
    core: Deskbase, workspace_id: str, ticket_ids: list[str], rel_type: str
) -> list[tuple[str, Any]]:
    """(ticket id, record row) of the live records tickets link to through `rel_type`: one indexed join,
    live links and live records only."""
    r, rec = t.relationships, t.records
    on = and_(
        rec.c.workspace_id == r.c.workspace_id,
        rec.c.collection == r.c.target_collection,
        rec.c.id == r.c.target_id,
    )
    with core.db.read() as conn:
        rows = conn.execute(
            select(r.c.source_id.label("via"), rec)
            .join(r, on)
            .where(
                r.c.workspace_id == workspace_id,
                r.c.rel_type == rel_type,
                r.c.source_collection == "tickets",
                r.c.source_id.in_(ticket_ids),
                r.c.deleted.is_(False),
                rec.c.deleted.is_(False),
            )
        ).all()
    return [(row.via, row) for row in rows]


def _linked(core: Deskbase, workspace_id: str, ticket_id: str, rel_type: str) -> list[Any]:
    """Live records a ticket links to through `rel_type`."""
    return [row for _, row in _linked_many(core, workspace_id, [ticket_id], rel_type)]


def customer_of(core: Deskbase, scope: ReadScope, ticket_id: str) -> dict[str, Any] | None:
    """The ticket's live submitting customer (through `submitted_by`), or None — also when the caller may
    not read customers or the link to them."""
    if not scope.through("tickets", "customers"):
        return None
    rows = _linked(core, scope.workspace_id, ticket_id, "submitted_by")
    return record_from_row(rows[0]).public() if rows else None


def customers_by_ticket(core: Deskbase, scope: ReadScope, ticket_ids: list[str]) -> dict[str, dict[str, Any]]:
    """ticket id -> its live submitting customer, for a page of tickets in one indexed join; empty for a
    caller who may not read customers or the links to them (as `customer_of`)."""
    if not ticket_ids or not scope.through("tickets", "customers"):
        return {}
    rows = _linked_many(core, scope.workspace_id, sorted(set(ticket_ids)), "submitted_by")
    return {tid: record_from_row(row).public() for tid, row in rows}


def related(core: Deskbase, scope: ReadScope, ticket_id: str, limit: int = 50) -> list[dict[str, Any]]:
    """Live tickets linked to this one by `related_to`, either way: `{relationship_id, direction, ticket}`
    (two indexed joins); empty for a caller who may not read tickets' links."""
    if not scope.through("tickets", "tickets"):
        return []
    r, rec = t.relationships, t.records
    out: list[dict[str, Any]] = []
    with core.db.read() as conn:
        for direction, near, far, far_coll in (
            ("outgoing", r.c.source_id, r.c.target_id, r.c.target_collection),
            ("incoming", r.c.target_id, r.c.source_id, r.c.source_collection),
        ):
            on = and_(rec.c.workspace_id == r.c.workspace_id, rec.c.collection == far_coll, rec.c.id == far)
            rows = conn.execute(
                select(r.c.id.label("link"), rec)
                .join(r, on)
                .where(
                    r.c.workspace_id == scope.workspace_id,
                    r.c.rel_type == "related_to",
                    near == ticket_id,
                    r.c.source_collection == "tickets",
                    r.c.target_collection == "tickets",
                    r.c.deleted.is_(False),
                    rec.c.deleted.is_(False),
                )
                .limit(limit - len(out))
            ).all()
            out += [
                {"relationship_id": row.link, "direction": direction, "ticket": record_from_row(row).public()}
                for row in rows
            ]
            if len(out) >= limit:
                break
    return out


def classify(response: dict[str, Any], customer: dict[str, Any] | None, match: list[str]) -> str:
    """'customer', 'agent' or 'note': a reply whose author is the submitting customer (by email or id, per the
    workspace's `customer_author_match`) is the customer's; any other reply is an agent's."""
    data = response["data"]
    if data.get("type") == "internal_note":
        return "note"
    author = (data.get("author") or "").strip().lower()
    if customer is not None and author:
        keys = {"email": (customer["data"].get("email") or "").lower(), "id": customer["id"].lower()}
        if any(author == keys[m] for m in match if keys.get(m)):
            return "customer"
    return "agent"


def message_time(response: dict[str, Any]) -> datetime:
    """When a message was sent: its `timestamp` field if valid, else when it was recorded."""
    ts = response["data"].get("timestamp")
    if isinstance(ts, str):
        try:
            return parse_iso(ts)
        except ValueError:
            pass
    return parse_iso(response["created_at"])


def conversation(core: Deskbase, scope: ReadScope, ticket_id: str) -> list[dict[str, Any]]:
    """The ticket's live responses in time order, each with its `kind` and `at` ([] for a caller who may not
    read responses or the links to them). Messages are classified with the customer whether or not the
    caller may read customers: the kind says who wrote, not what the customer record holds."""
    workspace_id = scope.workspace_id
    core.records.get(workspace_id, "tickets", ticket_id)
    if not scope.through("tickets", "responses"):
        return []
    rows = _linked(core, workspace_id, ticket_id, "has_response")
    customer = customer_of(core, ReadScope.unrestricted(workspace_id), ticket_id)
    match = core.workspaces.get(workspace_id)["settings"].get("customer_author_match", ["email", "id"])
    out = []
    for row in rows:
        resp = record_from_row(row).public()
        out.append({**resp, "kind": classify(resp, customer, match), "at": iso(message_time(resp))})
    return sorted(out, key=lambda m: (m["at"], m["id"]))


def field_changes(history: list[dict[str, Any]], scope: ReadScope) -> list[dict[str, Any]]:
    """Changes of the tracked ticket fields (and subject and tag edits) between consecutive versions of the
    ticket's history; who made each shows to `read:audit` holders only, as in the record's history."""
    out: list[dict[str, Any]] = []
    before: dict[str, Any] = {}
    audit = scope.audit("tickets")
    for i, h in enumerate(history):
        actor = h["actor"] if audit else None
        image = h["data"] or {}
        data = image.get("data") or {}
        if i == 0:
            out.append(
                {
                    "type": "created",
                    "at": h["at"],
                    "actor": actor,
                    "fields": {f: data.get(f) for f in TRACKED_FIELDS if data.get(f) is not None},
                }
            )
        else:
            changed = {
                f: {"from": before.get(f), "to": data.get(f)}
                for f in (*TRACKED_FIELDS, *EDITED_FIELDS)
                if before.get(f) != data.get(f)
            }
            if image.get("deleted"):
                out.append({"type": "deleted", "at": h["at"], "actor": actor})
            elif changed:
                out.append({"type": "changed", "at": h["at"], "actor": actor, "fields": changed})
        before = data
    return out


def sla_events(scope: ReadScope, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """SLA events as `scope` may read them: the message an event refers to (`details.message_id`) is a
    response, so its id is left out for a caller who may not read the conversation."""
    if scope.through("tickets", "responses"):
        return events
    return [
        {**e, "details": {k: v for k, v in e["details"].items() if k != "message_id"}}
        if "message_id" in (e.get("details") or {})
        else e
        for e in events
    ]


def timeline(
    core: Deskbase, scope: ReadScope, ticket_id: str, events: list[dict[str, Any]] | None = None
) -> list[dict[str, Any]]:
    """Messages, field changes (status, priority, assignee …) and SLA `events`, by time, as `scope` may read
    them: no messages without the responses, no actors without `read:audit`."""
    history = core.records.history(scope.workspace_id, "tickets", ticket_id, limit=1000)
    items = [{"type": "message", "at": m["at"], "message": m} for m in conversation(core, scope, ticket_id)]
    items += field_changes(history, scope)
    items += [{"type": "sla", "at": e["at"], "event": e} for e in sla_events(scope, events or [])]
    order = {"created": 0, "message": 1, "changed": 2, "sla": 3, "deleted": 4}
    return sorted(items, key=lambda i: (i["at"], order.get(i["type"], 5)))


def require_ticket(core: Deskbase, workspace_id: str, ticket_id: str) -> dict[str, Any]:
    try:
        return core.records.get(workspace_id, "tickets", ticket_id)
    except NotFound:
        raise NotFound(f"ticket {ticket_id!r} not found", {"id": ticket_id}) from None


#: ids per IN list of the batch reads below
_CHUNK = 500


def records_by_id(conn: Connection, ws: str, coll: str, ids: list[str]) -> dict[str, RecordState]:
    """Records of one collection by id, one query per chunk of ids (the loops reading a batch of changes)."""
    r = t.records
    out: dict[str, RecordState] = {}
    unique = sorted(set(ids))
    for i in range(0, len(unique), _CHUNK):
        rows = conn.execute(
            select(r).where(
                r.c.workspace_id == ws, r.c.collection == coll, r.c.id.in_(unique[i : i + _CHUNK])
            )
        )
        out.update({row.id: record_from_row(row) for row in rows})
    return out


def submitting_customers(conn: Connection, ws: str, ticket_ids: list[str]) -> dict[str, RecordState]:
    """Each ticket's live submitting customer (one join per chunk of tickets)."""
    rel, rec = t.relationships, t.records
    on = and_(
        rec.c.workspace_id == rel.c.workspace_id,
        rec.c.collection == rel.c.target_collection,
        rec.c.id == rel.c.target_id,
    )
    out: dict[str, RecordState] = {}
    for i in range(0, len(ticket_ids), _CHUNK):
        rows = conn.execute(
            select(rel.c.source_id.label("ticket_id"), rec)
            .join(rec, on)
            .where(
                rel.c.workspace_id == ws,
                rel.c.rel_type == "submitted_by",
                rel.c.source_collection == "tickets",
                rel.c.source_id.in_(ticket_ids[i : i + _CHUNK]),
                rel.c.deleted.is_(False),
                rec.c.deleted.is_(False),
            )
        )
        out.update({row.ticket_id: record_from_row(row) for row in rows})
    return out
