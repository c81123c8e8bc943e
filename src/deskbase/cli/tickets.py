"""`deskbase tickets`: a ticket by its number (`1042`, `#1042`) or id, its conversation, and replies."""

from __future__ import annotations

import re
from typing import Annotated, Any

import typer

from deskbase.cli.common import OutputOpt, WorkspaceOpt, WriteOutputOpt, session
from deskbase.cli.output import Output, print_item, print_rows, print_written

app = typer.Typer(help="Tickets by number: show one, read its conversation, reply.", no_args_is_help=True)

Ticket = Annotated[str, typer.Argument(help="The ticket's number (1042 or '#1042') or its id.")]
_NUMBER = re.compile(r"^#?(\d{1,15})$")


def _ticket(ctx: typer.Context, ref: str, workspace: str | None) -> tuple[Any, str, dict[str, Any]]:
    """(client, workspace, ticket) for a number or an id: a number is looked up, anything else is an id."""
    s = session(ctx)
    client, ws = s.client(), s.workspace(workspace)
    m = _NUMBER.match(ref.strip())
    if m:
        return client, ws, client.get("workspaces", ws, "tickets", "by-number", m.group(1))
    return client, ws, client.get("workspaces", ws, "records", "tickets", ref)


@app.command("get")
def get(
    ctx: typer.Context, ticket: Ticket, workspace: WorkspaceOpt = None, output: OutputOpt = Output.table
) -> None:
    """Show a ticket (with its SLA clocks and metrics in -o json)."""
    _, _, out = _ticket(ctx, ticket, workspace)
    print_item(out, output)


@app.command("conversation")
def conversation(
    ctx: typer.Context, ticket: Ticket, workspace: WorkspaceOpt = None, output: OutputOpt = Output.table
) -> None:
    """The ticket's messages in time order: who wrote each (customer, agent, note) and what."""
    client, ws, found = _ticket(ctx, ticket, workspace)
    out = client.get("workspaces", ws, "tickets", found["id"], "responses")
    rows = [
        {"at": m["at"], "kind": m["kind"], **{k: m["data"].get(k) for k in ("author", "body")}}
        for m in out["data"]
    ]
    print_rows(rows, output, ["at", "kind", "author", "body"])


@app.command("reply")
def reply(
    ctx: typer.Context,
    ticket: Ticket,
    body: Annotated[str, typer.Option("--body", "-b", help="The message text.")],
    note: Annotated[
        bool, typer.Option("--note", help="An internal note (never shown to the customer).")
    ] = False,
    author: Annotated[
        str | None, typer.Option("--author", help="Who wrote it (default: the token's name).")
    ] = None,
    workspace: WorkspaceOpt = None,
    output: WriteOutputOpt = None,
) -> None:
    """Reply to a ticket, or add an internal note with --note."""
    client, ws, found = _ticket(ctx, ticket, workspace)
    payload: dict[str, Any] = {"body": body, "type": "internal_note" if note else "reply"}
    if author:
        payload["author"] = author
    out = client.post("workspaces", ws, "tickets", found["id"], "responses", json=payload)
    print_written(out, output, out["id"])
