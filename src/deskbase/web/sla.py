"""SLA presentation: turn the SLA service's instance dicts into chips and panel clocks.

What a chip shows (docs/console.md has the table): running clocks count down to their deadline (the server
computed it against the business calendar), paused clocks show the business time they have left, breached
ones how long ago the deadline passed. Icon and text always accompany the colour.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from deskbase.core.clock import parse_iso

METRICS = {
    "first_response": "First response",
    "next_response": "Next response",
    "periodic_update": "Update",
    "first_resolution": "First resolution",
    "resolution": "Resolution",
}
#: kind -> (icon, words for screen readers and tooltips)
KINDS = {
    "running": ("◷", "running"),
    "soon": ("⚠", "due soon"),
    "paused": ("‖", "paused"),
    "breached": ("✕", "breached"),
    "met": ("✓", "met"),
    "cancelled": ("\u2013", "cancelled"),
}
MINUS = "\u2212"  #: a real minus sign: "-35m" would read as a hyphen
RUNNING_STATES = ("active", "warning", "paused", "breached_active")
#: a clock whose business time left equals the wall time to its deadline is in open hours until then,
#: so the browser may tick it down second by second; otherwise it waits for the next server refresh.
TICK_TOLERANCE_SECONDS = 2


def duration(seconds: float) -> str:
    """One or two units, like "1h 20m", "3d 4h", "12m", "40s"; negative values get a minus sign."""
    sign = MINUS if seconds < 0 else ""
    s = int(abs(seconds))
    d, rem = divmod(s, 86400)
    h, rem = divmod(rem, 3600)
    m, sec = divmod(rem, 60)
    if d:
        body = f"{d}d {h}h" if h else f"{d}d"
    elif h:
        body = f"{h}h {m}m" if m else f"{h}h"
    elif m:
        body = f"{m}m"
    else:
        body = f"{sec}s"
    return sign + body


@dataclass(frozen=True)
class Clock:
    """One SLA clock as the console shows it (a queue chip or a line of the ticket's SLA panel)."""

    metric: str
    label: str  #: "First response"
    state: str  #: the service's state (active, paused, warning, breached_active, achieved, …)
    kind: str  #: running | soon | paused | breached | met | cancelled (drives icon and colour)
    icon: str
    words: str  #: the kind in words ("paused"), never colour alone
    text: str  #: "1h 20m", minus "35m" when overdue, "met"
    seconds: int | None  #: signed seconds behind `text` (None when not a countdown)
    ticking: bool  #: the browser may count it down live
    business: bool
    paused: bool  #: stopped by a pause status (a breached clock can be paused too)
    target_at: str | None
    pause_reason: str | None
    title: str  #: tooltip: metric, deadline, calendar

    @property
    def running(self) -> bool:
        return self.state in RUNNING_STATES


def _kind(state: str, paused: bool, soon: bool) -> str:
    if state == "breached_active" or state == "breached":
        return "breached"
    if paused or state == "paused":
        return "paused"
    if state == "achieved":
        return "met"
    if state == "cancelled":
        return "cancelled"
    if state == "warning" or soon:
        return "soon"
    return "running"


def _reason(raw: str | None) -> str | None:
    if not raw:
        return None
    kind, _, value = raw.partition(":")
    return f"status is {value.replace('_', ' ')}" if kind == "status" and value else raw


def clock(
    inst: dict[str, Any], now: datetime, exact: bool, calendar: str | None = None, tz_label: str = "UTC"
) -> Clock:
    """Build a Clock. `exact` instances come from `ticket_view` (evaluated now: business time left is exact);
    stored ones (queue chips) may be minutes old, so their countdown runs to the deadline instead."""
    state = str(inst.get("state") or "active")
    metric = str(inst.get("metric") or "sla")
    label = METRICS.get(metric, metric.replace("_", " ").capitalize())
    cycle = inst.get("cycle")
    if metric in ("next_response", "periodic_update", "resolution") and isinstance(cycle, int) and cycle > 1:
        label = f"{label} #{cycle}"
    business = bool(inst.get("business", True))
    paused = bool(inst.get("paused")) or state == "paused"
    target = parse_iso(inst["target_at"]) if inst.get("target_at") else None
    warn = parse_iso(inst["warn_at"]) if inst.get("warn_at") else None
    left_key = "remaining_business_seconds" if business else "remaining_calendar_seconds"
    left = inst.get(left_key, inst.get("remaining_business_seconds"))
    to_deadline = int((target - now).total_seconds()) if target else None
    seconds: int | None
    ticking = False
    if state in ("achieved", "cancelled"):
        seconds = None
    elif state == "breached":  # completed late: how late, frozen
        seconds = int(left) if isinstance(left, (int, float)) and left < 0 else None
    elif paused:
        seconds = int(left) if isinstance(left, (int, float)) else None
    elif exact and isinstance(left, (int, float)):
        seconds = int(left)
        ticking = to_deadline is not None and (
            not business or abs(to_deadline - seconds) <= TICK_TOLERANCE_SECONDS
        )
    else:
        seconds, ticking = to_deadline, to_deadline is not None
    soon = bool(warn and now >= warn) or (seconds is not None and 0 <= seconds <= 3600 and state == "active")
    kind = _kind(state, paused, soon)
    if kind == "running" and seconds is not None and seconds < 0:
        kind = "breached"  # stored state a moment older than the deadline
    icon, words = KINDS[kind]
    if kind == "met":
        text = "met"
    elif kind == "cancelled":
        text = "off"
    elif state == "breached" and seconds is None:
        text = "missed"
    elif seconds is None:
        text = words
    else:
        text = duration(seconds)
    when = "business hours" if business else "calendar time"
    parts = [f"{label}: {words}"]
    if seconds is not None and kind != "met":
        parts.append(f"{duration(seconds)} {'left' if seconds >= 0 else 'overdue'} ({when})")
    if target and kind not in ("met", "cancelled", "paused"):
        parts.append(f"due {target.strftime('%a %d %b %H:%M')} UTC")
    if paused and inst.get("pause_reason"):
        parts.append(f"paused: {_reason(inst.get('pause_reason'))}")
    if calendar:
        parts.append(f"calendar {calendar} ({tz_label})")
    return Clock(
        metric=metric,
        label=label,
        state=state,
        kind=kind,
        icon=icon,
        words=words,
        text=text,
        seconds=seconds,
        ticking=ticking and state in ("active", "warning", "breached_active"),
        business=business,
        paused=paused,
        target_at=inst.get("target_at"),
        pause_reason=_reason(inst.get("pause_reason")),
        title=" · ".join(parts),
    )


def most_urgent(clocks: list[Clock]) -> Clock | None:
    """Breached first, then the running clock with the least time left, then paused ones."""
    live = [c for c in clocks if c.running]
    if not live:
        return None
    order = {"breached": 0, "soon": 1, "running": 2, "paused": 3}
    return min(live, key=lambda c: (order.get(c.kind, 4), c.seconds if c.seconds is not None else 1 << 40))
