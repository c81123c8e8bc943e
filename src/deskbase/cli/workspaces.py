"""`deskbase workspaces`: create, list, show and delete workspaces (the unit of tenancy)."""

from __future__ import annotations

from typing import Annotated

import typer

from deskbase.cli.common import JSON_HELP, OutputOpt, WriteOutputOpt, compact, json_arg, session
from deskbase.cli.output import Output, print_item, print_list, print_written

COLUMNS = ["id", "name", "version", "updated_at"]

app = typer.Typer(help="Create, list, show and delete workspaces.", no_args_is_help=True)


@app.command("create")
def create(
    ctx: typer.Context,
    workspace: Annotated[str, typer.Argument(help="Workspace id (a lowercase slug).")],
    name: Annotated[str | None, typer.Option(help="Display name.")] = None,
    settings: Annotated[str | None, typer.Option(help=f"Settings object (timezone, …). {JSON_HELP}")] = None,
    output: WriteOutputOpt = None,
) -> None:
    """Create a workspace, or update its name and settings if it exists (PUT)."""
    body = compact({"name": name, "settings": json_arg(settings, "--settings") if settings else None})
    out = session(ctx).client().put("workspaces", workspace, json=body)
    print_written(out, output, out["id"])


@app.command("update")
def update(
    ctx: typer.Context,
    workspace: Annotated[str, typer.Argument(help="Workspace id.")],
    name: Annotated[str | None, typer.Option(help="New display name.")] = None,
    settings: Annotated[
        str | None,
        typer.Option(
            help=f"Only the settings to change (a merge: the others stay; null removes one). {JSON_HELP}"
        ),
    ] = None,
    require_two_factor: Annotated[
        bool | None,
        typer.Option(
            "--require-two-factor/--no-require-two-factor",
            help="Require two-step sign-in of every member signing in to the console (API tokens unaffected).",
        ),
    ] = None,
    output: WriteOutputOpt = None,
) -> None:
    """Change an existing workspace's name or some of its settings, keeping the rest (PATCH; admins)."""
    changes = json_arg(settings, "--settings") if settings else {}
    if not isinstance(changes, dict):
        raise typer.BadParameter("a JSON object of settings", param_hint="'--settings'")
    if require_two_factor is not None:
        changes["require_two_factor"] = require_two_factor
    body = compact({"name": name, "settings": changes or None})
    if not body:
        raise typer.BadParameter("nothing to change: give --name, --settings or --require-two-factor")
    out = session(ctx).client().patch("workspaces", workspace, json=body)
    print_written(out, output, out["id"])


@app.command("list")
def list_(ctx: typer.Context, output: OutputOpt = Output.table) -> None:
    """List the workspaces this token can see."""
    print_list(session(ctx).client().get("workspaces"), output, COLUMNS)


@app.command("get")
def get(ctx: typer.Context, workspace: str, output: OutputOpt = Output.table) -> None:
    """Show one workspace."""
    print_item(session(ctx).client().get("workspaces", workspace), output)


@app.command("delete")
def delete(
    ctx: typer.Context,
    workspace: str,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete a workspace and EVERYTHING in it: collections, records, relationships, history."""
    if not yes:
        typer.confirm(f"Delete workspace {workspace!r} and all its data?", abort=True)
    session(ctx).client().delete("workspaces", workspace)
    typer.echo(f"deleted workspace {workspace}")
