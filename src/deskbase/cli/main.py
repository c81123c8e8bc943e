"""The `deskbase` command: one sub-app per resource, errors reported as `error: <code>: <message>`."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from typer.core import TyperGroup

from deskbase import __version__
from deskbase.cli import (
    analytics,
    batch,
    changes,
    collections,
    files,
    hooks,
    login,
    mailboxes,
    mcp,
    notifications,
    queries,
    records,
    relationships,
    reltypes,
    serve,
    sla,
    sql,
    teams,
    templates,
    tickets,
    tokens,
    triggers,
    users,
    workspaces,
)
from deskbase.cli.client import CliError
from deskbase.cli.common import Session


class DeskbaseGroup(TyperGroup):
    """Turns a CliError from any command into one line on stderr and exit status 1."""

    def invoke(self, ctx: typer.Context) -> Any:  # type: ignore[override]
        try:
            return super().invoke(ctx)
        except CliError as exc:
            typer.echo(exc.line(), err=True)
            raise typer.Exit(1) from exc
        finally:
            if isinstance(ctx.obj, Session):
                ctx.obj.close()

    def list_commands(self, ctx: typer.Context) -> list[str]:  # type: ignore[override]
        """Resource groups first, then single commands (batch, sql, login, serve), each in registration order."""
        names = super().list_commands(ctx)
        return sorted(names, key=lambda n: not isinstance(self.commands[n], TyperGroup))


app = typer.Typer(
    cls=DeskbaseGroup,
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    help="deskbase: a system of record for customer support. Talks to a running server over HTTP "
    "($DESKBASE_URL, $DESKBASE_TOKEN, or `deskbase login`); `deskbase serve` runs one.",
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"deskbase {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    url: Annotated[
        str | None,
        typer.Option(
            help="Server URL. Default: $DESKBASE_URL, then the saved login, then http://127.0.0.1:8765.",
            show_default=False,
        ),
    ] = None,
    token: Annotated[
        str | None,
        typer.Option(
            help="API token (dsk_…). Default: $DESKBASE_TOKEN, then the saved login.", show_default=False
        ),
    ] = None,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    ctx.obj = Session(url=url, token=token)


app.add_typer(workspaces.app, name="workspaces")
app.add_typer(collections.app, name="collections")
app.add_typer(templates.app, name="template")
app.add_typer(records.app, name="records")
app.add_typer(tickets.app, name="tickets")
app.add_typer(records.app, name="documents", help="Alias of `records` (the seed platform's word for them).")
app.add_typer(reltypes.app, name="relationship-types")
app.add_typer(relationships.app, name="relationships")
app.add_typer(queries.app, name="queries")
app.add_typer(analytics.app, name="analytics")
app.add_typer(sla.app, name="sla")
app.add_typer(tokens.app, name="tokens")
app.add_typer(users.app, name="users")
app.add_typer(teams.app, name="teams")
app.add_typer(notifications.app, name="notifications")
app.add_typer(triggers.app, name="triggers")
app.add_typer(hooks.app, name="hooks")
app.add_typer(mailboxes.app, name="mailboxes")
app.add_typer(files.app, name="files")
app.command("batch")(batch.batch)
app.command("changes")(changes.changes)
app.command("sql")(sql.sql)
app.command("login")(login.login)
app.command("whoami")(tokens.whoami)
app.command("serve", epilog=serve.EPILOG)(serve.serve)
app.command("worker", epilog=serve.EPILOG)(serve.worker)
app.command("mcp", epilog=mcp.EPILOG)(mcp.mcp)


def main() -> None:
    app(prog_name="deskbase")


if __name__ == "__main__":
    main()
