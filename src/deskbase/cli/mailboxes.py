"""`deskbase mailboxes`: the addresses customers write to — manage them, check their servers, read their outbox
(retry a failed message), and hand one a raw message."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from deskbase.cli.client import CliError
from deskbase.cli.common import OutputOpt, WorkspaceOpt, WriteOutputOpt, session
from deskbase.cli.output import Output, hint, print_item, print_list, print_rows, print_written

COLUMNS = ["id", "address", "name", "inbound.kind", "outbound.host", "auto_acknowledge", "updated_at"]
SKIP_COLUMNS = ["at", "code", "ref", "from", "subject", "size", "reason"]
OUTBOX_COLUMNS = [
    "id",
    "kind",
    "ticket_id",
    "to",
    "status",
    "attempts",
    "answer",
    "next_attempt_at",
    "created_at",
]
IMAP_FIELDS = ("host", "port", "tls", "username", "folder")
SMTP_FIELDS = ("host", "port", "tls", "username")

app = typer.Typer(
    no_args_is_help=True,
    help="Mailboxes: the addresses customers write to, how their mail comes in and the SMTP server replies "
    "leave by. Managing mailboxes needs the admin permission over the workspace. Passwords never go on the "
    "command line: --inbound-password-stdin and --outbound-password-stdin read them from stdin (one line "
    "each, the inbound one first) or, at a terminal, ask for them without echo.",
)


class Kind(StrEnum):
    imap = "imap"
    smtp = "smtp"
    api = "api"


class Tls(StrEnum):
    ssl = "ssl"
    starttls = "starttls"
    none = "none"


AddressOpt = Annotated[
    str | None,
    typer.Option(help="The address customers write to (no +tag: support+1042@… finds ticket 1042)."),
]
NameOpt = Annotated[str | None, typer.Option(help="The display name replies are sent under.")]
KindOpt = Annotated[
    Kind | None,
    typer.Option(
        "--inbound-kind",
        help="How mail comes in: imap (fetched from --inbound-host), smtp (the built-in listener) or api "
        "(only `deskbase mailboxes inbound` and its route). Default for a new mailbox: api.",
    ),
]
InHostOpt = Annotated[str | None, typer.Option("--inbound-host", help="The IMAP server.")]
InPortOpt = Annotated[int | None, typer.Option("--inbound-port", help="The IMAP port (default 993).")]
InTlsOpt = Annotated[Tls | None, typer.Option("--inbound-tls", help="IMAP TLS mode (default ssl).")]
InUserOpt = Annotated[str | None, typer.Option("--inbound-username", help="The IMAP user name.")]
FolderOpt = Annotated[str | None, typer.Option("--inbound-folder", help="The IMAP folder (default INBOX).")]
InPassOpt = Annotated[
    bool, typer.Option("--inbound-password-stdin", help="Read the IMAP password from stdin (or ask for it).")
]
OutHostOpt = Annotated[str | None, typer.Option("--outbound-host", help="The SMTP server replies leave by.")]
OutPortOpt = Annotated[int | None, typer.Option("--outbound-port", help="The SMTP port (default 587).")]
OutTlsOpt = Annotated[Tls | None, typer.Option("--outbound-tls", help="SMTP TLS mode (default starttls).")]
OutUserOpt = Annotated[str | None, typer.Option("--outbound-username", help="The SMTP user name.")]
OutPassOpt = Annotated[
    bool, typer.Option("--outbound-password-stdin", help="Read the SMTP password from stdin (or ask for it).")
]


def _path(s: Any, workspace: str | None, *rest: str) -> tuple[str, ...]:
    return ("workspaces", s.workspace(workspace), *rest)


def _password(label: str) -> str:
    """One password: asked for without echo at a terminal, else the next line of stdin (a pipe or a file)."""
    if sys.stdin.isatty():
        return str(typer.prompt(f"{label} password", hide_input=True))
    line = sys.stdin.readline().rstrip("\r\n")
    if not line:
        raise CliError("bad_input", f"stdin gave no {label} password (one line each, the IMAP one first)")
    return line


def _given(**options: Any) -> dict[str, Any]:
    """The server settings the user passed (enums as their values), leaving the others as they are."""
    return {k: v.value if isinstance(v, StrEnum) else v for k, v in options.items() if v is not None}


def _inbound(
    current: dict[str, Any], kind: Kind | None, imap: dict[str, Any], password: bool
) -> dict[str, Any]:
    """The new `inbound`: IMAP settings merge into the current IMAP ones; another kind carries none."""
    new_kind = kind.value if kind else current.get("kind", "api")
    if new_kind != "imap":
        if imap or password:
            flags = ", ".join(f"--inbound-{k}" for k in imap) or "--inbound-password-stdin"
            raise CliError(
                "bad_input", f"{flags}: only for --inbound-kind imap (this mailbox's is {new_kind})"
            )
        return {"kind": new_kind}
    kept = {k: current[k] for k in IMAP_FIELDS if k in current} if current.get("kind") == "imap" else {}
    out = {"kind": "imap", **kept, **imap}
    if password:
        out["password"] = _password("IMAP")
    return out


def _outbound(current: dict[str, Any] | None, smtp: dict[str, Any], password: bool) -> dict[str, Any] | None:
    """The new `outbound`: given settings merge into the current ones; none at all keeps it as it is."""
    if current is None and not smtp and not password:
        return None
    out = {**{k: v for k, v in (current or {}).items() if k in SMTP_FIELDS}, **smtp}
    if password:
        out["password"] = _password("SMTP")
    return out


@app.command("create")
def create(
    ctx: typer.Context,
    mailbox_id: Annotated[str, typer.Argument(help="The mailbox's id (a slug).")],
    address: Annotated[str, typer.Option(help="The address customers write to (no +tag).")],
    name: NameOpt = None,
    inbound_kind: KindOpt = None,
    inbound_host: InHostOpt = None,
    inbound_port: InPortOpt = None,
    inbound_tls: InTlsOpt = None,
    inbound_username: InUserOpt = None,
    inbound_folder: FolderOpt = None,
    inbound_password_stdin: InPassOpt = False,
    outbound_host: OutHostOpt = None,
    outbound_port: OutPortOpt = None,
    outbound_tls: OutTlsOpt = None,
    outbound_username: OutUserOpt = None,
    outbound_password_stdin: OutPassOpt = False,
    auto_acknowledge: Annotated[
        bool,
        typer.Option(
            "--auto-acknowledge",
            help="Answer the message that opens a ticket with its number (once per sender per hour).",
        ),
    ] = False,
    workspace: WorkspaceOpt = None,
    output: WriteOutputOpt = None,
) -> None:
    """Create a mailbox; prints its id and address. An IMAP mailbox needs --inbound-host and
    --inbound-username (and usually --inbound-password-stdin)."""
    s = session(ctx)
    client = s.client()
    try:
        client.get(*_path(s, workspace, "mailboxes", mailbox_id))
    except CliError as exc:
        if exc.code != "not_found":
            raise
    else:
        raise CliError(
            "conflict", f"mailbox {mailbox_id!r} exists; change it with `deskbase mailboxes update`"
        )
    imap = _given(
        host=inbound_host,
        port=inbound_port,
        tls=inbound_tls,
        username=inbound_username,
        folder=inbound_folder,
    )
    smtp = _given(host=outbound_host, port=outbound_port, tls=outbound_tls, username=outbound_username)
    body = {
        "address": address,
        "name": name,
        "inbound": _inbound({}, inbound_kind, imap, inbound_password_stdin),
        "outbound": _outbound(None, smtp, outbound_password_stdin),
        "auto_acknowledge": auto_acknowledge,
    }
    out = client.put(*_path(s, workspace, "mailboxes", mailbox_id), json=body)
    print_written(out, output, f"{out['id']} {out['address']}")


@app.command("update")
def update(
    ctx: typer.Context,
    mailbox_id: str,
    address: AddressOpt = None,
    name: NameOpt = None,
    inbound_kind: KindOpt = None,
    inbound_host: InHostOpt = None,
    inbound_port: InPortOpt = None,
    inbound_tls: InTlsOpt = None,
    inbound_username: InUserOpt = None,
    inbound_folder: FolderOpt = None,
    inbound_password_stdin: InPassOpt = False,
    no_inbound_password: Annotated[
        bool, typer.Option("--no-inbound-password", help="Forget the stored IMAP password.")
    ] = False,
    outbound_host: OutHostOpt = None,
    outbound_port: OutPortOpt = None,
    outbound_tls: OutTlsOpt = None,
    outbound_username: OutUserOpt = None,
    outbound_password_stdin: OutPassOpt = False,
    no_outbound_password: Annotated[
        bool, typer.Option("--no-outbound-password", help="Forget the stored SMTP password.")
    ] = False,
    no_outbound: Annotated[
        bool, typer.Option("--no-outbound", help="Drop the SMTP settings (and their password).")
    ] = False,
    auto_acknowledge: Annotated[
        bool | None, typer.Option("--auto-acknowledge/--no-auto-acknowledge", help="Acknowledge new tickets.")
    ] = None,
    workspace: WorkspaceOpt = None,
    output: OutputOpt = Output.table,
) -> None:
    """Change some settings of a mailbox; the others (and the stored passwords) stay as they are."""
    s = session(ctx)
    client = s.client()
    cur = client.get(*_path(s, workspace, "mailboxes", mailbox_id))
    imap = _given(
        host=inbound_host,
        port=inbound_port,
        tls=inbound_tls,
        username=inbound_username,
        folder=inbound_folder,
    )
    smtp = _given(host=outbound_host, port=outbound_port, tls=outbound_tls, username=outbound_username)
    if no_outbound and (smtp or outbound_password_stdin or no_outbound_password):
        raise CliError(
            "bad_input", "--no-outbound drops the SMTP settings: give no other --outbound-… option"
        )
    inbound = _inbound(cur["inbound"], inbound_kind, imap, inbound_password_stdin)
    if no_inbound_password:
        if inbound["kind"] != "imap" or inbound_password_stdin:
            raise CliError(
                "bad_input", "--no-inbound-password: only for an IMAP mailbox, without a new password"
            )
        inbound["password"] = ""
    outbound = None if no_outbound else _outbound(cur["outbound"], smtp, outbound_password_stdin)
    if no_outbound_password:
        if outbound is None or outbound_password_stdin:
            raise CliError(
                "bad_input", "--no-outbound-password: only with SMTP settings, without a new password"
            )
        outbound["password"] = ""
    body = {
        "address": address or cur["address"],
        "name": name if name is not None else cur["name"],
        "inbound": inbound,
        "outbound": outbound,
        "auto_acknowledge": cur["auto_acknowledge"] if auto_acknowledge is None else auto_acknowledge,
    }
    print_item(client.put(*_path(s, workspace, "mailboxes", mailbox_id), json=body), output)


@app.command("list")
def list_(ctx: typer.Context, workspace: WorkspaceOpt = None, output: OutputOpt = Output.table) -> None:
    """List the workspace's mailboxes."""
    s = session(ctx)
    print_list(s.client().get(*_path(s, workspace, "mailboxes")), output, COLUMNS)


