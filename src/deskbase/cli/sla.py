"""`deskbase sla`: calendars and policies (versioned), a ticket's clocks, at-risk clocks, attainment and
what-if simulation."""

from __future__ import annotations

from typing import Annotated

import typer

from deskbase.cli.common import OutputOpt, WorkspaceOpt, json_arg, session
from deskbase.cli.output import Output, print_item, print_json, print_list, print_rows

app = typer.Typer(
    no_args_is_help=True, help="SLA management: calendars, policies, clocks, at-risk, simulation."
)
calendars = typer.Typer(
    no_args_is_help=True, help="Business-hours calendars (IANA zone, weekly hours, holidays)."
)
policies = typer.Typer(
    no_args_is_help=True, help="SLA policies, tried in order: the first that matches applies."
)
app.add_typer(calendars, name="calendars")
app.add_typer(policies, name="policies")


def _config_commands(group: typer.Typer, plural: str, noun: str) -> None:
    @group.command("list")
    def list_(ctx: typer.Context, workspace: WorkspaceOpt = None, output: OutputOpt = Output.table) -> None:
        s = session(ctx)
        print_list(
            s.client().get("workspaces", s.workspace(workspace), "sla", plural),
            output,
            ["id", "name", "position", "version", "effective_from"],
        )

    list_.__doc__ = f"List the workspace's {plural}."

    @group.command()
    def get(
        ctx: typer.Context, cid: str, workspace: WorkspaceOpt = None, output: OutputOpt = Output.json
    ) -> None:
        s = session(ctx)
        print_item(s.client().get("workspaces", s.workspace(workspace), "sla", plural, cid), output)

    get.__doc__ = f"Show one {noun} (its current version)."

    @group.command()
    def upsert(
        ctx: typer.Context,
        cid: str,
        definition: Annotated[
            str, typer.Option("--definition", "-d", help="The JSON form, inline or @file.")
        ],
        position: Annotated[
            int | None, typer.Option(help="Place in the policy order (0 = tried first).")
        ] = None,
        effective_from: Annotated[
            str | None, typer.Option(help="ISO time it takes effect (default now).")
        ] = None,
        workspace: WorkspaceOpt = None,
        output: OutputOpt = Output.table,
    ) -> None:
        s = session(ctx)
        body = {**json_arg(definition, "--definition")}
        if position is not None:
            body["position"] = position
        if effective_from is not None:
            body["effective_from"] = effective_from
        out = s.client().put("workspaces", s.workspace(workspace), "sla", plural, cid, json=body)
        if output is Output.json:
            print_json(out)
        else:
            typer.echo(f"{cid} (version {out['version']})")

    upsert.__doc__ = (
        f"Save a new version of a {noun}. Completed SLA instances never change; running ones keep "
        "their elapsed time and re-base on the new version."
    )

    @group.command()
    def history(
        ctx: typer.Context, cid: str, workspace: WorkspaceOpt = None, output: OutputOpt = Output.table
    ) -> None:
        s = session(ctx)
        print_list(
            s.client().get("workspaces", s.workspace(workspace), "sla", plural, cid, "history"),
            output,
            ["version", "effective_from", "created_at", "deleted"],
        )

    history.__doc__ = f"Every version of a {noun}."

    @group.command()
    def delete(ctx: typer.Context, cid: str, workspace: WorkspaceOpt = None) -> None:
        s = session(ctx)
        s.client().delete("workspaces", s.workspace(workspace), "sla", plural, cid)
        typer.echo(f"deleted {noun} {cid}")

    delete.__doc__ = f"Delete a {noun} (a new, deleted version: history is kept)."


_config_commands(calendars, "calendars", "calendar")
_config_commands(policies, "policies", "policy")


@app.command()
def ticket(
    ctx: typer.Context, ticket_id: str, workspace: WorkspaceOpt = None, output: OutputOpt = Output.table
) -> None:
    """A ticket's SLA clocks (and, with -o json, its events, metrics and which policy applies and why)."""
    s = session(ctx)
    out = s.client().get("workspaces", s.workspace(workspace), "tickets", ticket_id, "sla")
    if output is Output.json:
        print_json(out)
        return
    print_rows(
        out["sla"], output, ["metric", "cycle", "state", "target_at", "remaining_business_seconds", "paused"]
    )


@app.command("at-risk")
def at_risk(
    ctx: typer.Context,
    within: Annotated[str, typer.Option(help="Horizon: 90s, 45m, 2h, 3d.")] = "2h",
    limit: int = 50,
    workspace: WorkspaceOpt = None,
    output: OutputOpt = Output.table,
) -> None:
    """Running clocks due within the horizon (breached first)."""
    s = session(ctx)
    out = s.client().get(
        "workspaces", s.workspace(workspace), "sla", "at-risk", params={"within": within, "limit": limit}
    )
    print_list(out, output, ["ticket_id", "metric", "state", "target_at", "remaining_business_seconds"])


@app.command()
def attainment(
    ctx: typer.Context,
    start: Annotated[str, typer.Option(help="ISO time (inclusive).")],
    end: Annotated[str, typer.Option(help="ISO time (exclusive).")],
    workspace: WorkspaceOpt = None,
    output: OutputOpt = Output.table,
) -> None:
    """Achieved vs breached by metric and priority, for instances completed in [start, end)."""
    s = session(ctx)
    out = s.client().get(
        "workspaces", s.workspace(workspace), "sla", "attainment", params={"start": start, "end": end}
    )
    print_list(out, output, ["metric", "priority", "total", "achieved", "breached", "attainment"])


@app.command()
def simulate(
    ctx: typer.Context,
    policy: Annotated[str, typer.Option(help="Candidate policy JSON, inline or @file.")],
    start: Annotated[str, typer.Option(help="Tickets created from (ISO time).")],
    end: Annotated[str, typer.Option(help="Tickets created before (ISO time).")],
    workspace: WorkspaceOpt = None,
    output: OutputOpt = Output.table,
) -> None:
    """What-if: attainment of a candidate policy over past tickets, beside the active policies."""
    s = session(ctx)
    out = s.client().post(
        "workspaces",
        s.workspace(workspace),
        "sla",
        "simulate",
        json={"policy": json_arg(policy, "--policy"), "start": start, "end": end},
    )
    if output is Output.json:
        print_json(out)
        return
    typer.echo(f"{out['tickets']} tickets")
    rows = [{"policy": "active", **r} for r in out["active"]] + [
        {"policy": "candidate", **r} for r in out["candidate"]
    ]
    print_rows(rows, output, ["policy", "metric", "priority", "total", "achieved", "breached", "attainment"])
