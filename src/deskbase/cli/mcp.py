"""`deskbase mcp`: serve MCP over stdio for a client that launches it (Claude Desktop, editors)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from deskbase.cli.client import CliError
from deskbase.cli.common import session
from deskbase.core.errors import DeskbaseError

EPILOG = (
    "Claude Desktop (claude_desktop_config.json): "
    '{"mcpServers": {"deskbase": {"command": "deskbase", "args": ["mcp"], '
    '"env": {"DESKBASE_URL": "http://127.0.0.1:8765", "DESKBASE_TOKEN": "dsk_…"}}}}. '
    "docs/mcp.md lists the tools."
)


def mcp(
    ctx: typer.Context,
    data_dir: Annotated[
        Path | None,
        typer.Option(
            "--data-dir",
            help="Run the tools on this data directory in this process (only when no server runs on it), as "
            "its admin token or the --token given. Default: forward to the server at --url.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Serve MCP on stdin/stdout: forward every request to a running server's /mcp with your token
    ($DESKBASE_URL and $DESKBASE_TOKEN, or the saved login), or work on a local data directory."""
    from deskbase.mcp import stdio

    profile = session(ctx).profile()
    try:
        if data_dir is not None:
            stdio.local(data_dir, session(ctx).token or None)
            return
        if not profile.token:
            raise CliError(
                "unauthorized",
                "no token configured: pass --token, set DESKBASE_TOKEN or run `deskbase login`",
            )
        # Ask first, as `whoami` does: a server that is down or refuses the token is one line here, where
        # the MCP client would only report "an error response" on the first request.
        session(ctx).client().get("tokens", "current")
        stdio.proxy(profile.url, profile.token)
    except DeskbaseError as exc:
        raise CliError(exc.code, exc.message, exc.details) from exc
