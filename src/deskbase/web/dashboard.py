"""The lead dashboard's four panels over the replica, each a stored query of the support template: created vs
solved per day with the backlog, first-response times, SLA attainment by plan, and a weekday-by-hour heatmap,
over whole local days of the viewer's time zone. The live strip above them is live_strip.py's, the trend's
SVG geometry trend_chart.py's."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from deskbase.analytics.service import Analytics
from deskbase.core.app import Deskbase
from deskbase.core.clock import iso
from deskbase.core.errors import DeskbaseError
from deskbase.web.dashboard_pages import (
    Bar,
    Cell,
    HeatmapPanel,
    Matrix,
    PlanAttainmentPanel,
    RateCell,
    ResponsePanel,
    TrendDay,
    TrendPanel,
)
from deskbase.web.http import url
from deskbase.web.reports import PRIORITY_ORDER, num, query_text, queue_href, rows_of
from deskbase.web.sla import duration
from deskbase.web.trend_chart import trend_chart

REPLICA_OFF = "The SQL replica is off on this server (DESKBASE_REPLICATE=false), so this panel can't run."
DAYS = {"7d": 7, "30d": 30, "90d": 90}
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
CLOCKS = (("business", "Business hours"), ("calendar", "Calendar time"))
#: the first-response histogram's buckets, as the stored query's edges (seconds) name them
BUCKETS = {
    0: "under 15 min",
    900: "15\u201330 min",
    1800: "30 min\u20131 h",
    3600: "1\u20132 h",
    7200: "2\u20134 h",
    14400: "4\u20138 h",
    28800: "8\u201324 h",
    86400: "1\u20132 days",
    172800: "2 days or more",
}


@dataclass(frozen=True)
class Panel:
    id: str  #: the route's name for it (…/dashboard/panels/{id})
    title: str
    query: str  #: the stored query it runs


PANELS = (
    Panel("created_vs_solved", "Created vs solved per day", "tickets_created_vs_solved"),
    Panel("first_response", "First-response time", "first_response_times"),
    Panel("attainment_by_plan", "SLA attainment by clock, priority and plan", "sla_attainment_by_plan"),
    Panel("weekday_hour", "Tickets created by weekday and hour", "tickets_by_weekday_and_hour"),
)
PANEL_BY_ID = {p.id: p for p in PANELS}


def zone_name(tz: str) -> str:
    """The workspace's time zone if it is a real one, else UTC (the replica is asked in this zone)."""
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        return "UTC"
    return tz


def local_period(period: str, now: datetime, tz: str) -> tuple[datetime, datetime]:
    """The last 7/30/90 days in the workspace's time zone, today included: [local midnight, tomorrow's)."""
    zone = ZoneInfo(zone_name(tz))
    today = now.astimezone(zone).date()
    start = datetime.combine(today - timedelta(days=DAYS.get(period, 30) - 1), time(0), tzinfo=zone)
    end = datetime.combine(today + timedelta(days=1), time(0), tzinfo=zone)
    return start.astimezone(UTC), end.astimezone(UTC)


# ---- panels over the SQL replica ------------------------------------------------------------------------
def _run(
    core: Deskbase,
    analytics: Analytics,
    ws: str,
    panel: Panel,
    params: dict[str, Any],
    may: Callable[[str], bool] | None,
) -> tuple[list[dict[str, Any]], float | None]:
    """(rows, engine ms) of a panel's stored query (the workspace's copy); raises DeskbaseError."""
    _, sql = query_text(core, ws, panel.query)
    result = analytics.sql(ws, sql, params, may=may)
    return rows_of(result), (result.get("statistics") or {}).get("elapsed_ms")


def _failed(exc: DeskbaseError) -> str:
    return f"The report could not run: {exc.message}"


def _period_rows(
    core: Deskbase,
    analytics: Analytics | None,
    ws: str,
    panel: Any,
    now: datetime,
    zone: str,
    may: Callable[[str], bool] | None,
    **params: Any,
) -> list[dict[str, Any]] | None:
    """A panel's stored query over its period (local days in `zone`): the rows, or None with `panel.error` set
    (no replica, or the query refused or failed); `panel.elapsed_ms` gets the engine's time."""
    if analytics is None:
        panel.error = REPLICA_OFF
        return None
    start, end = local_period(panel.period, now, zone)
    try:
        rows, panel.elapsed_ms = _run(
            core, analytics, ws, PANEL_BY_ID[panel.id], {"start": iso(start), "end": iso(end), **params}, may
        )
    except DeskbaseError as exc:
        panel.error = _failed(exc)
        return None
    return rows


def _int(value: Any) -> int:
    return int(num(value))


