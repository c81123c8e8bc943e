"""`deskbase analytics`: rebuild or verify the SQL replica, through the running server's admin API, or
directly on a data directory (`--data-dir`) when no server owns it (chDB allows one process per directory)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from deskbase.cli.common import OutputOpt, session
from deskbase.cli.output import Output, print_json

app = typer.Typer(
    no_args_is_help=True, help="The SQL replica: rebuild it from the primary store, or verify it."
)

DataDirOpt = Annotated[
    Path | None,
    typer.Option(
        "--data-dir", help="Work on this data directory directly (only when no server is running on it)."
    ),
]


def _local(data_dir: Path, action: str) -> dict[str, Any]:
    """Through the composition root, so the replica has the same tables as the server's (`sla_*` too)."""
    from deskbase.analytics.service import Analytics
    from deskbase.compose import compose
    from deskbase.config import Settings

    settings = Settings.from_env(data_dir=str(data_dir), replicate=True)
    comp = compose(settings)
    replica = comp.core.extensions[Analytics].replica
    try:
        if action == "rebuild":
            replayed = replica.rebuild()
            return {"replayed_changes": replayed, "watermark": replica.watermark}
        replica.catch_up()
        diffs = replica.verify()
        return {"ok": not diffs, "differences": diffs, "watermark": replica.watermark}
    finally:
        comp.close()


def _run(ctx: typer.Context, action: str, data_dir: Path | None) -> dict[str, Any]:
    if data_dir is not None:
        return _local(data_dir, action)
    client = session(ctx).client()
    if action == "rebuild":
        return client.post("admin", "analytics", "rebuild", json={})
    return client.get("admin", "analytics", "verify")


@app.command()
def rebuild(ctx: typer.Context, data_dir: DataDirOpt = None, output: OutputOpt = Output.table) -> None:
    """Drop the replica and replay it from the primary store."""
    out = _run(ctx, "rebuild", data_dir)
    if output is Output.json:
        print_json(out)
    else:
        typer.echo(f"rebuilt: replayed {out['replayed_changes']} changes (watermark {out['watermark']})")


@app.command()
def verify(ctx: typer.Context, data_dir: DataDirOpt = None, output: OutputOpt = Output.table) -> None:
    """Compare live counts and max versions per collection and relationship type; exit 1 on any difference."""
    out = _run(ctx, "verify", data_dir)
    if output is Output.json:
        print_json(out)
    elif out["ok"]:
        typer.echo(f"ok: the replica matches the primary store (watermark {out['watermark']})")
    else:
        for d in out["differences"]:
            typer.echo(f"difference: {d}", err=True)
    if not out["ok"]:
        raise typer.Exit(1)
