"""`winmail.dat` (Outlook's TNEF): the files and body inside it, so they are stored like any attachment."""

from __future__ import annotations

import logging
import mimetypes
from dataclasses import dataclass
from typing import TYPE_CHECKING

import tnefparse

if TYPE_CHECKING:
    from deskbase.mail.parse import Part

log = logging.getLogger(__name__)
TYPES = frozenset({"application/ms-tnef", "application/vnd.ms-tnef"})


@dataclass(frozen=True)
class Opened:
    parts: list[Part]
    text: str
    html: str


def is_tnef(content_type: str, name: str) -> bool:
    return content_type in TYPES or name.lower() == "winmail.dat"


def _text(value: object) -> str:
    if isinstance(value, bytes):
        return value.decode("cp1252", "replace").rstrip("\x00")
    return str(value or "").rstrip("\x00")


def open_tnef(data: bytes) -> Opened | None:
    """The parts, text and HTML in a TNEF blob; None when it is not one (it is then kept as it came)."""
    from deskbase.mail.parse import Part

    try:
        t = tnefparse.TNEF(data, do_checksum=False)
    except Exception as exc:  # a truncated or foreign blob: keep it as a file rather than fail the message
        log.info("winmail.dat not readable (%s); kept as an attachment", exc)
        return None
    parts = []
    for n, att in enumerate(t.attachments, 1):
        name = _text(att.long_filename()) or f"attachment-{n}"
        ctype = mimetypes.guess_type(name)[0] or "application/octet-stream"
        parts.append(Part(name, ctype, bytes(att.data or b"")))
    return Opened(parts, _text(t.body), _text(t.htmlbody))
