"""Notification emails: a kind a user switched `email` on for is mailed through the workspace's outbound
mail path (mail/outbox.py: the same queue, retries, attempts log and SMTP sender as agent replies).

Queued by the fan-out loop inside its own transaction (a sink), so a mail is queued exactly when the
watermark moves past its source; the outbox row is keyed by user and source (`notify:<user>:<source>`), so a
re-read queues nothing twice. Which mailbox: the ticket's own (`mail.mailbox`), else the workspace's first
mailbox with an outbound server; a workspace without one sends no notification email. Each user's
notification mails form their own line in the outbox (ticket id `notify:<user>`): one waiting for a retry
never holds back a customer's reply. Their Message-IDs are not indexed for threading (`kind` notify), so an
answer to one never lands on a ticket as a message.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

from sqlalchemy import select
from sqlalchemy.engine import Connection

from deskbase.core import tables as t
from deskbase.core.app import Deskbase
from deskbase.mail import outbound, outbox
from deskbase.mail.outbound import Draft
from deskbase.mail.tables import mailboxes
from deskbase.notify.derive import Candidate
from deskbase.notify.kinds import KINDS, wants
from deskbase.notify.recipients import Directory

log = logging.getLogger(__name__)
HEADERS = {"Auto-Submitted": "auto-generated", "X-Auto-Response-Suppress": "All"}


def text(c: Candidate, link: str | None) -> str:
    data = c.data
    ticket = data.get("ticket") or {}
    number = f"#{ticket['number']} " if ticket.get("number") is not None else ""
    lines = [f"{KINDS[c.kind].label}: {number}{ticket.get('subject') or ''}".rstrip()]
    if c.actor_name and c.kind != "sla_warning" and c.kind != "sla_breach":
        lines.append(f"By {c.actor_name}.")
    if data.get("metric"):
        lines.append(f"Clock: {str(data['metric']).replace('_', ' ')}.")
    if data.get("excerpt"):
        lines += ["", str(data["excerpt"])]
    if link:
        lines += ["", f"Open the ticket: {link}"]
    lines += ["", "You get this email because you turned it on in your notification preferences."]
    return "\n".join(lines) + "\n"


class EmailSink:
    def __init__(self, core: Deskbase) -> None:
        self.core = core

    def __call__(self, conn: Connection, items: list[tuple[Candidate, dict[str, dict[str, bool]]]]) -> None:
        wanted = [c for c, prefs in items if wants(prefs, c.kind, "email")]
        if not wanted:
            return
        d = Directory(conn)
        boxes: dict[str, list[Any]] = {}
        for c in wanted:
            if c.workspace_id not in boxes:
                q = select(mailboxes).where(mailboxes.c.workspace_id == c.workspace_id)
                boxes[c.workspace_id] = [b for b in conn.execute(q.order_by(mailboxes.c.id)) if b.outbound]
            member = d.member(c.workspace_id, c.user_id)
            box = self._box(conn, c, boxes[c.workspace_id])
            if member is None or box is None:
                continue
            key = f"notify:{c.user_id}:{c.source_key}"
            if outbox.queued(conn, c.workspace_id, key):
                continue  # queued before a crash: this is the re-read
            draft = self._draft(c, box, member.name, member.email)
            try:
                message = outbound.build(draft)
            except Exception:
                log.exception("notification %s for %s: the email could not be built", key, c.user_id)
                continue
            queued = outbox.Queued(
                c.workspace_id, box.id, f"notify:{c.user_id}", key, outbox.NOTIFY, draft.message_id,
                box.address, draft.recipients, message,
            )  # fmt: skip
            outbox.enqueue(conn, queued, self.core.clock.now())

    @staticmethod
    def _box(conn: Connection, c: Candidate, boxes: list[Any]) -> Any:
        if not boxes:
            return None
        r = t.records
        data = conn.execute(
            select(r.c.data).where(
                r.c.workspace_id == c.workspace_id, r.c.collection == "tickets", r.c.id == c.ticket_id
            )
        ).scalar()
        named = ((data or {}).get("mail") or {}).get("mailbox")
        return next((b for b in boxes if b.id == named), boxes[0])

    def _draft(self, c: Candidate, box: Any, name: str, email: str) -> Draft:
        ticket = c.data.get("ticket") or {}
        number = f"#{ticket['number']} " if ticket.get("number") is not None else ""
        base = self.core.settings.public_url.rstrip("/")
        link = f"{base}/w/{quote(c.workspace_id)}/tickets/{quote(c.ticket_id)}" if base else None
        return Draft(
            sender=(box.name or "deskbase", box.address),
            to=[(name, email)],
            cc=[],
            subject=f"{KINDS[c.kind].label}: {number}{ticket.get('subject') or ''}".rstrip(),
            message_id=outbound.new_message_id(box.address),
            date=self.core.clock.now(),
            text=text(c, link),
            headers=HEADERS,
        )
