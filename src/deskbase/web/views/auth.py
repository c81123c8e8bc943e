"""Sign in with a password (then a code, for an account with two-step sign-in) or a token, sign out, the
landing redirect, and the per-user settings page.

Between the password and the code there is no session: only a signed, five-minute cookie naming the user
(and a digest of their password hash, so a password change voids it), which nothing but the code step reads.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from deskbase.api.deps import requires
from deskbase.core.app import Deskbase
from deskbase.core.context import Actor
from deskbase.core.errors import DeskbaseError, NotFound, RateLimited, Unauthorized
from deskbase.events.service import may_manage
from deskbase.notify.service import Notifications
from deskbase.sso.service import SingleSignOn
from deskbase.web.http import (
    ActorDep,
    FormDep,
    checked_form,
    client_address,
    console,
    core_of,
    local_path,
    redirect,
    render,
    secure,
    session_of,
)
from deskbase.web.pages import ContinuePage, EmptyHomePage, Profile, SettingsPage, SignInPage, WorkspaceLink
from deskbase.web.routing import ConsoleRoute
from deskbase.web.session import SESSION_COOKIE, Session
from deskbase.web.shell import (
    integrations_href,
    mailboxes_href,
    make_shell,
    may_manage_mail,
    prefs_of,
    visible_workspaces,
)

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
log = logging.getLogger(__name__)


@router.get("/", openapi_extra=requires())
def home(request: Request, actor: ActorDep) -> Response:
    """Land on the first workspace's queue ("My open tickets")."""
    core = core_of(request)
    workspaces = visible_workspaces(core, actor)
    for w in workspaces:
        if has_tickets(core, w["id"]):
            return redirect(request, f"/w/{quote(w['id'])}/queue")
    links = [WorkspaceLink(w["id"], w["name"], f"/w/{quote(w['id'])}/collections") for w in workspaces]
    return render(request, "home_empty.html", EmptyHomePage(links), make_shell(request, actor, "deskbase"))


def has_tickets(core: Deskbase, workspace_id: str) -> bool:
    try:
        core.collections.get(workspace_id, "tickets")
    except NotFound:
        return False
    return True


@router.get("/w/{ws}")
def workspace_home(ws: str, request: Request) -> Response:
    return redirect(request, f"/w/{quote(ws)}/queue")


@router.get("/signin")
def sign_in_form(request: Request, next: str = "/") -> Response:
    if session_of(request) is not None:
        return redirect(request, local_path(next))
    return render(request, "signin.html", SignInPage(local_path(next)), make_shell(request, None, "Sign in"))


@router.post("/signin")
def sign_in(request: Request, form: FormDep) -> Response:
    """Sign in with an email and password (people) or an API token (automation, break-glass). Either way the
    cookie only names a session; the store keeps only hashes."""
    target = local_path(form.get("next"))
    c = console(request)
    shell = make_shell(request, None, "Sign in")
    if "token" in form:
        raw = (form.get("token") or "").strip()
        try:
            actor = c.core.tokens.authenticate(raw)
        except Unauthorized as exc:
            message = (
                "Enter your API token (it starts with dsk_)."
                if not raw
                else f"Sign-in failed: {exc.message}."
            )
            return render(request, "signin.html", SignInPage(target, token_error=message), shell, status=401)
        return signed_in(request, c.sessions.create(actor.id), target)
    email = (form.get("email") or "").strip()[:254]
    try:
        user = c.core.signin.password(email, form.get("password") or "", client_address(request))
    except (Unauthorized, RateLimited) as exc:
        page = SignInPage(target, f"{exc.message[:1].upper()}{exc.message[1:]}.", email)
        return render(request, "signin.html", page, shell, status=exc.status)
    return after_password(request, user, target)


# ---- between the password and the code --------------------------------------------------------------
PENDING_COOKIE = "deskbase_signin"
PENDING_PATH = "/signin"
PENDING_SECONDS = 300
#: the longest sealed ID token the code step's cookie carries (browsers keep cookies of at most 4096 bytes)
PENDING_LOGOUT_MAX = 3500


