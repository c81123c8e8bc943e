"""Queueing agent replies: the mail loop's first half reads the change log past its watermark and puts each new
agent reply on an email ticket in the outbox.

A loop rather than a hook in the reply's own transaction: building the message reads the reply's attachments
from the blob store (up to `max_file_bytes` each), which must not happen under the write lock, and no writer
(API, console, batch, MCP) needs to know mail exists. The outbox row (keyed by the response: one per reply),
the Message-ID index entry, the response's envelope and `queued` state and the watermark commit in ONE
transaction, so a crash either queued a batch or not, and a re-read queues nothing twice.

Which replies: a `has_response` link created to a live `reply` (never an internal note) that did not come in by
mail and was not written by the ticket's customer, on a live ticket whose channel is `email`, dated less than
`MAX_AGE` before it is read (older links are history brought in by an import, never mailed). The mailbox: the
ticket's `mail.mailbox` (where its thread came in, or the one named when the ticket was created), else the
workspace's only mailbox, which the ticket then keeps. A workspace without mailboxes has no email set up: its
replies are left alone. Otherwise a reply that cannot go (several mailboxes and none named, the named one
deleted, a customer without an address) is marked `failed` with the reason, so the agent sees it.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from deskbase.core import loops
from deskbase.core import tables as t
from deskbase.core.app import Deskbase
from deskbase.core.entity_state import RecordState
from deskbase.core.errors import DeskbaseError
from deskbase.mail import delivery, outbound, outbox
from deskbase.mail.outbound import Attachment, Draft
from deskbase.mail.rules import reply_subject
from deskbase.mail.tables import mailboxes
from deskbase.support.tickets import classify, records_by_id, submitting_customers

log = logging.getLogger(__name__)
NAME = "mail"  #: the loop's lease and watermark (migration 0019 starts it at the head of an existing log)
BATCH = 200  #: reply links read per step at most
SCAN = 20_000  #: change-log rows one step reads past at most
MAX_AGE = timedelta(days=1)
PERSIST_IDLE_WATERMARK = 5.0


@dataclass
class Plan:
    """One reply's fate: queued from `box` with `draft`, or failed for `reason`."""

    workspace_id: str
    ticket: RecordState
    response: RecordState
    box: Any = None
    draft: Draft | None = None
    reason: str | None = None
    file_ids: list[str] = field(default_factory=list)
    adopt: bool = False  # the ticket takes the mailbox chosen for it


