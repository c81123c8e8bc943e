"""The dashboard: the seed's four reports and SLA attainment over a chosen period; each panel loads on its
own request, so a slow report never holds up the page."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import Response

from deskbase.api.deps import requires
from deskbase.core.auth import authorize
from deskbase.core.errors import NotFound
from deskbase.web import dashboard as dash
from deskbase.web.http import ActorDep, ConsoleRoute, console, core_of, is_htmx, make_shell, render, url
from deskbase.web.pages import DashboardPage, ReportLink
from deskbase.web.queue import sla_service

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)


@router.get("/w/{ws}/dashboard", openapi_extra=requires("read:records"))
def dashboard(ws: str, request: Request, actor: ActorDep, period: str = "30d") -> Response:
    authorize(actor, "read:records", ws, "tickets")
    core = core_of(request)
    period = period if period in dict(dash.PERIODS) else "30d"
    base = f"/w/{quote(ws)}/dashboard"
    reports = [
        ReportLink(r.id, r.title, dash.query_text(core, ws, r.id)[0], f"{base}/reports/{r.id}")
        for r in dash.REPORTS
    ]
    page = DashboardPage(
        reports=reports,
        sql_available=request.app.state.analytics is not None,
        sla_available=sla_service(core) is not None,
        period=period,
        periods=list(dash.PERIODS),
        attainment_href=url(f"{base}/attainment", period=period),
    )
    return render(request, "dashboard.html", page, make_shell(request, actor, "Dashboard", ws, "dashboard"))


@router.get("/w/{ws}/dashboard/reports/{report_id}", openapi_extra=requires("sql"))
def report(ws: str, report_id: str, request: Request, actor: ActorDep) -> Response:
    """One seed report through the SQL service (same sandbox and `sql` permission as POST …/sql)."""
    authorize(actor, "sql", ws)
    spec = dash.REPORT_BY_ID.get(report_id)
    if spec is None:
        raise NotFound(f"report {report_id!r} not found", {"report": report_id})
    panel = dash.report_panel(core_of(request), request.app.state.analytics, ws, spec)
    shell = make_shell(request, actor, spec.title, ws, "dashboard")
    return render(
        request, "dashboard/report.html" if is_htmx(request) else "dashboard/report_page.html", panel, shell
    )


@router.get("/w/{ws}/dashboard/attainment", openapi_extra=requires("read:records"))
def attainment(ws: str, request: Request, actor: ActorDep, period: str = "30d") -> Response:
    authorize(actor, "read:records", ws, "tickets")
    period = period if period in dict(dash.PERIODS) else "30d"
    shell = make_shell(request, actor, "SLA attainment", ws, "dashboard")
    core, counts = core_of(request), console(request).counts

    def cached(compute: Callable[[], Any]) -> Any:
        """Attainment scans the period's clocks: remembered until the workspace changes (web/counts.py)."""
        key = (ws, f"\x00attainment:{period}:{shell.now:%Y%m%d%H}")  # the window moves on: at most an hour
        return counts.get(key, core.last_seq(ws), lambda: {"rows": compute()})["rows"]

    panel = dash.attainment_panel(core, request.app.state.analytics, ws, period, shell.now, cached)
    template = "dashboard/attainment.html" if is_htmx(request) else "dashboard/attainment_page.html"
    return render(request, template, panel, shell)
