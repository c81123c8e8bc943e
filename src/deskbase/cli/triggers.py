"""`deskbase triggers`: outbound webhooks — create and manage triggers, read the delivery log, retry, replay."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from deskbase.cli.client import CliError
from deskbase.cli.common import JSON_HELP, OutputOpt, WorkspaceOpt, WriteOutputOpt, json_arg, session
from deskbase.cli.output import Output, hint, print_item, print_list, print_rows, print_written

COLUMNS = ["id", "url", "events", "collections", "enabled", "disabled_reason", "description"]
DELIVERY_COLUMNS = ["id", "type", "event_id", "seq", "status", "tries", "last", "next_attempt_at"]

app = typer.Typer(
    no_args_is_help=True,
    help="Outbound triggers (webhooks): signed POSTs to your URL when records, links, messages or SLA clocks "
    "change. Managing triggers needs the admin permission over the workspace.",
)

EventsOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--event",
        "-e",
        help="An event type (record.created, record.updated, record.deleted, relationship.created, "
        "relationship.deleted, ticket.message, sla.warning, sla.breached, sla.escalated) or '*'; repeatable.",
    ),
]
CollectionsOpt = Annotated[
    list[str] | None, typer.Option("--collection", "-c", help="Only events of these collections; repeatable.")
]
FilterOpt = Annotated[
    str | None, typer.Option("--filter", help=f"A record filter the event's record must match. {JSON_HELP}")
]
DescriptionOpt = Annotated[str | None, typer.Option(help="What the trigger is for.")]
HOOK_WRITES_HELP = (
    "Also send changes made by inbound hooks (off by default: the loop guard, so a receiver that feeds a hook "
    "does not get its own writes back)."
)


def _path(s: Any, workspace: str | None, *rest: str) -> tuple[str, ...]:
    return ("workspaces", s.workspace(workspace), *rest)


@app.command("create")
def create(
    ctx: typer.Context,
    trigger_id: Annotated[str, typer.Argument(help="The trigger's id (a slug).")],
    url: Annotated[str, typer.Option(help="Where deliveries are POSTed (http or https).")],
    event: EventsOpt = None,
    collection: CollectionsOpt = None,
    filter: FilterOpt = None,
    description: DescriptionOpt = None,
    include_hook_writes: Annotated[
        bool, typer.Option("--include-hook-writes", help=HOOK_WRITES_HELP)
    ] = False,
    disabled: Annotated[bool, typer.Option("--disabled", help="Create it switched off.")] = False,
    workspace: WorkspaceOpt = None,
    output: WriteOutputOpt = None,
) -> None:
    """Create a trigger. Prints its signing secret (whsec_…), shown only this once."""
    s = session(ctx)
    client = s.client()
    try:
        client.get(*_path(s, workspace, "triggers", trigger_id))
    except CliError as exc:
        if exc.code != "not_found":
            raise
    else:
        raise CliError(
            "conflict", f"trigger {trigger_id!r} exists; change it with `deskbase triggers update`"
        )
    body = {
        "url": url,
        "events": event or ["*"],
        "collections": collection or None,
        "filter": json_arg(filter, "--filter") if filter else None,
        "description": description,
        "include_hook_writes": include_hook_writes,
        "enabled": not disabled,
    }
    out = client.put(*_path(s, workspace, "triggers", trigger_id), json=body)
    print_written(out, output, out.get("secret", ""))
    if output is None:
        hint(f"trigger {out['id']}: this signing secret is shown only now; store it with the receiver")


@app.command("update")
def update(
    ctx: typer.Context,
    trigger_id: str,
    url: Annotated[str | None, typer.Option(help="A new URL.")] = None,
    event: EventsOpt = None,
    collection: CollectionsOpt = None,
    all_collections: Annotated[
        bool, typer.Option("--all-collections", help="Drop the collection limit.")
    ] = False,
    filter: FilterOpt = None,
    no_filter: Annotated[bool, typer.Option("--no-filter", help="Drop the filter.")] = False,
    description: DescriptionOpt = None,
    include_hook_writes: Annotated[
        bool | None, typer.Option("--include-hook-writes/--skip-hook-writes", help=HOOK_WRITES_HELP)
    ] = None,
    enable: Annotated[
        bool | None,
        typer.Option("--enable/--disable", help="Switch it on (also after it was disabled) or off."),
    ] = None,
    workspace: WorkspaceOpt = None,
    output: OutputOpt = Output.table,
) -> None:
    """Change some settings of a trigger; the others stay as they are. Enabling resumes waiting deliveries."""
    s = session(ctx)
    client = s.client()
    cur = client.get(*_path(s, workspace, "triggers", trigger_id))
    keep = ("url", "events", "collections", "filter", "include_hook_writes", "enabled", "description")
    body = {k: cur[k] for k in keep}
    changes = {
        "url": url,
        "events": event or None,
        "collections": collection or None,
        "filter": json_arg(filter, "--filter") if filter else None,
        "description": description,
        "include_hook_writes": include_hook_writes,
        "enabled": enable,
    }
    body.update({k: v for k, v in changes.items() if v is not None})
    if all_collections:
        body["collections"] = None
    if no_filter:
        body["filter"] = None
    print_item(client.put(*_path(s, workspace, "triggers", trigger_id), json=body), output)


@app.command("list")
def list_(ctx: typer.Context, workspace: WorkspaceOpt = None, output: OutputOpt = Output.table) -> None:
    """List the workspace's triggers, with whether each is enabled and why not."""
    s = session(ctx)
    print_list(s.client().get(*_path(s, workspace, "triggers")), output, COLUMNS)


