"""The one inbound pipeline: every path (the raw-MIME API route, IMAP, the SMTP listener) hands a message here.

Per message: parse it (outside any transaction), stage its files (the original as an `.eml`, attachments,
inline images), then in ONE unit of work by `mailbox:<id>`: dedupe on the Message-ID in this mailbox, thread
it (rules.py), find or create the customer by the From address, create the ticket or append to it (reopening
a resolved or closed one), store the response with the message's metadata and files, and index the
Message-ID, and (for a new ticket) queue the mailbox's acknowledgement. Noise (auto-replies, bulk and list
mail, mailer-daemons, delivery reports) touches no ticket; a delivery report marks the outbound message it
names as bounced. Either all of it commits or none of it.
Blobs are stored before that transaction (a slow store must not hold the write lock); when it does not
commit their rows — it failed, or lost a race to the same message arriving by another path — the blobs no
file names are removed again. (A process killed between the two leaves them: space, never a wrong answer.)
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import bindparam, select
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import BindParameter

from deskbase.core import bulk
from deskbase.core import tables as t
from deskbase.core.app import Deskbase
from deskbase.core.blobs import CHUNK, Staged
from deskbase.core.clock import iso
from deskbase.core.entity_state import RecordState
from deskbase.core.errors import PayloadTooLarge
from deskbase.core.filters import Compiler, Field
from deskbase.core.writer import UnitOfWork
from deskbase.mail import delivery, rules, spool
from deskbase.mail.fold import fold
from deskbase.mail.mailboxes import Mailboxes, actor_of
from deskbase.mail.parse import Parsed, parse
from deskbase.mail.tables import mail_messages

log = logging.getLogger(__name__)
REOPEN = ("resolved", "closed")
_EMAIL = Field(None, ("email",))
_SHORTENED = "\n\n[… the message is longer than a record holds; the full text is in the original .eml]"


@dataclass(frozen=True)
class Received:
    """What became of one message: `created` (a new ticket), `appended` (to an existing one; `reopened` if
    it was resolved or closed), `duplicate` (this mailbox has it already) or `ignored` (noise)."""

    status: str
    message_id: str
    ticket_id: str | None = None
    response_id: str | None = None
    reason: str | None = None
    reopened: bool = False
    bounced: tuple[str, ...] = ()

    def public(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "message_id": self.message_id,
            "ticket_id": self.ticket_id,
            "response_id": self.response_id,
            "reason": self.reason,
            "reopened": self.reopened,
            "bounced": list(self.bounced),
        }


# Statements built once: building a select costs more Python than SQLite spends running it.
_m, _r = mail_messages, t.records
_WS: BindParameter[str] = bindparam("ws")
_THREADED = select(_m.c.message_id, _m.c.ticket_id).where(
    _m.c.workspace_id == _WS,
    _m.c.message_id.in_(bindparam("keys", expanding=True)),
    _m.c.ticket_id.is_not(None),
)
_BY_NUMBER = select(_r.c.id).where(
    _r.c.workspace_id == _WS, _r.c.collection == "tickets", _r.c.number == bindparam("number")
)
_CUSTOMER_BY_EMAIL: dict[str, Any] = {}  # by dialect: the `email` index's expression differs


def _customer_by_email(dialect: str) -> Any:
    stmt = _CUSTOMER_BY_EMAIL.get(dialect)
    if stmt is None:
        expr = Compiler(dialect).data_text(_EMAIL)
        stmt = _CUSTOMER_BY_EMAIL[dialect] = (
            select(_r)
            .where(
                _r.c.workspace_id == _WS,
                _r.c.collection == "customers",
                _r.c.deleted.is_(False),
                expr == bindparam("email"),
            )
            .order_by(_r.c.id)
            .limit(1)
            .with_for_update()
        )
    return stmt


def _seen(conn: Connection, ws: str, mid: str, key: str) -> Any:
    """(ticket id, response id) of this mailbox's message `key`, or None: straight through the DB-API
    (core/bulk.py), as the pipeline's other hot statements are."""
    p = "%s" if conn.dialect.name == "postgresql" else "?"
    return bulk.first(
        conn,
        f"SELECT ticket_id, response_id FROM mail_messages "
        f"WHERE workspace_id = {p} AND mailbox_id = {p} AND message_id = {p}",
        (ws, mid, key),
    )


