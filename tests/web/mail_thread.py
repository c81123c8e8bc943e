"""An email conversation for the console's tests, written the way the mail package writes one: a customer's
message through the inbound pipeline (`Mail.ingest`: an attachment, an inline image, a folded quote, HTML
with a remote image, a long Cc), and agent replies whose delivery state is set through the core's record
write (`mail.delivery.set_state` in a unit of work), as the outbound sender sets it."""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any

from deskbase.core.app import Deskbase
from deskbase.core.context import SYSTEM
from deskbase.mail import delivery
from deskbase.mail.service import Mail
from deskbase.support.tickets import add_response
from tests.conftest import START
from tests.web.conftest import AGENT, WS

MAILBOX = "support"
ADDRESS = "support@acme.example"
CUSTOMER = "Ada Lovelace <ada@example.com>"
CC = ["bob@example.com", "carol@example.com", "dan@example.com", "erin@example.com", "frank@example.com"]
NEW_TEXT = "Hello,\nthe export crashes with the attached log."
QUOTE = "On Mon, 2 Mar 2026 at 09:00, Acme Support <support@acme.example> wrote:\n> Did the export work?"
ANSWERS = {
    "queued": None,
    "sent": "250 2.0.0 Ok: queued as 4F1A2",
    "failed": "451 4.7.1 greylisted, try later",
    "bounced": "550 5.1.1 <ada@example.com>: user unknown",
}


def png(width: int = 2, height: int = 2) -> bytes:
    """A valid PNG the browser decodes (a thumbnail and an inline image must really show)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + b"\x20\x60\xc0" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def customer_message(remote_image: str) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = CUSTOMER
    msg["To"] = ADDRESS
    msg["Cc"] = ", ".join(CC)
    msg["Subject"] = "Export crashes"
    msg["Date"] = format_datetime(START)
    msg["Message-ID"] = make_msgid(domain="example.com")
    msg.set_content(f"{NEW_TEXT}\n\n{QUOTE}\n")
    msg.add_alternative(
        "<p>Hello,</p><p>the <b>export</b> crashes with the attached log.</p>"
        '<p><img src="cid:shot@example.com" alt="the error dialog"></p>'
        f'<p><img src="{remote_image}" alt="a logo on another server" width="3" height="3"></p>'
        '<script>alert("no")</script><blockquote>Did the export work?</blockquote>',
        subtype="html",
    )
    msg.get_payload()[1].add_related(png(3, 2), "image", "png", cid="<shot@example.com>", filename="shot.png")
    msg.add_attachment(
        b"Traceback: export.py line 12\n", maintype="text", subtype="plain", filename="crash.log"
    )
    return msg


@dataclass
class Thread:
    ticket: str
    inbound: str  #: the customer's message (a response id)
    replies: dict[str, str]  #: delivery state -> the agent reply in that state
    message_id: str


def email_thread(core: Deskbase, remote_image: str = "https://images.example.net/logo.png") -> Thread:
    """A mailbox, a customer's email and one agent reply per delivery state, in workspace WS."""
    mail = core.extensions[Mail]
    mail.mailboxes.put(WS, MAILBOX, {"address": ADDRESS, "name": "Acme Support"}, SYSTEM)
    msg = customer_message(remote_image)
    got = mail.ingest(WS, MAILBOX, msg.as_bytes())
    assert got.status == "created" and got.ticket_id and got.response_id, got
    replies = {}
    for state, answer in ANSWERS.items():
        sent = add_response(core, WS, got.ticket_id, {"body": f"Reply ({state}).", "author": AGENT}, SYSTEM)
        outbound: dict[str, Any] = {
            "direction": "outbound",
            "mailbox": MAILBOX,
            "from": ADDRESS,
            "from_name": "Acme Support",
            "to": ["ada@example.com"],
            "cc": CC,
            "subject": "Re: Export crashes [#5]",
            "message_id": make_msgid(domain="acme.example").strip("<>"),
        }
        core.records.patch(WS, "responses", sent["id"], {"mail": outbound}, SYSTEM)
        with core.records.unit(WS, SYSTEM) as uow:
            delivery.set_state(uow, sent["id"], state, answer, 0 if state == "queued" else 2, START)
        replies[state] = sent["id"]
    return Thread(got.ticket_id, got.response_id, replies, msg["Message-ID"].strip("<>"))