@app.command("show")
def show(
    ctx: typer.Context, trigger_id: str, workspace: WorkspaceOpt = None, output: OutputOpt = Output.table
) -> None:
    """Show one trigger (never its secret)."""
    s = session(ctx)
    print_item(s.client().get(*_path(s, workspace, "triggers", trigger_id)), output)


@app.command("health")
def health(
    ctx: typer.Context, trigger_id: str, workspace: WorkspaceOpt = None, output: OutputOpt = Output.table
) -> None:
    """A trigger's health: pending/failed/exhausted counts, the last attempt, failure rates (24 h, last 100)."""
    s = session(ctx)
    h = s.client().get(*_path(s, workspace, "triggers", trigger_id, "health"))
    if output is not Output.table:
        print_item(h, output)
        return
    last = h.get("last_attempt") or {}
    day, recent = h["last_24h"], h["last_100"]

    def pct(r: dict[str, Any]) -> str:
        return "-" if r["failure_rate"] is None else f"{r['failure_rate']:.0%} of {r['settled']}"

    print_item(
        {
            **h["counts"],
            "last attempt": f"{last.get('at')} {'ok' if last.get('ok') else (last.get('error') or last.get('status'))}"
            if last
            else "-",
            "failing (24 h)": pct(day) + (" (capped)" if day["capped"] else ""),
            "failing (last 100)": pct(recent),
        },
        Output.table,
    )


@app.command("delete")
def delete(ctx: typer.Context, trigger_id: str, workspace: WorkspaceOpt = None) -> None:
    """Delete a trigger with its queue and delivery log."""
    s = session(ctx)
    s.client().delete(*_path(s, workspace, "triggers", trigger_id))
    typer.echo(f"deleted trigger {trigger_id}")


@app.command("rotate-secret")
def rotate_secret(ctx: typer.Context, trigger_id: str, workspace: WorkspaceOpt = None) -> None:
    """Give the trigger a new signing secret (printed once); the old one keeps signing beside it for 24 h."""
    s = session(ctx)
    out = s.client().post(*_path(s, workspace, "triggers", trigger_id, "rotate-secret"))
    typer.echo(out["secret"])
    hint(f"the previous secret stays valid until {out['previous_secret_valid_until']}")


@app.command("test")
def test(ctx: typer.Context, trigger_id: str, workspace: WorkspaceOpt = None) -> None:
    """Send a trigger.test event; prints its delivery id (see `deskbase triggers deliveries`)."""
    s = session(ctx)
    out = s.client().post(*_path(s, workspace, "triggers", trigger_id, "test"))
    typer.echo(out["id"])


def _row(d: dict[str, Any]) -> dict[str, Any]:
    last = d["attempts"][-1] if d["attempts"] else None
    said = None if last is None else (last["status"] if last["status"] is not None else last["error"])
    return {**{k: v for k, v in d.items() if k != "attempts"}, "tries": len(d["attempts"]), "last": said}


@app.command("deliveries")
def deliveries(
    ctx: typer.Context,
    trigger_id: str,
    status: Annotated[str | None, typer.Option(help="pending, failed, delivered or exhausted.")] = None,
    limit: Annotated[int, typer.Option(help="Deliveries per page.")] = 50,
    cursor: Annotated[str | None, typer.Option(help="Continue after a previous page.")] = None,
    workspace: WorkspaceOpt = None,
    output: OutputOpt = Output.table,
) -> None:
    """The delivery log, newest first: status, attempts and the last answer (JSON shows every attempt)."""
    s = session(ctx)
    page = s.client().get(
        *_path(s, workspace, "triggers", trigger_id, "deliveries"),
        params={"status": status, "limit": limit, "cursor": cursor},
    )
    if output is Output.json:
        print_list(page, output)
    else:
        print_rows([_row(d) for d in page["data"]], output, DELIVERY_COLUMNS)
    if page.get("next_cursor"):
        hint(f"more: --cursor {page['next_cursor']}")


@app.command("retry")
def retry(ctx: typer.Context, delivery_id: str, workspace: WorkspaceOpt = None) -> None:
    """Send one delivery again now (also a delivered or exhausted one), with the same event id."""
    s = session(ctx)
    out = s.client().post(*_path(s, workspace, "deliveries", delivery_id, "retry"))
    typer.echo(f"queued delivery {out['id']} ({out['type']}, event {out['event_id']})")


@app.command("replay")
def replay(
    ctx: typer.Context,
    trigger_id: str,
    since_seq: Annotated[int, typer.Option("--since-seq", help="Replay events from this change seq on.")],
    workspace: WorkspaceOpt = None,
) -> None:
    """Send again every event since a change seq that the trigger matches (same event ids)."""
    s = session(ctx)
    out = s.client().post(
        *_path(s, workspace, "triggers", trigger_id, "replay"), json={"since_seq": since_seq}
    )
    typer.echo(f"queued {out['queued']} deliveries")
    if out.get("next_since_seq"):
        hint(f"more: --since-seq {out['next_since_seq']}")
