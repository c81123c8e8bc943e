"""Resources: a ticket with its conversation as text (`deskbase://{workspace}/tickets/{number}`) and each
collection's JSON Schema (`deskbase://{workspace}/collections/{collection}/schema`), read with the checks of
the ticket and collection routes."""

from __future__ import annotations

import re

import mcp_types as types
import orjson

from deskbase.core.auth import authorize, collections_for
from deskbase.core.errors import NotFound
from deskbase.mcp import shapes, text
from deskbase.mcp.calls import Caller
from deskbase.mcp.tickets import read_ticket

TICKET = "deskbase://{workspace}/tickets/{number}"
SCHEMA = "deskbase://{workspace}/collections/{collection}/schema"
_TICKET = re.compile(r"^deskbase://(?P<ws>[a-z0-9][a-z0-9_-]{0,62})/tickets/(?P<number>[1-9][0-9]{0,15})$")
_SCHEMA = re.compile(
    r"^deskbase://(?P<ws>[a-z0-9][a-z0-9_-]{0,62})/collections/(?P<coll>[a-z0-9][a-z0-9_-]{0,62})/schema$"
)
#: Resources one listing names at most (a schema per readable collection of each workspace).
MAX_LISTED = 200
MESSAGES = 50


def templates() -> list[types.ResourceTemplate]:
    return [
        types.ResourceTemplate(
            name="ticket",
            title="A ticket with its conversation",
            uri_template=TICKET,
            description="The ticket by number: fields, customer, SLA clocks, the last "
            f"{MESSAGES} messages and related tickets, as Markdown.",
            mime_type="text/markdown",
        ),
        types.ResourceTemplate(
            name="collection-schema",
            title="A collection's JSON Schema",
            uri_template=SCHEMA,
            description="The JSON Schema records of the collection must match.",
            mime_type="application/schema+json",
        ),
    ]


def listed(caller: Caller, workspaces: list[str]) -> list[types.Resource]:
    """The collection schemas the caller may read (tickets are many: they are reached by template)."""
    out: list[types.Resource] = []
    actor = caller.actor
    for ws in workspaces:
        visible = collections_for(actor, "read:collections", ws)
        if visible is not None and not visible:
            continue
        for c in caller.core.collections.list(ws):
            if visible is not None and c["id"] not in visible:
                continue
            out.append(
                types.Resource(
                    name=f"{ws}/{c['id']}",
                    title=f"{c.get('name') or c['id']} schema ({ws})",
                    uri=SCHEMA.format(workspace=ws, collection=c["id"]),
                    description=c.get("description"),
                    mime_type="application/schema+json",
                )
            )
            if len(out) >= MAX_LISTED:
                return out
    return out


def read(caller: Caller, uri: str) -> types.ReadResourceResult:
    m = _TICKET.match(uri)
    if m:
        ws = caller.workspace(m["ws"])
        if ws != m["ws"]:
            raise NotFound(f"resource {uri!r} not found", {"uri": uri})
        authorize(caller.actor, "read:records", ws, "tickets")
        detail = shapes.ticket_detail(caller, ws, read_ticket(caller, ws, int(m["number"])), MESSAGES)
        body = text.ticket_text(detail)
        return types.ReadResourceResult(
            contents=[types.TextResourceContents(uri=uri, mime_type="text/markdown", text=body)]
        )
    m = _SCHEMA.match(uri)
    if m:
        ws = caller.workspace(m["ws"])
        if ws != m["ws"]:
            raise NotFound(f"resource {uri!r} not found", {"uri": uri})
        authorize(caller.actor, "read:collections", ws, m["coll"])
        schema = caller.core.collections.get(ws, m["coll"])["json_schema"]
        return types.ReadResourceResult(
            contents=[
                types.TextResourceContents(
                    uri=uri, mime_type="application/schema+json", text=orjson.dumps(schema).decode()
                )
            ]
        )
    raise NotFound(
        f"resource {uri!r} not found: use {TICKET} or {SCHEMA}", {"uri": uri, "templates": [TICKET, SCHEMA]}
    )
