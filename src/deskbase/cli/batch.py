"""`deskbase batch`: send a file of operations; one transaction per request of at most 1000 operations."""

from __future__ import annotations

from contextlib import nullcontext
from typing import Annotated, Any

import typer

from deskbase.cli.client import CliError
from deskbase.cli.common import JSON_HELP, WorkspaceOpt, WriteOutputOpt, json_arg, progress, session
from deskbase.cli.output import Output, print_json, print_rows

CHUNK = 1000


def batch(
    ctx: typer.Context,
    operations: Annotated[
        str, typer.Option(help=f'A list of operations, or {{"operations": list}}. {JSON_HELP}')
    ],
    workspace: WorkspaceOpt = None,
    chunk_size: Annotated[
        int, typer.Option(min=1, max=CHUNK, help="Operations per request (the server's limit is 1000).")
    ] = CHUNK,
    output: WriteOutputOpt = None,
) -> None:
    """Apply a file of operations atomically: all of them, or none.

    Operation types: upsert_record, patch_record, delete_record, upsert_relationship,
    delete_relationship (see the API's batch contract).

    A file with more operations than --chunk-size is sent in chunks, and EACH CHUNK IS A SEPARATE
    TRANSACTION: if chunk N fails, the run stops, chunks before N stay applied and the error names the
    chunk. "$ref:" ids only reach operations in the same chunk.
    """
    s = session(ctx)
    ws = s.workspace(workspace)
    loaded = json_arg(operations, "--operations")
    ops = loaded.get("operations") if isinstance(loaded, dict) else loaded
    if not isinstance(ops, list):
        raise CliError("bad_input", '--operations must hold a list of operations or {"operations": [...]}')
    chunks = [ops[i : i + chunk_size] for i in range(0, len(ops), chunk_size)] or [ops]
    results: list[dict[str, Any]] = []
    shown = progress("applying batch", len(chunks)) if len(chunks) > 1 else nullcontext(lambda _: None)
    with shown as advance:
        for n, chunk in enumerate(chunks):
            start = n * chunk_size
            try:
                out = s.client().post("workspaces", ws, "batch", json={"operations": chunk})
            except CliError as exc:
                if len(chunks) == 1:
                    raise
                raise _chunk_failed(exc, n, len(chunks), start, len(chunk)) from exc
            results.extend({**r, "index": start + r.get("index", i)} for i, r in enumerate(out["results"]))
            advance(1)
    if output is None:
        created = sum(1 for r in results if r.get("created"))
        typer.echo(
            f"applied {len(results)} operations ({created} created)"
            + (f" in {len(chunks)} transactions" if len(chunks) > 1 else "")
        )
    elif output is Output.json:
        print_json({"results": results})
    else:
        rows = [
            {
                "index": r["index"],
                "type": r.get("type"),
                "created": r.get("created"),
                **(r.get("record") or r.get("relationship") or {}),
            }
            for r in results
        ]
        print_rows(rows, output, ["index", "type", "created", "id", "collection", "rel_type", "version"])


def _chunk_failed(exc: CliError, n: int, total: int, start: int, size: int) -> CliError:
    """Say which chunk failed, what was already committed, and the failing operation's index in the file."""
    kept = (
        "nothing was applied"
        if n == 0
        else "chunk 1 stays applied"
        if n == 1
        else f"chunks 1-{n} stay applied"
    )
    index = exc.details.get("operation_index")
    where = f" (operation {start + index} of the file)" if isinstance(index, int) else ""
    return CliError(
        exc.code,
        f"chunk {n + 1} of {total} (operations {start}-{start + size - 1}) failed and "
        f"{kept}: {exc.message}{where}",
        exc.details,
    )
