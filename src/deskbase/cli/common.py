"""What every command shares: the per-run session (server, token, workspace), common options, JSON flag values."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import orjson
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn

from deskbase.cli import config
from deskbase.cli.client import Client, CliError
from deskbase.cli.output import Output

WorkspaceOpt = Annotated[
    str | None,
    typer.Option(
        "--workspace",
        "-w",
        show_default=False,
        help="Workspace id (default: $DESKBASE_WORKSPACE, then the saved login).",
    ),
]
OutputOpt = Annotated[Output, typer.Option("--output", "-o", help="How to print the result.")]
WriteOutputOpt = Annotated[
    Output | None,
    typer.Option(
        "--output",
        "-o",
        show_default=False,
        help="Print the full result (table, json or csv) instead of a short line.",
    ),
]
JSON_HELP = "Inline JSON, @file, or @- for stdin."


@dataclass
class Session:
    """Flags of the root command, resolved lazily so `--help` and local commands never need a server."""

    url: str | None = None
    token: str | None = None
    _client: Client | None = field(default=None, repr=False)

    def profile(self, workspace: str | None = None) -> config.Profile:
        return config.resolve(self.url, self.token, workspace)

    def client(self) -> Client:
        if self._client is None:
            p = self.profile()
            self._client = Client(p.url, p.token)
        return self._client

    def workspace(self, flag: str | None) -> str:
        ws = self.profile(flag).workspace
        if not ws:
            raise typer.BadParameter(
                "no workspace given: pass --workspace or set DESKBASE_WORKSPACE", param_hint="'--workspace'"
            )
        return ws

    def close(self) -> None:
        if self._client is not None:
            self._client.close()


def session(ctx: typer.Context) -> Session:
    """The root command's Session (a fresh one when a sub-app runs on its own)."""
    return ctx.ensure_object(Session)


def json_arg(value: str, flag: str) -> Any:
    """Parse a JSON flag: inline JSON, `@path` for a file, `@-` for stdin. Bad input never reaches the server."""
    text: str | bytes = value
    if value.startswith("@"):
        source = value[1:]
        try:
            text = sys.stdin.read() if source == "-" else Path(source).expanduser().read_bytes()
        except OSError as exc:
            raise CliError("bad_input", f"{flag}: cannot read {source}: {exc.strerror or exc}") from exc
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        where = "stdin" if value == "@-" else value[1:] if value.startswith("@") else "the value"
        raise CliError("invalid_json", f"{flag}: {where} is not valid JSON: {exc}") from exc


def compact(body: dict[str, Any]) -> dict[str, Any]:
    """Leave out options the user did not give, so the server applies its own defaults."""
    return {k: v for k, v in body.items() if v is not None}


def if_match(version: int | None) -> dict[str, str] | None:
    return {"If-Match": f'"{version}"'} if version is not None else None


@contextmanager
def progress(description: str, total: int | None) -> Iterator[Callable[[int], None]]:
    """A Rich progress display on stderr (stdout keeps the result); yields `advance(n)`."""
    columns = [
        SpinnerColumn(),
        TextColumn("{task.description}"),
        *([BarColumn(), MofNCompleteColumn()] if total else [TextColumn("{task.completed}")]),
    ]
    console = Console(stderr=True)
    # Off when stderr is not a terminal: logs and captured output should not fill with redraws.
    with Progress(*columns, console=console, transient=True, disable=not console.is_terminal) as bar:
        task = bar.add_task(description, total=total)
        yield lambda n: bar.advance(task, n)


def follow_pages(fetch: Callable[[str | None], dict[str, Any]], cursor: str | None, what: str) -> list[Any]:
    """Fetch page after page until the server returns no `next_cursor`."""
    rows: list[Any] = []
    with progress(f"fetching {what}", None) as advance:
        while True:
            page = fetch(cursor)
            rows.extend(page.get("data") or [])
            advance(len(page.get("data") or []))
            cursor = page.get("next_cursor")
            if not cursor:
                return rows