@app.command("show")
def show(
    ctx: typer.Context, mailbox_id: str, workspace: WorkspaceOpt = None, output: OutputOpt = Output.table
) -> None:
    """Show one mailbox (never its passwords: `password_set` says whether one is stored)."""
    s = session(ctx)
    print_item(s.client().get(*_path(s, workspace, "mailboxes", mailbox_id)), output)


@app.command("test")
def test(
    ctx: typer.Context, mailbox_id: str, workspace: WorkspaceOpt = None, output: OutputOpt = Output.table
) -> None:
    """Check now that the mailbox works: its outbound SMTP server as sending would (greeting, TLS, AUTH; no
    message is sent) and its way in (for IMAP a live login and a look at the folder). Prints one line per
    check (`outbound: ok — …`, `inbound: FAILED — …`, `not checked` when there is nothing to check); exits 1
    when a check failed."""
    s = session(ctx)
    out = s.client().post(*_path(s, workspace, "mailboxes", mailbox_id, "test"))
    if output is Output.json:
        print_item(out, output)
    else:
        for part, check in out.items():
            if isinstance(check, dict) and "ok" in check:
                word = {True: "ok", False: "FAILED", None: "not checked"}[check["ok"]]
                typer.echo(f"{part}: {word} — {check.get('message') or ''}")
    if any(isinstance(c, dict) and c.get("ok") is False for c in out.values()):
        raise typer.Exit(1)


