"""`deskbase queries`: stored, named SQL queries of a workspace (save, list, get, run, delete)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from deskbase.cli.common import OutputOpt, WorkspaceOpt, json_arg, session
from deskbase.cli.output import Output, print_item, print_list
from deskbase.cli.sql import _read, params_of, print_result

app = typer.Typer(no_args_is_help=True, help="Stored SQL queries: save once, run by name with parameters.")


@app.command("list")
def list_(ctx: typer.Context, workspace: WorkspaceOpt = None, output: OutputOpt = Output.table) -> None:
    """List the workspace's stored queries."""
    s = session(ctx)
    print_list(
        s.client().get("workspaces", s.workspace(workspace), "queries"),
        output,
        ["name", "description", "version"],
    )


@app.command()
def get(
    ctx: typer.Context, name: str, workspace: WorkspaceOpt = None, output: OutputOpt = Output.table
) -> None:
    """Show one stored query."""
    s = session(ctx)
    print_item(s.client().get("workspaces", s.workspace(workspace), "queries", name), output)


@app.command()
def save(
    ctx: typer.Context,
    name: str,
    query: Annotated[str | None, typer.Argument(help="The SQL text (or use --file).")] = None,
    file: Annotated[
        Path | None,
        typer.Option("--file", "-f", help="Read the SQL from a file ('-' = stdin).", allow_dash=True),
    ] = None,
    description: Annotated[str | None, typer.Option(help="What the query answers.")] = None,
    params: Annotated[
        str | None, typer.Option(help="Default parameter values: JSON object or @file.")
    ] = None,
    workspace: WorkspaceOpt = None,
    output: OutputOpt = Output.table,
) -> None:
    """Save (create or replace) a named query; the sandbox checks it before it is stored."""
    if (query is None) == (file is None):
        raise typer.BadParameter("give either a query or --file, not both", param_hint="QUERY")
    s = session(ctx)
    body = {
        "query": _read(file) if file is not None else query,
        "description": description,
        "params": json_arg(params, "--params") if params else {},
    }
    print_item(s.client().put("workspaces", s.workspace(workspace), "queries", name, json=body), output)


@app.command()
def run(
    ctx: typer.Context,
    name: str,
    param: Annotated[
        list[str] | None, typer.Option("--param", "-p", help="NAME=VALUE or NAME:=JSON.")
    ] = None,
    workspace: WorkspaceOpt = None,
    output: OutputOpt = Output.table,
) -> None:
    """Run a stored query by name; --param overrides its saved defaults."""
    s = session(ctx)
    out = s.client().post(
        "workspaces", s.workspace(workspace), "queries", name, "run", json={"params": params_of(param or [])}
    )
    print_result(out, output)


@app.command()
def delete(ctx: typer.Context, name: str, workspace: WorkspaceOpt = None) -> None:
    """Delete a stored query."""
    s = session(ctx)
    s.client().delete("workspaces", s.workspace(workspace), "queries", name)
    typer.echo(f"deleted query {name}")
