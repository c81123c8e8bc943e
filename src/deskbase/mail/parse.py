"""Parsing one raw message (stdlib `email`, `policy.default`) into what the inbound pipeline stores.

Charsets: the declared one, read leniently (bytes it cannot decode become U+FFFD, never an error); a part
labelled ISO-8859-1 or ASCII is read as windows-1252, its superset that real clients mean; an undeclared or
unknown charset is tried as UTF-8, then windows-1252. Headers with raw 8-bit bytes get the same treatment.
Bodies: text/plain is preferred; an HTML-only message gets a text version made from it; HTML is kept
sanitised (htmlsafe.py). Attachments and inline `cid:` images come out as parts to store (big ones cut out
before the parse, to be decoded from the raw bytes: spool.py); a `winmail.dat` (TNEF) is opened and its
files taken out. A parse never raises on malformed input: it keeps what it can read.
"""

from __future__ import annotations

import codecs
import hashlib
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.parser import BytesParser
from email.policy import EmailPolicy
from email.utils import getaddresses, parsedate_to_datetime
from functools import lru_cache
from typing import Any

from deskbase.mail import htmlsafe, spool, tnef

ALIASES = {
    "iso-8859-1": "cp1252",
    "latin-1": "cp1252",
    "latin1": "cp1252",
    "us-ascii": "cp1252",
    "ascii": "cp1252",
}
_ID = re.compile(r"<([^<>\s]{1,2000})>")
_MAX_KEY = 255
_PRECEDENCE_NOISE = frozenset({"bulk", "junk", "list"})
_DAEMONS = ("mailer-daemon", "postmaster")
_CACHED_HEADER = 1000  #: longer header values are parsed each time (rare, and they would crowd the cache)


class _Policy(EmailPolicy):
    """`policy.default`, remembering parsed headers. The stdlib parses a header anew on every `get`, and
    `get_content_type` and friends get Content-Type many times a message: a third of a message's parse. A
    parsed header is immutable and depends only on its name and text, so one parse serves every repeat, in
    this message and the next (`Content-Type: text/plain; charset="utf-8"`)."""

    def header_fetch_parse(self, name: str, value: str) -> Any:
        if hasattr(value, "name"):
            return value
        if len(value) > _CACHED_HEADER:
            return super().header_fetch_parse(name, value)
        return _parsed(self, name, value)


@lru_cache(maxsize=2048)
def _parsed(pol: _Policy, name: str, value: str) -> Any:
    return EmailPolicy.header_fetch_parse(pol, name, value)


POLICY = _Policy()


@dataclass(frozen=True)
class Part:
    """An attachment or inline image to store as a file: its bytes, or (a big one) where its body is in the
    raw message, to be decoded from there (spool.py)."""

    name: str
    content_type: str
    data: bytes
    content_id: str | None = None  # without angle brackets; inline images are referred to as cid:<it>
    spooled: spool.Body | None = None


@dataclass
class Parsed:
    message_id: str  # the dedupe and threading key (message_key), made up from the content when absent
    subject: str
    from_address: str  # lower-case; "" when the From header is unreadable
    from_name: str
    to: list[str]
    cc: list[str]
    delivered_to: list[str]
    in_reply_to: list[str]  # keys, as message_key makes them
    references: list[str]
    date: datetime | None
    text: str
    html: str | None
    remote_images: int
    parts: list[Part]
    noise: str | None  # why no ticket may come of it (auto-submitted, precedence, mailer-daemon, report)
    bounced: list[str] = field(default_factory=list)  # outbound keys a delivery report says failed
    bounce_reason: str | None = None
    header_id: str | None = None  # the Message-ID as sent, when there was one


def message_key(value: str | None) -> str | None:
    """A Message-ID as the index holds it: what is inside its angle brackets (the bare text when there are
    none), or a digest when longer than an index may hold."""
    if not value:
        return None
    m = _ID.search(value)
    key = m.group(1) if m else value.strip().strip("<>").strip()
    if not key or any(c.isspace() for c in key):
        return None
    if len(key) > _MAX_KEY:
        return "sha256:" + hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()
    return key


def id_list(value: str | None) -> list[str]:
    """Every Message-ID in an In-Reply-To or References header, in order."""
    if not value:
        return []
    return [k for k in (message_key(f"<{m}>") for m in _ID.findall(value)) if k]


