"""`deskbase teams`: a workspace's teams — their members (with capacities) and assignment rule."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

import typer

from deskbase.cli.common import OutputOpt, WorkspaceOpt, WriteOutputOpt, session
from deskbase.cli.output import Output, print_item, print_list, print_written

COLUMNS = ["id", "name", "rule", "members", "updated_at"]

app = typer.Typer(
    no_args_is_help=True,
    help="Teams: named groups of a workspace's members with an assignment rule (manual, round_robin, "
    "least_loaded). A ticket entering a team unassigned goes to an online agent of it by the rule. Reading "
    "needs access to the workspace; changing teams needs the admin permission over it.",
)


class Rule(StrEnum):
    manual = "manual"
    round_robin = "round_robin"
    least_loaded = "least_loaded"


def _member(spec: str) -> dict[str, Any]:
    """`email` or `email:capacity` (a user id works in place of the email)."""
    who, sep, cap = spec.rpartition(":") if ":" in spec else (spec, "", "")
    if not sep:
        return {"user": spec}
    if not cap.isdigit():
        raise typer.BadParameter(
            f"{spec!r}: the capacity after ':' is a whole number", param_hint="'--member'"
        )
    return {"user": who, "capacity": int(cap)}


def _summary(team: dict[str, Any]) -> dict[str, Any]:
    names = [m["email"] + (f":{m['capacity']}" if m["capacity"] is not None else "") for m in team["members"]]
    return {**team, "members": ", ".join(names)}


@app.command("list")
def list_(ctx: typer.Context, workspace: WorkspaceOpt = None, output: OutputOpt = Output.table) -> None:
    """List the workspace's teams with their rule and members (email:capacity)."""
    s = session(ctx)
    out = s.client().get("workspaces", s.workspace(workspace), "teams")
    if output is not Output.json:
        out = {**out, "data": [_summary(t) for t in out["data"]]}
    print_list(out, output, COLUMNS)


@app.command("show")
def show(
    ctx: typer.Context, team_id: str, workspace: WorkspaceOpt = None, output: OutputOpt = Output.table
) -> None:
    """Show one team."""
    s = session(ctx)
    out = s.client().get("workspaces", s.workspace(workspace), "teams", team_id)
    print_item(out if output is Output.json else _summary(out), output)


@app.command("put")
def put(
    ctx: typer.Context,
    team_id: Annotated[
        str, typer.Argument(help="The team's id: a lowercase slug (tickets carry it as `team`).")
    ],
    name: Annotated[str, typer.Option(help="The team's display name.")],
    rule: Annotated[
        Rule, typer.Option(help="How a ticket entering the team unassigned is assigned.")
    ] = Rule.manual,
    member: Annotated[
        list[str] | None,
        typer.Option(
            help="A member, in rotation order: email (or user id), optionally :capacity (most open tickets the "
            "rule gives them). Repeat for each member; the list replaces the team's members."
        ),
    ] = None,
    workspace: WorkspaceOpt = None,
    output: WriteOutputOpt = None,
) -> None:
    """Create or replace a team (admin)."""
    s = session(ctx)
    body = {"name": name, "rule": rule.value, "members": [_member(m) for m in member or []]}
    out = s.client().put("workspaces", s.workspace(workspace), "teams", team_id, json=body)
    print_written(out, output, f"team {out['id']}: {out['rule']}, {len(out['members'])} member(s)")


@app.command("delete")
def delete(ctx: typer.Context, team_id: str, workspace: WorkspaceOpt = None) -> None:
    """Delete a team (admin). Tickets that name it keep the name."""
    s = session(ctx)
    s.client().delete("workspaces", s.workspace(workspace), "teams", team_id)
    typer.echo(f"deleted team {team_id}")
