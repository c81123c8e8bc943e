"""The `support` template: the seed's collections and relationship types, plus deskbase's hints.

`seed.json` is the seed page's JSON verbatim (a test keeps it identical to shared/seed). On top of it we add
`x-index` on the fields agents filter by, `x-search` on the text agents type into search boxes (the queue's
subject box, the customer picker), `x-numbered` on tickets (human numbers, `#1042`), `attachments` (file ids,
marked `x-files`) on tickets and responses, the email channel's fields (`mail` on tickets and responses, the
stored `original` message on responses), `team` on tickets, and declare `submitted_by` as cardinality one. A
customer's `email` is checked as `idn-email` rather than the seed's `email`: every address the seed accepts, and
also those with non-ASCII parts (`josé@bücher.example`), which mail takes in and sends with SMTPUTF8.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

INDEXED = {
    "tickets": ["status", "priority", "assignee", "category", "channel", "team"],
    "customers": ["email", "plan"],
}
SEARCHED = {
    "tickets": ["subject", "description"],
    "customers": ["name", "email", "company"],
    "responses": ["body"],
}
CARDINALITY = {"submitted_by": "one"}
#: JSON Schema formats widened from the seed's (collection, field) -> format.
FORMATS = {("customers", "email"): "idn-email"}
#: Uploaded files a ticket or a message carries (ids from `POST …/files`); readers of the record may read them.
ATTACHMENTS = {"type": "array", "items": {"type": "string"}, "maxItems": 100, "x-files": True}
ATTACHED = {"tickets", "responses"}
_ADDRESSES = {"type": "array", "items": {"type": "string", "maxLength": 320}, "maxItems": 200}
_IDS = {"type": "array", "items": {"type": "string", "maxLength": 1000}, "maxItems": 200}
#: The email channel (deskbase.mail): a message's envelope and delivery state on its response, and on the
#: ticket the mailbox it came through and the addresses copied on its replies.
MAIL_FIELDS: dict[str, dict[str, Any]] = {
    "responses": {
        "mail": {
            "type": "object",
            "description": "The email this message was (received or sent as)",
            "properties": {
                "direction": {"type": "string", "enum": ["inbound", "outbound"]},
                "mailbox": {"type": "string"},
                "message_id": {"type": "string", "maxLength": 1000},
                "in_reply_to": {"type": ["string", "null"], "maxLength": 1000},
                "references": _IDS,
                "from": {"type": "string", "maxLength": 320},
                "from_name": {"type": "string", "maxLength": 500},
                "to": _ADDRESSES,
                "cc": _ADDRESSES,
                "subject": {"type": "string", "maxLength": 2000},
                "date": {"type": ["string", "null"], "format": "date-time"},
                "html": {"type": ["string", "null"], "description": "Sanitised HTML of the message"},
                "full_body": {"type": "string", "description": "The whole text, quoted history included"},
                "folded": {"type": "boolean", "description": "Whether `body` leaves quoted history out"},
                "shortened": {
                    "type": "boolean",
                    "description": "The message was too long for a record: HTML or text left out (see original)",
                },
                "remote_images": {"type": "integer", "minimum": 0},
                "inline": {
                    "type": "object",
                    "description": "Content-ID → file id of the images the HTML shows inline",
                    "additionalProperties": {"type": "string"},
                },
                "delivery": {
                    "type": "object",
                    "properties": {
                        "state": {"type": "string", "enum": ["queued", "sent", "failed", "bounced"]},
                        "answer": {"type": ["string", "null"]},
                        "attempts": {"type": "integer", "minimum": 0},
                        "at": {"type": "string", "format": "date-time"},
                    },
                },
            },
        },
        "original": {
            "type": "string",
            "x-files": True,
            "description": "The message as received or sent (an .eml file)",
        },
    },
    "tickets": {
        "mail": {
            "type": "object",
            "description": "The mailbox this ticket's email thread goes through",
            "properties": {"mailbox": {"type": "string"}, "cc": _ADDRESSES},
        },
    },
}
NUMBERED = {"tickets"}
#: deskbase's people on tickets: the team a ticket belongs to (a team id; teams are configured per workspace)
#: and what the assignee means (the email of an agent; checked by support/team_rules.py).
PEOPLE_FIELDS: dict[str, dict[str, Any]] = {
    "team": {"type": "string", "maxLength": 63, "description": "The id of the team the ticket belongs to"},
}
#: deskbase's addition to the seed: canned replies and actions that agents apply to a ticket in one step
#: (the console's composer offers them, `/shortcut` included). Macros are records like any other: API, CLI,
#: SQL and the change log all see them.
MACROS = {
    "id": "macros",
    "name": "Macros",
    "description": "Canned replies and actions applied to a ticket in one step",
    "icon": "zap",
    "color": "#8b5cf6",
    "json_schema": {
        "type": "object",
        "required": ["name", "body"],
        "additionalProperties": False,
        "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": 120},
            "shortcut": {
                "type": "string",
                "pattern": "^[a-z0-9][a-z0-9-]{0,39}$",
                "description": "Typed after / at the start of the composer",
                "x-index": True,
            },
            "body": {
                "type": "string",
                "maxLength": 20000,
                "description": "Text; {{customer.name}}, {{customer.first_name}}, {{ticket.subject}}, {{ticket.id}} "
                "and {{agent}} are filled in",
            },
            "type": {"type": "string", "enum": ["reply", "internal_note"]},
            "set_status": {
                "type": "string",
                "enum": ["open", "in_progress", "waiting", "resolved", "closed"],
            },
            "set_priority": {"type": "string", "enum": ["low", "medium", "high", "urgent"]},
            "add_tags": {"type": "array", "items": {"type": "string", "maxLength": 50}, "maxItems": 10},
        },
    },
}


def seed() -> dict[str, Any]:
    return json.loads((Path(__file__).parent / "seed.json").read_text())


@cache
def _definition() -> dict[str, Any]:
    d = seed()
    for coll in d["collections"]:
        if coll["id"] == "tickets":
            coll["json_schema"]["properties"].update(copy.deepcopy(PEOPLE_FIELDS))
        for field in INDEXED.get(coll["id"], []):
            coll["json_schema"]["properties"][field]["x-index"] = True
        for field in SEARCHED.get(coll["id"], []):
            coll["json_schema"]["properties"][field]["x-search"] = True
        for (cid, field), fmt in FORMATS.items():
            if cid == coll["id"]:
                coll["json_schema"]["properties"][field]["format"] = fmt
        if coll["id"] in ATTACHED:
            coll["json_schema"]["properties"]["attachments"] = copy.deepcopy(ATTACHMENTS)
        coll["json_schema"]["properties"].update(copy.deepcopy(MAIL_FIELDS.get(coll["id"], {})))
        if coll["id"] in NUMBERED:
            coll["json_schema"]["x-numbered"] = True
    for rel in d["relationships"]:
        rel["cardinality"] = CARDINALITY.get(rel["type"], "many")
    d["collections"].append(copy.deepcopy(MACROS))
    return d


def seed_queries() -> dict[str, tuple[str, str]]:
    """The seed's example queries, verbatim: name -> (description from the leading comment, SQL text)."""
    return _queries("queries")


def report_queries() -> dict[str, tuple[str, str]]:
    """deskbase's own reports over the SLA tables (the dashboard runs them; analysts can too)."""
    return _queries("reports")


def _queries(folder: str) -> dict[str, tuple[str, str]]:
    out = {}
    for path in sorted((Path(__file__).parent / folder).glob("*.sql")):
        text = path.read_text()
        first = text.splitlines()[0]
        description = first[2:].strip() if first.startswith("--") else ""
        out[path.stem] = (description, text)
    return out


def definition() -> dict[str, Any]:
    """The template as applied (a fresh copy: callers may not mutate the cached one)."""
    return copy.deepcopy(_definition())
