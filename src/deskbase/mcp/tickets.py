"""Ticket tools: search, read, open, reply, update, link and unlink — each checking what the REST routes
check (`records/tickets`, `tickets/{id}/responses`, `relationships`) and calling the same services."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from deskbase.api.schemas import RecordCreate, RecordPatch, ResponseCreate
from deskbase.core.auth import authorize
from deskbase.core.errors import NotFound
from deskbase.mcp import shapes
from deskbase.mcp.calls import Caller
from deskbase.mcp.tool import FILTER_HELP, MAX_PAGE, Args, Need, SortKey, Tool, derive
from deskbase.support import includes, intake, tickets
from deskbase.support.finder import ticket_condition

TICKETS = "tickets"
NUMBER = re.compile(r"^#?(\d{1,15})$")
TICKET_HELP = 'The ticket: its number (1042, or "#1042" as agents write it) or its id.'
TicketRef = Annotated[int | str, Field(description=TICKET_HELP)]
DEFAULT_SORT = [{"field": "updated_at", "direction": "desc"}]


def _number(ref: int | str) -> int | None:
    if isinstance(ref, int):
        return ref
    m = NUMBER.match(ref.strip())
    return int(m.group(1)) if m else None


def _by_number(caller: Caller, ws: str, ref: int | str) -> dict[str, Any] | None:
    """The ticket a number names (its unique index); None when `ref` is no number. Digits given as text
    that number no ticket may still be an id."""
    number = _number(ref)
    if number is None:
        return None
    try:
        return caller.core.records.by_number(ws, TICKETS, number)
    except NotFound:
        if isinstance(ref, str) and ref.isdigit():
            return None
        raise


def ticket_id(caller: Caller, ws: str, ref: int | str) -> str:
    """The id of the ticket a reference names."""
    found = _by_number(caller, ws, ref)
    return str(found["id"]) if found is not None else str(ref)


def read_ticket(caller: Caller, ws: str, ref: int | str) -> dict[str, Any]:
    """The ticket with its SLA clocks and metrics, as `GET …/records/tickets/{id}` returns it."""
    found = _by_number(caller, ws, ref)
    record = found if found is not None else caller.core.records.get(ws, TICKETS, str(ref))
    return caller.core.hooks.enrich(ws, record)


# ---- search_tickets ---------------------------------------------------------------------------------------
class SearchTickets(Args):
    text: str | None = Field(
        None,
        max_length=200,
        description=(
            "Words to find, each in some field of the ticket: subject, description, its messages, its "
            'customer\'s name, email or company; or "#1042" for the ticket with that number. When the words '
            "match more tickets than one search reads, the answer says `partial` and holds the newest."
        ),
    )
    filter: dict[str, Any] | None = Field(None, description=FILTER_HELP)
    sort: list[SortKey] | None = Field(
        None, max_length=4, description="Sort keys, first wins. Default: most recently updated first."
    )
    limit: int = Field(20, ge=1, le=MAX_PAGE, description=f"Tickets per page (1-{MAX_PAGE}).")
    cursor: str | None = Field(None, description="next_cursor of the previous page, to read on.")


def search_tickets(caller: Caller, args: SearchTickets) -> dict[str, Any]:
    ws = caller.workspace(args.workspace)
    authorize(caller.actor, "read:records", ws, TICKETS)
    core = caller.core
    complete = True
    text = None
    if args.text:
        text, complete = ticket_condition(core, caller.scope(ws), args.text)
    parts = [p for p in (args.filter, text) if p]
    condition = parts[0] if len(parts) == 1 else {"and": parts} if parts else None
    sort = [k.model_dump() for k in args.sort] if args.sort else DEFAULT_SORT
    page = core.records.query(ws, TICKETS, condition, sort, args.limit, args.cursor)
    ids = [t["id"] for t in page["data"]]
    extra = includes.load(core, caller.scope(ws), ids, includes.LIST_INCLUDES)
    rows = [shapes.ticket_row(t, extra[t["id"]]) for t in page["data"]]
    found: dict[str, Any] = {"tickets": rows, "next_cursor": page["next_cursor"]}
    if not complete:  # the words match more tickets than one search reads: these are the newest of them
        found["partial"] = True
    return found


# ---- get_ticket -------------------------------------------------------------------------------------------
class GetTicket(Args):
    ticket: TicketRef
    messages: int = Field(
        20, ge=1, le=MAX_PAGE, description="How many of the most recent conversation messages to include."
    )


def get_ticket(caller: Caller, args: GetTicket) -> dict[str, Any]:
    ws = caller.workspace(args.workspace)
    authorize(caller.actor, "read:records", ws, TICKETS)
    return shapes.ticket_detail(caller, ws, read_ticket(caller, ws, args.ticket), args.messages)


# ---- create_ticket ----------------------------------------------------------------------------------------
class CustomerIn(BaseModel):
    """Extra fields (plan, company …) are kept on a customer created now; an existing one is left as is."""

    model_config = ConfigDict(extra="allow")
    email: str = Field(max_length=320, description="Found by this address, or created with it.")
    name: str | None = Field(None, max_length=200, description="For a new customer (default: the address).")


CreateTicket = derive(
    "CreateTicket",
    RecordCreate,
    exclude=("id", "external_id", "external_source", "at", "created_at", "number"),
    customer=(CustomerIn, Field(description="Who the ticket is from.")),
)


def create_ticket(caller: Caller, args: Any) -> dict[str, Any]:
    ws = caller.workspace(args.workspace)
    actor = caller.actor
    authorize(actor, "write:records", ws, TICKETS)
    authorize(actor, "write:relationships", ws, TICKETS)
    who = args.customer.model_dump(exclude={"email"})
    opened = intake.open_ticket(caller.core, ws, args.data, args.customer.email, who, actor)
    shown = caller.scope(ws).records("customers")
    return {
        "ticket": shapes.record(opened.ticket),
        "customer": shapes.customer(opened.customer) if shown else None,
        "customer_created": opened.customer_created,
    }


# ---- reply_to_ticket --------------------------------------------------------------------------------------
ReplyToTicket = derive(
    "ReplyToTicket",
    ResponseCreate,
    exclude=("timestamp", "at"),
    ticket=(int | str, Field(description=TICKET_HELP)),
)


def reply_to_ticket(caller: Caller, args: Any) -> dict[str, Any]:
    ws = caller.workspace(args.workspace)
    actor = caller.actor
    authorize(actor, "write:records", ws, "responses")
    authorize(actor, "write:relationships", ws)
    tid = ticket_id(caller, ws, args.ticket)
    body = args.model_dump(include={"body", "type", "author", "attachments", "mentions"})
    out = tickets.add_response(caller.core, ws, tid, body, actor)
    return {"ticket_id": tid, "response": shapes.record(out)}


# ---- update_ticket ----------------------------------------------------------------------------------------
UpdateTicket = derive(
    "UpdateTicket",
    RecordPatch,
    exclude=("at",),
    ticket=(int | str, Field(description=TICKET_HELP)),
    if_match=(
        int | None,
        Field(
            None,
            ge=1,
            description="The version you read (get_ticket's ticket.version): the update is refused with "
            "version_mismatch if the ticket changed since. Recommended.",
        ),
    ),
)


def update_ticket(caller: Caller, args: Any) -> dict[str, Any]:
    ws = caller.workspace(args.workspace)
    authorize(caller.actor, "write:records", ws, TICKETS)
    tid = ticket_id(caller, ws, args.ticket)
    out = caller.core.records.patch(ws, TICKETS, tid, args.data, caller.actor, args.if_match)
    return {"ticket": shapes.record(out)}


# ---- link_tickets / unlink_tickets -----------------------------------------------------------------------
class LinkTickets(Args):
    ticket: TicketRef
    other: TicketRef
    rel_type: str = Field("related_to", max_length=63, description="Relationship type (default related_to).")


def link_tickets(caller: Caller, args: LinkTickets) -> dict[str, Any]:
    ws = caller.workspace(args.workspace)
    authorize(caller.actor, "write:relationships", ws, TICKETS)
    a, b = ticket_id(caller, ws, args.ticket), ticket_id(caller, ws, args.other)
    body = {
        "rel_type": args.rel_type,
        "source": {"collection": TICKETS, "id": a},
        "target": {"collection": TICKETS, "id": b},
    }
    out, created = caller.core.relationships.upsert(ws, body, caller.actor)
    return {"relationship": out, "created": created}


def unlink_tickets(caller: Caller, args: LinkTickets) -> dict[str, Any]:
    ws = caller.workspace(args.workspace)
    actor = caller.actor
    authorize(actor, "write:relationships", ws)
    core = caller.core
    a, b = ticket_id(caller, ws, args.ticket), ticket_id(caller, ws, args.other)
    for near, far, direction in ((a, b, "outgoing"), (b, a, "outgoing")):
        for link in core.relationships.linked(ws, args.rel_type, TICKETS, [near], direction, actor=actor):
            if link["target"]["id"] == far and link["target"]["collection"] == TICKETS:
                return {"relationship": core.relationships.delete(ws, link["id"], actor)}
    raise NotFound(
        f"no live {args.rel_type!r} link between tickets {a!r} and {b!r}",
        {"rel_type": args.rel_type, "tickets": [a, b]},
    )


READ = (Need("read:records", TICKETS),)
TOOLS = (
    Tool(
        "search_tickets",
        "Search tickets",
        "Find tickets by words of the subject (or #number) and/or the filter language, sorted, one page at a "
        "time. Returns per ticket: id, number, subject, status, priority, assignee, tags, customer (name, "
        "email), the most urgent running SLA clock (metric, state, target_at) and updated_at; next_cursor "
        f"reads on. At most {MAX_PAGE} per page. Use get_ticket for the conversation.",
        SearchTickets,
        search_tickets,
        READ,
        read_only=True,
    ),
    Tool(
        "get_ticket",
        "Read a ticket",
        "One ticket by number or id: its fields and version (pass it as if_match to update_ticket), the "
        "customer, the most recent messages (kind customer/agent/note, author, time, body; long bodies cut), "
        "related tickets, every SLA clock with business time left, and response metrics.",
        GetTicket,
        get_ticket,
        READ,
        read_only=True,
    ),
    Tool(
        "create_ticket",
        "Open a ticket",
        "Open a ticket for a customer given by email: an existing customer with that address is used, else "
        "one is created. `data` holds the ticket's fields: subject, status and priority are required "
        "(describe_collection tickets gives the schema and allowed values). Returns the ticket (with its "
        "number) and the customer.",
        CreateTicket,
        create_ticket,
        (Need("write:records", TICKETS), Need("write:relationships", TICKETS)),
        read_only=False,
    ),
    Tool(
        "reply_to_ticket",
        "Reply to a ticket",
        "Add a message to a ticket: type reply (the customer sees it; on a ticket that came by email the "
        "email channel sends it) or internal_note (agents only). `author` defaults to this token's name. "
        "`mentions` (internal notes only): user ids of workspace members to notify (list them with the "
        "workspace's members). Returns the stored message.",
        ReplyToTicket,
        reply_to_ticket,
        (Need("write:records", "responses"), Need("write:relationships")),
        read_only=False,
    ),
    Tool(
        "update_ticket",
        "Update a ticket",
        'Change a ticket\'s fields with a JSON merge patch in `data` (e.g. {"status": "resolved", "assignee": '
        '"sam@example.com"}; null removes a field): status, priority, assignee (an agent\'s email; null '
        "unassigns), team (a team's id), tags, category … Pass if_match with the version you read so a "
        "concurrent change is not overwritten. Returns the updated ticket.",
        UpdateTicket,
        update_ticket,
        (Need("write:records", TICKETS),),
        read_only=False,
        idempotent=True,
    ),
    Tool(
        "link_tickets",
        "Link two tickets",
        "Mark two tickets as related (relationship type related_to unless told otherwise). Linking again is a "
        "no-op (created: false). Returns the link.",
        LinkTickets,
        link_tickets,
        (Need("write:relationships", TICKETS),),
        read_only=False,
        idempotent=True,
    ),
    Tool(
        "unlink_tickets",
        "Unlink two tickets",
        "Remove the link of the given type between two tickets, whichever way it points. Returns the removed "
        "link; not_found if there is none.",
        LinkTickets,
        unlink_tickets,
        (Need("write:relationships", TICKETS),),
        read_only=False,
        destructive=True,
    ),
)
