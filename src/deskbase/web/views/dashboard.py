"""The dashboard: a live strip, the seed's four reports, SLA attainment and the lead panels (created vs
solved, first-response times, attainment by plan, weekday by hour) over a chosen period; each panel loads on
its own request, so a slow report never holds up the page."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import Response

from deskbase.analytics.service import Analytics
from deskbase.api.deps import requires
from deskbase.core.auth import authorize, permits
from deskbase.core.context import Actor
from deskbase.core.errors import NotFound
from deskbase.web import dashboard as dash
from deskbase.web import reports as rep
from deskbase.web.dashboard_pages import DashboardPage, ReportLink
from deskbase.web.http import ActorDep, console, core_of, is_htmx, render, url
from deskbase.web.live_strip import live_strip, strip_counts
from deskbase.web.pages import Shell
from deskbase.web.queue import sla_service
from deskbase.web.routing import ConsoleRoute
from deskbase.web.shell import make_shell
from deskbase.web.views.queue import shared_counts

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)


@router.get("/w/{ws}/dashboard", openapi_extra=requires("read:records"))
def dashboard(
    ws: str, request: Request, actor: ActorDep, period: str = "30d", clock: str = "business"
) -> Response:
    authorize(actor, "read:records", ws, "tickets")
    core = core_of(request)
    period = period if period in dict(rep.PERIODS) else "30d"
    base = f"/w/{quote(ws)}/dashboard"
    reports = [
        ReportLink(r.id, r.title, rep.query_text(core, ws, r.id)[0], f"{base}/reports/{r.id}")
        for r in rep.REPORTS
    ]
    # Panels the viewer may not run are left out (and said so once), never drawn as refusals: reports need
    # `sql` (as POST …/sql), the lead panels `sql` and `read:records` over the whole workspace.
    withheld = []
    if not permits(actor, "sql", ws):
        reports, withheld = [], ["the reports (agent workload, tickets by status …)"]
    lead = permits(actor, "sql", ws, whole_workspace=True) and permits(
        actor, "read:records", ws, whole_workspace=True
    )
    if not lead:
        withheld.append(
            "the lead panels (created vs solved, first response, attainment by plan, weekday by hour)"
        )
    page = DashboardPage(
        reports=reports,
        withheld=withheld,
        base=base,
        sql_available=_analytics(request) is not None,
        sla_available=sla_service(core) is not None,
        period=period,
        periods=list(rep.PERIODS),
        attainment_href=url(f"{base}/attainment", period=period),
        strip_href=f"{base}/strip",
        panels=[
            ReportLink(
                p.id,
                p.title,
                p.query,
                url(
                    f"{base}/panels/{p.id}",
                    period=period,
                    clock=clock if p.id == "first_response" and clock in dict(dash.CLOCKS) else None,
                ),
            )
            for p in dash.PANELS
            if lead
        ],
    )
    return render(request, "dashboard.html", page, make_shell(request, actor, "Dashboard", ws, "dashboard"))


@router.get("/w/{ws}/dashboard/reports/{report_id}", openapi_extra=requires("sql"))
def report(ws: str, report_id: str, request: Request, actor: ActorDep) -> Response:
    """One seed report through the SQL service (same sandbox and `sql` permission as POST …/sql)."""
    authorize(actor, "sql", ws)
    spec = rep.REPORT_BY_ID.get(report_id)
    if spec is None:
        raise NotFound(f"report {report_id!r} not found", {"report": report_id})
    panel = rep.report_panel(core_of(request), _analytics(request), ws, spec, _may(actor, ws))
    shell = make_shell(request, actor, spec.title, ws, "dashboard")
    return render(
        request, "dashboard/report.html" if is_htmx(request) else "dashboard/report_page.html", panel, shell
    )


@router.get("/w/{ws}/dashboard/attainment", openapi_extra=requires("read:records"))
def attainment(ws: str, request: Request, actor: ActorDep, period: str = "30d") -> Response:
    authorize(actor, "read:records", ws, "tickets")
    period = period if period in dict(rep.PERIODS) else "30d"
    shell = make_shell(request, actor, "SLA attainment", ws, "dashboard")
    core, counts = core_of(request), console(request).counts

    def cached(compute: Callable[[], Any]) -> Any:
        """Attainment scans the period's clocks: remembered until the workspace changes (web/counts.py)."""
        key = (ws, f"\x00attainment:{period}:{shell.now:%Y%m%d%H}")  # the window moves on: at most an hour
        return counts.get(key, core.settled_seq(ws), lambda: {"rows": compute()})["rows"]

    panel = rep.attainment_panel(core, _analytics(request), ws, period, shell.now, cached)
    template = "dashboard/attainment.html" if is_htmx(request) else "dashboard/attainment_page.html"
    return render(request, template, panel, shell)


