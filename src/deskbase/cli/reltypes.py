"""`deskbase relationship-types`: the kinds of links allowed between collections."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from deskbase.cli.common import JSON_HELP, OutputOpt, WorkspaceOpt, WriteOutputOpt, compact, json_arg, session
from deskbase.cli.output import Output, print_item, print_list, print_written

COLUMNS = ["rel_type", "cardinality", "source_collections", "target_collections", "description", "version"]

app = typer.Typer(help="Create, list, show and delete relationship types.", no_args_is_help=True)


class Cardinality(StrEnum):
    one = "one"
    many = "many"


def _ids(values: list[str] | None) -> list[str] | None:
    """`--x a --x b` and `--x a,b` both mean [a, b]."""
    if values is None:
        return None
    return [v.strip() for value in values for v in value.split(",") if v.strip()]


@app.command("upsert")
def upsert(
    ctx: typer.Context,
    rel_type: Annotated[str, typer.Argument(help="Type id, e.g. submitted_by.")],
    workspace: WorkspaceOpt = None,
    source_collections: Annotated[
        list[str] | None, typer.Option(help="Collections a link may start from (repeat or comma-separate).")
    ] = None,
    target_collections: Annotated[
        list[str] | None, typer.Option(help="Collections a link may point to (repeat or comma-separate).")
    ] = None,
    cardinality: Annotated[
        Cardinality | None,
        typer.Option(help="one: a source has at most one live link of this type (server default: many)."),
    ] = None,
    description: Annotated[str | None, typer.Option()] = None,
    schema: Annotated[str | None, typer.Option(help=f"JSON Schema of link data. {JSON_HELP}")] = None,
    output: WriteOutputOpt = None,
) -> None:
    """Create or update a relationship type (fields you leave out keep their current values)."""
    s = session(ctx)
    body = compact(
        {
            "description": description,
            "source_collections": _ids(source_collections),
            "target_collections": _ids(target_collections),
            "cardinality": cardinality.value if cardinality else None,
            "schema": json_arg(schema, "--schema") if schema else None,
        }
    )
    out = s.client().put("workspaces", s.workspace(workspace), "relationship-types", rel_type, json=body)
    print_written(out, output, f"{out['rel_type']} (version {out['version']})")


@app.command("list")
def list_(ctx: typer.Context, workspace: WorkspaceOpt = None, output: OutputOpt = Output.table) -> None:
    """List the relationship types of a workspace."""
    s = session(ctx)
    print_list(s.client().get("workspaces", s.workspace(workspace), "relationship-types"), output, COLUMNS)


@app.command("get")
def get(
    ctx: typer.Context, rel_type: str, workspace: WorkspaceOpt = None, output: OutputOpt = Output.table
) -> None:
    """Show one relationship type."""
    s = session(ctx)
    print_item(s.client().get("workspaces", s.workspace(workspace), "relationship-types", rel_type), output)


@app.command("delete")
def delete(
    ctx: typer.Context,
    rel_type: str,
    workspace: WorkspaceOpt = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete a relationship type and every link of that type."""
    s = session(ctx)
    ws = s.workspace(workspace)
    if not yes:
        typer.confirm(f"Delete relationship type {rel_type!r} of {ws!r} and all its links?", abort=True)
    s.client().delete("workspaces", ws, "relationship-types", rel_type)
    typer.echo(f"deleted relationship type {rel_type}")