@app.command("skipped")
def skipped(
    ctx: typer.Context,
    mailbox_id: str,
    limit: Annotated[int, typer.Option(help="Entries per page.")] = 50,
    cursor: Annotated[str | None, typer.Option(help="Continue after a previous page.")] = None,
    workspace: WorkspaceOpt = None,
    output: OutputOpt = Output.table,
) -> None:
    """The skip log, newest first: messages IMAP fetching passed over because they can never be stored (too
    large, an attachment too large, not storable), with where they are on the server and why. They stay
    unread there."""
    s = session(ctx)
    page = s.client().get(
        *_path(s, workspace, "mailboxes", mailbox_id, "skipped"), params={"limit": limit, "cursor": cursor}
    )
    print_list(page, output, SKIP_COLUMNS)
    if page.get("next_cursor"):
        hint(f"more: --cursor {page['next_cursor']}")


@app.command("delete")
def delete(ctx: typer.Context, mailbox_id: str, workspace: WorkspaceOpt = None) -> None:
    """Delete a mailbox; the tickets and messages it brought in stay."""
    s = session(ctx)
    s.client().delete(*_path(s, workspace, "mailboxes", mailbox_id))
    typer.echo(f"deleted mailbox {mailbox_id}")


@app.command("inbound")
def inbound(
    ctx: typer.Context,
    mailbox_id: str,
    message: Annotated[
        Path,
        typer.Argument(
            help="The raw message (an .eml file, RFC 5322) or '-' for stdin.",
            allow_dash=True,
            show_default=False,
        ),
    ],
    workspace: WorkspaceOpt = None,
    output: WriteOutputOpt = None,
) -> None:
    """Hand the mailbox one raw message, as if it had arrived: prints what became of it (the ticket and
    response it created or joined; a duplicate or ignored message writes nothing). Needs write:records on
    tickets, responses and customers."""
    s = session(ctx)
    try:
        raw = sys.stdin.buffer.read() if str(message) == "-" else message.expanduser().read_bytes()
    except OSError as exc:
        raise CliError("bad_input", f"cannot read {message}: {exc.strerror or exc}") from exc
    out = s.client().post_raw(
        *_path(s, workspace, "mailboxes", mailbox_id, "inbound"), content=raw, content_type="message/rfc822"
    )
    if out["status"] in ("created", "appended"):
        line = f"{out['status']} ticket {out['ticket_id']} response {out['response_id']}"
    else:
        line = f"{out['status']} {out['message_id']}" + (f": {out['reason']}" if out.get("reason") else "")
    print_written(out, output, line)
    if output is None and out.get("reopened"):
        hint(f"ticket {out['ticket_id']} was reopened")
    if output is None and out["status"] == "duplicate":
        hint(f"this mailbox had the message already: ticket {out['ticket_id']}, nothing written")


