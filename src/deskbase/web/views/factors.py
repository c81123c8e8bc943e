"""The code step of a password sign-in, "Forgot password?", and a person's two-step sign-in in Settings.

The code step and the forgot-password page are public: the first is reached only with the signed cookie the
password step sets (auth.py), the second answers the same page whatever email is typed and sends the link,
if any, after the answer has gone, so neither its content nor its timing tells whether an account exists.
"""

from __future__ import annotations

import logging
from typing import Any

import segno
from fastapi import APIRouter, Request
from fastapi.responses import Response
from markupsafe import Markup
from starlette.background import BackgroundTask

from deskbase.api.deps import requires
from deskbase.core.app import Deskbase
from deskbase.core.context import Actor
from deskbase.core.errors import Conflict, NotFound, RateLimited, Unauthorized, ValidationFailed
from deskbase.mail import password_reset
from deskbase.web.factor_pages import CodePage, ForgotPage, TotpPage
from deskbase.web.http import (
    ActorDep,
    EnrollingActorDep,
    FormDep,
    client_address,
    console,
    core_of,
    local_path,
    redirect,
    render,
    url,
)
from deskbase.web.pages import SignInPage
from deskbase.web.routing import ConsoleRoute
from deskbase.web.shell import make_shell
from deskbase.web.views.auth import (
    forget_pending,
    pending_sso_logout,
    pending_user,
    settings_page,
    signed_in,
)

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
log = logging.getLogger(__name__)


def _sentence(message: str) -> str:
    return message[:1].upper() + message[1:] + "."


# ---- the code step ----------------------------------------------------------------------------------
@router.get("/signin/code")
def code_form(request: Request, next: str = "/") -> Response:
    target = local_path(next)
    if pending_user(request) is None:
        return redirect(request, url("/signin", next=target if target != "/" else None))
    shell = make_shell(request, None, "Two-step sign-in")
    return render(request, "signin_code.html", CodePage(target), shell)


@router.post("/signin/code")
def code_sign_in(request: Request, form: FormDep) -> Response:
    """The code (or a recovery code) after the right password; failures count toward the sign-in throttle."""
    target = local_path(form.get("next"))
    user = pending_user(request)
    if user is None:
        again = SignInPage(target, "Signing in took too long. Enter your password again.")
        shell = make_shell(request, None, "Sign in")
        return forget_pending(request, render(request, "signin.html", again, shell, status=401))
    c = console(request)
    try:
        c.core.factors.sign_in(user.id, form.get("code") or "", client_address(request))
    except (Unauthorized, RateLimited) as exc:
        shell = make_shell(request, None, "Two-step sign-in")
        page = CodePage(target, _sentence(exc.message))
        return render(request, "signin_code.html", page, shell, status=exc.status)
    opened = c.sessions.create_for_user(user.id, pending_sso_logout(request))
    return forget_pending(request, signed_in(request, opened, target))


# ---- forgot password --------------------------------------------------------------------------------
@router.get("/signin/forgot")
def forgot_form(request: Request) -> Response:
    page = ForgotPage(password_reset.available(core_of(request)))
    return render(request, "forgot.html", page, make_shell(request, None, "Forgot password"))


@router.post("/signin/forgot")
def forgot(request: Request, form: FormDep) -> Response:
    """The same answer for every email; the link is made and queued after the answer is sent."""
    core = core_of(request)
    shell = make_shell(request, None, "Forgot password")
    email = (form.get("email") or "").strip()[:254]
    if not password_reset.available(core):
        return render(request, "forgot.html", ForgotPage(False), shell)
    try:
        core.signin.reset_requested(email, client_address(request))
    except RateLimited as exc:
        page = ForgotPage(True, email=email, error=_sentence(exc.message))
        return render(request, "forgot.html", page, shell, status=429)
    response = render(request, "forgot.html", ForgotPage(True, sent=True), shell)
    response.background = BackgroundTask(_mail_link, core, email)
    return response


def _mail_link(core: Deskbase, email: str) -> None:
    """After the answer has gone: nobody waits for this, so a failure is logged, never shown."""
    try:
        password_reset.send(core, email)
    except Exception:
        log.exception("a password reset email could not be queued")


# ---- Settings: two-step sign-in -----------------------------------------------------------------------
def _person(actor: Actor) -> str:
    if actor.user_id is None:
        raise NotFound("a token's session has no two-step sign-in; sign in with your email to set yours up")
    return actor.user_id


def qr_svg(uri: str) -> Markup:
    """The otpauth:// URI as an inline SVG QR code (segno, pure Python: the secret goes to no QR service)."""
    code = segno.make(uri, error="m")
    svg = code.svg_inline(
        scale=5, border=4, dark="#000", light="#fff", title="QR code for your authenticator"
    )
    svg = svg.replace("<svg ", '<svg role="img" aria-label="QR code for your authenticator app" ', 1)
    return Markup(svg)  # segno's own SVG of our URI: nothing a user typed is in it


