"""Identifiers: UUIDv7 for new records (time-ordered, so the primary key index stays append-mostly) and slug rules."""

from __future__ import annotations

import os
import re
import threading
import time
import uuid

from deskbase.core.errors import InvalidId

SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
RECORD_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$")

_lock = threading.Lock()
_last_ms = 0
_counter = 0


def uuid7() -> str:
    """RFC 9562 UUIDv7 with a monotonic counter inside one millisecond, so ids sort by creation order."""
    global _last_ms, _counter
    with _lock:
        ms = time.time_ns() // 1_000_000
        if ms <= _last_ms:
            ms = _last_ms
            _counter += 1
            if _counter >= 1 << 12:
                ms += 1
                _counter = 0
        else:
            _counter = int.from_bytes(os.urandom(2), "big") & 0x7FF
        _last_ms = ms
        counter = _counter
    rand = int.from_bytes(os.urandom(8), "big") & ((1 << 62) - 1)
    value = (ms & ((1 << 48) - 1)) << 80 | 0x7 << 76 | counter << 64 | 0b10 << 62 | rand
    return str(uuid.UUID(int=value))


def check_slug(value: str, what: str) -> str:
    """Workspace, collection and relationship-type ids are lowercase slugs: safe in URLs, SQL names and paths."""
    if not isinstance(value, str) or not SLUG_RE.match(value):
        raise InvalidId(
            f"invalid {what} id {value!r}: use 1-63 lowercase letters, digits, '-' or '_', starting with a "
            "letter or digit",
            {"field": what, "value": value if isinstance(value, str) else repr(value)},
        )
    return value


def check_record_id(value: str, what: str = "record") -> str:
    if not isinstance(value, str) or not RECORD_ID_RE.match(value):
        raise InvalidId(
            f"invalid {what} id {value!r}: use 1-128 letters, digits, '-' or '_', starting with a letter or digit",
            {"field": what, "value": value if isinstance(value, str) else repr(value)},
        )
    return value
