"""Big attachments never held as text: their bodies are cut out of a message before it is parsed, and later
decoded straight from the raw bytes into storage, a chunk at a time.

Python's `email` parser holds a message as lines of text and then joins each part's body, so a 25 MB
message costs about 8 times its size while it is parsed, and decoding a base64 body ~4.5 times. Here the
MIME structure is walked on the raw bytes (only header blocks are parsed) and every leaf body over
THRESHOLD that is an attachment — anything but text shown as the message, an attached message (bounces
read it) or TNEF (opened in memory) — is left out of the copy the parser sees. Its part keeps its headers plus
`X-Deskbase-Spool: <token>-<n>`, a token new for each message, so a sender cannot forge the mark. The
parse is then of a few kilobytes; the cut bodies are decoded (base64, quoted-printable, or taken as they
are) in chunks by `decode`. Anything unexpected — no header end, an unknown encoding, a bad boundary —
leaves that part in the message to be parsed as before: this is an optimisation, never a second parser of
record.
"""

from __future__ import annotations

import binascii
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from email import policy
from email.parser import BytesHeaderParser
from typing import Any

from deskbase.mail import tnef

THRESHOLD = 256 * 1024  #: bodies at least this long are cut out
CHUNK = 1024 * 1024  #: raw bytes decoded at a time
MAX_HEADER = 256 * 1024  #: a header block longer than this is not looked into
MAX_DEPTH = 30
MARK = "X-Deskbase-Spool"
ENCODINGS = ("base64", "quoted-printable", "7bit", "8bit", "binary")
_B64 = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_NOT_B64 = bytes(b for b in range(256) if b not in _B64)

Buffer = bytes | bytearray


@dataclass(frozen=True)
class Body:
    """A body left out of the parse: where it is in the raw message and how it is encoded."""

    start: int
    end: int
    encoding: str


@dataclass(frozen=True)
class Cut:
    """The message as the parser should see it, and the bodies it lacks (marked `<token>-<index>`)."""

    text: bytes
    token: str
    bodies: tuple[Body, ...]

    def body_of(self, part: Any) -> Body | None:
        """The cut body of a parsed part, if it is one of ours (the mark carries this message's token)."""
        for value in part.get_all(MARK) or ():
            token, _, n = str(value).strip().rpartition("-")
            if token == self.token and n.isdigit() and int(n) < len(self.bodies):
                return self.bodies[int(n)]
        return None


def cut(raw: Buffer, threshold: int = THRESHOLD) -> Cut | None:
    """The message with its big attachment bodies cut out, or None when it has none (parse it whole)."""
    if len(raw) < threshold:
        return None
    found: list[tuple[int, Body]] = []  # (where the mark goes: the end of the part's header block, body)
    _walk(raw, 0, len(raw), 0, threshold, found)
    if not found:
        return None
    token = secrets.token_hex(8)
    view = memoryview(raw)
    pieces: list[Any] = []
    pos = 0
    for n, (mark_at, body) in enumerate(found):
        newline = b"\r\n" if raw[max(0, mark_at - 2) : mark_at] == b"\r\n" else b"\n"
        pieces += [view[pos:mark_at], f"{MARK}: {token}-{n}".encode() + newline, view[mark_at : body.start]]
        pos = body.end
    pieces.append(view[pos:])
    return Cut(b"".join(pieces), token, tuple(b for _, b in found))


def _head(raw: Buffer, start: int, end: int) -> tuple[int, int] | None:
    """(end of the entity's header block, start of its body), or None when no blank line ends the headers
    within reach. An entity that starts with a blank line has no headers."""
    for blank in (b"\r\n", b"\n"):
        if raw[start : start + len(blank)] == blank:
            return start, start + len(blank)
    limit = min(end, start + MAX_HEADER)
    crlf = raw.find(b"\n\r\n", start, limit)
    lf = raw.find(b"\n\n", start, limit)
    ends = [(i + 1, i + 3) for i in (crlf,) if i >= 0] + [(i + 1, i + 2) for i in (lf,) if i >= 0]
    return min(ends) if ends else None


