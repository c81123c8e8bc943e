"""Folding a message for display (pure): the new text above, the quoted history and signature below.

Deny by default, data-driven: a line starts the fold only when it matches one of the markers below (each
from a real client), or the message ends in a block of `>` quotes. Nothing is folded when that would leave
nothing visible (a reply written below the quote, or a bare forward). The full text is always kept beside.
"""

from __future__ import annotations

import re

#: Lines that begin the quoted history, by the clients that write them.
HISTORY = (
    re.compile(r"^\s*On .{4,200}wrote:\s*$"),  # Gmail, Apple Mail, Thunderbird
    re.compile(r"^\s*Am .{4,200}schrieb .{1,200}:\s*$"),  # the same, in German
    re.compile(r"^\s*Le .{4,200}a écrit\s*:\s*$"),  # French
    re.compile(r"^\s*-{2,}\s*Original Message\s*-{2,}\s*$", re.I),  # Outlook, older
    re.compile(r"^\s*_{20,}\s*$"),  # Outlook: a rule above the quoted headers
    re.compile(r"^\s*From:\s.+$"),  # Outlook's header block (only with Sent:/Date: next; see _outlook)
)
#: Lines that begin a signature.
SIGNATURE = (
    re.compile(r"^-- $"),  # the standard delimiter (RFC 3676), with its trailing space
    re.compile(r"^--$"),
    re.compile(r"^\s*Sent from my (iPhone|iPad|Android|mobile device|Galaxy).*$", re.I),
    re.compile(r"^\s*Get Outlook for (iOS|Android).*$", re.I),
)
_OUTLOOK_NEXT = re.compile(r"^\s*(Sent|Date|Gesendet):\s", re.I)
_WRAPPED_ON = re.compile(r"^\s*On .{4,200}$")


def _is_history(lines: list[str], i: int) -> bool:
    line = lines[i]
    if HISTORY[-1].match(line):
        return i + 1 < len(lines) and bool(_OUTLOOK_NEXT.match(lines[i + 1]))
    if any(p.match(line) for p in HISTORY[:-1]):
        return True
    # Gmail wraps a long "On …, Name <address> wrote:" over two lines.
    return bool(_WRAPPED_ON.match(line)) and i + 1 < len(lines) and lines[i + 1].rstrip().endswith("wrote:")


def _trailing_quote(lines: list[str]) -> int | None:
    """Where a final block of `>` lines (blank lines allowed) begins, or None."""
    start = None
    for i in range(len(lines) - 1, -1, -1):
        s = lines[i].strip()
        if s.startswith(">"):
            start = i
        elif s and start is not None:
            break
        elif s:
            return None
    return start


def fold(text: str) -> tuple[str, str]:
    """(visible, folded): `visible + folded` is `text` up to the whitespace at the cut."""
    lines = text.splitlines()
    cut = next((i for i in range(len(lines)) if _is_history(lines, i)), None)
    sig = next((i for i, line in enumerate(lines) if any(p.match(line) for p in SIGNATURE)), None)
    quote = _trailing_quote(lines)
    candidates = [c for c in (cut, sig, quote) if c is not None]
    if not candidates:
        return text.strip(), ""
    at = min(candidates)
    visible = "\n".join(lines[:at]).strip()
    if not visible:
        return text.strip(), ""
    return visible, "\n".join(lines[at:]).strip()
