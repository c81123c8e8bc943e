"""`deskbase relationships`: link records, list a record's links, remove links."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

import typer

from deskbase.cli.common import (
    JSON_HELP,
    OutputOpt,
    WorkspaceOpt,
    WriteOutputOpt,
    compact,
    follow_pages,
    json_arg,
    session,
)
from deskbase.cli.output import Output, hint, print_item, print_json, print_list, print_rows, print_written

COLUMNS = [
    "id",
    "rel_type",
    "source.collection",
    "source.id",
    "target.collection",
    "target.id",
    "data.*",
    "version",
]

app = typer.Typer(help="Link records, list a record's links, and remove links.", no_args_is_help=True)


class Direction(StrEnum):
    outgoing = "outgoing"
    incoming = "incoming"
    both = "both"


def _endpoint(value: str) -> dict[str, str]:
    collection, _, rid = value.partition("/")
    if not collection or not rid:
        raise typer.BadParameter(f"{value!r} is not COLLECTION/ID, e.g. tickets/0193…")
    return {"collection": collection, "id": rid}


@app.command("upsert")
def upsert(
    ctx: typer.Context,
    source: Annotated[
        dict[str, str],
        typer.Option(parser=_endpoint, metavar="COLLECTION/ID", help="The record the link starts from."),
    ],
    target: Annotated[
        dict[str, str],
        typer.Option(parser=_endpoint, metavar="COLLECTION/ID", help="The record the link points to."),
    ],
    rel_type: Annotated[str, typer.Option("--type", help="Relationship type, e.g. submitted_by.")],
    workspace: WorkspaceOpt = None,
    replace: Annotated[
        bool,
        typer.Option(
            "--replace", help="For a cardinality-one type: replace the source's live link instead of failing."
        ),
    ] = False,
    data: Annotated[str | None, typer.Option(help=f"Link data (a JSON object). {JSON_HELP}")] = None,
    output: WriteOutputOpt = None,
) -> None:
    """Link two live records; prints the link's id."""
    s = session(ctx)
    body = compact(
        {
            "rel_type": rel_type,
            "source": source,
            "target": target,
            "data": json_arg(data, "--data") if data else None,
            "replace": replace or None,
        }
    )
    out = s.client().post("workspaces", s.workspace(workspace), "relationships", json=body)
    print_written(out, output, out["id"])


@app.command("list")
def list_(
    ctx: typer.Context,
    collection: str,
    record_id: str,
    workspace: WorkspaceOpt = None,
    rel_type: Annotated[str | None, typer.Option("--type", help="Only links of this type.")] = None,
    direction: Annotated[
        Direction, typer.Option(help="Links leaving the record, arriving at it, or both.")
    ] = Direction.outgoing,
    limit: Annotated[int | None, typer.Option(help="Links per page (server default 50).")] = None,
    cursor: Annotated[
        str | None, typer.Option(help="Resume after the page that returned this cursor.")
    ] = None,
    all_pages: Annotated[bool, typer.Option("--all", help="Follow cursors and print every link.")] = False,
    output: OutputOpt = Output.table,
) -> None:
    """List the links of one record."""
    s = session(ctx)
    ws = s.workspace(workspace)
    params: dict[str, Any] = {"type": rel_type, "direction": direction.value, "limit": limit}

    def fetch(after: str | None) -> dict[str, Any]:
        return s.client().get(
            "workspaces",
            ws,
            "records",
            collection,
            record_id,
            "relationships",
            params={**params, "cursor": after},
        )

    if all_pages:
        rows = follow_pages(fetch, cursor, "relationships")
        if output is Output.json:
            print_json({"data": rows, "next_cursor": None})
        else:
            print_rows(rows, output, COLUMNS)
        return
    page = fetch(cursor)
    print_list(page, output, COLUMNS)
    if output is not Output.json and page.get("next_cursor"):
        hint(f"more results: --cursor {page['next_cursor']}")


@app.command("get")
def get(
    ctx: typer.Context, rel_id: str, workspace: WorkspaceOpt = None, output: OutputOpt = Output.table
) -> None:
    """Show one link."""
    s = session(ctx)
    print_item(s.client().get("workspaces", s.workspace(workspace), "relationships", rel_id), output)


@app.command("delete")
def delete(
    ctx: typer.Context, rel_id: str, workspace: WorkspaceOpt = None, output: WriteOutputOpt = None
) -> None:
    """Remove a link (kept in history)."""
    s = session(ctx)
    out = s.client().delete("workspaces", s.workspace(workspace), "relationships", rel_id)
    print_written(out, output, f"deleted relationship {rel_id}")
