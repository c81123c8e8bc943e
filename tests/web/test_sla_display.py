"""How SLA instances become chips: kinds, text, ticking, and the most urgent clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from deskbase.core.clock import iso
from deskbase.web.sla import clock, duration, most_urgent

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


def inst(**kw: Any) -> dict[str, Any]:
    base = {
        "metric": "first_response",
        "cycle": 1,
        "state": "active",
        "business": True,
        "paused": False,
        "pause_reason": None,
        "target_at": iso(NOW + timedelta(hours=2)),
        "warn_at": None,
        "remaining_business_seconds": 7200,
        "remaining_calendar_seconds": 7200,
    }
    return {**base, **kw}


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (42, "42s"),
        (60, "1m"),
        (4800, "1h 20m"),
        (7200, "2h"),
        (90000, "1d 1h"),
        (172800, "2d"),
        (-2100, "\u221235m"),
    ],
)
def test_durations_use_one_or_two_units(seconds: int, text: str) -> None:
    assert duration(seconds) == text


def test_a_running_clock_in_open_hours_ticks() -> None:
    c = clock(inst(), NOW, exact=True)
    assert (c.kind, c.text, c.ticking, c.icon) == ("running", "2h", True, "◷")
    assert "business hours" in c.title and "due Mon 02 Mar 12:00 UTC" in c.title


def test_a_clock_with_closed_hours_before_its_deadline_waits_for_the_server() -> None:
    c = clock(
        inst(target_at=iso(NOW + timedelta(hours=20)), remaining_business_seconds=7200), NOW, exact=True
    )
    assert (c.text, c.seconds, c.ticking) == ("2h", 7200, False)


def test_calendar_time_clocks_always_tick() -> None:
    c = clock(
        inst(business=False, target_at=iso(NOW + timedelta(hours=20)), remaining_calendar_seconds=72000),
        NOW,
        exact=True,
    )
    assert (c.text, c.ticking) == ("20h", True) and "calendar time" in c.title


def test_queue_chips_count_down_to_the_deadline() -> None:
    stale = inst(target_at=iso(NOW + timedelta(minutes=90)), remaining_business_seconds=99999)
    c = clock(stale, NOW, exact=False)
    assert (c.text, c.ticking, c.kind) == ("1h 30m", True, "running")


def test_soon_paused_breached_met() -> None:
    assert clock(inst(state="warning"), NOW, exact=True).kind == "soon"
    assert (
        clock(
            inst(remaining_business_seconds=1800, target_at=iso(NOW + timedelta(minutes=30))), NOW, exact=True
        ).kind
        == "soon"
    )
    paused = clock(
        inst(state="paused", paused=True, pause_reason="status:waiting", remaining_business_seconds=3000),
        NOW,
        exact=True,
    )
    assert (paused.kind, paused.text, paused.ticking, paused.pause_reason) == (
        "paused",
        "50m",
        False,
        "status is waiting",
    )
    breached = clock(
        inst(
            state="breached_active",
            target_at=iso(NOW - timedelta(minutes=35)),
            remaining_business_seconds=-2100,
        ),
        NOW,
        exact=True,
    )
    assert (breached.kind, breached.text, breached.icon) == ("breached", "\u221235m", "✕")
    late = clock(inst(state="breached", remaining_business_seconds=-600), NOW, exact=True)
    assert (late.kind, late.text, late.ticking) == ("breached", "\u221210m", False)
    met = clock(inst(state="achieved"), NOW, exact=True)
    assert (met.kind, met.text, met.running) == ("met", "met", False)
    # a stored clock a moment past its deadline is already shown as breached
    assert clock(inst(target_at=iso(NOW - timedelta(minutes=1))), NOW, exact=False).kind == "breached"


def test_the_most_urgent_clock_wins() -> None:
    clocks = [
        clock(
            inst(
                metric="resolution",
                remaining_business_seconds=90000,
                target_at=iso(NOW + timedelta(seconds=90000)),
            ),
            NOW,
            exact=True,
        ),
        clock(inst(metric="first_response"), NOW, exact=True),
        clock(
            inst(metric="next_response", state="paused", paused=True, remaining_business_seconds=60),
            NOW,
            exact=True,
        ),
        clock(inst(metric="periodic_update", state="achieved"), NOW, exact=True),
    ]
    top = most_urgent(clocks)
    assert top is not None and top.metric == "first_response"
    clocks.append(
        clock(
            inst(
                metric="next_response",
                cycle=2,
                state="breached_active",
                target_at=iso(NOW - timedelta(minutes=5)),
                remaining_business_seconds=-300,
            ),
            NOW,
            exact=True,
        )
    )
    top = most_urgent(clocks)
    assert top is not None and top.label == "Next response #2"
    assert most_urgent([clocks[3]]) is None
