"""Mailboxes: manage them, read their outbox, retry a failed message and check their servers (workspace
`admin`), and hand them raw messages (`write:records`).

Passwords are write-only: no answer carries one (`password_set` says whether one is stored).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from deskbase.api.deps import ActorDep, authorize, requires
from deskbase.api.schemas import MailboxPut
from deskbase.api.uploads import read_whole
from deskbase.core.errors import UnsupportedMediaType
from deskbase.mail.service import Mail, authorize_manage

router = APIRouter(prefix="/v1/workspaces/{ws}", tags=["mail"])
ADMIN = requires("admin")
RAW_TYPES = ("message/rfc822", "application/octet-stream")
#: What a message may write: a relay's token must reach all of it (the mailbox then writes as itself).
WRITES = ("tickets", "responses", "customers")


async def get_mail(request: Request) -> Mail:
    return request.app.state.core.extensions[Mail]  # type: ignore[no-any-return]


MailDep = Annotated[Mail, Depends(get_mail)]


@router.put("/mailboxes/{mailbox_id}", openapi_extra=ADMIN)
def put_mailbox(
    ws: str, mailbox_id: str, body: MailboxPut, mail: MailDep, actor: ActorDep, response: Response
) -> dict[str, Any]:
    """Create (201) or replace (200) a mailbox. A password left out keeps the stored one; "" clears it."""
    authorize_manage(actor, ws)
    out, created = mail.mailboxes.put(ws, mailbox_id, body.model_dump(exclude_unset=True), actor)
    if created:
        response.status_code = 201
    return out


@router.get("/mailboxes", openapi_extra=ADMIN)
def list_mailboxes(ws: str, mail: MailDep, actor: ActorDep) -> dict[str, Any]:
    authorize_manage(actor, ws)
    return {"data": mail.mailboxes.list(ws)}


@router.get("/mailboxes/{mailbox_id}", openapi_extra=ADMIN)
def get_mailbox(ws: str, mailbox_id: str, mail: MailDep, actor: ActorDep) -> dict[str, Any]:
    authorize_manage(actor, ws)
    return mail.mailboxes.get(ws, mailbox_id)


@router.get("/mailboxes/{mailbox_id}/skipped", openapi_extra=ADMIN)
def list_skipped(
    ws: str,
    mailbox_id: str,
    mail: MailDep,
    actor: ActorDep,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> dict[str, Any]:
    """The skip log, newest first: messages fetching passed over because the pipeline refuses them for good
    (over `max_mail_bytes`, an attachment over `max_file_bytes`, not storable), each with where it is in the
    folder, its Message-ID, From, Subject, size and the reason. They stay unread on the server."""
    authorize_manage(actor, ws)
    return mail.skipped(ws, mailbox_id, cursor, limit)


@router.delete("/mailboxes/{mailbox_id}", status_code=204, openapi_extra=ADMIN)
def delete_mailbox(ws: str, mailbox_id: str, mail: MailDep, actor: ActorDep) -> Response:
    """Delete the mailbox; the tickets and messages it brought in stay."""
    authorize_manage(actor, ws)
    mail.mailboxes.delete(ws, mailbox_id, actor)
    return Response(status_code=204)


@router.get("/mailboxes/{mailbox_id}/outbox", openapi_extra=ADMIN)
def list_outbox(
    ws: str,
    mailbox_id: str,
    mail: MailDep,
    actor: ActorDep,
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    status: str | None = None,
) -> dict[str, Any]:
    """The mailbox's outbound messages, newest first: replies and acknowledgements with their status
    (queued, sent, failed, bounced), attempts, the server's last answer and every attempt in `log`."""
    authorize_manage(actor, ws)
    return mail.outbox(ws, mailbox_id, cursor, limit, status)


@router.post("/mailboxes/{mailbox_id}/outbox/{outbox_id}/retry", status_code=202, openapi_extra=ADMIN)
def retry_outbox(ws: str, mailbox_id: str, outbox_id: str, mail: MailDep, actor: ActorDep) -> dict[str, Any]:
    """Queue a failed message again now, with a fresh retry schedule (409 unless it is failed)."""
    authorize_manage(actor, ws)
    return mail.retry(ws, mailbox_id, outbox_id)


@router.post("/mailboxes/{mailbox_id}/test", openapi_extra=ADMIN)
def test_mailbox(ws: str, mailbox_id: str, mail: MailDep, actor: ActorDep) -> dict[str, Any]:
    """Check the mailbox's servers now: the outbound one as sending would (greeting, TLS, AUTH; no message
    is sent) and that mail can come in (for IMAP a live login and a look at the folder; its health from the
    last polls is in the mailbox's `health`). `{"outbound": {"ok", "message"}, "inbound": {"ok", "message"}}`;
    always 200 — a failed check is an answer, not an error."""
    authorize_manage(actor, ws)
    return mail.test(ws, mailbox_id)


@router.post(
    "/mailboxes/{mailbox_id}/inbound",
    status_code=201,
    openapi_extra={
        **requires("write:records"),
        "requestBody": {
            "required": True,
            "description": "One raw message (RFC 5322), as a relay or a script received it "
            "(application/octet-stream is taken as the same).",
            "content": {t: {"schema": {"type": "string", "format": "binary"}} for t in RAW_TYPES},
        },
    },
    responses={200: {"description": "A duplicate (this mailbox has the Message-ID) or noise, ignored."}},
)
async def inbound(ws: str, mailbox_id: str, request: Request, mail: MailDep, actor: ActorDep) -> JSONResponse:
    """Take one message in through the inbound pipeline. The token needs `write:records` on tickets,
    responses and customers; the writes are the mailbox's (`mailbox:<id>` in the change log). 201 when the
    message created a ticket or was added to one; 200 when it was a duplicate or noise (auto-reply, bulk or
    list mail, a delivery report) and touched none."""
    for collection in WRITES:
        authorize(actor, "write:records", ws, collection)
    kind = (request.headers.get("content-type") or "").split(";", 1)[0].strip().lower()
    if kind not in RAW_TYPES:
        raise UnsupportedMediaType(
            "send the raw message with Content-Type: message/rfc822", {"content_type": kind or None}
        )
    raw = await read_whole(request)
    out = await run_in_threadpool(mail.ingest, ws, mailbox_id, raw)
    return JSONResponse(out.public(), status_code=201 if out.status in ("created", "appended") else 200)
