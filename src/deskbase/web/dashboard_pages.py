"""Typed page contexts of the dashboard and its panels (see pages.py: each template renders one of these as
`page`; tests/web/test_templates.py checks templates read only declared fields)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


# ---- dashboard --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Bar:
    label: str
    value: float
    share: float  #: 0..1 of the largest value, for the bar's width
    href: str | None  #: the matching queue filter
    note: str = ""  #: numbers shown beside the bar (e.g. "3 urgent")
    extra: float = 0.0  #: a highlighted part of the bar (0..1 of the largest value)


@dataclass(frozen=True)
class Cell:
    value: float
    share: float  #: 0..1 of the largest cell, for the shading
    href: str | None


@dataclass(frozen=True)
class Matrix:
    """A two-way breakdown (category by channel) drawn as a shaded table with the numbers in the cells."""

    corner: str
    columns: list[str]
    rows: list[tuple[str, list[Cell]]]


@dataclass(frozen=True)
class ReportLink:
    id: str
    title: str
    description: str
    href: str


@dataclass
class ReportPanel:
    id: str
    title: str
    description: str
    bars: list[Bar]
    matrix: Matrix | None
    table: list[list[Any]]  #: header row first
    error: str | None
    elapsed_ms: float | None
    total: float


@dataclass
class AttainmentPanel:
    period: str
    start: str
    end: str
    bars: list[Bar]
    table: list[list[Any]]
    error: str | None


@dataclass
class DashboardPage:
    reports: list[ReportLink]
    sql_available: bool
    sla_available: bool
    period: str
    periods: list[tuple[str, str]]
    attainment_href: str
    strip_href: str = ""  #: the live strip (its own request, polled)
    #: the lead panels over the period, one request each (`description`: the stored query's name)
    panels: list[ReportLink] = field(default_factory=list)
    #: what the viewer's permissions leave out (reports and lead panels need `sql`): named once, quietly,
    #: instead of a red refusal in each panel
    withheld: list[str] = field(default_factory=list)
    base: str = ""  #: the dashboard's address (the period bar redraws the panels from it)


# ---- the lead dashboard: live strip, created vs solved, first response, attainment by plan, heatmap --------
@dataclass(frozen=True)
class StripPart:
    label: str
    value: int
    href: str  #: the queue filter listing exactly these tickets


@dataclass(frozen=True)
class StripItem:
    id: str
    label: str
    value: int | None  #: None: not available on this server (an SLA number without the SLA service)
    href: str | None  #: the queue listing these tickets
    note: str = ""  #: what the number counts, in words (shown under it)
    exact: bool = True  #: False: the linked queue holds more than this number (`note` says what)
    parts: list[StripPart] = field(default_factory=list)  #: a breakdown whose parts each match a queue


@dataclass
class LiveStrip:
    """The numbers a lead watches, from the primary store's indexed counts (the queue navigation's own)."""

    items: list[StripItem]
    href: str  #: this fragment again: polled every minute
    template: str = "dashboard/strip.html"
    title: str = "Right now"


@dataclass(frozen=True)
class ChartBar:
    x: float
    y: float
    width: float
    height: float
    series: str  #: "created" or "solved": a CSS class (the two differ in pattern as well as colour)
    title: str  #: the tooltip, e.g. "Tue 3 Mar: 12 created"


@dataclass(frozen=True)
class ChartTick:
    pos: float  #: y for the value axes, x for the day axis, in the chart's units
    label: str


@dataclass(frozen=True)
class ChartDot:
    x: float
    y: float
    title: str


@dataclass(frozen=True)
class Chart:
    """A bars-and-line chart drawn as inline SVG (geometry computed on the server; no script)."""

    width: int
    height: int
    left: float  #: the plot area's edges
    top: float
    right: float
    bottom: float
    bars: list[ChartBar]
    line: str  #: the backlog polyline's points ("x,y x,y …")
    dots: list[ChartDot]
    left_ticks: list[ChartTick]  #: tickets per day
    right_ticks: list[ChartTick]  #: backlog
    day_ticks: list[ChartTick]


@dataclass(frozen=True)
class TrendDay:
    day: str  #: ISO date in the workspace's time zone
    label: str  #: "Tue 3 Mar"
    created: int
    solved: int
    reopened: int
    backlog: int  #: open tickets at the end of the day


@dataclass
class TrendPanel:
    """Created vs solved per day with the backlog: the `tickets_created_vs_solved` stored query."""

    id: str
    title: str
    query: str  #: the stored query it runs (analysts can run it too)
    period: str
    timezone: str
    days: list[TrendDay]
    chart: Chart | None
    created: int  #: totals over the period
    solved: int
    reopened: int
    open_href: str  #: the open queue: the last backlog number is what it lists now
    error: str | None = None
    elapsed_ms: float | None = None
    template: str = "dashboard/trend.html"


@dataclass
class ResponsePanel:
    """First-response times as a histogram with the median and p90: the `first_response_times` query."""

    id: str
    title: str
    query: str  #: the stored query it runs (analysts can run it too)
    period: str
    clock: str  #: business | calendar
    clocks: list[tuple[str, str, str]]  #: (id, label, href) of the toggle
    bars: list[Bar]
    total: int
    median: str  #: "1h 5m" (empty without replies)
    p90: str
    error: str | None = None
    elapsed_ms: float | None = None
    template: str = "dashboard/first_response.html"


@dataclass(frozen=True)
class RateCell:
    rate: float | None  #: share met, 0..1 (None: no clock of this kind completed)
    met: int
    total: int


@dataclass
class PlanAttainmentPanel:
    """SLA attainment by clock, priority and customer plan: the `sla_attainment_by_plan` stored query."""

    id: str
    title: str
    query: str  #: the stored query it runs (analysts can run it too)
    period: str
    plans: list[str]  #: the columns
    rows: list[tuple[str, list[RateCell]]]  #: "first response · urgent" -> one cell per plan
    error: str | None = None
    elapsed_ms: float | None = None
    template: str = "dashboard/attainment_by_plan.html"


@dataclass
class HeatmapPanel:
    """Tickets created by weekday and hour (workspace time zone): the `tickets_by_weekday_and_hour` query."""

    id: str
    title: str
    query: str  #: the stored query it runs (analysts can run it too)
    period: str
    timezone: str
    matrix: Matrix | None
    weekday_totals: list[int]  #: one per matrix row
    total: int
    error: str | None = None
    elapsed_ms: float | None = None
    template: str = "dashboard/heatmap.html"