def _fingerprint(user: Any) -> str:
    return hashlib.sha256((user.password_hash or "").encode()).hexdigest()[:16]


def after_password(request: Request, user: Any, target: str, sso_logout: str | None = None) -> Response:
    """The password was right (or the identity provider vouched: `sso_logout` is then what signing out
    there needs, sealed): sign in, or, when the account has two-step sign-in, ask for the code first."""
    c = console(request)
    if not c.core.factors.enabled(user.id):
        return signed_in(request, c.sessions.create_for_user(user.id, sso_logout), target)
    until = int(c.core.clock.now().timestamp()) + PENDING_SECONDS
    if sso_logout and len(sso_logout) > PENDING_LOGOUT_MAX:  # a huge ID token: the cookie would not fit
        log.warning("the ID token is too large to keep across the code step; signing out stays local")
        sso_logout = None
    value = f"{user.id}:{until}:{_fingerprint(user)}:{sso_logout or ''}"  # the last part may hold anything
    response = redirect(request, f"/signin/code?next={quote(target)}")
    response.set_cookie(
        PENDING_COOKIE,
        c.sessions.signer.seal("second-step", value),
        max_age=PENDING_SECONDS,
        httponly=True,
        samesite="strict",
        secure=secure(request),
        path=PENDING_PATH,
    )
    return response


def pending_user(request: Request) -> Any | None:
    """The user who gave the right password in this browser in the last five minutes, or None."""
    c = console(request)
    value = c.sessions.signer.unseal("second-step", request.cookies.get(PENDING_COOKIE))
    if value is None:
        return None
    user_id, until, fingerprint, _ = [*value.split(":", 3), "", ""][:4]
    if not until.isdigit() or int(until) < c.core.clock.now().timestamp():
        return None
    try:
        with c.core.db.read() as conn:
            user = c.core.people.row(conn, user_id)
    except NotFound:
        return None
    return user if hmac.compare_digest(_fingerprint(user), fingerprint) else None


def pending_sso_logout(request: Request) -> str | None:
    """What signing out at the identity provider will need, when the pending sign-in came from it."""
    value = console(request).sessions.signer.unseal("second-step", request.cookies.get(PENDING_COOKIE))
    return [*value.split(":", 3), ""][3] or None if value else None


def forget_pending(request: Request, response: Response) -> Response:
    response.delete_cookie(
        PENDING_COOKIE, path=PENDING_PATH, httponly=True, samesite="strict", secure=secure(request)
    )
    return response


def signed_in(request: Request, opened: tuple[Session, str], target: str) -> Response:
    """Replace any current session with the new one and go on to `target`."""
    c = console(request)
    old = session_of(request)
    if old is not None:
        c.sessions.drop(old.id)
    session, cookie = opened
    request.state.csrf_value = c.csrf.mint(session.id)  # a fresh CSRF token bound to the new session
    response = redirect(request, target)
    response.set_cookie(
        SESSION_COOKIE, cookie, httponly=True, samesite="strict", secure=secure(request), path="/"
    )
    return response


@router.post("/signout")
async def sign_out(request: Request) -> Response:
    """Needs the CSRF token only while there is a session to end (an expired one just goes to sign-in). A
    session that single sign-on opened goes on to sign out at the provider too, when it offers that."""
    s = await run_in_threadpool(session_of, request)  # store work stays off the event loop
    at_provider = None
    if s is not None:
        await checked_form(request)
        await run_in_threadpool(console(request).sessions.drop, s.id)
        at_provider = await run_in_threadpool(provider_logout, request, s)
    request.state.csrf_value = console(request).csrf.mint("anon")
    if at_provider is None:
        response = redirect(request, "/signin")
    else:  # a page of ours that goes on (Refresh): the CSP's form-action forbids a form's redirect elsewhere
        where = quote(at_provider, safe="/?&=#%:@!$'()*+,;~")
        page = ContinuePage("Signing out", where)
        shell = make_shell(request, None, "Signing out")
        response = render(request, "sso_continue.html", page, shell, headers={"Refresh": f"0; url={where}"})
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict", secure=secure(request))
    return response