def _codec(name: str | None) -> str | None:
    if not name:
        return None
    name = ALIASES.get(name.strip().lower(), name.strip().lower())
    try:
        return codecs.lookup(name).name
    except LookupError:
        return None


def decode_bytes(raw: bytes, charset: str | None) -> str:
    codec = _codec(charset)
    if codec is None or (codec == "cp1252" and not charset):
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            lenient = raw.decode("utf-8", "replace")
            # A few broken sequences in UTF-8 text stay UTF-8; text that is not UTF-8 at all is windows-1252.
            if lenient.count("\ufffd") * 20 <= len(raw):
                return lenient
            return raw.decode("cp1252", "replace")
    try:
        return raw.decode(codec)
    except UnicodeDecodeError:
        return raw.decode(codec, "replace")


def _header(msg: Any, name: str) -> str:
    """A header's text, RFC 2047 words decoded; a value with raw 8-bit bytes is decoded as UTF-8 or 1252."""
    raw = next((v for k, v in msg.raw_items() if k.lower() == name.lower()), None)
    if raw is None:
        return ""
    if any("\udc80" <= c <= "\udcff" for c in raw):
        text = decode_bytes(raw.encode("ascii", "surrogateescape"), None)
    else:
        try:
            text = str(msg.get(name))
        except Exception:  # a header the policy's parser cannot make sense of: keep its raw text
            text = raw
    return " ".join(text.replace("\x00", "").split())


_LOOSE_ADDRESS = re.compile(r"[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")


def _addresses(msg: Any, name: str) -> list[tuple[str, str]]:
    """(display name, lower-case address) of each readable address in the header."""
    text = _header(msg, name)
    out = []
    for display, addr in getaddresses([text]):
        addr = addr.strip().lower()
        if "@" in addr and not any(c.isspace() for c in addr):
            out.append((display.strip(), addr))
    if not out:  # malformed (an unclosed quote, say): take the addresses it shows
        out = [("", a.lower()) for a in _LOOSE_ADDRESS.findall(text)]
    return out


def _text_of(part: Any) -> str:
    raw = part.get_payload(decode=True)
    return decode_bytes(raw if isinstance(raw, bytes) else b"", part.get_content_charset())


def _name_of(part: Any, n: int) -> str:
    try:
        name = part.get_filename()
    except Exception:
        name = None
    if name and any("\udc80" <= c <= "\udcff" for c in name):
        name = decode_bytes(name.encode("utf-8", "surrogateescape"), None)
    if not name:
        ext = {"text/html": ".html", "text/plain": ".txt", "message/rfc822": ".eml"}.get(
            part.get_content_type()
        )
        sub = part.get_content_subtype()
        name = f"part-{n}{ext or '.' + re.sub(r'[^a-z0-9]', '', sub)[:10] or ''}"
    return name


def _leaves(msg: Any) -> list[Any]:
    """The message's leaf parts in order; an attached message (message/rfc822) is one leaf, not opened."""
    if msg.get_content_maintype() == "multipart":
        payload = msg.get_payload()
        if isinstance(payload, list):
            return [leaf for sub in payload for leaf in _leaves(sub)]
        return []
    return [msg]


def _body(msg: Any, kind: str) -> Any:
    try:
        return msg.get_body(preferencelist=(kind,))
    except Exception:
        return None


def _noise(msg: Any, from_address: str) -> str | None:
    if msg.get_content_type() == "multipart/report":
        return "report"
    if from_address.split("@")[0] in _DAEMONS:
        return "mailer-daemon"
    auto = _header(msg, "Auto-Submitted").lower()
    if auto and auto.split(";")[0].strip() != "no":
        return "auto-submitted"
    if _header(msg, "Precedence").lower() in _PRECEDENCE_NOISE:
        return "precedence"
    if _header(msg, "X-Autoreply") or _header(msg, "X-Autorespond"):
        return "auto-submitted"
    return None


