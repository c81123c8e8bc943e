"""Delivery outcomes and the retry schedule (pure): what an attempt's result means and when to try again.

- 2xx: delivered. Anything else (3xx included: redirects are not followed), a timeout or a connection error:
  retry after the next wait of the schedule, with up to `JITTER` of it added at random so many failed
  deliveries do not come back at once; a `Retry-After` longer than that wait is honoured (capped at a day).
- 410 Gone: the receiver asks us to stop; the trigger is disabled.
- After the last wait the delivery is `exhausted` (the dead letter; `retry` and `replay` can still re-send).
- A trigger whose deliveries keep failing for `disable_after` with no success in between is disabled.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime

JITTER = 0.1
MAX_RETRY_AFTER = 86_400


def parse_schedule(text: str) -> tuple[float, ...]:
    """`"5,300,1800"` → (5.0, 300.0, 1800.0); an empty schedule means no retries."""
    out = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        value = float(part)
        if not value >= 0:
            raise ValueError(f"webhook_retry_schedule: {part!r} is not a number of seconds >= 0")
        out.append(value)
    return tuple(out)


def retry_after_seconds(header: str | None, now: datetime) -> float | None:
    """A `Retry-After` header (seconds or an HTTP date) as seconds from now; None when absent or unreadable."""
    if not header:
        return None
    header = header.strip()
    if header.isdigit():
        return min(float(header), MAX_RETRY_AFTER)
    try:
        when = parsedate_to_datetime(header)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return min(max(0.0, (when - now).total_seconds()), MAX_RETRY_AFTER)


@dataclass(frozen=True)
class Outcome:
    status: str  # "delivered" | "failed" | "exhausted"
    next_attempt_at: datetime | None
    disable: str | None  # a reason to disable the trigger, or None


def outcome(
    http_status: int | None,
    attempts: int,
    schedule: tuple[float, ...],
    now: datetime,
    jitter: float,
    retry_after: float | None = None,
    failing_since: datetime | None = None,
    disable_after: timedelta = timedelta(days=5),
) -> Outcome:
    """What follows attempt number `attempts` (1-based) that ended with `http_status` (None: no answer).

    `jitter` in [0, 1) is the random draw (the caller's); `failing_since` is when the trigger's current run of
    failures began (None if this failure starts it)."""
    if http_status is not None and 200 <= http_status < 300:
        return Outcome("delivered", None, None)
    if http_status == 410:
        return Outcome("failed", None, "the endpoint answered 410 Gone")
    if failing_since is not None and now - failing_since >= disable_after:
        return Outcome("failed", None, f"deliveries have failed since {failing_since.isoformat()}")
    if attempts > len(schedule):
        return Outcome("exhausted", None, None)
    wait = schedule[attempts - 1] * (1 + JITTER * jitter)
    if retry_after is not None:
        wait = max(wait, retry_after)
    return Outcome("failed", now + timedelta(seconds=wait), None)
