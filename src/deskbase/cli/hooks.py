"""`deskbase hooks`: inbound webhooks — hooks that turn signed POSTs into records, and their ingest log."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

import typer

from deskbase.cli.client import CliError
from deskbase.cli.common import JSON_HELP, OutputOpt, WorkspaceOpt, WriteOutputOpt, json_arg, session
from deskbase.cli.output import Output, hint, print_item, print_list, print_rows, print_written

COLUMNS = ["id", "collection", "verify", "enabled", "ingest_url", "description"]
INGEST_COLUMNS = ["id", "received_at", "webhook_id", "status", "record_id", "error"]
FIELDS = ("collection", "mapping", "external_id", "verify", "description", "enabled")

app = typer.Typer(
    no_args_is_help=True,
    help="Inbound hooks: a URL that turns signed JSON POSTs (Standard Webhooks) into records of a collection. "
    "Managing hooks needs the admin permission over the workspace.",
)


class Verify(StrEnum):
    standard_webhooks = "standard-webhooks"
    none = "none"


CollectionOpt = Annotated[str | None, typer.Option("--collection", "-c", help="The collection it writes to.")]
MAPPING_HELP = (
    'Record field → JSON pointer into the payload, or {"const": value}, e.g. '
    f'\'{{"subject": "/title", "status": {{"const": "open"}}}}\'. {JSON_HELP}'
)
MappingOpt = Annotated[str | None, typer.Option("--mapping", help=MAPPING_HELP)]
ExternalIdOpt = Annotated[
    str | None,
    typer.Option("--external-id", help="JSON pointer to the payload's id: records are upserted by it."),
]
VerifyOpt = Annotated[
    Verify | None,
    typer.Option(
        help="standard-webhooks (the default: signed with the hook's secret) or none (anyone who knows the "
        "URL can write; only behind your own authenticating proxy)."
    ),
]
DescriptionOpt = Annotated[str | None, typer.Option(help="What the hook is for.")]


def _path(s: Any, workspace: str | None, *rest: str) -> tuple[str, ...]:
    return ("workspaces", s.workspace(workspace), *rest)


@app.command("create")
def create(
    ctx: typer.Context,
    hook_id: Annotated[str, typer.Argument(help="The hook's id (a slug).")],
    collection: Annotated[str, typer.Option("--collection", "-c", help="The collection it writes to.")],
    mapping: Annotated[str, typer.Option("--mapping", help=MAPPING_HELP)],
    external_id: ExternalIdOpt = None,
    verify: VerifyOpt = None,
    description: DescriptionOpt = None,
    disabled: Annotated[bool, typer.Option("--disabled", help="Create it switched off.")] = False,
    workspace: WorkspaceOpt = None,
    output: WriteOutputOpt = None,
) -> None:
    """Create a hook. Prints its signing secret (whsec_…, shown only this once), or its ingest URL for a hook
    created with --verify none."""
    s = session(ctx)
    client = s.client()
    try:
        client.get(*_path(s, workspace, "hooks", hook_id))
    except CliError as exc:
        if exc.code != "not_found":
            raise
    else:
        raise CliError("conflict", f"hook {hook_id!r} exists; change it with `deskbase hooks update`")
    body = {
        "collection": collection,
        "mapping": json_arg(mapping, "--mapping"),
        "external_id": external_id,
        "verify": (verify or Verify.standard_webhooks).value,
        "description": description,
        "enabled": not disabled,
    }
    out = client.put(*_path(s, workspace, "hooks", hook_id), json=body)
    print_written(out, output, out.get("secret") or out["ingest_url"])
    if output is None:
        shown = "; this signing secret is shown only now" if out.get("secret") else " (verify: none)"
        hint(f"hook {out['id']} receives at {out['ingest_url']}{shown}")


@app.command("update")
def update(
    ctx: typer.Context,
    hook_id: str,
    collection: CollectionOpt = None,
    mapping: MappingOpt = None,
    external_id: ExternalIdOpt = None,
    no_external_id: Annotated[
        bool, typer.Option("--no-external-id", help="Drop the external id: every POST creates a record.")
    ] = False,
    verify: VerifyOpt = None,
    description: DescriptionOpt = None,
    enable: Annotated[bool | None, typer.Option("--enable/--disable", help="Switch it on or off.")] = None,
    workspace: WorkspaceOpt = None,
    output: OutputOpt = Output.table,
) -> None:
    """Change some settings of a hook; the others stay as they are. Switching --verify to standard-webhooks
    prints the new secret (shown only this once)."""
    s = session(ctx)
    client = s.client()
    body = {k: v for k, v in client.get(*_path(s, workspace, "hooks", hook_id)).items() if k in FIELDS}
    changes = {
        "collection": collection,
        "mapping": json_arg(mapping, "--mapping") if mapping else None,
        "external_id": external_id,
        "verify": verify.value if verify else None,
        "description": description,
        "enabled": enable,
    }
    body.update({k: v for k, v in changes.items() if v is not None})
    if no_external_id:
        body["external_id"] = None
    out = client.put(*_path(s, workspace, "hooks", hook_id), json=body)
    print_item(out, output)
    if out.get("secret"):
        hint("the hook now verifies signatures: its secret (above) is shown only now")


@app.command("list")
def list_(ctx: typer.Context, workspace: WorkspaceOpt = None, output: OutputOpt = Output.table) -> None:
    """List the workspace's hooks with their ingest URLs."""
    s = session(ctx)
    print_list(s.client().get(*_path(s, workspace, "hooks")), output, COLUMNS)


