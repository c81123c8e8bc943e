"""`deskbase records` (alias `documents`): create, read, query, change and delete the records of a collection."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
import typer

from deskbase.cli.common import (
    JSON_HELP,
    OutputOpt,
    WorkspaceOpt,
    WriteOutputOpt,
    compact,
    follow_pages,
    if_match,
    json_arg,
    session,
)
from deskbase.cli.output import (
    CHANGE_COLUMNS,
    RECORD_COLUMNS,
    Output,
    hint,
    print_item,
    print_json,
    print_list,
    print_rows,
    print_written,
)

app = typer.Typer(help="Create, read, query, change and delete records.", no_args_is_help=True)

Collection = Annotated[str, typer.Argument(help="Collection id, e.g. tickets.")]
RecordId = Annotated[str, typer.Argument(help="Record id.")]
Data = Annotated[str, typer.Option("--data", "-d", help=f"Record data (a JSON object). {JSON_HELP}")]
IfMatch = Annotated[
    int | None,
    typer.Option("--if-match", help="Only if the record is still at this version (optimistic concurrency)."),
]


@app.command("upsert")
def upsert(
    ctx: typer.Context,
    collection: Collection,
    data: Data,
    workspace: WorkspaceOpt = None,
    record_id: Annotated[
        str | None, typer.Option("--id", help="Create or replace the record with this id.")
    ] = None,
    external_id: Annotated[str | None, typer.Option(help="Upsert by an id from another system…")] = None,
    external_source: Annotated[str | None, typer.Option(help="…and the name of that system.")] = None,
    output: WriteOutputOpt = None,
) -> None:
    """Create a record, or replace the one --id or --external-id names. Prints the record's id."""
    s = session(ctx)
    body = compact(
        {
            "data": json_arg(data, "--data"),
            "id": record_id,
            "external_id": external_id,
            "external_source": external_source,
        }
    )
    out = s.client().post("workspaces", s.workspace(workspace), "records", collection, json=body)
    print_written(out, output, out["id"])


@app.command("get")
def get(
    ctx: typer.Context,
    collection: Collection,
    record_id: RecordId,
    workspace: WorkspaceOpt = None,
    include_deleted: Annotated[
        bool, typer.Option("--include-deleted", help="Show the record even if deleted.")
    ] = False,
    output: OutputOpt = Output.table,
) -> None:
    """Show one record."""
    s = session(ctx)
    out = s.client().get(
        "workspaces",
        s.workspace(workspace),
        "records",
        collection,
        record_id,
        params={"include_deleted": "true" if include_deleted else None},
    )
    print_item(out, output)


@app.command("query")
def query(
    ctx: typer.Context,
    collection: Collection,
    workspace: WorkspaceOpt = None,
    filter: Annotated[
        str | None,
        typer.Option(
            help='Filter DSL, e.g. \'{"field": "data.status", "op": "eq", "value": "open"}\'. ' + JSON_HELP
        ),
    ] = None,
    sort: Annotated[
        str | None,
        typer.Option(
            help='Sort keys, e.g. \'[{"field": "data.priority", "direction": "asc"}]\'. ' + JSON_HELP
        ),
    ] = None,
    limit: Annotated[int | None, typer.Option(help="Records per page (server default 50, max 1000).")] = None,
    cursor: Annotated[
        str | None, typer.Option(help="Resume after the page that returned this cursor.")
    ] = None,
    all_pages: Annotated[
        bool, typer.Option("--all", help="Follow cursors and print every matching record.")
    ] = False,
    include_deleted: Annotated[
        bool, typer.Option("--include-deleted", help="Include deleted records.")
    ] = False,
    output: OutputOpt = Output.table,
) -> None:
    """Find records with a filter and sort order, a page at a time (or every page with --all)."""
    s = session(ctx)
    ws = s.workspace(workspace)
    params: dict[str, Any] = {
        "filter": _json_text(filter, "--filter"),
        "sort": _json_text(sort, "--sort"),
        "limit": limit,
        "include_deleted": "true" if include_deleted else None,
    }
    columns = [*RECORD_COLUMNS, "deleted"] if include_deleted else RECORD_COLUMNS

    def fetch(after: str | None) -> dict[str, Any]:
        return s.client().get("workspaces", ws, "records", collection, params={**params, "cursor": after})

    if all_pages:
        rows = follow_pages(fetch, cursor, "records")
        if output is Output.json:
            print_json({"data": rows, "next_cursor": None})
        else:
            print_rows(rows, output, columns)
        return
    page = fetch(cursor)
    print_list(page, output, columns)
    if output is not Output.json and page.get("next_cursor"):
        hint(f"more results: --cursor {page['next_cursor']}")


@app.command("patch")
def patch(
    ctx: typer.Context,
    collection: Collection,
    record_id: RecordId,
    data: Annotated[
        str,
        typer.Option(
            "--data", "-d", help=f"A JSON merge patch (RFC 7396): null removes a field. {JSON_HELP}"
        ),
    ],
    workspace: WorkspaceOpt = None,
    version: IfMatch = None,
    output: WriteOutputOpt = None,
) -> None:
    """Change some fields of a record's data; the result must still match the collection's schema."""
    s = session(ctx)
    out = s.client().patch(
        "workspaces",
        s.workspace(workspace),
        "records",
        collection,
        record_id,
        json={"data": json_arg(data, "--data")},
        headers=if_match(version),
    )
    print_written(out, output, f"{out['id']} (version {out['version']})")


@app.command("replace")
def replace(
    ctx: typer.Context,
    collection: Collection,
    record_id: RecordId,
    data: Data,
    workspace: WorkspaceOpt = None,
    version: IfMatch = None,
    output: WriteOutputOpt = None,
) -> None:
    """Replace a record's whole data."""
    s = session(ctx)
    out = s.client().request(
        "PUT",
        "workspaces",
        s.workspace(workspace),
        "records",
        collection,
        record_id,
        json={"data": json_arg(data, "--data")},
        headers=if_match(version),
    )
    print_written(out, output, f"{out['id']} (version {out['version']})")


@app.command("delete")
def delete(
    ctx: typer.Context,
    collection: Collection,
    record_id: RecordId,
    workspace: WorkspaceOpt = None,
    version: IfMatch = None,
    output: WriteOutputOpt = None,
) -> None:
    """Delete a record (kept in history) together with its relationships."""
    s = session(ctx)
    out = s.client().delete(
        "workspaces", s.workspace(workspace), "records", collection, record_id, headers=if_match(version)
    )
    print_written(out, output, f"deleted {collection}/{record_id}")


@app.command("history")
def history(
    ctx: typer.Context,
    collection: Collection,
    record_id: RecordId,
    workspace: WorkspaceOpt = None,
    after: Annotated[int, typer.Option(help="Only versions after this one.")] = 0,
    limit: Annotated[int, typer.Option(help="At most this many versions (max 1000).")] = 100,
    output: OutputOpt = Output.table,
) -> None:
    """Every version of a record: operation, actor, time and data."""
    s = session(ctx)
    out = s.client().get(
        "workspaces",
        s.workspace(workspace),
        "records",
        collection,
        record_id,
        "history",
        params={"after": after, "limit": limit},
    )
    print_list(out, output, CHANGE_COLUMNS)


def _json_text(value: str | None, flag: str) -> str | None:
    """Query-string JSON: read @file/@- and check it locally, then send it compact."""
    if value is None:
        return None
    return orjson.dumps(json_arg(value, flag)).decode()
