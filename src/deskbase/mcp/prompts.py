"""Prompts: "triage the queue" and "draft a reply for ticket N", filled with the live queue or ticket (read
with the caller's checks) and instructions that keep a human in the loop before anything reaches a customer."""

from __future__ import annotations

from typing import Any

import mcp_types as types

from deskbase.core.errors import NotFound, ValidationFailed
from deskbase.mcp import text
from deskbase.mcp.calls import Caller
from deskbase.mcp.tickets import GetTicket, SearchTickets, get_ticket, search_tickets

TRIAGE_BATCH = 20
_WORKSPACE = types.PromptArgument(
    name="workspace", description="Workspace id (optional when the token reaches one).", required=False
)


def listed(fixed_workspace: bool) -> list[types.Prompt]:
    ws = [] if fixed_workspace else [_WORKSPACE]
    return [
        types.Prompt(
            name="triage_queue",
            title="Triage the queue",
            description=f"Work through up to {TRIAGE_BATCH} open, unassigned tickets (oldest first): set "
            "category, priority and assignee, and leave an internal note with the reasoning.",
            arguments=ws,
        ),
        types.Prompt(
            name="draft_reply",
            title="Draft a reply for ticket N",
            description="Read a ticket's conversation and draft the next reply to the customer, for a human to "
            "approve before it is sent.",
            arguments=[
                types.PromptArgument(
                    name="ticket", description="The ticket's number, e.g. 1042.", required=True
                ),
                *ws,
            ],
        ),
    ]


def _user(body: str) -> types.PromptMessage:
    return types.PromptMessage(role="user", content=types.TextContent(type="text", text=body))


def _triage(caller: Caller, arguments: dict[str, str]) -> types.GetPromptResult:
    queue = {
        "and": [
            {"field": "data.status", "op": "in", "value": ["open", "in_progress"]},
            {"field": "data.assignee", "op": "is_null"},
        ]
    }
    args = SearchTickets.model_validate(
        {
            "workspace": arguments.get("workspace"),
            "filter": queue,
            "sort": [{"field": "created_at", "direction": "asc"}],
            "limit": TRIAGE_BATCH,
        }
    )
    page = search_tickets(caller, args)
    ws = caller.workspace(arguments.get("workspace"))
    rows = [
        f"- #{t['number']} {t['subject']} (priority {t['priority']}, status {t['status']}"
        + (f", customer {t['customer'].get('email')}" if t.get("customer") else "")
        + (f", SLA {t['sla']['metric']} due {t['sla']['target_at']}" if t.get("sla") else "")
        + ")"
        for t in page["tickets"]
    ]
    body = (
        f"Triage the support queue of workspace {ws!r}: the open tickets nobody is assigned to, oldest first.\n\n"
        "For each ticket: read it with get_ticket; decide its category and priority (urgent only when the "
        "customer is blocked or an SLA is about to breach) and, when the right person is clear, its assignee; "
        "set them with one update_ticket call passing if_match with the version you read; then record your "
        "reasoning in one sentence with reply_to_ticket, type internal_note. Link duplicates with link_tickets. "
        "Never send a reply to a customer (type reply) during triage. Finish with a short summary table.\n\n"
        + ("Tickets:\n" + "\n".join(rows) if rows else "The queue is empty: say so and stop.")
        + (
            "\n\n(more follow: search_tickets with the same filter and next_cursor)"
            if page["next_cursor"]
            else ""
        )
    )
    return types.GetPromptResult(description=f"Triage of {len(rows)} tickets in {ws}", messages=[_user(body)])


def _draft(caller: Caller, arguments: dict[str, str]) -> types.GetPromptResult:
    ref = (arguments.get("ticket") or "").strip()
    if not ref:
        raise ValidationFailed(
            "the ticket argument is required", [{"pointer": "/ticket", "message": "required"}]
        )
    detail = get_ticket(
        caller,
        GetTicket.model_validate({"workspace": arguments.get("workspace"), "ticket": ref, "messages": 50}),
    )
    number = detail["ticket"].get("number") or detail["ticket"]["id"]
    body = (
        f"Draft the next reply to the customer on ticket #{number}.\n\n"
        "Answer what the customer last asked, in their language, briefly and concretely; do not promise what "
        "the conversation or internal notes do not support, and never quote internal notes. If information is "
        "missing, ask for it. Show me the draft and wait: send it only when I approve, with reply_to_ticket "
        "(type reply); if the reply resolves the issue, ask whether to set the status with update_ticket.\n\n"
        "The ticket:\n\n" + text.ticket_text(detail)
    )
    return types.GetPromptResult(description=f"Draft a reply for ticket #{number}", messages=[_user(body)])


PROMPTS = {"triage_queue": _triage, "draft_reply": _draft}


def get(caller: Caller, name: str, arguments: dict[str, Any] | None) -> types.GetPromptResult:
    fill = PROMPTS.get(name)
    if fill is None:
        raise NotFound(f"unknown prompt {name!r}", {"prompt": name, "prompts": sorted(PROMPTS)})
    return fill(caller, {k: str(v) for k, v in (arguments or {}).items()})
