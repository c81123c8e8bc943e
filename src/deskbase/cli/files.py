"""`deskbase files`: upload a file, show its metadata, download its bytes."""

from __future__ import annotations

import mimetypes
import sys
from pathlib import Path
from typing import Annotated

import typer

from deskbase.cli.client import CliError
from deskbase.cli.common import OutputOpt, WorkspaceOpt, WriteOutputOpt, session
from deskbase.cli.output import Output, hint, print_item, print_written

app = typer.Typer(
    no_args_is_help=True,
    help="Files: upload attachments (then name their ids in a record's `attachments`), show and download "
    "them. Uploading needs write:files; reading needs read:files and read access to a record that refers "
    "to the file (or having uploaded it, until a record does).",
)


@app.command("upload")
def upload(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="The local file to upload.")],
    content_type: Annotated[
        str | None, typer.Option("--type", help="Its media type (default: guessed from the name).")
    ] = None,
    workspace: WorkspaceOpt = None,
    output: WriteOutputOpt = None,
) -> None:
    """Upload a file (streamed from disk); prints its id."""
    if not path.is_file():
        raise CliError("bad_input", f"{path}: no such file")
    s = session(ctx)
    kind = content_type or mimetypes.guess_type(path.name)[0]
    out = s.client().upload("workspaces", s.workspace(workspace), "files", source=path, content_type=kind)
    print_written(out, output, out["id"])
    if output is None:
        hint(f"{out['name']}: {out['size']} bytes, {out['content_type']}")


@app.command("show")
def show(
    ctx: typer.Context,
    file_id: Annotated[str, typer.Argument(help="The file's id.")],
    workspace: WorkspaceOpt = None,
    output: OutputOpt = Output.table,
) -> None:
    """Show a file's metadata: name, type, size, sha256, who uploaded it and when."""
    s = session(ctx)
    print_item(s.client().get("workspaces", s.workspace(workspace), "files", file_id), output)


@app.command("download")
def download(
    ctx: typer.Context,
    file_id: Annotated[str, typer.Argument(help="The file's id.")],
    out: Annotated[
        Path | None, typer.Option("--output", "-o", help="Where to write it (default: stdout, as with '-').")
    ] = None,
    workspace: WorkspaceOpt = None,
) -> None:
    """Download a file's bytes to a path or stdout."""
    s = session(ctx)
    segments = ("workspaces", s.workspace(workspace), "files", file_id, "content")
    if out is None or str(out) == "-":
        s.client().download(*segments, dest=sys.stdout.buffer)
        return
    partial = out.with_name(out.name + ".part")
    try:
        with partial.open("wb") as fh:
            n = s.client().download(*segments, dest=fh)
        partial.replace(out)
    except OSError as exc:
        raise CliError("bad_output", f"{out}: {exc.strerror or exc}") from exc
    finally:
        partial.unlink(missing_ok=True)
    hint(f"wrote {n} bytes to {out}")