def trend_panel(
    core: Deskbase,
    analytics: Analytics | None,
    ws: str,
    period: str,
    now: datetime,
    tz: str,
    may: Callable[[str], bool] | None = None,
) -> TrendPanel:
    spec = PANEL_BY_ID["created_vs_solved"]
    tz = zone_name(tz)
    panel = TrendPanel(
        spec.id,
        spec.title,
        spec.query,
        period,
        tz,
        [],
        None,
        0,
        0,
        0,
        queue_href(ws, view="open"),
    )
    rows = _period_rows(core, analytics, ws, panel, now, tz, may, tz=tz)
    if rows is None:
        return panel
    for r in rows:
        day = date.fromisoformat(str(r.get("day")))
        panel.days.append(
            TrendDay(
                day.isoformat(),
                f"{WEEKDAYS[day.weekday()]} {day.day} {day:%b}",
                _int(r.get("created")),
                _int(r.get("solved")),
                _int(r.get("reopened")),
                _int(r.get("backlog")),
            )
        )
    panel.created = sum(d.created for d in panel.days)
    panel.solved = sum(d.solved for d in panel.days)
    panel.reopened = sum(d.reopened for d in panel.days)
    panel.chart = trend_chart(panel.days)
    return panel


def response_panel(
    core: Deskbase,
    analytics: Analytics | None,
    ws: str,
    period: str,
    clock: str,
    now: datetime,
    tz: str,
    may: Callable[[str], bool] | None = None,
) -> ResponsePanel:
    spec = PANEL_BY_ID["first_response"]
    clock = clock if clock in dict(CLOCKS) else "business"
    base = f"/w/{quote(ws)}/dashboard/panels/{spec.id}"
    panel = ResponsePanel(
        spec.id,
        spec.title,
        spec.query,
        period,
        clock,
        [(c, label, url(base, period=period, clock=c)) for c, label in CLOCKS],
        [],
        0,
        "",
        "",
    )
    rows = _period_rows(core, analytics, ws, panel, now, zone_name(tz), may, clock=clock)
    if rows is None:
        return panel
    if not rows or not _int(rows[0].get("total")):
        return panel
    panel.total = _int(rows[0].get("total"))
    panel.median = duration(num(rows[0].get("median_seconds")))
    panel.p90 = duration(num(rows[0].get("p90_seconds")))
    top = max(num(r.get("tickets")) for r in rows) or 1.0
    for r in rows:
        n = _int(r.get("tickets"))
        label = BUCKETS.get(_int(r.get("from_seconds")), f"from {duration(num(r.get('from_seconds')))}")
        share = f"{100 * n / panel.total:.0f} %"
        panel.bars.append(Bar(label, n, n / top, None, share))
    return panel


def plan_panel(
    core: Deskbase,
    analytics: Analytics | None,
    ws: str,
    period: str,
    now: datetime,
    tz: str,
    may: Callable[[str], bool] | None = None,
) -> PlanAttainmentPanel:
    spec = PANEL_BY_ID["attainment_by_plan"]
    panel = PlanAttainmentPanel(spec.id, spec.title, spec.query, period, [], [])
    rows = _period_rows(core, analytics, ws, panel, now, zone_name(tz), may)
    if rows is None:
        return panel
    plan_order = {"free": 0, "pro": 1, "enterprise": 2, "": 9}
    plans = sorted({str(r.get("plan") or "") for r in rows}, key=lambda p: (plan_order.get(p, 5), p))
    keys = sorted(
        {(str(r.get("metric")), str(r.get("priority") or "")) for r in rows},
        key=lambda k: (k[0], PRIORITY_ORDER.get(k[1], 9), k[1]),
    )
    found = {(str(r.get("metric")), str(r.get("priority") or ""), str(r.get("plan") or "")): r for r in rows}
    panel.plans = [p or "none" for p in plans]
    for metric, priority in keys:
        cells = []
        for plan in plans:
            r = found.get((metric, priority, plan))
            total = _int(r.get("total")) if r else 0
            met = _int(r.get("achieved")) if r else 0
            cells.append(RateCell(met / total if total else None, met, total))
        panel.rows.append((f"{metric.replace('_', ' ')} · {priority or 'none'}", cells))
    return panel


def heatmap_panel(
    core: Deskbase,
    analytics: Analytics | None,
    ws: str,
    period: str,
    now: datetime,
    tz: str,
    may: Callable[[str], bool] | None = None,
) -> HeatmapPanel:
    spec = PANEL_BY_ID["weekday_hour"]
    tz = zone_name(tz)
    panel = HeatmapPanel(spec.id, spec.title, spec.query, period, tz, None, [], 0)
    rows = _period_rows(core, analytics, ws, panel, now, tz, may, tz=tz)
    if rows is None:
        return panel
    grid = [[0] * 24 for _ in WEEKDAYS]  # 168 cells: the query's answer has at most that many rows
    for r in rows:
        grid[_int(r.get("weekday")) - 1][_int(r.get("hour"))] = _int(r.get("tickets"))
    top = max(max(row) for row in grid) or 1
    panel.matrix = Matrix(
        corner="weekday \\ hour",
        columns=[f"{h:02d}" for h in range(24)],
        rows=[(WEEKDAYS[d], [Cell(n, n / top, None) for n in grid[d]]) for d in range(7)],
    )
    panel.weekday_totals = [sum(row) for row in grid]
    panel.total = sum(panel.weekday_totals)
    return panel