def _required_by(core: Deskbase, actor: Actor) -> list[str]:
    """The names of the workspaces that make this person set up two-step sign-in before going on (none
    once it is on, or for a token's session)."""
    if actor.user_id is None:
        return []
    access = core.people.access.get(actor.user_id)
    if not access.must_enrol:
        return []
    names = {w["id"]: w["name"] for w in core.workspaces.list()}
    return [names.get(ws, ws) for ws in access.two_factor_required_by]


def _enrol_page(
    request: Request,
    actor: Actor,
    pending: dict[str, Any] | None,
    target: str,
    error: str | None = None,
    status: int = 200,
) -> Response:
    required = _required_by(core_of(request), actor)
    if pending is None:  # a person who must set it up, before starting: why, and the button that starts
        page = TotpPage(required_by=required, next=target)
    else:
        qr = qr_svg(pending["uri"])
        page = TotpPage(pending["secret"], pending["uri"], qr, error=error, required_by=required, next=target)
    shell = make_shell(request, actor, "Two-step sign-in", section="settings")
    return render(request, "totp.html", page, shell, status=status, headers={"Cache-Control": "no-store"})


@router.get("/settings/totp", openapi_extra=requires())
def enrol_form(request: Request, actor: EnrollingActorDep, next: str = "/") -> Response:
    """The enrolment waiting for its first code; for a person whose workspace requires two-step sign-in,
    the page that says so and starts it; else back to Settings (as for a token's session)."""
    core = core_of(request)
    pending = core.factors.pending(actor) if actor.user_id is not None else None
    if pending is None and not _required_by(core, actor):
        return redirect(request, "/settings")
    return _enrol_page(request, actor, pending, local_path(next))


@router.post("/settings/totp")
def enrol(request: Request, actor: EnrollingActorDep, form: FormDep) -> Response:
    """Start enrolling: a new secret, shown on the next page with its QR code."""
    _person(actor)
    try:
        core_of(request).factors.begin(actor)
    except Conflict as exc:
        return settings_page(request, actor, two_step_error=_sentence(exc.message), status=409)
    return redirect(request, url("/settings/totp", next=local_path(form.get("next"), "") or None))


@router.post("/settings/totp/confirm")
def confirm(request: Request, actor: EnrollingActorDep, form: FormDep) -> Response:
    """Switch it on with a current code; the recovery codes are shown on this answer only."""
    _person(actor)
    core = core_of(request)
    target = local_path(form.get("next"))
    required = bool(_required_by(core, actor))
    try:
        out = core.factors.confirm(actor, form.get("code") or "")
    except ValidationFailed as exc:
        pending = core.factors.pending(actor)
        if pending is None:
            return redirect(request, url("/settings/totp", next=target) if required else "/settings")
        message = str((exc.details.get("errors") or [{}])[0].get("message", exc.message))
        return _enrol_page(request, actor, pending, target, _sentence(message), status=422)
    except Conflict as exc:
        return settings_page(request, actor, two_step_error=_sentence(exc.message), status=409)
    return _codes_page(request, actor, out["recovery_codes"], target if required else None)


def _codes_page(request: Request, actor: Actor, codes: list[str], target: str | None = None) -> Response:
    """The recovery codes, once; a person who had to set it up goes on to `target` from here."""
    shell = make_shell(request, actor, "Recovery codes", section="settings")
    page = TotpPage(codes=codes, next=target or "")
    return render(request, "totp.html", page, shell, headers={"Cache-Control": "no-store"})


def _proof(form: dict[str, str]) -> tuple[str | None, str | None]:
    return (form.get("password") or None), (form.get("code") or None)


@router.post("/settings/totp/disable")
def disable(request: Request, actor: ActorDep, form: FormDep) -> Response:
    """Switch it off, proven with your password or a current code."""
    _person(actor)
    password, code = _proof(form)
    try:
        core_of(request).factors.disable(actor, password, code, client_address(request))
    except (Unauthorized, RateLimited, ValidationFailed, Conflict) as exc:
        return settings_page(request, actor, two_step_error=_sentence(exc.message), status=exc.status)
    return redirect(request, "/settings?saved=1")


@router.post("/settings/totp/recovery-codes")
def new_codes(request: Request, actor: ActorDep, form: FormDep) -> Response:
    """Ten new recovery codes (the old ones stop working), proven with your password or a current code."""
    _person(actor)
    password, code = _proof(form)
    try:
        codes = core_of(request).factors.regenerate(actor, password, code, client_address(request))
    except (Unauthorized, RateLimited, ValidationFailed, Conflict) as exc:
        return settings_page(request, actor, two_step_error=_sentence(exc.message), status=exc.status)
    return _codes_page(request, actor, codes)
