"""`deskbase serve`: run the API server in this process (the one process that owns the data directory)."""

from __future__ import annotations

from typing import Annotated

import typer

from deskbase.cli.client import CliError
from deskbase.config import describe
from deskbase.core.errors import DeskbaseError

_HELP = {s["name"]: s["help"] for s in describe()}
EPILOG = "Settings (environment variables):\n\n" + "\n\n".join(
    f"{s['env']} (default {s['default']!r}): {s['help']}" for s in describe()
)


def serve(
    host: Annotated[str | None, typer.Option(help=_HELP["host"], show_default=False)] = None,
    port: Annotated[int | None, typer.Option(help=_HELP["port"], show_default=False)] = None,
    data_dir: Annotated[str | None, typer.Option(help=_HELP["data_dir"], show_default=False)] = None,
    demo: Annotated[bool, typer.Option("--demo", help="Load demo support data on first start.")] = False,
    background: Annotated[
        bool,
        typer.Option(
            "--background/--no-background",
            help="Run the background loops (replicator, SLA scheduler, webhooks, mail) in this process too; "
            "--no-background serves HTTP only and leaves them to `deskbase worker` processes.",
        ),
    ] = True,
) -> None:
    """Start the HTTP API (and its background work) on this machine.

    On first start it creates an admin token, stores it (0600) in the data directory and prints it once.
    Flags override DESKBASE_* environment variables.
    """
    from deskbase.config import Settings

    try:
        settings = Settings.from_env(data_dir=data_dir, host=host, port=port)
    except ValueError as exc:
        raise CliError("bad_setting", str(exc)) from exc
    try:
        from deskbase.server import serve as run
    except ModuleNotFoundError as exc:
        if exc.name != "deskbase.server":
            raise
        raise CliError("unavailable", "this install has no server module (deskbase.server)") from exc
    try:
        run(settings, demo=demo, background=background)
    except DeskbaseError as exc:  # a startup check failed: one line, not a traceback
        raise CliError(exc.code, exc.message, exc.details) from exc


def worker(
    data_dir: Annotated[str | None, typer.Option(help=_HELP["data_dir"], show_default=False)] = None,
) -> None:
    """Run the background loops without HTTP (scale-out: beside `serve --no-background` processes).

    Each loop holds a lease in the primary store, so several workers run each loop once and take over
    within 10 s when its holder dies. Stops on SIGTERM or Ctrl-C. Settings come from DESKBASE_* variables.
    """
    from deskbase.config import Settings

    try:
        settings = Settings.from_env(data_dir=data_dir)
    except ValueError as exc:
        raise CliError("bad_setting", str(exc)) from exc
    from deskbase.worker import run_worker

    try:
        run_worker(settings)
    except DeskbaseError as exc:
        raise CliError(exc.code, exc.message, exc.details) from exc
