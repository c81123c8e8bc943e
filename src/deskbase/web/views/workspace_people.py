"""Settings → People: a workspace's members with their role and whether each has two-step sign-in on, and
the owners' and admins' switch that requires it of everyone (`require_two_factor`, the same change as
`PATCH /v1/workspaces/{ws}`). Every route asks for `admin` over the whole workspace first."""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import Response

from deskbase.api.deps import requires
from deskbase.core.auth import authorize
from deskbase.core.workspaces import REQUIRE_TWO_FACTOR, requires_two_factor
from deskbase.web.factor_pages import PeoplePage, PersonRow
from deskbase.web.http import ActorDep, FormDep, core_of, redirect, render
from deskbase.web.routing import ConsoleRoute
from deskbase.web.shell import make_shell

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
MANAGE = requires("admin")
BASE = "/w/{ws}/settings/people"


def href(ws: str) -> str:
    return f"/w/{quote(ws)}/settings/people"


@router.get(BASE, openapi_extra=MANAGE)
def people_page(ws: str, request: Request, actor: ActorDep, saved: str = "") -> Response:
    authorize(actor, "admin", ws, whole_workspace=True)
    core = core_of(request)
    workspace = core.workspaces.get(ws)
    members = core.members.list(ws)
    with core.db.read() as conn:
        on = core.factors.shown(conn, actor, [m["user"]["id"] for m in members])
    rows = [
        PersonRow(
            m["user"]["name"],
            m["user"]["email"],
            m["role"],
            m["user"]["status"],
            on.get(m["user"]["id"], False),
        )
        for m in members
    ]
    notice = {"on": "Two-step sign-in is now required.", "off": "Two-step sign-in is no longer required."}
    page = PeoplePage(
        ws,
        workspace["name"],
        requires_two_factor(workspace["settings"]),
        href(ws) + "/two-step",
        rows,
        notice.get(saved),
        sum(1 for r in rows if r.status == "active" and not r.two_factor),
    )
    shell = make_shell(request, actor, "People", ws, "people")
    return render(request, "people.html", page, shell)


@router.post(BASE + "/two-step", openapi_extra=MANAGE)
def require_two_step(ws: str, request: Request, actor: ActorDep, form: FormDep) -> Response:
    """Require two-step sign-in of every member, or stop requiring it (audited, in the change log)."""
    authorize(actor, "admin", ws, whole_workspace=True)
    on = form.get(REQUIRE_TWO_FACTOR) == "on"
    core_of(request).workspaces.patch(ws, None, {REQUIRE_TWO_FACTOR: on}, actor)
    return redirect(request, f"{href(ws)}?saved={'on' if on else 'off'}")
