"""Request plumbing shared by every console view: the console's state, the signed-in actor, CSRF checks,
rendering and redirects. The page shell is web/shell.py; the route class that turns core errors into HTML
pages is web/routing.py."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import replace
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment
from starlette.concurrency import run_in_threadpool

from deskbase.core.app import Deskbase
from deskbase.core.auth import authorize
from deskbase.core.context import Actor
from deskbase.core.errors import BadRequest, Forbidden, NotFound, Unauthorized
from deskbase.core.scope import ReadScope
from deskbase.sso.service import SingleSignOn
from deskbase.web.counts import ViewCounts
from deskbase.web.form_body import read_form
from deskbase.web.held_toast import after_send
from deskbase.web.pages import Shell
from deskbase.web.render import environment
from deskbase.web.session import (
    CSRF_COOKIE,
    CSRF_FIELD,
    CSRF_HEADER,
    SESSION_COOKIE,
    Csrf,
    Session,
    SessionStore,
    Signer,
    load_secret,
)

log = logging.getLogger("deskbase.web")
#: how long a start may spend warming queues before it serves (the rest is warmed in the background)
WARM_BEFORE_SERVING_S = 3.0
_UNSET = object()


class SignInRequired(Exception):
    """No valid session: the route class answers with a redirect to the sign-in page."""


class EnrolmentRequired(Exception):
    """A person whose workspace requires two-step sign-in signed in without it: the route class sends them
    to set it up (the enrolment pages use `EnrollingActorDep`, which lets them through)."""


class CsrfRejected(Exception):
    """A POST without the matching CSRF token: refused before it reaches any core service."""


class Console:
    """Per-app console state: the core, the template environment, sessions and the CSRF signer."""

    def __init__(self, core: Deskbase) -> None:
        self.core = core
        signer = Signer(load_secret(core.settings.data_path))
        self.sessions = SessionStore(signer, core.sessions)
        self.csrf = Csrf(signer)
        self.env: Environment = environment()
        sso = core.extensions.get(SingleSignOn)
        # the sign-in page's "Sign in with <name>" buttons, one per identity provider: (id, name)
        self.env.globals["sso_providers"] = sso.buttons if sso else []
        self.counts = ViewCounts()
        self._warmer: threading.Thread | None = None
        self._closed = False

    def start(self) -> None:
        """Compile the templates, then warm each workspace's queue (its shared counts and each view's first
        page) before serving, for at most `WARM_BEFORE_SERVING_S`; what is left is warmed in the background.
        So the first page after a restart is served from memory like every later one."""
        for name in self.env.list_templates(filter_func=lambda n: n.endswith(".html")):
            self.env.get_template(name)
        rest = self.warm(deadline=time.monotonic() + WARM_BEFORE_SERVING_S)
        if rest:
            self._warmer = threading.Thread(
                target=self.warm, args=(rest,), name="deskbase-console-warm", daemon=True
            )
            self._warmer.start()

    def warmed(self, timeout: float = 30.0) -> bool:
        """Wait for the start-up warming (tests measure queries and must not count the warmer's)."""
        if self._warmer is not None:
            self._warmer.join(timeout)
        return self._warmer is None or not self._warmer.is_alive()

    def warm(self, workspaces: list[str] | None = None, deadline: float | None = None) -> list[str]:
        """Warm these workspaces (all by default) in order; returns those left when `deadline` passed."""
        from deskbase.web import queue
        from deskbase.web.queue_pages import QueueFilters
        from deskbase.web.views.collections import record_counts
        from deskbase.web.views.queue import shared_counts

        todo = workspaces if workspaces is not None else [w["id"] for w in self.core.workspaces.list()]
        for i, ws in enumerate(todo):
            if self._closed:  # the server is stopping: leave the rest uncounted
                return []
            if deadline is not None and time.monotonic() > deadline:
                return todo[i:]
            try:
                if any(c["id"] == "tickets" for c in self.core.collections.list(ws)):
                    shared_counts(self, ws, self.core.settled_seq(ws))  # the queue first: agents land there
                    warm = ReadScope.unrestricted(ws)  # no search box in a warm-up: nothing is searched
                    for view in queue.VIEWS:  # and each view's first page once, so its pages are in memory
                        queue.load(
                            self.core, ws, view.id, QueueFilters(), "sla_due", None, "", warm, counted=False
                        )
                record_counts(self, ws)
            except Exception:  # a workspace that can't be counted now is counted on its first visit
                if self._closed:
                    return []  # stopped mid-count: its pools are gone, nothing is wrong
                log.exception("warming the console counts of %s failed", ws)
        return []

    def close(self) -> None:
        self._closed = True
        self.counts.close()


def console(request: Request) -> Console:
    return request.app.state.console  # type: ignore[no-any-return]


def core_of(request: Request) -> Deskbase:
    return console(request).core


def session_of(request: Request) -> Session | None:
    found = getattr(request.state, "console_session", _UNSET)
    if found is _UNSET:
        found = console(request).sessions.lookup(request.cookies.get(SESSION_COOKIE))
        request.state.console_session = found
    return found  # type: ignore[return-value]


def current_actor(request: Request) -> Actor:
    """The signed-in actor, re-authenticated from the session's token (or its user's status and roles) on
    every request: revocation, expiry, suspension and a change of role take effect immediately. A person
    who must enrol a second factor (a workspace of theirs requires it) reaches no page but the enrolment."""
    actor = enrolling_actor(request)
    s = session_of(request)
    if s is not None and s.token_id is None and core_of(request).people.access.get(str(s.user_id)).must_enrol:
        raise EnrolmentRequired()
    return actor


def enrolling_actor(request: Request) -> Actor:
    """The signed-in actor, even one who must still set up two-step sign-in (for the enrolment pages)."""
    s = session_of(request)
    if s is None:
        raise SignInRequired()
    core = core_of(request)
    try:
        if s.token_id is not None:
            actor = core.tokens.authenticate_id(s.token_id, "console")
        else:
            actor = replace(core.people.actor(str(s.user_id)), source="console")
    except Unauthorized:
        if s.token_id is not None:
            console(request).sessions.drop_token(s.token_id)
        else:
            console(request).sessions.drop(s.id)
        raise SignInRequired() from None
    request.state.console_actor = actor
    return actor


ActorDep = Annotated[Actor, Depends(current_actor)]
EnrollingActorDep = Annotated[Actor, Depends(enrolling_actor)]


def csrf_token(request: Request) -> str:
    """This request's CSRF token: the cookie's if it is valid for the current session, else a new one (set
    on the response by `finish`)."""
    known = getattr(request.state, "csrf_value", None)
    if known:
        return known  # type: ignore[no-any-return]
    s = session_of(request)
    binding = s.id if s else "anon"
    c = console(request).csrf
    cookie = request.cookies.get(CSRF_COOKIE)
    value = cookie if cookie and c.valid_cookie(binding, cookie) else c.mint(binding)
    request.state.csrf_value = value
    return value


async def checked_form(request: Request) -> dict[str, str]:
    """The POSTed form, after the double-submit CSRF check (field or X-CSRF-Token header == cookie, signed
    for this session). Only the last value of a repeated field is kept. The body is read with the console's
    size limit (form_body.py): a larger one is a 413 page."""
    form = await read_form(request)
    request.state.form = form  # for fields sent more than once (the queue's ticked ids)
    pairs = [(k, v) for k, v in form.multi_items() if isinstance(v, str)]
    return await verified(request, pairs)


async def verified(request: Request, pairs: list[tuple[str, str]]) -> dict[str, str]:
    """A form's text fields (the last value of each), once no field holds a NUL and the CSRF check passed;
    multipart forms read by a route itself (uploads) are checked here too."""
    data = dict(pairs)
    bad = next((k for k, v in pairs if "\x00" in v + k), None)
    if bad is not None:  # the same text rule as the API's JSON bodies: no store may see a NUL
        raise BadRequest(f"form field {bad!r} contains a NUL character (\\u0000)", {"field": bad})
    s = await run_in_threadpool(session_of, request)  # a store read: never on the event loop
    submitted = data.pop(CSRF_FIELD, None) or request.headers.get(CSRF_HEADER)
    if not console(request).csrf.check(s.id if s else "anon", request.cookies.get(CSRF_COOKIE), submitted):
        raise CsrfRejected()
    return data


FormDep = Annotated[dict[str, str], Depends(checked_form)]


def may(actor: Actor, permission: str, workspace_id: str, collection: str | None = None) -> bool:
    """`authorize` as a yes/no, for optional parts of a page (a panel the token may not read is hidden)."""
    try:
        authorize(actor, permission, workspace_id, collection)
    except (Forbidden, NotFound):
        return False
    return True


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def client_address(request: Request) -> str | None:
    """The caller's address, for the sign-in throttle (uvicorn resolves trusted proxy headers into it)."""
    return request.client.host if request.client else None


def secure(request: Request) -> bool:
    return request.url.scheme == "https"


def finish(request: Request, response: Response) -> Response:
    """Set the CSRF cookie when this request minted one."""
    value = getattr(request.state, "csrf_value", None)
    if value and value != request.cookies.get(CSRF_COOKIE):
        response.set_cookie(
            CSRF_COOKIE, value, httponly=True, samesite="strict", secure=secure(request), path="/"
        )
    return response


def render(
    request: Request,
    template: str,
    page: Any,
    shell: Shell,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    hold = request.query_params.get("held") if request.method == "GET" else None
    if hold and shell.toast is None and shell.actor is not None and shell.workspace:
        # "Send and next" landed on a page that is not a ticket (the queue, nothing left): Undo is offered here
        held_on = request.query_params.get("held_on") or ""
        shell.toast = after_send(core_of(request), shell.actor.id, shell.workspace, hold, held_on)
    html = console(request).env.get_template(template).render(page=page, shell=shell)
    if status in (409, 422) and is_htmx(request):
        # For htmx the re-rendered form with its inline messages is the answer; a 4xx would only add a
        # "failed to load resource" line to the browser console. Plain form posts keep their 4xx.
        status = 200
    return finish(request, HTMLResponse(html, status_code=status, headers=headers))  # type: ignore[return-value]


def redirect(request: Request, url: str) -> Response:
    """303 after a POST; htmx gets HX-Redirect so it navigates the whole page instead of swapping."""
    if is_htmx(request):
        return finish(request, Response(status_code=200, headers={"HX-Redirect": url}))
    return finish(request, RedirectResponse(url, status_code=303))


def local_path(value: str | None, default: str = "/") -> str:
    """Only same-site paths are followed after sign-in or "send and next" (no open redirects)."""
    if not value or not value.startswith("/") or value.startswith("//") or "\\" in value:
        return default
    return value


def url(path: str, **params: Any) -> str:
    q = {k: v for k, v in params.items() if v not in (None, "")}
    return f"{path}?{urlencode(q)}" if q else path


def with_query(address: str, **params: str) -> str:
    """`address` (which may carry a query already) with these parameters added."""
    return f"{address}{'&' if '?' in address else '?'}{urlencode(params)}"
