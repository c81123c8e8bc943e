"""Dashboard reports: the seed's four queries and the SLA attainment report run through the sandboxed SQL
service, turned into bars (or a shaded matrix) with the numbers beside them. Without a SQL replica,
attainment comes from the SLA service's aggregation on the primary store (same numbers)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from deskbase.analytics.service import Analytics
from deskbase.core.app import Deskbase
from deskbase.core.clock import iso
from deskbase.core.errors import DeskbaseError, NotFound
from deskbase.support.service import SlaService
from deskbase.support.template import report_queries, seed_queries
from deskbase.web.dashboard_pages import (
    AttainmentPanel,
    Bar,
    Cell,
    Matrix,
    ReportPanel,
)
from deskbase.web.http import url
from deskbase.web.queue import NONE

PERIODS = (("7d", "Last 7 days"), ("30d", "Last 30 days"), ("90d", "Last 90 days"))
PRIORITY_ORDER = {"urgent": 0, "high": 1, "medium": 2, "low": 3}


@dataclass(frozen=True)
class Report:
    """A seed report and the queue its numbers stand for. `scope` is the queue (view and filters) whose
    tickets the report's SQL counts, and `group` names, per queue filter, the column that splits them: a row's
    link is `scope` plus its group values (NONE where the column is null), so the linked queue lists exactly
    the tickets the row counts. A test follows every link and compares the counts."""

    id: str  #: the stored query's name (the support template installs the seed's four)
    title: str
    label: Callable[[dict[str, Any]], str]
    value: str
    scope: dict[str, str] | None  #: None: no queue lists these tickets (the number is not a link)
    group: tuple[tuple[str, str], ...] = ()  #: (queue filter, column)
    note: Callable[[dict[str, Any]], str] = lambda row: ""
    extra: str | None = None

    def link(self, ws: str, row: dict[str, Any]) -> str | None:
        if self.scope is None:
            return None
        keys = {name: str(row.get(column) or NONE) for name, column in self.group}
        return queue_href(ws, **self.scope, **keys)


def queue_href(ws: str, **params: Any) -> str:
    return url(f"/w/{quote(ws)}/queue", sort="updated", **params)


REPORTS = (
    Report(
        "open_tickets_by_priority",
        "Open tickets by priority",
        lambda r: str(r.get("priority") or "none"),
        "ticket_count",
        {"view": "open"},  # the SQL: status open, in progress or waiting
        (("priority", "priority"),),
    ),
    Report(
        "tickets_by_category_and_channel",
        "Tickets by category and channel",
        lambda r: f"{r.get('category') or 'none'} · {r.get('channel') or 'none'}",
        "ticket_count",
        {"view": "all"},
        (("category", "category"), ("channel", "channel")),
    ),
    Report(
        "agent_workload",
        "Agent workload",
        lambda r: str(r.get("agent") or "(unassigned)"),
        "active_tickets",
        {"view": "open", "status": "open,in_progress"},  # the seed's "active": waiting is left out
        (("assignee", "agent"),),
        note=lambda r: f"{r.get('urgent_count', 0)} urgent",
        extra="urgent_count",
    ),
    Report(
        "tickets_by_customer_plan",
        "Tickets by customer plan",
        lambda r: str(r.get("plan") or "none"),
        "ticket_count",
        None,
    ),
)
REPORT_BY_ID = {r.id: r for r in REPORTS}


def query_text(core: Deskbase, ws: str, name: str) -> tuple[str, str]:
    """(description, SQL) of a report: the workspace's stored query, else the seed's text."""
    try:
        stored = core.stored_queries.get(ws, name)
        description, sql = stored.get("description") or "", stored["query"]
    except NotFound:
        description, sql = {**seed_queries(), **report_queries()}[name]
    # The seed's descriptions repeat the title ("Agent workload: Count …"): keep only what it adds.
    head, sep, rest = description.partition(": ")
    return (rest if sep and len(head) < 60 else description), sql


def rows_of(result: dict[str, Any]) -> list[dict[str, Any]]:
    names = [m["name"] for m in result.get("meta") or []]
    return [dict(zip(names, row, strict=False)) for row in result.get("data") or []]


def num(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


def report_panel(
    core: Deskbase,
    analytics: Analytics | None,
    ws: str,
    report: Report,
    may: Callable[[str], bool] | None = None,
) -> ReportPanel:
    """`may` answers for the caller's table permissions, as `POST …/sql` checks them."""
    description, sql = query_text(core, ws, report.id)
    empty = ReportPanel(report.id, report.title, description, [], None, [], None, None, 0)
    if analytics is None:
        empty.error = (
            "The SQL replica is off on this server (DESKBASE_REPLICATE=false), so reports can't run."
        )
        return empty
    try:
        result = analytics.sql(ws, sql, {}, may=may)
    except DeskbaseError as exc:
        empty.error = f"The report could not run: {exc.message}"
        return empty
    rows = rows_of(result)
    top = max((num(r.get(report.value)) for r in rows), default=0.0) or 1.0
    bars = [
        Bar(
            label=report.label(r),
            value=num(r.get(report.value)),
            share=num(r.get(report.value)) / top,
            href=report.link(ws, r),
            note=report.note(r),
            extra=num(r.get(report.extra)) / top if report.extra else 0.0,
        )
        for r in rows
    ]
    names = [m["name"] for m in result.get("meta") or []]
    table = [names, *[[r.get(n) for n in names] for r in rows]]
    matrix = category_matrix(ws, report, rows) if report.id == "tickets_by_category_and_channel" else None
    elapsed = (result.get("statistics") or {}).get("elapsed_ms")
    return ReportPanel(
        report.id,
        report.title,
        description,
        [] if matrix else bars,
        matrix,
        table,
        None,
        elapsed,
        sum(b.value for b in bars),
    )


