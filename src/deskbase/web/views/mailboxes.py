"""Settings → Mailboxes: a workspace's mailboxes (address, how mail comes in, the server replies leave by, what
waits in the queue), and the forms that add, edit, test and delete them.

Every route asks `authorize_manage` — the API's own rule (workspace `admin`) — first, and every action is one
call to the mail service the REST routes call (`Mail.mailboxes`, and its connection test). Passwords are
write-only here too: a form never carries a stored one back, a blank field keeps it.
"""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Request
from fastapi.responses import Response

from deskbase.api.deps import requires
from deskbase.core.context import Actor
from deskbase.core.errors import InvalidId, NotFound, Unavailable, ValidationFailed
from deskbase.core.ids import SLUG_RE, check_slug
from deskbase.mail.overview import queue_counts
from deskbase.mail.service import Mail, authorize_manage
from deskbase.web import mailboxes as mb
from deskbase.web.http import ActorDep, FormDep, core_of, redirect, render
from deskbase.web.mailbox_pages import ConnectionCheck, MailboxesPage, MailboxForm, MailboxPage, MailboxRow
from deskbase.web.routing import ConsoleRoute
from deskbase.web.shell import make_shell

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
MANAGE = requires("admin")
BASE = "/w/{ws}/settings/mailboxes"


def mail_of(request: Request) -> Mail:
    mail = core_of(request).extensions.get(Mail)
    if mail is None:
        raise Unavailable("email is not installed on this server")
    return mail  # type: ignore[no-any-return]


def rows(request: Request, ws: str) -> list[MailboxRow]:
    core = core_of(request)
    since = core.clock.now() - timedelta(days=mb.FAILED_DAYS)
    counts = queue_counts(core, ws, since)
    return [mb.row(ws, m, counts.get(m["id"])) for m in mail_of(request).mailboxes.list(ws)]


def list_page(
    request: Request,
    actor: Actor,
    ws: str,
    form: MailboxForm | None = None,
    notice: str | None = None,
    error: str | None = None,
    tested: tuple[str, list[ConnectionCheck]] | None = None,
    status: int = 200,
) -> Response:
    found = rows(request, ws)
    if tested is not None:
        found = [r if r.id != tested[0] else _with_checks(r, tested[1]) for r in found]
    page = MailboxesPage(
        workspace=ws,
        rows=found,
        form=form or MailboxForm(),
        create_href=mb.base_href(ws),
        failed_days=mb.FAILED_DAYS,
        kinds=mb.KINDS,
        tls=mb.TLS_OPTIONS,
        notice=notice,
        error=error,
    )
    shell = make_shell(request, actor, "Mailboxes", ws, "mailboxes")
    return render(request, "mailboxes.html", page, shell, status=status)


def edit_page(
    request: Request,
    actor: Actor,
    ws: str,
    mid: str,
    form: MailboxForm | None = None,
    error: str | None = None,
    checks: list[ConnectionCheck] | None = None,
    status: int = 200,
) -> Response:
    mail = mail_of(request)
    stored = mail.mailboxes.get(ws, mid)
    counts = queue_counts(core_of(request), ws, core_of(request).clock.now() - timedelta(days=mb.FAILED_DAYS))
    row = _with_checks(mb.row(ws, stored, counts.get(mid)), checks or [])
    page = MailboxPage(
        workspace=ws,
        row=row,
        form=form or mb.stored_form(stored),
        back=mb.base_href(ws),
        failed_days=mb.FAILED_DAYS,
        kinds=mb.KINDS,
        tls=mb.TLS_OPTIONS,
        error=error,
    )
    shell = make_shell(request, actor, f"Mailbox {mid}", ws, "mailboxes")
    return render(request, "mailbox.html", page, shell, status=status)


def _with_checks(r: MailboxRow, checks: list[ConnectionCheck]) -> MailboxRow:
    return MailboxRow(**{**r.__dict__, "checks": checks})


def _notice(created: str, saved: str, deleted: str) -> str | None:
    """Only an id is echoed back into the page."""
    if SLUG_RE.match(created):
        return f"Added mailbox {created}."
    if SLUG_RE.match(saved):
        return f"Saved mailbox {saved}."
    if SLUG_RE.match(deleted):
        return f"Deleted mailbox {deleted}; the tickets and messages it brought in stay."
    return None


