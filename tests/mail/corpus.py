"""A test corpus of real-shaped messages, generated: how Gmail, Outlook and Apple Mail write replies, forwards,
HTML-only mail, non-UTF-8 charsets, inline images, winmail.dat, malformed headers, noise and bounces."""

from __future__ import annotations

import struct
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from tests.conftest import START
from tests.mail.conftest import ADDRESS, message

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000154a24f5d0000000049454e44ae426082"
)


def gmail_reply(parent_id: str, subject: str = "Re: Printer on fire") -> EmailMessage:
    body = (
        "Thanks, that helped!\n\n"
        "On Mon, 2 Mar 2026 at 10:00, Acme Support <support@acme.test>\nwrote:\n\n"
        "> Have you tried turning it off?\n"
    )
    return message(subject, body, In_Reply_To=f"<{parent_id}>", References=f"<{parent_id}>")


def outlook_reply(references: list[str]) -> EmailMessage:
    """Outlook: References without In-Reply-To, a Thread-Index, and its quoted header block."""
    body = (
        "It is still smoking.\n\n"
        "________________________________\n"
        "From: Acme Support <support@acme.test>\n"
        "Sent: Monday, March 2, 2026 10:00 AM\n"
        "Subject: RE: Printer on fire\n\n"
        "Have you tried turning it off?\n"
    )
    msg = message("RE: Printer on fire", body, sender="Bob <BOB@Example.com>")
    msg["References"] = " ".join(f"<{r}>" for r in references)
    msg["Thread-Index"] = "AQHZ1234567890abcdef=="
    return msg


def apple_reply(number: int) -> EmailMessage:
    """Apple Mail, with the threading headers stripped by a forwarder: only the [#n] tag is left."""
    body = "Still broken.\n\nSent from my iPhone\n\n> On 2 Mar 2026, at 10:00, Acme Support wrote:\n"
    return message(f"Re: Printer on fire [#{number}]", body)


def forward() -> EmailMessage:
    body = (
        "See below, please help.\n\n---------- Forwarded message ---------\nFrom: Carol <carol@example.org>\n"
        "Subject: broken invoice\n\nThe invoice total is wrong.\n"
    )
    return message("Fwd: broken invoice", body)


def html_only() -> EmailMessage:
    msg = message("Formatted")
    msg.set_content(
        '<html><head><style>body{display:none}</style></head><body><p style="color:red;position:fixed">'
        '<b>Bold</b> words</p><script>alert(1)</script><img src="https://tracker.example/p.gif">'
        '<a href="javascript:alert(1)">x</a><div>second line</div></body></html>',
        subtype="html",
    )
    return msg


def inline_image() -> EmailMessage:
    msg = message("Screenshot", "See the screenshot.")
    msg.add_alternative('<p>See the screenshot:</p><img src="cid:shot@acme">', subtype="html")
    msg.get_payload()[1].add_related(PNG, "image", "png", cid="<shot@acme>", filename="shot.png")
    msg.add_attachment(b"%PDF-1.4 fake", maintype="application", subtype="pdf", filename="invoice.pdf")
    return msg


def charset(codec: str, text: str, subject: bytes = b"Charset test", encoding: str | None = None) -> bytes:
    """A raw message labelled `codec`, its text encoded in `encoding` (the label's codec unless given: Windows
    clients label windows-1252 text ISO-8859-1)."""
    return (
        b"From: Dana <dana@example.com>\r\nTo: " + ADDRESS.encode() + b"\r\nSubject: " + subject + b"\r\n"
        b"Message-ID: <" + make_msgid(domain="x").strip("<>").encode() + b">\r\n"
        b"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=" + codec.encode() + b"\r\n"
        b"Content-Transfer-Encoding: 8bit\r\n\r\n" + text.encode(encoding or codec) + b"\r\n"
    )


def _tnef_attr(level: int, kind: int, name: int, data: bytes) -> bytes:
    checksum = sum(data) & 0xFFFF
    return struct.pack("<BHHI", level, name, kind, len(data)) + data + struct.pack("<H", checksum)


def winmail() -> EmailMessage:
    """Outlook's rich-text mail: the real attachment is inside winmail.dat (TNEF)."""
    tnef = struct.pack("<IH", 0x223E9F78, 1)
    tnef += _tnef_attr(1, 0x0009, 0x9006, struct.pack("<I", 0x00010000))  # TNEF version
    tnef += _tnef_attr(1, 0x0001, 0x800C, b"Plain text inside TNEF\x00")  # attBody
    tnef += _tnef_attr(2, 0x0006, 0x9002, b"\x00" * 14)  # attAttachRendData: a new attachment
    tnef += _tnef_attr(2, 0x0001, 0x8010, b"report.txt\x00")  # attAttachTitle
    tnef += _tnef_attr(2, 0x0006, 0x800F, b"quarterly numbers")  # attAttachData
    msg = message("Outlook rich text", "See attached.")
    msg.add_attachment(tnef, maintype="application", subtype="ms-tnef", filename="winmail.dat")
    return msg


MALFORMED = (
    b'From: "Unclosed <eve@example.com>\r\n'
    b"To: support@acme.test,, <>\r\n"
    b"Subject: =?utf-8?B?bm90IGJhc2U2NA?=\r\n"
    b"Date: yesterday-ish\r\n"
    b'Content-Type: text/plain; charset="no-such-charset"\r\n'
    b"\r\n"
    b"Body with caf\xc3\xa9 and a stray \xff byte.\r\n"
)


def auto_reply() -> EmailMessage:
    return message("Out of office", "I am away.", Auto_Submitted="auto-replied")


def bulk() -> EmailMessage:
    return message("Newsletter", "Big sale!", Precedence="bulk")


def list_mail() -> EmailMessage:
    return message("[dev] weekly digest", "Digest", Precedence="list", List_Id="<dev.lists.example.com>")


def bounce(original_id: str, to: str = ADDRESS) -> bytes:
    """A standard delivery status notification (RFC 3464) for a message we sent, as Postfix writes one."""
    return (
        "From: Mail Delivery System <MAILER-DAEMON@mx.example.com>\r\n"
        f"To: {to}\r\nSubject: Undelivered Mail Returned to Sender\r\n"
        f"Date: {format_datetime(START)}\r\nMessage-ID: {make_msgid(domain='mx.example.com')}\r\n"
        "Auto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
        "--B\r\nContent-Type: text/plain\r\n\r\nYour message could not be delivered.\r\n"
        "--B\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.example.com\r\n\r\n"
        "Final-Recipient: rfc822; ada@example.com\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        "Diagnostic-Code: smtp; 550 5.1.1 user unknown\r\n\r\n"
        "--B\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"Message-ID: <{original_id}>\r\nFrom: {to}\r\nTo: ada@example.com\r\nSubject: Re: x\r\n\r\n"
        "--B--\r\n"
    ).encode()
