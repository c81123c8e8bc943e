"""Auto-acknowledgements: a mailbox with `auto_acknowledge` answers the message that opened a ticket with a
short note carrying the ticket number, so the customer knows it arrived and how to add to it.

Queued in the transaction that creates the ticket (the inbound pipeline calls `acknowledge`), so an
acknowledgement exists exactly when its ticket does. Never for noise (auto-replies, bulk and list mail,
mailer-daemons and delivery reports make no ticket to begin with), never to the mailbox itself, and at most
one per sender per mailbox per `WINDOW` — stored in the primary store (`mail_acks`), so a restart or a second
process cannot reset it. Two autoresponders therefore cannot ping-pong: ours says `Auto-Submitted:
auto-replied` (RFC 3834) and `X-Auto-Response-Suppress: All` (Exchange), and answers each sender once an hour
at most. Its Message-ID is indexed like a reply's: a customer who answers the acknowledgement threads back.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import insert, select, update

from deskbase.core.entity_state import RecordState
from deskbase.core.writer import UnitOfWork
from deskbase.mail import outbound, outbox
from deskbase.mail.outbound import Draft
from deskbase.mail.parse import Parsed
from deskbase.mail.rules import reply_subject
from deskbase.mail.tables import mail_acks

WINDOW = timedelta(hours=1)
HEADERS = {"Auto-Submitted": "auto-replied", "X-Auto-Response-Suppress": "All"}


def text(number: int | None, subject: str, signature: str) -> str:
    tag = f"#{number}" if number is not None else "a ticket"
    return (
        f"Thank you for your message \u201c{subject or '(no subject)'}\u201d. We have opened {tag} for it and "
        "will answer as soon as we can.\n\n"
        f"To add anything, reply to this email and keep [{tag}] in the subject.\n\n"
        f"\u2014 {signature}\n"
    )


def acknowledge(uow: UnitOfWork, box: Any, msg: Parsed, ticket: RecordState) -> bool:
    """Queue the acknowledgement of a new ticket (in the ticket's own unit of work); False when none is due."""
    sender = msg.from_address
    if not box.auto_acknowledge or not sender or sender == box.address:
        return False
    conn, now = uow.tx.conn, uow.app.clock.now()
    key = (
        mail_acks.c.workspace_id == box.workspace_id,
        mail_acks.c.mailbox_id == box.id,
        mail_acks.c.sender == sender,
    )
    last = conn.execute(select(mail_acks.c.last_at).where(*key)).scalar()
    if last is not None and now - last < WINDOW:
        return False
    if last is None:
        conn.execute(
            insert(mail_acks).values(
                workspace_id=box.workspace_id, mailbox_id=box.id, sender=sender, last_at=now
            )
        )
    else:
        conn.execute(update(mail_acks).where(*key).values(last_at=now))
    in_reply_to, references = outbound.thread_headers(
        [*msg.references, *([msg.header_id] if msg.header_id else [])]
    )
    draft = Draft(
        sender=(box.name or "", box.address),
        to=[(msg.from_name, sender)],
        cc=[],
        subject=reply_subject(msg.subject, ticket.number),
        message_id=outbound.new_message_id(box.address),
        date=now,
        text=text(ticket.number, msg.subject, box.name or box.address),
        in_reply_to=in_reply_to,
        references=references,
        headers=HEADERS,
    )
    queued = outbox.Queued(
        box.workspace_id, box.id, ticket.id, outbox.ACK_PREFIX + ticket.id, "ack", draft.message_id, box.address,
        draft.recipients, outbound.build(draft),
    )  # fmt: skip
    return outbox.enqueue(conn, queued, now) is not None
