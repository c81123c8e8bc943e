"""`deskbase users`: create, list, show, suspend and reactivate the people who sign in, and reset a password
or a second factor."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from deskbase.cli.client import Client, CliError
from deskbase.cli.common import OutputOpt, WriteOutputOpt, compact, session
from deskbase.cli.output import Output, hint, print_item, print_list, print_written

COLUMNS = ["id", "email", "name", "status", "server_admin", "two_step", "time_zone"]
UserArg = Annotated[str, typer.Argument(help="The user's email or id (usr_…).")]

app = typer.Typer(
    no_args_is_help=True,
    help="People who sign in to the console: create, list, show, suspend, reactivate, reset a password or "
    "two-step sign-in. "
    "Creating, suspending and resetting need a server admin; others see the people of their workspaces.",
)


def user_id(client: Client, who: str) -> str:
    """An id as given, or the id of the user with this email."""
    if who.startswith("usr_"):
        return who
    found = client.get("users", params={"email": who})["data"]
    if not found:
        raise CliError("not_found", f"no user with email {who!r}")
    return str(found[0]["id"])


def _stdin_password() -> str:
    value = sys.stdin.readline().rstrip("\n")
    if not value:
        raise typer.BadParameter("no password on standard input", param_hint="'--password-stdin'")
    return value


@app.command("create")
def create(
    ctx: typer.Context,
    email: Annotated[str, typer.Argument(help="The person's email (how they sign in).")],
    name: Annotated[str | None, typer.Option(help="Display name (default: the email's local part).")] = None,
    time_zone: Annotated[
        str | None, typer.Option(help="IANA time zone, e.g. Europe/Lisbon (default UTC).")
    ] = None,
    server_admin: Annotated[
        bool, typer.Option("--server-admin", help="Make the user a server admin.")
    ] = False,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the user's password from the first line of stdin.")
    ] = False,
    output: WriteOutputOpt = None,
) -> None:
    """Create a user (server admins). Without a password, give them a link with `users reset-password`."""
    body: dict[str, Any] = compact({"email": email, "name": name, "time_zone": time_zone})
    if server_admin:
        body["server_admin"] = True
    if password_stdin:
        body["password"] = _stdin_password()
    out = session(ctx).client().post("users", json=body)
    print_written(out, output, f"created user {out['id']} ({out['email']})")
    if output is None and not password_stdin:
        hint(f"no password yet: `deskbase users reset-password {out['email']}` prints a link to set one")


@app.command("list")
def list_(ctx: typer.Context, output: OutputOpt = Output.table) -> None:
    """List users: all of them for a server admin, else the people of your workspaces."""
    client = session(ctx).client()
    rows: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        page = client.get("users", params=compact({"limit": 1000, "cursor": cursor}))
        rows += page["data"]
        cursor = page.get("next_cursor")
        if not cursor:
            break
    if output is not Output.json:  # two-step sign-in as on/off, blank where you may not see it
        rows = [{**r, "two_step": _two_step(r)} for r in rows]
    print_list({"data": rows}, output, COLUMNS)


def _two_step(user: dict[str, Any]) -> str:
    shown = user.get("two_factor")
    return "" if not isinstance(shown, dict) else "on" if shown.get("enabled") else "off"


@app.command("show")
def show(ctx: typer.Context, who: UserArg, output: OutputOpt = Output.table) -> None:
    """Show one user."""
    client = session(ctx).client()
    print_item(client.get("users", user_id(client, who)), output)


def _status(ctx: typer.Context, who: str, status: str) -> dict[str, Any]:
    client = session(ctx).client()
    return client.patch("users", user_id(client, who), json={"status": status})  # type: ignore[no-any-return]


@app.command("suspend")
def suspend(ctx: typer.Context, who: UserArg) -> None:
    """Suspend a user: their tokens are revoked and their sessions end at once (server admins)."""
    out = _status(ctx, who, "suspended")
    typer.echo(f"suspended user {out['id']} ({out['email']}); their tokens are revoked and sessions ended")


@app.command("reactivate")
def reactivate(ctx: typer.Context, who: UserArg) -> None:
    """Let a suspended user sign in again (their old tokens stay revoked)."""
    out = _status(ctx, who, "active")
    typer.echo(f"reactivated user {out['id']} ({out['email']})")


@app.command("reset-password")
def reset_password(
    ctx: typer.Context,
    who: UserArg,
    password_stdin: Annotated[
        bool,
        typer.Option("--password-stdin", help="Set the password read from the first line of stdin instead."),
    ] = False,
) -> None:
    """Print a one-time link (valid 24 hours) for the user to choose a new password, or set one from stdin.
    Either way the user's console sessions end."""
    client = session(ctx).client()
    uid = user_id(client, who)
    if password_stdin:
        client.put("users", uid, "password", json={"password": _stdin_password()})
        typer.echo(f"password set for user {uid}; their console sessions ended")
        return
    out = client.post("users", uid, "password-reset")
    typer.echo(client.url.rstrip("/") + out["path"])
    hint(f"one use, until {out['expires_at']}; send it to the user, it is shown only now")


@app.command("reset-totp")
def reset_totp(ctx: typer.Context, who: UserArg) -> None:
    """Switch a user's two-step sign-in (TOTP) off, recovery codes included (server admins).
    For someone who lost their authenticator and their codes: they sign in with their password, then enrol again."""
    client = session(ctx).client()
    uid = user_id(client, who)
    client.delete("users", uid, "totp")
    typer.echo(
        f"two-step sign-in of user {uid} is off; they sign in with their password alone until they enrol"
    )