@app.command("show")
def show(
    ctx: typer.Context, hook_id: str, workspace: WorkspaceOpt = None, output: OutputOpt = Output.table
) -> None:
    """Show one hook (never its secret)."""
    s = session(ctx)
    print_item(s.client().get(*_path(s, workspace, "hooks", hook_id)), output)


@app.command("delete")
def delete(ctx: typer.Context, hook_id: str, workspace: WorkspaceOpt = None) -> None:
    """Delete a hook and its ingest log; the records it wrote stay."""
    s = session(ctx)
    s.client().delete(*_path(s, workspace, "hooks", hook_id))
    typer.echo(f"deleted hook {hook_id}")


@app.command("rotate-secret")
def rotate_secret(ctx: typer.Context, hook_id: str, workspace: WorkspaceOpt = None) -> None:
    """Give the hook a new secret (printed once); the old one keeps verifying beside it for 24 h."""
    s = session(ctx)
    out = s.client().post(*_path(s, workspace, "hooks", hook_id, "rotate-secret"))
    typer.echo(out["secret"])
    hint(f"the previous secret stays valid until {out['previous_secret_valid_until']}")


def _row(entry: dict[str, Any]) -> dict[str, Any]:
    err = entry.get("error")
    return {**entry, "error": f"{err['code']}: {err['message']}" if err else None}


@app.command("ingests")
def ingests(
    ctx: typer.Context,
    hook_id: str,
    status: Annotated[str | None, typer.Option(help="created, updated or failed.")] = None,
    limit: Annotated[int, typer.Option(help="Entries per page.")] = 50,
    cursor: Annotated[str | None, typer.Option(help="Continue after a previous page.")] = None,
    workspace: WorkspaceOpt = None,
    output: OutputOpt = Output.table,
) -> None:
    """The ingest log, newest first: each POST's webhook id, status, record, and why a payload was refused
    (JSON shows the field errors)."""
    s = session(ctx)
    page = s.client().get(
        *_path(s, workspace, "hooks", hook_id, "ingests"),
        params={"status": status, "limit": limit, "cursor": cursor},
    )
    if output is Output.json:
        print_list(page, output)
    else:
        print_rows([_row(e) for e in page["data"]], output, INGEST_COLUMNS)
    if page.get("next_cursor"):
        hint(f"more: --cursor {page['next_cursor']}")
