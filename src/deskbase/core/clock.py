"""Injected time: production uses SystemClock, tests use FixedClock; nothing calls datetime.now() directly."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Protocol


def utc_ms(dt: datetime) -> datetime:
    """Normalise to aware UTC with millisecond precision, the resolution every store keeps."""
    if dt.tzinfo is None:
        raise ValueError("naive datetime; every instant must carry a time zone")
    dt = dt.astimezone(UTC)
    return dt.replace(microsecond=(dt.microsecond // 1000) * 1000)


@lru_cache(maxsize=8192)
def iso(dt: datetime) -> str:
    """ISO-8601 UTC with a `Z` and milliseconds, the wire format (hot path: every record read formats two)."""
    if dt.tzinfo is not UTC:
        dt = dt.astimezone(UTC)
    return dt.isoformat(timespec="milliseconds")[:-6] + "Z"


def parse_iso(value: str) -> datetime:
    """Parse an ISO-8601 instant; it must carry an offset or `Z`."""
    dt = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    return utc_ms(dt)


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return utc_ms(datetime.now(UTC))


class FixedClock:
    """A clock that only moves when told to, so tests never race the wall clock."""

    def __init__(self, start: datetime) -> None:
        self._now = utc_ms(start)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def set(self, at: datetime) -> None:
        with self._lock:
            self._now = utc_ms(at)

    def advance(self, **kwargs: float) -> datetime:
        with self._lock:
            self._now = self._now + timedelta(**kwargs)
            return self._now