def _bounce(msg: Any, text: str) -> tuple[list[str], str | None]:
    """The Message-IDs a delivery report is about and its reason (Diagnostic-Code, else Status)."""
    ids: list[str] = []
    reason = None
    for part in msg.walk():
        ctype = part.get_content_type()
        if ctype in ("message/rfc822", "text/rfc822-headers"):
            inner = part.get_payload()
            if isinstance(inner, list) and inner:
                key = message_key(_header(inner[0], "Message-ID"))
            else:
                head = BytesParser(policy=POLICY).parsebytes(
                    part.get_payload(decode=True) or b"", headersonly=True
                )
                key = message_key(_header(head, "Message-ID"))
            if key:
                ids.append(key)
        elif ctype == "message/delivery-status":
            blocks = part.get_payload()
            for block in blocks if isinstance(blocks, list) else []:
                found = _header(block, "Diagnostic-Code") or _header(block, "Status")
                if found and reason is None:
                    reason = found
    if not ids:  # a plain-text bounce that quotes the original's headers
        ids = [k for k in (message_key(m) for m in re.findall(r"(?im)^Message-ID:\s*(<[^>]+>)", text)) if k]
    return ids, reason


def _made_up_key(msg: Any, text: str) -> str:
    """A message without a Message-ID is known by its content, so it too is stored once."""
    seed = "\n".join(_header(msg, h) for h in ("From", "To", "Date", "Subject")) + "\n" + text
    return "sha256:" + hashlib.sha256(seed.encode("utf-8", "surrogatepass")).hexdigest()


def parse(raw: bytes | bytearray) -> Parsed:
    cut = spool.cut(raw)
    msg: Any = BytesParser(policy=POLICY).parsebytes(cut.text if cut else raw)
    sender = _addresses(msg, "From")
    from_name, from_address = sender[0] if sender else ("", "")
    plain, rich = _body(msg, "plain"), _body(msg, "html")
    html_text = _text_of(rich) if rich is not None else None
    text = _text_of(plain) if plain is not None else ""
    parts: list[Part] = []
    for n, leaf in enumerate(_leaves(msg), 1):
        if leaf is plain or leaf is rich:
            continue
        ctype = leaf.get_content_type()
        if leaf.get_content_maintype() == "multipart" or (
            ctype in ("text/plain", "text/html") and leaf.get_content_disposition() is None
        ):
            continue  # an alternative we did not choose
        body = cut.body_of(leaf) if cut else None
        if body is not None:
            parts.append(Part(_name_of(leaf, n), ctype, b"", message_key(_header(leaf, "Content-ID")), body))
            continue
        data: bytes = leaf.get_payload(decode=True) or b""
        if ctype == "message/rfc822":
            inner = leaf.get_payload()
            data = inner[0].as_bytes() if isinstance(inner, list) and inner else leaf.as_bytes()
        name = _name_of(leaf, n)
        if tnef.is_tnef(ctype, name):
            opened = tnef.open_tnef(data)
            if opened is not None:
                parts += opened.parts
                if not text and opened.text:
                    text = opened.text
                if html_text is None and opened.html:
                    html_text = opened.html
                continue
        cid = message_key(_header(leaf, "Content-ID"))
        parts.append(Part(name, ctype, data, cid))
    safe, remote = (None, 0) if html_text is None else htmlsafe.sanitize(html_text)
    if not text and html_text is not None:
        text = htmlsafe.to_text(html_text)
    noise = _noise(msg, from_address)
    bounced, reason = _bounce(msg, text) if noise in ("report", "mailer-daemon") else ([], None)
    header_id = message_key(_header(msg, "Message-ID"))
    try:
        date = parsedate_to_datetime(_header(msg, "Date"))
        date = date.astimezone(UTC) if date.tzinfo else date.replace(tzinfo=UTC)
    except (TypeError, ValueError, IndexError):
        date = None
    return Parsed(
        message_id=header_id or _made_up_key(msg, text),
        subject=_header(msg, "Subject"),
        from_address=from_address,
        from_name=from_name,
        to=[a for _, a in _addresses(msg, "To")],
        cc=[a for _, a in _addresses(msg, "Cc")],
        delivered_to=[a for _, a in _addresses(msg, "Delivered-To") + _addresses(msg, "X-Original-To")],
        in_reply_to=id_list(_header(msg, "In-Reply-To")),
        references=id_list(_header(msg, "References")),
        date=date,
        text=text.replace("\r\n", "\n").replace("\x00", ""),
        html=safe,
        remote_images=remote,
        parts=parts,
        noise=noise,
        bounced=bounced,
        bounce_reason=reason,
        header_id=header_id,
    )
