"""Settings → Teams: a workspace's teams (name, assignment rule, members in rotation order with their
capacities) and the forms that add, change and delete them. Each action is one call to the core's teams
service, as the REST routes make; every route asks for `admin` over the whole workspace first."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import Response

from deskbase.api.deps import requires
from deskbase.core.auth import authorize
from deskbase.core.context import Actor
from deskbase.core.errors import ValidationFailed
from deskbase.core.ids import SLUG_RE
from deskbase.web.http import ActorDep, FormDep, core_of, redirect, render
from deskbase.web.pages import TeamForm, TeamRow, TeamsPage
from deskbase.web.routing import ConsoleRoute
from deskbase.web.shell import make_shell

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
MANAGE = requires("admin")
BASE = "/w/{ws}/settings/teams"
RULES = [
    ("manual", "Manual: tickets wait in the team's queue"),
    ("round_robin", "Round-robin: the next online member in turn"),
    ("least_loaded", "Least loaded: the online member with the fewest open tickets"),
]


def _manage(actor: Actor, ws: str) -> None:
    authorize(actor, "admin", ws, whole_workspace=True)


def base_href(ws: str) -> str:
    return f"/w/{quote(ws)}/settings/teams"


def form_of(team: dict[str, Any]) -> TeamForm:
    lines = [m["email"] + (f":{m['capacity']}" if m["capacity"] is not None else "") for m in team["members"]]
    return TeamForm(team["id"], team["name"], team["rule"], "\n".join(lines))


def read_form(raw: dict[str, str], team_id: str = "") -> TeamForm:
    return TeamForm(
        team_id or raw.get("id", "").strip(),
        raw.get("name", "").strip(),
        raw.get("rule", "manual"),
        raw.get("members", ""),
    )


def body_of(form: TeamForm) -> dict[str, Any]:
    """The API body of a form; a line `email:capacity` whose capacity is not a whole number is a form error."""
    members: list[dict[str, Any]] = []
    for n, line in enumerate(form.members.splitlines(), start=1):
        who, sep, cap = line.strip().rpartition(":")
        if not line.strip():
            continue
        if not sep:
            members.append({"user": line.strip()})
        elif cap.strip().isdigit():
            members.append({"user": who.strip(), "capacity": int(cap)})
        else:
            form.errors["members"] = f"Line {n}: after ':' comes a capacity, a whole number."
    return {"name": form.name, "rule": form.rule, "members": members}


def errors_of(exc: ValidationFailed, form: TeamForm) -> None:
    """The core's pointers as form fields (`/members/2/user` → the members box, naming the line)."""
    for e in exc.details.get("errors") or [{"pointer": "", "message": exc.message}]:
        parts = str(e.get("pointer") or "").strip("/").split("/")
        message = str(e.get("message") or exc.message)
        if parts[0] == "members" and len(parts) > 1 and parts[1].isdigit():
            form.errors["members"] = f"Member {int(parts[1]) + 1}: {message}. ({exc.message})"
        elif parts[0] in ("name", "rule", "id"):
            form.errors[parts[0]] = message.capitalize() + "."
        else:
            form.errors["members"] = exc.message


def page(
    request: Request,
    actor: Actor,
    ws: str,
    form: TeamForm | None = None,
    editing: TeamForm | None = None,
    notice: str | None = None,
    status: int = 200,
) -> Response:
    core = core_of(request)
    rows = []
    for t in core.teams.list(ws):
        shown = editing if editing is not None and editing.id == t["id"] else form_of(t)
        members = [
            f"{m['name']} ({m['email']})"
            + (f" · capacity {m['capacity']}" if m["capacity"] is not None else "")
            for m in t["members"]
        ]
        href = f"{base_href(ws)}/{quote(t['id'])}"
        rows.append(TeamRow(t["id"], t["name"], t["rule"], members, shown, href, href + "/delete"))
    people = [m["user"]["email"] for m in core.members.list(ws)]
    body = TeamsPage(ws, rows, form or TeamForm(), base_href(ws), RULES, people, notice)
    shell = make_shell(request, actor, "Teams", ws, "teams")
    return render(request, "teams.html", body, shell, status=status)


@router.get(BASE, openapi_extra=MANAGE)
def teams_page(ws: str, request: Request, actor: ActorDep, saved: str = "", deleted: str = "") -> Response:
    _manage(actor, ws)
    notice = f"Saved team {saved}." if saved else f"Deleted team {deleted}." if deleted else None
    return page(request, actor, ws, notice=notice)


@router.post(BASE, openapi_extra=MANAGE)
def create(ws: str, request: Request, actor: ActorDep, raw: FormDep) -> Response:
    """Add a team (refused when the id is taken: changing one is its own form)."""
    _manage(actor, ws)
    core = core_of(request)
    form = read_form(raw)
    if not SLUG_RE.match(form.id):
        form.errors["id"] = "Use lowercase letters, digits, - or _ (tickets carry this id)."
    elif any(t["id"] == form.id for t in core.teams.list(ws)):
        form.errors["id"] = f"A team {form.id!r} exists already; choose another id."
    return _save(request, actor, ws, form, form)


@router.post(BASE + "/{team_id}", openapi_extra=MANAGE)
def save(ws: str, team_id: str, request: Request, actor: ActorDep, raw: FormDep) -> Response:
    """Replace a team's name, rule and members."""
    _manage(actor, ws)
    core_of(request).teams.get(ws, team_id)  # a missing team is a 404, not a create
    form = read_form(raw, team_id)
    return _save(request, actor, ws, form, None)


def _save(request: Request, actor: Actor, ws: str, form: TeamForm, new: TeamForm | None) -> Response:
    body = body_of(form)
    if not form.errors:
        try:
            core_of(request).teams.put(actor, ws, form.id, body)
        except ValidationFailed as exc:
            errors_of(exc, form)
        else:
            return redirect(request, f"{base_href(ws)}?saved={quote(form.id)}")
    return page(request, actor, ws, form=new, editing=None if new else form, status=422)


@router.post(BASE + "/{team_id}/delete", openapi_extra=MANAGE)
def delete(ws: str, team_id: str, request: Request, actor: ActorDep, _form: FormDep) -> Response:
    _manage(actor, ws)
    core_of(request).teams.delete(actor, ws, team_id)
    return redirect(request, f"{base_href(ws)}?deleted={quote(team_id)}")
