"""`deskbase notifications`: your own notifications in a workspace (a personal token's; a service token has
none), listed unread first, and marked read one by one or all at once."""

from __future__ import annotations

from typing import Annotated

import typer

from deskbase.cli.common import OutputOpt, WorkspaceOpt, WriteOutputOpt, session
from deskbase.cli.output import Output, hint, print_list, print_written

COLUMNS = ["id", "kind", "read", "data.ticket.number", "data.ticket.subject", "actor.name", "created_at"]

app = typer.Typer(
    no_args_is_help=True,
    help="Your notifications (assigned to you or your team, customer replies on your tickets, mentions, SLA "
    "warnings and breaches). They belong to a person: use a personal token (`POST /v1/users/me/tokens`).",
)


@app.command("list")
def list_(
    ctx: typer.Context,
    unread: Annotated[bool, typer.Option("--unread", help="Only the unread ones.")] = False,
    limit: Annotated[int, typer.Option(help="Notifications per page.")] = 50,
    cursor: Annotated[str | None, typer.Option(help="Continue after a previous page.")] = None,
    workspace: WorkspaceOpt = None,
    output: OutputOpt = Output.table,
) -> None:
    """List your notifications: unread first, each group newest first. The unread count goes to stderr."""
    s = session(ctx)
    params = {"unread": "true" if unread else None, "limit": limit, "cursor": cursor}
    page = s.client().get("workspaces", s.workspace(workspace), "notifications", params=params)
    print_list(page, output, COLUMNS)
    if output is not Output.json:
        hint(f"{page['unread']} unread")
    if page.get("next_cursor"):
        hint(f"more: --cursor {page['next_cursor']}")


@app.command("read")
def read(
    ctx: typer.Context,
    notification_id: Annotated[
        str | None, typer.Argument(show_default=False, help="The notification to mark read.")
    ] = None,
    all_: Annotated[bool, typer.Option("--all", help="Mark all of yours in the workspace read.")] = False,
    workspace: WorkspaceOpt = None,
    output: WriteOutputOpt = None,
) -> None:
    """Mark one notification read (ID), or all of yours in the workspace (--all)."""
    if (notification_id is None) == (not all_):
        raise typer.BadParameter("give a notification ID or --all (not both)", param_hint="'ID' / '--all'")
    s = session(ctx)
    ws = s.workspace(workspace)
    if notification_id is not None:
        out = s.client().post("workspaces", ws, "notifications", notification_id, "read")
        print_written(out, output, f"marked {out['id']} read")
    else:
        out = s.client().post("workspaces", ws, "notifications", "read-all")
        print_written(out, output, f"marked {out['marked']} read ({out['unread']} unread)")
