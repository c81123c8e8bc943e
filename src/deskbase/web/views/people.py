"""A person's pages: accepting an invitation, setting a password from a reset link (both public: the link is
the credential), and their own profile and password in Settings."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import Response

from deskbase.core.app import Deskbase
from deskbase.core.context import Actor
from deskbase.core.errors import Conflict, NotFound, RateLimited, Unauthorized, ValidationFailed
from deskbase.core.users import time_zones
from deskbase.web.http import (
    ActorDep,
    FormDep,
    client_address,
    console,
    core_of,
    local_path,
    redirect,
    render,
)
from deskbase.web.pages import InvitePage, LinkGonePage, Profile, ResetPage
from deskbase.web.routing import ConsoleRoute
from deskbase.web.shell import make_shell
from deskbase.web.views.auth import after_password, has_tickets, settings_page, signed_in

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
_FIELDS = ("name", "time_zone", "password")


def field_errors(exc: ValidationFailed, default: str = "password") -> dict[str, str]:
    """The core's JSON-pointer errors as the form's field messages."""
    out: dict[str, str] = {}
    for e in exc.details.get("errors") or []:
        name = str(e.get("pointer", "")).lstrip("/")
        out[name if name in _FIELDS else default] = str(e.get("message", exc.message)).capitalize() + "."
    return out or {default: exc.message}


def _gone(request: Request, title: str, exc: NotFound | Conflict) -> Response:
    page = LinkGonePage(title, exc.message[:1].upper() + exc.message[1:] + ".")
    return render(request, "link_gone.html", page, make_shell(request, None, title), status=exc.status)


def _zones() -> list[str]:
    return sorted(time_zones())


# ---- invitations ------------------------------------------------------------------------------------
def _invite_page(
    core: Deskbase, token: str, name: str = "", time_zone: str = "", errors: dict[str, str] | None = None
) -> InvitePage:
    """The form, refilled with what was typed (never the password) after a refusal."""
    p = core.invitations.preview(token)
    zone = time_zone if time_zone in time_zones() else p.time_zone
    return InvitePage(
        token, p.workspace_name, p.email, p.role, p.existing_user, zone, _zones(), name, errors or {}
    )


@router.get("/invite/{token}")
def invite_form(token: str, request: Request) -> Response:
    try:
        page = _invite_page(core_of(request), token)
    except (NotFound, Conflict) as exc:
        return _gone(request, "Invitation", exc)
    return render(request, "invite.html", page, make_shell(request, None, f"Join {page.workspace_name}"))


@router.post("/invite/{token}")
def accept_invite(token: str, request: Request, form: FormDep) -> Response:
    """Accept, then sign in as the user (a new session replaces any other in this browser)."""
    core = core_of(request)
    name = (form.get("name") or "").strip()
    try:
        user, ws = core.invitations.accept(
            token, form.get("password") or "", name, form.get("time_zone"), client_address(request)
        )
    except (NotFound, Conflict) as exc:
        return _gone(request, "Invitation", exc)
    except (ValidationFailed, Unauthorized, RateLimited) as exc:
        errors = field_errors(exc) if isinstance(exc, ValidationFailed) else {"password": exc.message + "."}
        page = _invite_page(core, token, name, form.get("time_zone") or "", errors)
        shell = make_shell(request, None, f"Join {page.workspace_name}")
        return render(request, "invite.html", page, shell, status=exc.status)
    target = f"/w/{quote(ws)}/queue" if has_tickets(core, ws) else "/"
    with core.db.read() as conn:
        row = core.people.row(conn, user["id"])
    return after_password(request, row, target)  # an existing account with two-step sign-in: the code next


# ---- password reset links -------------------------------------------------------------------------------
@router.get("/reset/{token}")
def reset_form(token: str, request: Request) -> Response:
    try:
        user = core_of(request).signin.reset_user(token)
    except NotFound as exc:
        return _gone(request, "Password reset", exc)
    return render(
        request, "reset.html", ResetPage(token, user.email), make_shell(request, None, "New password")
    )


@router.post("/reset/{token}")
def reset_password(token: str, request: Request, form: FormDep) -> Response:
    core = core_of(request)
    try:
        user = core.signin.reset(token, form.get("password") or "")
    except NotFound as exc:
        return _gone(request, "Password reset", exc)
    except ValidationFailed as exc:
        page = ResetPage(token, core.signin.reset_user(token).email, field_errors(exc))
        return render(request, "reset.html", page, make_shell(request, None, "New password"), status=422)
    return after_password(request, user, "/")  # a link sets the password; it never skips the second step


# ---- Settings: profile and password -------------------------------------------------------------------
def profile_of(core: Deskbase, actor: Actor, **changes: Any) -> Profile | None:
    """The signed-in person's profile form (None for a token's session)."""
    if actor.user_id is None:
        return None
    with core.db.read() as conn:
        row = core.people.row(conn, actor.user_id)
    profile = Profile(row.email, row.name, row.time_zone, _zones(), row.password_hash is not None)
    for key, value in changes.items():
        setattr(profile, key, value)
    return profile


@router.post("/settings/profile")
def save_profile(request: Request, actor: ActorDep, form: FormDep) -> Response:
    """Your name and time zone (times in the console are shown in it)."""
    core = core_of(request)
    if actor.user_id is None:
        raise NotFound("a token's session has no profile; sign in with your email to edit yours")
    changes = {"name": form.get("name") or "", "time_zone": form.get("time_zone") or ""}
    try:
        core.people.patch(actor, actor.user_id, changes)
    except ValidationFailed as exc:
        profile = profile_of(core, actor, errors=field_errors(exc, "name"), **changes)
        return settings_page(request, actor, profile=profile, status=422)
    return redirect(request, "/settings?saved=1")


@router.post("/settings/away")
def switch_away(request: Request, actor: ActorDep, form: FormDep) -> Response:
    """Your away switch (the header's menu): while on, assignment rules pass you over and the assignee
    picker shows you away, signed in or not."""
    if actor.user_id is None:
        raise NotFound("a token's session has no away switch; sign in with your email")
    core_of(request).people.patch(actor, actor.user_id, {"away": form.get("away") == "1"})
    return redirect(request, local_path(form.get("next"), "/settings"))


@router.post("/settings/password")
def change_password(request: Request, actor: ActorDep, form: FormDep) -> Response:
    """Change your password; every session of yours ends, and this browser gets a new one."""
    core = core_of(request)
    if actor.user_id is None:
        raise NotFound("a token's session has no password; sign in with your email to change yours")
    try:
        core.signin.change(
            actor, form.get("current") or "", form.get("password") or "", client_address(request)
        )
    except (ValidationFailed, Unauthorized, RateLimited) as exc:
        if isinstance(exc, ValidationFailed):
            errors = field_errors(exc)
        else:
            errors = {"current": exc.message[:1].upper() + exc.message[1:] + "."}
        profile = profile_of(core, actor, errors=errors)
        return settings_page(request, actor, profile=profile, status=exc.status)
    return signed_in(request, console(request).sessions.create_for_user(actor.user_id), "/settings?saved=1")
