"""`deskbase sql`: run a read-only SQL query on a workspace's analytics replica."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from deskbase.cli.client import CliError
from deskbase.cli.common import OutputOpt, WorkspaceOpt, json_arg, session
from deskbase.cli.output import Output, hint, print_json, print_rows


def params_of(pairs: list[str]) -> dict[str, Any]:
    """`k=v` binds the string v; `k:=v` binds v parsed as JSON (numbers, booleans, lists)."""
    out: dict[str, Any] = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name:
            raise typer.BadParameter(f"{pair!r} is not NAME=VALUE or NAME:=JSON", param_hint="'--param'")
        if name.endswith(":"):
            out[name[:-1]] = json_arg(value, f"--param {name[:-1]}")
        else:
            out[name] = value
    return out


def sql(
    ctx: typer.Context,
    query: Annotated[
        str | None, typer.Argument(help="The query; use {name:Type} placeholders for --param.")
    ] = None,
    workspace: WorkspaceOpt = None,
    param: Annotated[
        list[str] | None,
        typer.Option("--param", "-p", help="NAME=VALUE (a string) or NAME:=JSON; repeatable."),
    ] = None,
    file: Annotated[
        Path | None,
        typer.Option("--file", "-f", help="Read the query from a file ('-' for stdin).", allow_dash=True),
    ] = None,
    output: OutputOpt = Output.table,
) -> None:
    """Run a read-only SQL query against the workspace's tables (records, relationships, …).

    {workspace_id:String} is always bound to the workspace.
    """
    if (query is None) == (file is None):
        raise typer.BadParameter("give either a query or --file, not both", param_hint="QUERY")
    text = _read(file) if file is not None else query or ""
    s = session(ctx)
    ws = s.workspace(workspace)
    body = {
        "query": text,
        "params": params_of(param or []),
        "format": "csv" if output is Output.csv else "json",
    }
    if output is Output.csv:
        typer.echo(s.client().request("POST", "workspaces", ws, "sql", json=body, raw=True), nl=False)
        return
    print_result(s.client().post("workspaces", ws, "sql", json=body), output)


def print_result(out: dict[str, Any], output: Output) -> None:
    """Print an SQL result (shared by `sql` and `queries run`)."""
    if output is Output.json:
        print_json(out)
        return
    names = [m["name"] for m in out.get("meta", [])]
    print_rows([dict(zip(names, row, strict=False)) for row in out.get("data", [])], output)
    if out.get("truncated"):
        hint(f"truncated at {out.get('rows')} rows")


def _read(file: Path) -> str:
    try:
        return typer.get_text_stream("stdin").read() if str(file) == "-" else file.read_text()
    except OSError as exc:
        raise CliError("bad_input", f"--file: cannot read {file}: {exc.strerror or exc}") from exc