#: Called in the unit of work that creates a ticket from a message (the auto-acknowledgement).
OnCreated = Callable[[UnitOfWork, Any, Parsed, RecordState], object]


class Ingest:
    def __init__(
        self, core: Deskbase, mailboxes: Mailboxes, max_bytes: int, on_created: OnCreated | None = None
    ) -> None:
        self.core = core
        self.mailboxes = mailboxes
        self.max_bytes = max_bytes
        self.on_created = on_created

    def __call__(self, ws: str, mid: str, raw: bytes | bytearray) -> Received:
        if len(raw) > self.max_bytes:
            self.mailboxes.row(ws, mid)  # an unknown mailbox is a 404 whatever its size
            raise PayloadTooLarge(
                f"the message is {len(raw)} bytes; this server takes at most {self.max_bytes}",
                {"size": len(raw), "limit": self.max_bytes},
            )
        msg = parse(raw)  # outside any transaction; it never raises
        with self.core.db.read() as conn:  # the mailbox and the dedupe check in one read
            box = self.mailboxes.row_in(conn, ws, mid)
            hit = _seen(conn, ws, mid, msg.message_id)
        if hit is not None:
            return Received("duplicate", msg.message_id, hit[0], hit[1])
        noise = msg.noise or (None if msg.from_address else "no-sender")
        if noise is not None:
            return self._noise(box, msg, noise)
        actor = actor_of(ws, mid)
        files = self.core.files
        staged = [("message.eml", "message/rfc822")] + [(p.name, p.content_type) for p in msg.parts]
        held: list[Staged] = []
        out: Received | None = None
        try:
            for part in [None, *msg.parts]:
                # The original is as big as the message may be (max_mail_bytes, checked above), which may
                # exceed max_file_bytes; each attachment must fit max_file_bytes like any upload.
                s = files.stage(ws, actor, self.max_bytes if part is None else None)
                held.append(s)
                if part is not None and part.spooled is not None:
                    spool.decode(raw, part.spooled, s.write)
                else:
                    data = memoryview(raw if part is None else part.data)
                    for i in range(0, len(data), CHUNK):
                        s.write(bytes(data[i : i + CHUNK]))
            files.persist_all(held)  # one flush for the message's files, not one a file
            out = self._store(box, msg, staged, held)
            return out
        finally:
            for s in held:
                s.discard()
            if out is None or out.status == "duplicate":
                # The blobs were put before the transaction, whose file rows did not commit (it failed, or the
                # same message came in by another path meanwhile): remove those no other file names.
                try:
                    files.collect(s.sha256 for s in held)
                except Exception:  # a leftover blob is only space; the outcome stands
                    log.exception("mail %s/%s: could not remove unused blobs", ws, mid)

    # ---- noise ------------------------------------------------------------------------------------
    def _noise(self, box: Any, msg: Parsed, reason: str) -> Received:
        now = self.core.clock.now()
        with self.core.records.unit(box.workspace_id, actor_of(box.workspace_id, box.id)) as uow:
            uow.claim("mailbox", box.id)  # one message of a mailbox at a time: dedupe and threading are final
            if _seen(uow.tx.conn, box.workspace_id, box.id, msg.message_id) is not None:
                return Received("duplicate", msg.message_id)
            bounced = delivery.mark_bounced(uow, msg.bounced, msg.bounce_reason, now)
            self._index(uow, box, msg.message_id, "ignored", None, None, now)
        log.info("mail %s/%s: %s ignored (%s)", box.workspace_id, box.id, msg.message_id, reason)
        return Received("ignored", msg.message_id, reason=reason, bounced=tuple(bounced))

    # ---- a customer message -----------------------------------------------------------------------
    def _store(self, box: Any, msg: Parsed, staged: list[tuple[str, str]], held: list[Staged]) -> Received:
        ws, actor = box.workspace_id, actor_of(box.workspace_id, box.id)
        reopened = False
        with self.core.records.unit(ws, actor) as uow:
            conn = uow.tx.conn
            uow.claim("mailbox", box.id)  # one message of a mailbox at a time: dedupe and threading are final
            hit = _seen(conn, ws, box.id, msg.message_id)
            if hit is not None:
                return Received("duplicate", msg.message_id, hit[0], hit[1])
            uploads = [(s, name, ctype) for (name, ctype), s in zip(staged, held, strict=True)]
            ids = self.core.files.add_all(uow.tx, ws, actor, uploads)
            uow.file_refs.created(ids)
            original, attached = ids[0], ids[1:]
            when = uow.when(None)
            customer = self._customer(uow, msg, when)
            ticket = self._thread(uow, box, msg)
            others = self._copied(box, msg, customer)
            if ticket is None:
                ticket, _ = uow.upsert_record(
                    "tickets",
                    {
                        "subject": msg.subject or "(no subject)",
                        "status": "open",
                        "priority": "medium",
                        "channel": "email",
                        "mail": {"mailbox": box.id, "cc": others},
                    },
                    when,
                )
                uow.upsert_relationship(
                    "submitted_by", ("tickets", ticket.id), ("customers", customer.id), None, when
                )
                status = "created"
            else:
                status = "appended"
                patch: dict[str, Any] = {}
                if ticket.data.get("status") in REOPEN:
                    patch["status"] = "open"
                    reopened = True
                mail = dict(ticket.data.get("mail") or {})
                cc = list(mail.get("cc") or [])
                merged = cc + [a for a in others if a not in cc]
                if merged != cc or not mail.get("mailbox"):
                    patch["mail"] = {"mailbox": mail.get("mailbox") or box.id, "cc": merged[:200]}
                if patch:
                    uow.patch_record("tickets", ticket.id, patch, when)
            data = self._response(box, msg, original, attached, when)
            response, _ = uow.upsert_record("responses", data, when)
            uow.upsert_relationship(
                "has_response", ("tickets", ticket.id), ("responses", response.id), None, when
            )
            self._index(uow, box, msg.message_id, "stored", ticket.id, response.id, when)
            if status == "created" and self.on_created is not None:
                self.on_created(uow, box, msg, ticket)
        return Received(status, msg.message_id, ticket.id, response.id, reopened=reopened)

    def _response(
        self, box: Any, msg: Parsed, original: str, attached: list[str], when: datetime
    ) -> dict[str, Any]:
        visible, folded = fold(msg.text)
        inline = {p.content_id: fid for p, fid in zip(msg.parts, attached, strict=True) if p.content_id}
        mail: dict[str, Any] = {
            "direction": "inbound",
            "mailbox": box.id,
            "message_id": msg.header_id or msg.message_id,
            "in_reply_to": msg.in_reply_to[0] if msg.in_reply_to else None,
            "references": msg.references[-200:],
            "from": msg.from_address,
            "from_name": msg.from_name[:500],
            "to": msg.to[:200],
            "cc": msg.cc[:200],
            "subject": msg.subject[:2000],
            "date": iso(msg.date) if msg.date else None,
            "html": msg.html,
            "folded": bool(folded),
            "remote_images": msg.remote_images,
            "inline": inline,
        }
        if folded:
            mail["full_body"] = msg.text
        data: dict[str, Any] = {
            "body": visible or "(no text)",
            "type": "reply",
            "author": msg.from_address,
            "timestamp": iso(when),
            "original": original,
            "mail": mail,
        }
        if attached:
            data["attachments"] = attached[:100]
        return self._fit(data)

    def _fit(self, data: dict[str, Any]) -> dict[str, Any]:
        """Keep the record under max_record_bytes: drop the HTML, then the full text, then shorten the body —
        each time saying so (`mail.shortened`); the original .eml always holds everything."""
        limit = self.core.settings.max_record_bytes - 1024
        mail = data["mail"]
        for key in ("html", "full_body"):
            if len(orjson.dumps(data)) <= limit:
                return data
            if mail.pop(key, None) is not None:
                mail["shortened"] = True
        size = len(orjson.dumps(data))
        if size > limit:
            keep = max(0, len(data["body"]) - (size - limit) - len(_SHORTENED))
            data["body"] = data["body"][:keep] + _SHORTENED
            mail["shortened"] = True
        return data

    def _customer(self, uow: UnitOfWork, msg: Parsed, when: datetime) -> RecordState:
        """The live customer with this email address (the `email` index), or a new one named as the From
        header names the sender, made at the message's time like its ticket and response (so the SLA hook
        sees no customer change after the ticket's creation, and takes both from the write in hand)."""
        uow.claim("customer-email", msg.from_address.lower())
        conn = uow.tx.conn
        stmt = _customer_by_email(conn.dialect.name)
        row = conn.execute(stmt, {"ws": uow.workspace_id, "email": msg.from_address}).first()
        if row is not None:
            return uow.adopt(row)
        name = msg.from_name or msg.from_address.split("@")[0]
        st, _ = uow.upsert_record("customers", {"name": name[:200], "email": msg.from_address}, when)
        return st

    def _thread(self, uow: UnitOfWork, box: Any, msg: Parsed) -> RecordState | None:
        """The live ticket the message belongs to, by the rules in order (rules.py), or None."""
        keys = rules.lookup_order(msg.in_reply_to, msg.references)[:100]
        if keys:
            rows = uow.tx.conn.execute(_THREADED, {"ws": uow.workspace_id, "keys": keys}).all()
            by_key = {row.message_id: row.ticket_id for row in rows}
            for key in keys:
                found = self._live_ticket(uow, by_key.get(key))
                if found is not None:
                    return found
        recipients = [*msg.to, *msg.cc, *msg.delivered_to]
        for number in (rules.subject_number(msg.subject), rules.plus_number(recipients, box.address)):
            if number is None:
                continue
            rid = uow.tx.conn.execute(_BY_NUMBER, {"ws": uow.workspace_id, "number": number}).scalar()
            found = self._live_ticket(uow, rid)
            if found is not None:
                return found
        return None

    @staticmethod
    def _live_ticket(uow: UnitOfWork, rid: str | None) -> RecordState | None:
        if rid is None:
            return None
        st = uow.record("tickets", rid)
        return None if st is None or st.deleted else st

    @staticmethod
    def _copied(box: Any, msg: Parsed, customer: RecordState) -> list[str]:
        """Who else the customer wrote to (To and Cc), to copy on replies: not us, not the customer."""
        local, _, domain = box.address.partition("@")
        out: list[str] = []
        for addr in [*msg.to, *msg.cc]:
            a_local, _, a_domain = addr.partition("@")
            ours = a_domain == domain and a_local.partition("+")[0] == local
            if not ours and addr != customer.data.get("email", "").lower() and addr not in out:
                out.append(addr)
        return out[:200]

    @staticmethod
    def _index(
        uow: UnitOfWork,
        box: Any,
        key: str,
        status: str,
        ticket_id: str | None,
        response_id: str | None,
        at: datetime,
    ) -> None:
        row = {
            "workspace_id": box.workspace_id,
            "mailbox_id": box.id,
            "message_id": key,
            "direction": "inbound",
            "status": status,
            "ticket_id": ticket_id,
            "response_id": response_id,
            "created_at": at,
        }
        bulk.insert_dicts(uow.tx.conn, mail_messages, [row])
