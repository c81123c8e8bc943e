"""`deskbase tokens`: mint, list and revoke API tokens; `deskbase whoami`: the token in use."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any

import typer

from deskbase.cli.common import JSON_HELP, OutputOpt, WriteOutputOpt, json_arg, session
from deskbase.cli.output import Output, hint, print_item, print_list, print_written
from deskbase.core.clock import SystemClock, iso

COLUMNS = ["id", "name", "grants", "expires_at", "revoked_at", "last_used_at"]
_IN = re.compile(r"^(\d+)([mhdw])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}

app = typer.Typer(
    no_args_is_help=True,
    help="API tokens: mint one with narrower grants (its value is shown once), list and revoke them. "
    "Managing tokens needs the admin permission.",
)


def expiry(value: str | None) -> str | None:
    """`90d`, `12h`, `30m`, `2w` from now, or an ISO-8601 time passed on as given (the server checks it)."""
    if value is None:
        return None
    m = _IN.match(value.strip())
    if not m:
        return value
    return iso(SystemClock().now() + timedelta(**{_UNITS[m.group(2)]: int(m.group(1))}))


def grants_of(
    grants: str | None, workspaces: list[str], permissions: list[str], collections: list[str]
) -> list[dict[str, Any]]:
    if grants is not None:
        if workspaces or permissions or collections:
            raise typer.BadParameter("give --grants, or --workspace/--permission/--collection, not both")
        return json_arg(grants, "--grants")  # type: ignore[no-any-return]
    if not workspaces or not permissions:
        raise typer.BadParameter("give at least one --workspace and one --permission (or --grants)")
    scope: dict[str, Any] = {"workspaces": workspaces}
    if collections:
        scope["collections"] = collections
    return [{"scope": scope, "permissions": permissions}]


@app.command("create")
def create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="What the token is for (shown in lists and the audit trail).")],
    workspace: Annotated[
        list[str] | None,
        typer.Option("--workspace", "-w", help="A workspace the token reaches ('*' = all); repeatable."),
    ] = None,
    permission: Annotated[
        list[str] | None,
        typer.Option(
            "--permission",
            "-p",
            help="read:records, write:records, read:collections, write:collections, read:relationships, "
            "write:relationships, sql, import, read:audit, read:files, write:files, admin or '*'; repeatable.",
        ),
    ] = None,
    collection: Annotated[
        list[str] | None,
        typer.Option("--collection", "-c", help="Limit the token to these collections; repeatable."),
    ] = None,
    grants: Annotated[
        str | None, typer.Option(help=f"Several grants as a JSON list (instead of -w/-p/-c). {JSON_HELP}")
    ] = None,
    expires: Annotated[
        str | None, typer.Option(help="When the token stops working: 90d, 12h, 30m, 2w, or an ISO-8601 time.")
    ] = None,
    output: WriteOutputOpt = None,
) -> None:
    """Mint a token with grants equal to or narrower than your own. Prints the token (shown only this once)."""
    body = {
        "name": name,
        "grants": grants_of(grants, workspace or [], permission or [], collection or []),
        "expires_at": expiry(expires),
    }
    out = session(ctx).client().post("tokens", json={k: v for k, v in body.items() if v is not None})
    print_written(out, output, out["token"])
    if output is None:
        hint(f"token {out['id']} ({out['name']}): this is the only time it is shown; store it now")


@app.command("list")
def list_(ctx: typer.Context, output: OutputOpt = Output.table) -> None:
    """List the tokens you manage (those you minted, and theirs; a server admin sees all)."""
    print_list(session(ctx).client().get("tokens"), output, COLUMNS)


@app.command("revoke")
def revoke(
    ctx: typer.Context, token_id: Annotated[str, typer.Argument(help="The token's id (tok_…).")]
) -> None:
    """Revoke a token and every token minted from it; they stop working at once."""
    out = session(ctx).client().delete("tokens", token_id)
    typer.echo(f"revoked token {out['id']} ({out['name']})")


def whoami(ctx: typer.Context, output: OutputOpt = Output.table) -> None:
    """Show the token in use: its id, name, grants and expiry (and the server it talks to)."""
    s = session(ctx)
    me = s.client().get("tokens", "current")
    print_item(me, output)
    if output is not Output.json:
        hint(f"server: {s.client().url}")
