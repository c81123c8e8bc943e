"""`deskbase collections`: a workspace's collections and their JSON Schemas."""

from __future__ import annotations

from typing import Annotated

import typer

from deskbase.cli.common import JSON_HELP, OutputOpt, WorkspaceOpt, WriteOutputOpt, compact, json_arg, session
from deskbase.cli.output import CHANGE_COLUMNS, Output, print_item, print_list, print_written

COLUMNS = ["id", "name", "description", "version", "updated_at"]

app = typer.Typer(
    help="Create, list, show and delete collections, and see their history.", no_args_is_help=True
)


@app.command("upsert")
def upsert(
    ctx: typer.Context,
    collection: Annotated[str, typer.Argument(help="Collection id (a lowercase slug).")],
    schema: Annotated[str, typer.Option(help=f"The JSON Schema of its records. {JSON_HELP}")],
    workspace: WorkspaceOpt = None,
    name: Annotated[str | None, typer.Option(help="Display name (kept if omitted).")] = None,
    description: Annotated[str | None, typer.Option()] = None,
    icon: Annotated[str | None, typer.Option()] = None,
    color: Annotated[str | None, typer.Option(help="e.g. #ef4444")] = None,
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="Apply a schema change even though existing records would no longer match it."
        ),
    ] = False,
    output: WriteOutputOpt = None,
) -> None:
    """Create or update a collection (fields you leave out keep their current values).

    A schema change that existing records would violate is refused (conflict) unless --force.
    """
    s = session(ctx)
    body = compact(
        {
            "name": name,
            "description": description,
            "icon": icon,
            "color": color,
            "json_schema": json_arg(schema, "--schema"),
        }
    )
    ws = s.workspace(workspace)
    out = s.client().put(
        "workspaces", ws, "collections", collection, json=body, params={"force": "true"} if force else None
    )
    print_written(out, output, f"{out['id']} (version {out['version']})")


@app.command("list")
def list_(ctx: typer.Context, workspace: WorkspaceOpt = None, output: OutputOpt = Output.table) -> None:
    """List the collections of a workspace."""
    s = session(ctx)
    print_list(s.client().get("workspaces", s.workspace(workspace), "collections"), output, COLUMNS)


@app.command("get")
def get(
    ctx: typer.Context, collection: str, workspace: WorkspaceOpt = None, output: OutputOpt = Output.table
) -> None:
    """Show one collection with its schema."""
    s = session(ctx)
    print_item(s.client().get("workspaces", s.workspace(workspace), "collections", collection), output)


@app.command("delete")
def delete(
    ctx: typer.Context,
    collection: str,
    workspace: WorkspaceOpt = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete a collection and all of its records."""
    s = session(ctx)
    ws = s.workspace(workspace)
    if not yes:
        typer.confirm(f"Delete collection {collection!r} of {ws!r} and all its records?", abort=True)
    s.client().delete("workspaces", ws, "collections", collection)
    typer.echo(f"deleted collection {collection}")


@app.command("history")
def history(
    ctx: typer.Context,
    collection: str,
    workspace: WorkspaceOpt = None,
    after: Annotated[int, typer.Option(help="Only changes after this version.")] = 0,
    limit: Annotated[int, typer.Option(help="At most this many changes (max 1000).")] = 100,
    output: OutputOpt = Output.table,
) -> None:
    """Every version of a collection's definition: who changed it, when, and to what."""
    s = session(ctx)
    out = s.client().get(
        "workspaces",
        s.workspace(workspace),
        "collections",
        collection,
        "history",
        params={"after": after, "limit": limit},
    )
    print_list(out, output, CHANGE_COLUMNS)
