"""`deskbase changes`: read a workspace's change feed (every committed change, in order)."""

from __future__ import annotations

from typing import Annotated

import typer

from deskbase.cli.common import OutputOpt, WorkspaceOpt, session
from deskbase.cli.output import CHANGE_COLUMNS, Output, hint, print_list


def changes(
    ctx: typer.Context,
    workspace: WorkspaceOpt = None,
    after: Annotated[int, typer.Option(help="Only changes after this sequence number.")] = 0,
    limit: Annotated[int, typer.Option(help="At most this many changes (1-1000).")] = 100,
    output: OutputOpt = Output.table,
) -> None:
    """List changes after a sequence number; resume with --after set to the last seq shown."""
    s = session(ctx)
    out = s.client().get(
        "workspaces", s.workspace(workspace), "changes", params={"after": after, "limit": limit}
    )
    print_list(out, output, CHANGE_COLUMNS)
    if output is not Output.json and len(out.get("data") or []) == limit:
        hint(f"more changes: --after {out['next_after']}")
