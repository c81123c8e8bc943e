"""Big attachment bodies cut out before the parse (spool.py) decode to exactly what the stdlib parser would
have given, on well-formed and damaged messages alike; what the walk cannot follow is left to the parser."""

from __future__ import annotations

import base64
import quopri
from email import policy
from email.parser import BytesParser

import pytest

from deskbase.mail import spool
from deskbase.mail.parse import parse

BIG = bytes(range(256)) * 1200  # 300 KiB
B64 = base64.encodebytes(BIG)
HEAD = b"From: a@example.com\r\nTo: s@acme.test\r\nSubject: big\r\nMessage-ID: <m@x>\r\nMIME-Version: 1.0\r\n"


def multipart(*parts: bytes, boundary: bytes = b"XYZ", close: bool = True) -> bytes:
    body = b"".join(b"--" + boundary + b"\r\n" + p + b"\r\n" for p in parts)
    tail = b"--" + boundary + b"--\r\n" if close else b""
    return (
        HEAD + b'Content-Type: multipart/mixed; boundary="' + boundary + b'"\r\n\r\n'
        b"preamble mentions --XYZ-not-a-delimiter\r\n" + body + tail
    )


def leaf(ctype: bytes, cte: bytes, body: bytes, name: bytes = b"f.bin") -> bytes:
    return (
        b"Content-Type: " + ctype + b"\r\nContent-Transfer-Encoding: " + cte + b"\r\n"
        b'Content-Disposition: attachment; filename="' + name + b'"\r\n\r\n' + body
    )


TEXT = b"Content-Type: text/plain\r\n\r\nhello"
CASES = {
    "base64": multipart(TEXT, leaf(b"application/octet-stream", b"base64", B64)),
    "quoted-printable": multipart(
        TEXT, leaf(b"application/x-y", b"quoted-printable", quopri.encodestring(BIG))
    ),
    "8bit as is": multipart(TEXT, leaf(b"image/x-raw", b"8bit", B64.replace(b"\n", b"\r\n"))),
    "no close delimiter": multipart(TEXT, leaf(b"application/pdf", b"base64", B64), close=False),
    "nested": multipart(
        b'Content-Type: multipart/related; boundary="in"\r\n\r\n--in\r\n'
        + leaf(b"image/png", b"base64", B64)
        + b"\r\n--in--",
        TEXT,
    ),
    "text attachment": multipart(TEXT, leaf(b"text/csv", b"quoted-printable", b"a,b=3D1\r\n" * 40_000)),
    "single part": HEAD + b"Content-Type: application/zip\r\nContent-Transfer-Encoding: base64\r\n\r\n" + B64,
}


def stdlib_parts(raw: bytes) -> list[bytes]:
    msg = BytesParser(policy=policy.default).parsebytes(raw)
    leaves = [p for p in msg.walk() if not p.is_multipart()]
    return [p.get_payload(decode=True) for p in leaves if p.get_content_type() != "text/plain"]


@pytest.mark.parametrize("raw", CASES.values(), ids=list(CASES))
def test_cut_bodies_decode_as_the_stdlib_parser_would(raw: bytes) -> None:
    cut = spool.cut(raw)
    assert cut is not None and len(cut.text) < 2000
    parsed = parse(raw)
    got = []
    for part in parsed.parts:
        assert part.spooled is not None and part.data == b""
        out: list[bytes] = []
        spool.decode(raw, part.spooled, out.append)
        got.append(b"".join(out))
    assert got == stdlib_parts(raw)
    assert parsed.message_id == "m@x" and parsed.subject == "big"
    assert parsed.text == ("" if raw.startswith(HEAD + b"Content-Type: application") else "hello")


def test_what_is_not_cut() -> None:
    """Small bodies, the message's own text, attached messages (bounces read them), TNEF, and bodies of an
    unknown encoding are parsed whole, as before."""
    assert spool.cut(multipart(TEXT, leaf(b"application/pdf", b"base64", B64[:1000]))) is None
    big_text = b"Content-Type: text/plain\r\n\r\n" + b"words " * 60_000
    assert spool.cut(multipart(big_text)) is None
    bounce = b"Content-Type: message/rfc822\r\n\r\n" + HEAD + b"\r\n" + b"x" * 300_000
    assert spool.cut(multipart(TEXT, bounce)) is None
    assert spool.cut(multipart(TEXT, leaf(b"application/ms-tnef", b"base64", B64, b"winmail.dat"))) is None
    assert spool.cut(multipart(TEXT, leaf(b"application/pdf", b"x-uuencode", B64))) is None
    assert spool.cut(multipart(TEXT, leaf(b"application/pdf", b"base64", B64), boundary=b"")) is None


def test_damaged_base64_is_read_past_its_junk() -> None:
    """Stray characters and a cut-off end: the characters that are base64 decode (as mail clients read it;
    the stdlib parser gives up and keeps the encoded text instead)."""
    raw = multipart(TEXT, leaf(b"application/pdf", b"base64", B64.replace(b"\n", b" !\r\n")[:-9] + b"\r\n"))
    (part,) = parse(raw).parts
    assert part.spooled is not None
    out: list[bytes] = []
    spool.decode(raw, part.spooled, out.append)
    got = b"".join(out)
    assert len(BIG) - 8 < len(got) < len(BIG) and got == BIG[: len(got)]
