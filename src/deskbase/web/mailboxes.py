"""What Settings → Mailboxes shows and sends: mailbox rows worded for the page, the form read into the API's
mailbox body (`PUT …/mailboxes/{id}`), and the service's field errors mapped back onto the form.

No rule lives here: validation, password sealing and permissions are the mail package's (mail/mailboxes.py,
mail/service.py); this module only converts between the form's text fields and the service's values. A
password field left blank is left out of the body, which keeps the stored password; "forget" sends "".
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from starlette.datastructures import FormData

from deskbase.mail.mailboxes import IMAP_DEFAULTS, SMTP_DEFAULTS, TLS
from deskbase.mail.overview import QueueCounts
from deskbase.web.mailbox_pages import ConnectionCheck, MailboxForm, MailboxRow

KINDS = [
    (
        "api",
        "API route only",
        "Messages come in through POST …/mailboxes/{id}/inbound (a provider relay, a script).",
    ),
    ("imap", "IMAP", "deskbase fetches new mail from an IMAP folder."),
    (
        "smtp",
        "SMTP listener",
        "Your mail server relays mail to deskbase's own SMTP listener (the smtp_port setting).",
    ),
]
TLS_LABELS = {"ssl": "SSL/TLS", "starttls": "STARTTLS", "none": "None (plain text)"}
TLS_OPTIONS = [(t, TLS_LABELS[t]) for t in TLS]
#: How far back the list counts replies that failed for good.
FAILED_DAYS = 7
PASSWORDS = ("imap_password", "smtp_password")


def base_href(ws: str) -> str:
    return f"/w/{quote(ws)}/settings/mailboxes"


def edit_href(ws: str, mid: str) -> str:
    return f"{base_href(ws)}/{quote(mid)}"


def server_text(cfg: dict[str, Any]) -> str:
    return f"{cfg.get('host')}:{cfg.get('port')} ({TLS_LABELS.get(str(cfg.get('tls')), cfg.get('tls'))})"


def row(ws: str, mb: dict[str, Any], counts: QueueCounts | None) -> MailboxRow:
    inbound = mb.get("inbound") or {}
    kind = inbound.get("kind")
    if kind == "imap":
        where = f"IMAP {server_text(inbound)}, folder {inbound.get('folder') or 'INBOX'}"
    else:
        where = "SMTP listener" if kind == "smtp" else "API route only"
    outbound = mb.get("outbound")
    counts = counts or QueueCounts()
    return MailboxRow(
        id=mb["id"],
        address=mb["address"],
        name=mb.get("name") or "",
        inbound=where,
        outbound=server_text(outbound) if isinstance(outbound, dict) else None,
        auto_acknowledge=bool(mb.get("auto_acknowledge")),
        queued=counts.queued,
        failed=counts.failed,
        edit_href=edit_href(ws, mb["id"]),
        actions=edit_href(ws, mb["id"]),
        updated_at=mb["updated_at"],
    )


def stored_form(mb: dict[str, Any]) -> MailboxForm:
    """The edit form of a stored mailbox (its public form: no password in it)."""
    inbound = mb.get("inbound") or {}
    outbound = mb.get("outbound") or {}
    imap = inbound.get("kind") == "imap"
    return MailboxForm(
        id=mb["id"],
        address=mb["address"],
        name=mb.get("name") or "",
        inbound_kind=str(inbound.get("kind") or "api"),
        imap_host=str(inbound.get("host") or "") if imap else "",
        imap_port=str(inbound.get("port") or "") if imap else "",
        imap_tls=str(inbound.get("tls") or IMAP_DEFAULTS[1]),
        imap_username=str(inbound.get("username") or "") if imap else "",
        imap_folder=str(inbound.get("folder") or "") if imap else "",
        imap_password_set=bool(inbound.get("password_set")),
        smtp_host=str(outbound.get("host") or ""),
        smtp_port=str(outbound.get("port") or ""),
        smtp_tls=str(outbound.get("tls") or SMTP_DEFAULTS[1]),
        smtp_username=str(outbound.get("username") or ""),
        smtp_password_set=bool(outbound.get("password_set")),
        auto_acknowledge=bool(mb.get("auto_acknowledge")),
    )


def read_form(form: FormData, stored: MailboxForm | None = None) -> MailboxForm:
    """The form as typed (passwords aside); `stored` says which passwords are stored (an edit)."""

    def text(name: str) -> str:
        value = form.get(name)
        return value.strip() if isinstance(value, str) else ""

    return MailboxForm(
        id=text("id"),
        address=text("address"),
        name=text("name"),
        imap_host=text("imap_host"),
        imap_port=text("imap_port"),
        imap_username=text("imap_username"),
        imap_folder=text("imap_folder"),
        smtp_host=text("smtp_host"),
        smtp_port=text("smtp_port"),
        smtp_username=text("smtp_username"),
        inbound_kind=text("inbound_kind") or "api",
        imap_tls=text("imap_tls") or IMAP_DEFAULTS[1],
        smtp_tls=text("smtp_tls") or SMTP_DEFAULTS[1],
        auto_acknowledge=form.get("auto_acknowledge") == "on",
        imap_password_set=bool(stored and stored.imap_password_set),
        smtp_password_set=bool(stored and stored.smtp_password_set),
    )


def _port(value: str, name: str, errors: dict[str, str]) -> int | None:
    if not value:
        return None  # the service's default
    if not value.isdigit() or not 1 <= int(value) <= 65535:
        errors[name] = "A port, 1-65535."
        return None
    return int(value)


def _password(form: FormData, name: str, body: dict[str, Any]) -> None:
    """Blank keeps the stored password (the key is left out); "forget" clears it; else the new one."""
    typed = form.get(name)
    if form.get(f"{name}_forget") == "on":
        body["password"] = ""
    elif isinstance(typed, str) and typed:
        body["password"] = typed


def body_of(f: MailboxForm, form: FormData) -> tuple[dict[str, Any], dict[str, str]]:
    """The API's mailbox body from the form, and the form's own faults (a port that is no number)."""
    errors: dict[str, str] = {}
    inbound: dict[str, Any] = {"kind": f.inbound_kind}
    if f.inbound_kind == "imap":
        inbound |= {"host": f.imap_host, "tls": f.imap_tls, "username": f.imap_username}
        port = _port(f.imap_port, "imap_port", errors)
        if port is not None:
            inbound["port"] = port
        if f.imap_folder:
            inbound["folder"] = f.imap_folder
        _password(form, "imap_password", inbound)
    outbound: dict[str, Any] | None = None
    if f.smtp_host or f.smtp_username or f.smtp_port:
        outbound = {"host": f.smtp_host, "tls": f.smtp_tls}
        if f.smtp_username:
            outbound["username"] = f.smtp_username
        port = _port(f.smtp_port, "smtp_port", errors)
        if port is not None:
            outbound["port"] = port
        _password(form, "smtp_password", outbound)
    body = {
        "address": f.address,
        "name": f.name or None,
        "inbound": inbound,
        "outbound": outbound,
        "auto_acknowledge": f.auto_acknowledge,
    }
    return body, errors


def field_of(pointer: str) -> str:
    """A service error's JSON pointer as the form's field: /inbound/host -> imap_host, /outbound -> smtp_host."""
    parts = pointer.strip("/").split("/")
    if parts[0] == "inbound":
        return "inbound_kind" if len(parts) < 2 or parts[1] == "kind" else f"imap_{parts[1]}"
    if parts[0] == "outbound":
        return f"smtp_{parts[1]}" if len(parts) > 1 else "smtp_host"
    return parts[0] if parts[0] in ("address", "name") else "address"


def form_errors(errors: list[dict[str, Any]]) -> dict[str, str]:
    out: dict[str, str] = {}
    for e in errors:
        message = str(e.get("message") or "invalid")
        out.setdefault(field_of(str(e.get("pointer") or "")), message[:1].upper() + message[1:] + ".")
    return out


def retyped(form: FormData) -> list[str]:
    """The password fields that were filled in: a refused form does not send them back."""
    return [name for name in PASSWORDS if isinstance(form.get(name), str) and form.get(name)]


# ---- the connection test ----------------------------------------------------------------------------
def checks(result: dict[str, Any]) -> list[ConnectionCheck]:
    """The test's answer, `{"outbound": {"ok", "message"}, "inbound": {"ok", "message"}}`, for the page."""
    out = []
    for key, side in (("outbound", "Sending (SMTP)"), ("inbound", "Receiving")):
        part = result.get(key)
        if isinstance(part, dict):
            ok = part.get("ok")
            out.append(
                ConnectionCheck(side, ok if isinstance(ok, bool) else None, str(part.get("message") or ""))
            )
    return out
