"""`deskbase login`: check a server and token, then remember them for later commands."""

from __future__ import annotations

from typing import Annotated

import typer

from deskbase.cli import config
from deskbase.cli.client import Client
from deskbase.cli.common import session


def login(
    ctx: typer.Context,
    url: Annotated[
        str | None, typer.Option(help=f"Server URL (default: $DESKBASE_URL or {config.DEFAULT_URL}).")
    ] = None,
    token: Annotated[str | None, typer.Option(help="API token (dsk_…); asked for when omitted.")] = None,
    workspace: Annotated[
        str | None, typer.Option("--workspace", "-w", help="Also save a default workspace.")
    ] = None,
) -> None:
    """Check a server URL and token, then save them for later commands.

    The file is ~/.config/deskbase/config.json (or config.json in $DESKBASE_CONFIG_DIR), readable by
    you only (mode 0600). Flags and DESKBASE_* variables still win over it.
    """
    profile = session(ctx).profile()
    url = url or profile.url
    token = token or profile.token or typer.prompt("Token", hide_input=True)
    client = Client(url, token)
    try:
        visible = client.get("workspaces")["data"]
    finally:
        client.close()
    path = config.save(url, token, workspace)
    typer.echo(f"logged in to {url} ({len(visible)} workspaces visible); saved to {path}")
