"""The console's route class: sign-in and enrolment redirects, CSRF refusals and core errors answered as HTML
error pages (never the API's JSON envelope), and the security headers every console response carries."""

from __future__ import annotations

import time
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from fastapi.routing import APIRoute
from markupsafe import escape

from deskbase.core.errors import DeskbaseError
from deskbase.web.http import (
    CsrfRejected,
    EnrolmentRequired,
    SignInRequired,
    finish,
    is_htmx,
    redirect,
    render,
    url,
)
from deskbase.web.pages import ErrorPage
from deskbase.web.shell import make_shell

#: Pages hold CSRF tokens and customer data: never cached, never framed, scripts and styles only from here.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def error_page(request: Request, status: int, message: str) -> Response:
    actor = getattr(request.state, "console_actor", None)
    try:
        shell = make_shell(request, actor, f"Error {status}")
    except DeskbaseError:
        shell = make_shell(request, None, f"Error {status}")
    if is_htmx(request):
        # A fragment request: a small inline message, swapped where the result would have gone.
        html = f'<p class="form-error" role="alert">{escape(message)}</p>'
        return finish(request, HTMLResponse(html, status_code=status))
    return render(request, "error.html", ErrorPage(status, message), shell, status=status)


def _here(request: Request) -> str:
    """Where to come back to after signing in or enrolling: this page, or the page a POST came from."""
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if request.method != "GET":
        target = request.headers.get("hx-current-url") or "/"
        target = "/" if "://" in target else target
    return target


def sign_in_redirect(request: Request) -> Response:
    target = _here(request)
    return redirect(request, url("/signin", next=target if target != "/" else None))


def enrol_redirect(request: Request) -> Response:
    target = _here(request)
    return redirect(request, url("/settings/totp", next=target if target != "/" else None))


class ConsoleRoute(APIRoute):
    """Console routes answer in HTML: a missing session redirects to sign-in, a failed CSRF check is a 403
    page, and core errors (404, 403, 400 …) become error pages, never the API's JSON envelope. Each response
    carries its server time in a Server-Timing header."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        inner = super().get_route_handler()

        async def handler(request: Request) -> Response:
            started = time.perf_counter()
            try:
                response = await inner(request)
            except SignInRequired:
                response = sign_in_redirect(request)
            except EnrolmentRequired:
                response = enrol_redirect(request)
            except CsrfRejected:
                response = error_page(
                    request, 403, "This form has expired or did not come from this console; reload and retry."
                )
            except DeskbaseError as exc:
                response = error_page(request, exc.status, exc.message)
            response.headers["Server-Timing"] = f"app;dur={(time.perf_counter() - started) * 1000:.1f}"
            for name, value in SECURITY_HEADERS.items():
                response.headers.setdefault(name, value)
            return response

        return handler
