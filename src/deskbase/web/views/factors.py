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
    ConsoleRoute,
    FormDep,
    client_address,
    console,
    core_of,
    local_path,
    make_shell,
    redirect,
    render,
    url,
)
from deskbase.web.pages import SignInPage
from deskbase.web.views.auth import forget_pending, pending_user, settings_page, signed_in

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
    return forget_pending(request, signed_in(request, c.sessions.create_for_user(user.id), target))


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


def _enrol_page(
    request: Request, actor: Actor, pending: dict[str, Any], error: str | None = None, status: int = 200
) -> Response:
    page = TotpPage(pending["secret"], pending["uri"], qr_svg(pending["uri"]), error=error)
    shell = make_shell(request, actor, "Two-step sign-in", section="settings")
    return render(request, "totp.html", page, shell, status=status, headers={"Cache-Control": "no-store"})


@router.get("/settings/totp", openapi_extra=requires())
def enrol_form(request: Request, actor: ActorDep) -> Response:
    """The enrolment waiting for its first code (else back to Settings, as for a token's session)."""
    pending = core_of(request).factors.pending(actor) if actor.user_id is not None else None
    if pending is None:
        return redirect(request, "/settings")
    return _enrol_page(request, actor, pending)


@router.post("/settings/totp")
def enrol(request: Request, actor: ActorDep, form: FormDep) -> Response:
    """Start enrolling: a new secret, shown on the next page with its QR code."""
    _person(actor)
    try:
        core_of(request).factors.begin(actor)
    except Conflict as exc:
        return settings_page(request, actor, two_step_error=_sentence(exc.message), status=409)
    return redirect(request, "/settings/totp")


@router.post("/settings/totp/confirm")
def confirm(request: Request, actor: ActorDep, form: FormDep) -> Response:
    """Switch it on with a current code; the recovery codes are shown on this answer only."""
    _person(actor)
    core = core_of(request)
    try:
        out = core.factors.confirm(actor, form.get("code") or "")
    except ValidationFailed as exc:
        pending = core.factors.pending(actor)
        if pending is None:
            return redirect(request, "/settings")
        message = str((exc.details.get("errors") or [{}])[0].get("message", exc.message))
        return _enrol_page(request, actor, pending, _sentence(message), status=422)
    except Conflict as exc:
        return settings_page(request, actor, two_step_error=_sentence(exc.message), status=409)
    return _codes_page(request, actor, out["recovery_codes"])


def _codes_page(request: Request, actor: Actor, codes: list[str]) -> Response:
    shell = make_shell(request, actor, "Recovery codes", section="settings")
    return render(request, "totp.html", TotpPage(codes=codes), shell, headers={"Cache-Control": "no-store"})


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