def category_matrix(ws: str, report: Report, rows: list[dict[str, Any]]) -> Matrix:
    cats = sorted({str(r.get("category") or "") for r in rows})
    chans = sorted({str(r.get("channel") or "") for r in rows})
    value = {
        (str(r.get("category") or ""), str(r.get("channel") or "")): num(r.get("ticket_count")) for r in rows
    }
    top = max(value.values(), default=0.0) or 1.0
    return Matrix(
        corner="category \\ channel",
        columns=[c or "none" for c in chans],
        rows=[
            (
                cat or "none",
                [
                    Cell(
                        value.get((cat, ch), 0.0),
                        value.get((cat, ch), 0.0) / top,
                        report.link(ws, {"category": cat, "channel": ch}),
                    )
                    for ch in chans
                ],
            )
            for cat in cats
        ],
    )


def period_bounds(period: str, now: datetime) -> tuple[datetime, datetime]:
    days = {"7d": 7, "30d": 30, "90d": 90}.get(period, 30)
    return now - timedelta(days=days), now


def attainment_panel(
    core: Deskbase,
    analytics: Analytics | None,
    ws: str,
    period: str,
    now: datetime,
    cache: Callable[[Callable[[], Any]], Any] | None = None,
) -> AttainmentPanel:
    """`cache` (see web/counts.py) may serve the answer again while the workspace is unchanged."""
    start, end = period_bounds(period, now)
    panel = AttainmentPanel(period, iso(start), iso(end), [], [], None)
    sla = core.extensions.get(SlaService)
    if analytics is None and sla is None:
        panel.error = "SLA attainment needs the SQL replica or the SLA service; neither runs on this server."
        return panel

    def compute() -> list[dict[str, Any]]:
        if analytics is None:
            assert sla is not None  # checked above: one of the two runs
            return list(sla.attainment(ws, start, end))
        _, sql = query_text(core, ws, "sla_attainment")
        return rows_of(analytics.sql(ws, sql, {"start": iso(start), "end": iso(end)}))

    try:
        found = cache(compute) if cache is not None else compute()
    except DeskbaseError as exc:
        panel.error = f"The report could not run: {exc.message}"
        return panel
    rows = sorted(found, key=lambda r: (str(r.get("metric")), PRIORITY_ORDER.get(str(r.get("priority")), 9)))
    for r in rows:
        share = r.get("attainment")
        label = f"{str(r.get('metric')).replace('_', ' ')} · {r.get('priority')}"
        note = f"{r.get('achieved', 0)} met, {r.get('breached', 0)} breached of {r.get('total', 0)}"
        panel.bars.append(
            Bar(label, round(100 * share, 1) if share is not None else 0.0, share or 0.0, None, note)
        )
    panel.table = [
        ["metric", "priority", "total", "achieved", "breached", "attainment"],
        *[
            [r.get(k) for k in ("metric", "priority", "total", "achieved", "breached", "attainment")]
            for r in rows
        ],
    ]
    return panel