def _walk(
    raw: Buffer, start: int, end: int, depth: int, threshold: int, found: list[tuple[int, Body]]
) -> None:
    head = _head(raw, start, end)
    if head is None or depth > MAX_DEPTH:
        return
    header_end, body_start = head
    try:
        headers = BytesHeaderParser(policy=policy.default).parsebytes(bytes(raw[start:header_end]))
        maintype = headers.get_content_maintype()
        boundary = headers.get_boundary() if maintype == "multipart" else None
        encoding = str(headers.get("Content-Transfer-Encoding") or "7bit").strip().lower()
        name = headers.get_filename() or ""
        attached = headers.get_content_disposition() == "attachment"
    except Exception:  # a header the policy cannot read: leave the entity to the parser
        return
    if maintype == "multipart":
        if boundary:
            for s, e in _parts(raw, body_start, end, boundary):
                _walk(raw, s, e, depth + 1, threshold, found)
        return
    if end - body_start < threshold or encoding not in ENCODINGS:
        return
    if maintype == "message" or (maintype == "text" and not attached):  # read whole: text, bounces
        return
    if tnef.is_tnef(headers.get_content_type(), name):
        return
    found.append((header_end, Body(body_start, end, encoding)))


def _parts(raw: Buffer, start: int, end: int, boundary: str) -> list[tuple[int, int]]:
    """The (start, end) of each body part of a multipart body: between delimiter lines `--boundary`, the
    line break before a delimiter belonging to it (RFC 2046 §5.1.1); none after the close delimiter."""
    try:
        delimiter = b"--" + boundary.encode("ascii")
    except UnicodeEncodeError:
        return []
    out: list[tuple[int, int]] = []
    part_start: int | None = None
    pos = start
    while True:
        at = raw.find(delimiter, pos, end)
        if at < 0:
            break
        after = at + len(delimiter)
        tail = raw[after : after + 2]
        at_line_start = at == start or raw[at - 1 : at] == b"\n"
        if not at_line_start or not (tail == b"--" or tail[:1] in (b"\r", b"\n", b" ", b"\t", b"")):
            pos = at + 1
            continue
        if part_start is not None:
            part_end = at - 2 if raw[at - 2 : at] == b"\r\n" else at - 1
            out.append((part_start, max(part_start, part_end)))
        if tail == b"--":
            return out
        newline = raw.find(b"\n", after, end)
        if newline < 0:
            return out
        part_start = pos = newline + 1
    if part_start is not None:  # no close delimiter: the last part runs to the end, as the parser reads it
        out.append((part_start, end))
    return out


def decode(raw: Buffer, body: Body, write: Callable[[bytes], None]) -> None:
    """Decode a cut body into `write`, CHUNK raw bytes at a time (as `get_payload(decode=True)` would)."""
    view = memoryview(raw)[body.start : body.end]
    if body.encoding == "base64":
        carry = b""
        for i in range(0, len(view), CHUNK):
            piece = carry + bytes(view[i : i + CHUNK]).translate(None, _NOT_B64)
            whole = len(piece) - len(piece) % 4
            if whole:
                write(binascii.a2b_base64(piece[:whole]))
            carry = piece[whole:]
        if len(carry) > 1:  # a truncated tail: what its characters still encode
            write(binascii.a2b_base64(carry + b"=" * (-len(carry) % 4)))
    elif body.encoding == "quoted-printable":
        carry = b""
        for i in range(0, len(view), CHUNK):
            piece = carry + bytes(view[i : i + CHUNK])
            cut_at = piece.rfind(b"\n") + 1  # soft breaks and =XX escapes never span a line end
            if cut_at:
                write(binascii.a2b_qp(piece[:cut_at]))
            carry = piece[cut_at:]
        if carry:
            write(binascii.a2b_qp(carry))
    else:
        for i in range(0, len(view), CHUNK):
            write(bytes(view[i : i + CHUNK]))