@app.command("outbox")
def outbox(
    ctx: typer.Context,
    mailbox_id: str,
    status: Annotated[str | None, typer.Option(help="queued, sent, failed or bounced.")] = None,
    limit: Annotated[int, typer.Option(help="Messages per page.")] = 50,
    cursor: Annotated[str | None, typer.Option(help="Continue after a previous page.")] = None,
    workspace: WorkspaceOpt = None,
    output: OutputOpt = Output.table,
) -> None:
    """The mailbox's outbound messages (replies and acknowledgements), newest first: status, attempts and
    the server's last answer (JSON shows every attempt)."""
    s = session(ctx)
    page = s.client().get(
        *_path(s, workspace, "mailboxes", mailbox_id, "outbox"),
        params={"status": status, "limit": limit, "cursor": cursor},
    )
    if output is Output.json:
        print_list(page, output)
    else:
        print_rows([{k: v for k, v in m.items() if k != "log"} for m in page["data"]], output, OUTBOX_COLUMNS)
    if page.get("next_cursor"):
        hint(f"more: --cursor {page['next_cursor']}")


@app.command("retry")
def retry(ctx: typer.Context, mailbox_id: str, outbox_id: str, workspace: WorkspaceOpt = None) -> None:
    """Send a failed outbound message again now, with a fresh retry schedule."""
    s = session(ctx)
    out = s.client().post(*_path(s, workspace, "mailboxes", mailbox_id, "outbox", outbox_id, "retry"))
    typer.echo(f"queued {out['id']} ({out['kind']} to {', '.join(out['to'])})")