def _panel(request: Request, panel: Any, shell: Shell) -> Response:
    """A panel as an htmx fragment, or (opened directly, without script) on a page of its own."""
    template = panel.template if is_htmx(request) else "dashboard/panel_page.html"
    return render(request, template, panel, shell)


@router.get("/w/{ws}/dashboard/strip", openapi_extra=requires("read:records"))
def strip(ws: str, request: Request, actor: ActorDep) -> Response:
    """The live strip: the queue navigation's shared counts (kept per workspace change and minute, see
    web/counts.py) plus the status counts of "waiting on us" and "breaching within 60 min", kept the same
    way."""
    authorize(actor, "read:records", ws, "tickets")
    con = console(request)
    core = con.core
    seq, now = core.settled_seq(ws), core.clock.now()
    nav = shared_counts(con, ws, seq)
    assert nav is not None  # without a wait, the counts are taken at once
    extra = con.counts.get(
        (ws, "\x00strip"), (seq, now.replace(second=0, microsecond=0)), lambda: strip_counts(core, ws)
    )
    panel = live_strip(ws, nav, extra, f"/w/{quote(ws)}/dashboard/strip")
    return _panel(request, panel, make_shell(request, actor, "Right now", ws, "dashboard"))


def _may(actor: Actor, ws: str) -> Callable[[str], bool]:
    """Table permissions as POST …/sql checks them (operations_log needs read:audit, relationships
    read:relationships)."""
    return lambda perm: permits(actor, perm, ws, whole_workspace=True)


@router.get("/w/{ws}/dashboard/panels/{panel_id}", openapi_extra=requires("sql", "read:records"))
def panel(
    ws: str,
    panel_id: str,
    request: Request,
    actor: ActorDep,
    period: str = "30d",
    clock: str = "business",
) -> Response:
    """One lead panel: its stored query on the SQL replica (same sandbox and permissions as POST …/sql)."""
    authorize(actor, "sql", ws, whole_workspace=True)
    authorize(actor, "read:records", ws, whole_workspace=True)
    spec = dash.PANEL_BY_ID.get(panel_id)
    if spec is None:
        raise NotFound(f"panel {panel_id!r} not found", {"panel": panel_id})
    period = period if period in dict(rep.PERIODS) else "30d"
    shell = make_shell(request, actor, spec.title, ws, "dashboard")
    core, analytics, may = core_of(request), _analytics(request), _may(actor, ws)
    args = (core, analytics, ws, period)
    if panel_id == "created_vs_solved":
        found: Any = dash.trend_panel(*args, shell.now, shell.timezone, may)
    elif panel_id == "first_response":
        found = dash.response_panel(*args, clock, shell.now, shell.timezone, may)
    elif panel_id == "attainment_by_plan":
        found = dash.plan_panel(*args, shell.now, shell.timezone, may)
    else:
        found = dash.heatmap_panel(*args, shell.now, shell.timezone, may)
    return _panel(request, found, shell)


def _analytics(request: Request) -> Analytics | None:
    """The SQL replica, when this server runs one (the dashboards fall back to the primary store without)."""
    return core_of(request).extensions.get(Analytics)
