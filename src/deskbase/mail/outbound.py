"""Building an outbound message: the MIME text an agent reply or an acknowledgement goes out as.

Built once, when it is queued, and stored in the outbox, so a retry sends the very bytes the first attempt
sent (same Message-ID, same Date: a receiver that got it twice can tell). 7-bit clean (headers RFC 2047,
bodies quoted-printable or base64), CRLF line ends, so any SMTP server takes it as it is — unless an address
has a non-ASCII local part (`josé@…`): no 7-bit form of that exists, so the headers are written in UTF-8
(RFC 6532) and the message can only go to a server that offers SMTPUTF8 (smtp.py checks). Domains are
written in their ASCII form (IDNA 2008: `bücher.example` → `xn--bcher-kva.example`), which every server
takes.
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

import idna

from deskbase.mail import htmlsafe

#: 7-bit, CRLF, no line longer than 78: what every SMTP server accepts without SMTPUTF8 or 8BITMIME.
POLICY = policy.SMTP.clone(cte_type="7bit")
#: The same with UTF-8 headers, for a message to or from an address that has no ASCII form.
UTF8_POLICY = POLICY.clone(utf8=True)
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
        """The envelope's RCPT TO: the addressees and the copied, each once (domains in ASCII form)."""
        out: list[str] = []
        for addr in [a for _, a in self.to] + self.cc:
            addr = ascii_domain(addr)
            if addr and addr not in out:
                out.append(addr)
        return out


def ascii_domain(address: str) -> str:
    """The address with its domain in ASCII (IDNA 2008, A-labels); as it is when the domain is ASCII already
    or has no valid IDNA form (then only a server with SMTPUTF8 may take it)."""
    local, at, domain = address.rpartition("@")
    if not at or domain.isascii():
        return address
    try:
        return f"{local}@{idna.encode(domain, uts46=True).decode('ascii')}"
    except idna.IDNAError:
        return address


def needs_smtputf8(*addresses: str) -> bool:
    """Does sending to/from these addresses (domains already in ASCII form) need SMTPUTF8?"""
    return not all(a.isascii() for a in addresses)


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
    name, addr = _line(name), ascii_domain(_line(addr))
    local, _, domain = addr.rpartition("@")
    try:
        return str(Address(name, local, domain))
    except (ValueError, IndexError):
        return formataddr((name, addr))


def build(draft: Draft) -> str:
    """The message as MIME text: multipart/alternative (text, HTML), inside multipart/mixed with attachments."""
    utf8 = needs_smtputf8(ascii_domain(draft.sender[1]), *draft.recipients)
    msg = EmailMessage(policy=UTF8_POLICY if utf8 else POLICY)
    msg["From"] = _address(*draft.sender)
    msg["To"] = ", ".join(_address(n, a) for n, a in draft.to)
    if draft.cc:
        msg["Cc"] = ", ".join(ascii_domain(_line(a)) for a in draft.cc)
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
