"""Building an outbound message: the MIME text an agent reply or an acknowledgement goes out as.

Built once, when it is queued, and stored in the outbox, so a retry sends the very bytes the first attempt
sent (same Message-ID, same Date: a receiver that got it twice can tell). 7-bit clean (headers RFC 2047,
bodies quoted-printable or base64), CRLF line ends, so any SMTP server takes it as it is.
"""

from __future__ import annotations

import html
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, formataddr

from deskbase.mail import htmlsafe

#: 7-bit, CRLF, no line longer than 78: what every SMTP server accepts without SMTPUTF8 or 8BITMIME.
POLICY = policy.SMTP.clone(cte_type="7bit")
#: A thread's References header keeps the first message and the newest ones (RFC 5322 allows trimming).
REFERENCES_KEPT = 20
_PARAGRAPH = re.compile(r"\n[ \t]*\n")


@dataclass(frozen=True)
class Attachment:
    name: str
    content_type: str
    chunks: Iterable[bytes]  # read once, while the message is built (streamed from the blob store)


@dataclass(frozen=True)
class Draft:
    """Everything an outbound message says; `build` turns it into MIME text."""

    sender: tuple[str, str]  # (display name, address)
    to: list[tuple[str, str]]
    cc: list[str]
    subject: str
    message_id: str  # without angle brackets
    date: datetime
    text: str
    html: str | None = None  # sanitised already (see `html_of`)
    in_reply_to: str | None = None
    references: list[str] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)  # extra ones, e.g. Auto-Submitted

    @property
    def recipients(self) -> list[str]:
        """The envelope's RCPT TO: the addressees and the copied, each once."""
        out: list[str] = []
        for addr in [a for _, a in self.to] + self.cc:
            if addr and addr not in out:
                out.append(addr)
        return out


def new_message_id(address: str) -> str:
    """A Message-ID under the mailbox's own domain (random: record ids may be chosen by clients)."""
    domain = address.rpartition("@")[2] or "deskbase.invalid"
    return f"deskbase.{secrets.token_hex(12)}@{domain}"


def html_of(text: str, given: str | None) -> str:
    """The HTML part: the response's own HTML, sanitised like received mail, or its text escaped, with
    paragraphs and line breaks kept."""
    if given:
        return htmlsafe.sanitize(given)[0]
    paragraphs = [p.strip("\n") for p in _PARAGRAPH.split(text.replace("\r\n", "\n")) if p.strip()]
    return "".join(
        "<p>" + "<br>\n".join(html.escape(line) for line in p.split("\n")) + "</p>\n" for p in paragraphs
    )


def thread_headers(keys: list[str]) -> tuple[str | None, list[str]]:
    """In-Reply-To and References from a thread's stored Message-IDs (oldest first). Digest keys (ids too
    long to index whole) cannot be written back, so they are left out."""
    usable = [k for k in keys if not k.startswith("sha256:")]
    if not usable:
        return None, []
    refs = usable if len(usable) <= REFERENCES_KEPT else [usable[0], *usable[-(REFERENCES_KEPT - 1) :]]
    return usable[-1], refs


def _line(value: str) -> str:
    """A header value on one line: a subject or a name typed with line breaks must not end the header."""
    return " ".join(value.split())


def _address(name: str, addr: str) -> str:
    name, addr = _line(name), _line(addr)
    local, _, domain = addr.rpartition("@")
    try:
        return str(Address(name, local, domain))
    except (ValueError, IndexError):
        return formataddr((name, addr))


def build(draft: Draft) -> str:
    """The message as MIME text: multipart/alternative (text, HTML), inside multipart/mixed with attachments."""
    msg = EmailMessage(policy=POLICY)
    msg["From"] = _address(*draft.sender)
    msg["To"] = ", ".join(_address(n, a) for n, a in draft.to)
    if draft.cc:
        msg["Cc"] = ", ".join(_line(a) for a in draft.cc)
    msg["Subject"] = _line(draft.subject)
    msg["Date"] = format_datetime(draft.date)
    msg["Message-ID"] = f"<{draft.message_id}>"
    if draft.in_reply_to:
        msg["In-Reply-To"] = f"<{draft.in_reply_to}>"
    if draft.references:
        msg["References"] = " ".join(f"<{r}>" for r in draft.references)
    for name, value in draft.headers.items():
        msg[name] = value
    msg.set_content(draft.text if draft.text.endswith("\n") else draft.text + "\n")
    if draft.html is not None:
        msg.add_alternative(draft.html, subtype="html")
    for a in draft.attachments:
        maintype, _, subtype = a.content_type.partition("/")
        if not subtype or maintype in ("message", "multipart"):  # those may not be base64-encoded
            maintype, subtype = "application", "octet-stream"
        msg.add_attachment(_read(a.chunks), maintype=maintype, subtype=subtype, filename=a.name)
    return msg.as_string()


def _read(chunks: Iterable[bytes]) -> bytes:
    out = bytearray()
    for chunk in chunks:
        out += chunk
    close = getattr(chunks, "close", None)
    if callable(close):
        close()
    return bytes(out)