def provider_logout(request: Request, session: Session) -> str | None:
    """The identity provider's end-session URL for a session single sign-on opened, coming back to the
    sign-in page (public_url's, as registered at the provider); None for any other session."""
    sso = core_of(request).extensions.get(SingleSignOn)
    if sso is None or not session.sso_logout:
        return None
    base = core_of(request).settings.public_url.strip().rstrip("/") or str(request.base_url).rstrip("/")
    try:
        return sso.logout_url(session.sso_logout, base + "/signin")
    except DeskbaseError:  # the provider is unreachable: the deskbase session has ended all the same
        return None


@router.get("/settings", openapi_extra=requires())
def settings_form(request: Request, actor: ActorDep, back: str = "/", saved: bool = False) -> Response:
    return settings_page(request, actor, back=local_path(back), saved=saved)


def settings_page(
    request: Request,
    actor: Actor,
    *,
    back: str = "/",
    saved: bool = False,
    me: str | None = None,
    errors: dict[str, str] | None = None,
    profile: Profile | None = None,
    two_step_error: str | None = None,
    status: int = 200,
) -> Response:
    """The Settings page: shortcuts, who "me" is (a person is their email; a token's session chooses), the
    person's profile and password, and the workspaces whose integrations and mailboxes they manage."""
    from deskbase.web.views.people import profile_of

    core = core_of(request)
    prefs = prefs_of(core, actor)
    page = SettingsPage(
        prefs.shortcuts,
        prefs.me if me is None else me,
        actor.name,
        saved,
        errors=errors or {},
        back=back,
        integrations=managed(request, actor),
        mailboxes=managed_mail(request, actor),
        profile=profile or profile_of(core, actor),
        notifications=notification_choices(core, actor),
        two_step=core.factors.status(actor) if actor.user_id is not None else None,
        two_step_error=two_step_error,
    )
    shell = make_shell(request, actor, "Settings", section="settings")
    return render(request, "settings.html", page, shell, status=status)


def notification_choices(core: Deskbase, actor: Actor) -> list[dict[str, Any]]:
    """A person's notification choices for Settings (a token's session has none)."""
    notes = core.extensions.get(Notifications)
    if notes is None or actor.user_id is None:
        return []
    return list(notes.preferences_public(actor.user_id)["kinds"])


def managed(request: Request, actor: Actor) -> list[WorkspaceLink]:
    """The workspaces whose integrations this token may manage (Settings links to each)."""
    return [
        WorkspaceLink(w["id"], w["name"], integrations_href(w["id"]))
        for w in visible_workspaces(core_of(request), actor)
        if may_manage(actor, w["id"])
    ]


def managed_mail(request: Request, actor: Actor) -> list[WorkspaceLink]:
    """The workspaces whose mailboxes this token may manage (Settings links to each)."""
    return [
        WorkspaceLink(w["id"], w["name"], mailboxes_href(w["id"]))
        for w in visible_workspaces(core_of(request), actor)
        if may_manage_mail(actor, w["id"])
    ]


@router.post("/settings", openapi_extra=requires())
def save_settings(request: Request, actor: ActorDep, form: FormDep) -> Response:
    """Per-user settings, kept in the core's preferences store so they follow the user."""
    me = (form.get("me") or "").strip()
    back = local_path(form.get("back"))
    if len(me) > 200:
        return settings_page(
            request, actor, back=back, me=me, errors={"me": "At most 200 characters."}, status=422
        )
    changes: dict[str, object] = {"shortcuts": form.get("shortcuts") == "on"}
    if actor.user_id is None:  # a person is "me" by their email; only a token's session names itself
        changes["me"] = me or None
    core_of(request).preferences.update(actor.id, changes)
    return redirect(request, f"/settings?saved=1&back={quote(back)}")
