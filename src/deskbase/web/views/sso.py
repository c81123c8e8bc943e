"""Single sign-on with the server's OpenID provider: the start (a redirect to the provider) and the callback.

Both are public: the provider's answer is the credential, checked in deskbase/sso. The
`state` of a sign-in is also kept in a signed cookie (SameSite=Lax, so the provider's redirect back brings
it; scoped to /signin/sso), so a callback opened in another browser, such as a link an attacker started, is
refused. A failed sign-in shows the sign-in page with the reason, never an error page.
"""

from __future__ import annotations

import logging
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from deskbase.core.errors import NotFound
from deskbase.sso.provider import SsoFailure
from deskbase.sso.service import SingleSignOn
from deskbase.web.http import console, core_of, local_path, render, secure, session_of
from deskbase.web.pages import ContinuePage, SignInPage
from deskbase.web.routing import ConsoleRoute
from deskbase.web.session import SESSION_COOKIE
from deskbase.web.shell import make_shell
from deskbase.web.views.auth import after_password

log = logging.getLogger(__name__)
router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)

SSO_COOKIE = "deskbase_sso"
COOKIE_PATH = "/signin/sso"
CALLBACK = "/signin/sso/callback"


def service(request: Request) -> SingleSignOn:
    sso = core_of(request).extensions.get(SingleSignOn)
    if sso is None:
        raise NotFound("single sign-on is not configured on this server", {"sso": None})
    return sso


def redirect_uri(request: Request) -> str:
    """Where the provider sends the browser back: public_url's (the URI registered at the provider) or, without
    it, this request's own address."""
    base = core_of(request).settings.public_url.strip().rstrip("/") or str(request.base_url).rstrip("/")
    return base + CALLBACK


def failed(request: Request, exc: SsoFailure, target: str) -> Response:
    """The sign-in page with the reason; the server log gets it too, with its cause, for the operator."""
    log.warning("single sign-on failed (%s): %s (%r)", exc.reason, exc.message, exc.__cause__)
    page = SignInPage(target, sso_error=exc.message)
    response = render(request, "signin.html", page, make_shell(request, None, "Sign in"), status=exc.status)
    response.delete_cookie(
        SSO_COOKIE, path=COOKIE_PATH, httponly=True, samesite="lax", secure=secure(request)
    )
    return response


@router.get("/signin/sso")
def start(request: Request, next: str = "/", provider: str | None = None) -> Response:
    """Send the browser to the provider (`provider`: its id; the first without one). A link, not a form: the
    console's CSP allows forms to post only to itself, redirects included."""
    target = local_path(next) if len(next) <= 2048 else "/"
    c = console(request)
    try:
        url, state = service(request).begin(redirect_uri(request), target, (provider or "")[:40] or None)
    except SsoFailure as exc:
        return failed(request, exc, target)
    response = RedirectResponse(url, status_code=303)
    response.set_cookie(
        SSO_COOKIE,
        c.sessions.signer.seal("sso", state),
        max_age=600,
        httponly=True,
        samesite="lax",
        secure=secure(request),
        path=COOKIE_PATH,
    )
    return response


@router.get(CALLBACK)
def callback(request: Request) -> Response:
    """The provider's answer: a console session for the person (after their deskbase code, when they switched
    on two-step sign-in, as after a password), or the sign-in page saying why not."""
    c = console(request)
    browser_state = c.sessions.signer.unseal("sso", request.cookies.get(SSO_COOKIE))
    try:
        user, target, logout = service(request).finish(
            dict(request.query_params), browser_state, redirect_uri(request)
        )
    except SsoFailure as exc:
        return failed(request, exc, "/")
    if c.core.factors.enabled(user.id):
        step = after_password(request, user, target, logout)  # the code step's cookie, and its page
        response = onward(request, "One more step", step.headers["location"])
        for cookie in step.headers.getlist("set-cookie"):
            response.headers.append("set-cookie", cookie)
        return response
    return signed_in(request, user.id, target, logout)


def onward(request: Request, title: str, path: str) -> Response:
    """A page of ours that goes on to `path` (the Refresh header), rather than a redirect: after the provider's
    cross-site redirect chain, browsers withhold SameSite=Strict cookies (the session's, the code step's) from
    the rest of that chain, so the next step must be a navigation this site starts."""
    path = quote(path, safe="/?&=#%:@!$'()*+,;~")
    shell = make_shell(request, None, title)
    page = ContinuePage(title, path)
    response = render(request, "sso_continue.html", page, shell, headers={"Refresh": f"0; url={path}"})
    response.delete_cookie(
        SSO_COOKIE, path=COOKIE_PATH, httponly=True, samesite="lax", secure=secure(request)
    )
    return response


def signed_in(request: Request, user_id: str, target: str, logout: str | None) -> Response:
    """A new session for the user (replacing this browser's), keeping what signing out at the provider
    needs, then on to `target`."""
    c = console(request)
    old = session_of(request)
    if old is not None:
        c.sessions.drop(old.id)
    session, cookie = c.sessions.create_for_user(user_id, logout)
    request.state.csrf_value = c.csrf.mint(session.id)  # a fresh CSRF token bound to the new session
    response = onward(request, "Signed in", target)
    response.set_cookie(
        SESSION_COOKIE, cookie, httponly=True, samesite="strict", secure=secure(request), path="/"
    )
    return response