class Queuer:
    def __init__(self, core: Deskbase) -> None:
        self.core = core
        self._watermark: int | None = None
        self._saved_at = time.monotonic()

    def step(self) -> bool:
        """Queue the replies among the next changes; True when more changes wait to be read."""
        with self.core.db.read() as conn:
            if self._watermark is None:
                self._watermark = loops.read_watermark(conn, NAME)
            lo = self._watermark
            head = int(conn.execute(select(func.max(t.changes.c.seq))).scalar() or 0)
            final = self.core.db.horizon.seq(conn)  # never past a change still in flight (core/horizon.py)
            if final is not None:
                head = min(head, final)
            if head <= lo:
                return False
            links: list[Any] = []
            hi = head
            if conn.execute(select(mailboxes.c.id).limit(1)).first() is not None:
                bound = min(head, lo + SCAN)
                c = t.changes.c
                links = list(
                    conn.execute(
                        select(t.changes)
                        .where(
                            c.seq > lo,
                            c.seq <= bound,
                            c.entity == "relationship",
                            c.collection == "has_response",
                            c.op == "create",
                        )
                        .order_by(c.seq)
                        .limit(BATCH)
                    ).all()
                )
                hi = int(links[-1].seq) if len(links) == BATCH else bound
            plans = self._plan(conn, links)
        for p in plans:
            if p.draft is not None and p.file_ids:
                p.draft = replace(p.draft, attachments=self._attachments(p.workspace_id, p.file_ids))
        self._write(plans, hi)
        return hi < head

    # ---- deciding ---------------------------------------------------------------------------------
    def _plan(self, conn: Connection, links: list[Any]) -> list[Plan]:
        by_ws: dict[str, list[Any]] = {}
        oldest = self.core.clock.now() - MAX_AGE
        for row in links:
            img = row.data or {}
            ends = (img.get("source_collection"), img.get("target_collection"))
            if ends == ("tickets", "responses") and row.at >= oldest:
                by_ws.setdefault(row.workspace_id, []).append(img)
        plans: list[Plan] = []
        for ws, imgs in by_ws.items():
            boxes = {b.id: b for b in conn.execute(select(mailboxes).where(mailboxes.c.workspace_id == ws))}
            if not boxes:
                continue
            responses = records_by_id(conn, ws, "responses", [i["target_id"] for i in imgs])
            tickets = records_by_id(conn, ws, "tickets", [i["source_id"] for i in imgs])
            customers = submitting_customers(conn, ws, list(tickets))
            settings = conn.execute(select(t.workspaces.c.settings).where(t.workspaces.c.id == ws)).scalar()
            match = list((settings or {}).get("customer_author_match") or ["email", "id"])
            for img in imgs:
                resp, ticket = responses.get(img["target_id"]), tickets.get(img["source_id"])
                if resp is None or ticket is None or resp.deleted or ticket.deleted:
                    continue
                customer = customers.get(ticket.id)
                if not self._wanted(resp, ticket, customer, match):
                    continue
                plans.append(self._decide(conn, ws, ticket, resp, customer, boxes))
        return plans

    @staticmethod
    def _wanted(
        resp: RecordState, ticket: RecordState, customer: RecordState | None, match: list[str]
    ) -> bool:
        mail = resp.data.get("mail") or {}
        if resp.data.get("type") != "reply" or mail.get("direction") == "inbound" or mail.get("delivery"):
            return False
        if ticket.data.get("channel") != "email":
            return False
        who = classify(resp.public(), customer.public() if customer else None, match)
        return who == "agent"

    def _decide(
        self,
        conn: Connection,
        ws: str,
        ticket: RecordState,
        resp: RecordState,
        customer: RecordState | None,
        boxes: dict[str, Any],
    ) -> Plan:
        plan = Plan(ws, ticket, resp)
        named = (ticket.data.get("mail") or {}).get("mailbox")
        if named:
            plan.box = boxes.get(named)
            if plan.box is None:
                plan.reason = f"not sent: the ticket's mailbox {named!r} does not exist"
        elif len(boxes) == 1:
            plan.box, plan.adopt = next(iter(boxes.values())), True
        else:
            plan.reason = (
                "not sent: the workspace has several mailboxes; name one in the ticket's mail.mailbox"
            )
        address = (customer.data.get("email") or "").strip().lower() if customer else ""
        if plan.reason is None and not address:
            plan.reason = "not sent: the ticket's customer has no email address"
        if plan.reason is not None:
            return plan
        box = plan.box
        cc = [a for a in (ticket.data.get("mail") or {}).get("cc") or [] if a not in (address, box.address)]
        in_reply_to, references = outbound.thread_headers(outbox.thread_keys(conn, ws, ticket.id))
        body = str(resp.data.get("body") or "")
        given = (resp.data.get("mail") or {}).get("html")
        plan.draft = Draft(
            sender=(box.name or "", box.address),
            to=[(str(customer.data.get("name") or "") if customer else "", address)],
            cc=cc,
            subject=reply_subject(str(ticket.data.get("subject") or ""), ticket.number),
            message_id=outbound.new_message_id(box.address),
            date=self.core.clock.now(),
            text=body,
            html=outbound.html_of(body, given if isinstance(given, str) else None),
            in_reply_to=in_reply_to,
            references=references,
        )
        plan.file_ids = [f for f in resp.data.get("attachments") or [] if isinstance(f, str)]
        return plan

    def _attachments(self, ws: str, file_ids: list[str]) -> list[Attachment]:
        """The reply's files, in its order, streamed from the blob store (one it cannot read is left out)."""
        files = self.core.files
        meta = files.readable(ws, delivery.mailer(ws), file_ids)
        return [
            Attachment(meta[f]["name"], meta[f]["content_type"], files.blobs.read(meta[f]["sha256"]))
            for f in file_ids
            if f in meta
        ]

    # ---- writing ----------------------------------------------------------------------------------
    def _write(self, plans: list[Plan], hi: int) -> None:
        """Queue the plans and move the watermark in one transaction. With nothing to queue the watermark is
        stored at most every few seconds: a crash re-reads that much and queues nothing twice."""
        if not plans and time.monotonic() - self._saved_at < PERSIST_IDLE_WATERMARK:
            self._watermark = hi
            return
        now = self.core.clock.now()
        messages = {id(p): self._build(p) for p in plans if p.draft is not None}
        with self.core.db.tx() as tx:
            by_ws: dict[str, list[Plan]] = {}
            for p in plans:
                by_ws.setdefault(p.workspace_id, []).append(p)
            for ws, group in by_ws.items():
                with delivery.bookkeeping(self.core, tx, ws) as uow:
                    uow.prefetch_records([("responses", p.response.id) for p in group])
                    uow.prefetch_records([("tickets", p.ticket.id) for p in group if p.adopt])
                    for p in group:
                        try:
                            self._queue(uow, p, messages.get(id(p)), now)
                        except DeskbaseError as exc:  # nothing of it was staged: the others still go
                            log.error("reply %s/%s cannot be queued: %s", ws, p.response.id, exc)
            loops.write_watermark(tx.conn, NAME, hi, self.core.clock)
        self._saved_at = time.monotonic()
        self._watermark = hi
        for p in plans:
            if p.reason:
                log.info("reply %s/%s %s", p.workspace_id, p.response.id, p.reason)

    @staticmethod
    def _build(p: Plan) -> str | None:
        """The MIME text; on failure (an attachment's bytes gone from the store, say) the reply fails with
        the reason rather than stopping the queue behind it."""
        assert p.draft is not None
        try:
            return outbound.build(p.draft)
        except Exception as exc:
            log.exception("reply %s/%s: building the message failed", p.workspace_id, p.response.id)
            p.draft, p.reason = (
                None,
                f"not sent: the message could not be built ({type(exc).__name__}: {exc})",
            )
            return None

    @staticmethod
    def _queue(uow: Any, p: Plan, message: str | None, now: datetime) -> None:
        """Queue the reply and stage its response's state (a response that refuses it — its collection's
        schema changed, say — is sent all the same)."""
        if p.draft is None or message is None:
            delivery.set_state(uow, p.response.id, "failed", p.reason, 0, now, {"direction": "outbound"})
            return
        d, box = p.draft, p.box
        if outbox.queued(uow.tx.conn, p.workspace_id, p.response.id):
            return  # queued before a crash: this is the re-read
        envelope = {
            "direction": "outbound",
            "mailbox": box.id,
            "message_id": d.message_id,
            "in_reply_to": d.in_reply_to,
            "references": d.references,
            "from": box.address,
            "from_name": box.name or "",
            "to": [a for _, a in d.to],
            "cc": d.cc,
            "subject": d.subject,
        }
        try:
            delivery.set_state(uow, p.response.id, "queued", None, 0, now, envelope)
        except DeskbaseError as exc:  # staged nothing; the outbox is the message's record then
            log.error("reply %s/%s keeps no delivery state: %s", p.workspace_id, p.response.id, exc)
        queued = outbox.Queued(
            p.workspace_id, box.id, p.ticket.id, p.response.id, "reply", d.message_id, box.address,
            d.recipients, message,
        )  # fmt: skip
        outbox.enqueue(uow.tx.conn, queued, now)
        ticket = uow.record("tickets", p.ticket.id)
        if p.adopt and ticket is not None and not ticket.deleted:
            mail = {**(ticket.data.get("mail") or {}), "mailbox": box.id}
            try:
                uow.patch_record("tickets", ticket.id, {"mail": mail}, None)
            except DeskbaseError as exc:  # the reply goes all the same; the ticket just does not keep it
                log.warning("ticket %s/%s keeps no mailbox: %s", p.workspace_id, ticket.id, exc)
