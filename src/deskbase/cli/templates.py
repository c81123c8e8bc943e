"""`deskbase template`: apply a bundled template (collections + relationship types) to a workspace."""

from __future__ import annotations

import typer

from deskbase.cli.common import OutputOpt, WorkspaceOpt, WriteOutputOpt, session
from deskbase.cli.output import Output, print_list, print_written

app = typer.Typer(help="Apply bundled templates such as `support`.", no_args_is_help=True)


@app.command("apply")
def apply(
    ctx: typer.Context, name: str, workspace: WorkspaceOpt = None, output: WriteOutputOpt = None
) -> None:
    """Apply a template; safe to repeat (unchanged collections and types are left as they are)."""
    s = session(ctx)
    out = s.client().post("workspaces", s.workspace(workspace), "templates", name)
    made = [c["id"] for c in out.get("collections", [])] + [
        r["rel_type"] for r in out.get("relationship_types", [])
    ]
    print_written(out, output, f"applied {name}: {', '.join(made) or 'nothing to do'}")


@app.command("list")
def list_(ctx: typer.Context, workspace: WorkspaceOpt = None, output: OutputOpt = Output.table) -> None:
    """List the templates this server bundles."""
    s = session(ctx)
    print_list(s.client().get("workspaces", s.workspace(workspace), "templates"), output)