@router.get(BASE, openapi_extra=MANAGE)
def mailboxes(
    ws: str, request: Request, actor: ActorDep, created: str = "", saved: str = "", deleted: str = ""
) -> Response:
    authorize_manage(actor, ws)
    return list_page(request, actor, ws, notice=_notice(created, saved, deleted))


@router.post(BASE, openapi_extra=MANAGE)
def create(ws: str, request: Request, actor: ActorDep, _form: FormDep) -> Response:
    """Add a mailbox (the API's PUT, refused if the id is taken)."""
    authorize_manage(actor, ws)
    mail = mail_of(request)
    raw = request.state.form
    form = mb.read_form(raw)
    body, faults = mb.body_of(form, raw)
    try:
        check_slug(form.id, "mailbox")
        mail.mailboxes.get(ws, form.id)
        form.errors["id"] = f"A mailbox {form.id!r} exists already; choose another id."
    except InvalidId as exc:
        form.errors["id"] = exc.message
    except NotFound:
        form.errors.update(faults)
        if not faults:
            try:
                mail.mailboxes.put(ws, form.id, body, actor)
            except ValidationFailed as exc:
                form.errors.update(mb.form_errors(exc.details.get("errors") or [{"message": exc.message}]))
            else:
                return redirect(request, f"{mb.base_href(ws)}?created={form.id}")
    form.retype = mb.retyped(raw)
    return list_page(request, actor, ws, form=form, status=422)


@router.get(BASE + "/{mailbox_id}", openapi_extra=MANAGE)
def edit(ws: str, mailbox_id: str, request: Request, actor: ActorDep) -> Response:
    authorize_manage(actor, ws)
    return edit_page(request, actor, ws, mailbox_id)


@router.post(BASE + "/{mailbox_id}", openapi_extra=MANAGE)
def save(ws: str, mailbox_id: str, request: Request, actor: ActorDep, _form: FormDep) -> Response:
    """Replace the mailbox's settings (the API's PUT); blank password fields keep the stored passwords."""
    authorize_manage(actor, ws)
    mail = mail_of(request)
    stored = mb.stored_form(mail.mailboxes.get(ws, mailbox_id))  # a missing mailbox is a 404, not a create
    raw = request.state.form
    form = mb.read_form(raw, stored)
    form.id = mailbox_id
    body, faults = mb.body_of(form, raw)
    form.errors.update(faults)
    if not faults:
        try:
            mail.mailboxes.put(ws, mailbox_id, body, actor)
        except ValidationFailed as exc:
            form.errors.update(mb.form_errors(exc.details.get("errors") or [{"message": exc.message}]))
        else:
            return redirect(request, f"{mb.base_href(ws)}?saved={mailbox_id}")
    form.retype = mb.retyped(raw)
    return edit_page(request, actor, ws, mailbox_id, form=form, status=422)


@router.post(BASE + "/{mailbox_id}/delete", openapi_extra=MANAGE)
def delete(ws: str, mailbox_id: str, request: Request, actor: ActorDep, form: FormDep) -> Response:
    """Delete a mailbox; the form must confirm by repeating its id."""
    authorize_manage(actor, ws)
    mail = mail_of(request)
    if form.get("confirm") != mailbox_id:
        mail.mailboxes.get(ws, mailbox_id)  # a missing mailbox is a 404, not a confirmation problem
        error = f"Not deleted: confirm by typing the mailbox's id ({mailbox_id})."
        return edit_page(request, actor, ws, mailbox_id, error=error, status=422)
    mail.mailboxes.delete(ws, mailbox_id, actor)
    return redirect(request, f"{mb.base_href(ws)}?deleted={mailbox_id}")


@router.post(BASE + "/{mailbox_id}/test", openapi_extra=MANAGE)
def test(ws: str, mailbox_id: str, request: Request, actor: ActorDep, form: FormDep) -> Response:
    """Test the mailbox's connections (the mail service's test: connect and log in, send nothing) and show
    the answer beside it, on the page the button was on."""
    authorize_manage(actor, ws)
    mail = mail_of(request)
    mail.mailboxes.get(ws, mailbox_id)
    checks = mb.checks(mail.test(ws, mailbox_id))
    if form.get("from") == "edit":
        return edit_page(request, actor, ws, mailbox_id, checks=checks)
    return list_page(request, actor, ws, tested=(mailbox_id, checks))
