"""Signing in and out, the session cookie, CSRF refusals and the redirect to sign-in."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from fastapi.testclient import TestClient

from deskbase.config import Settings
from deskbase.core.clock import FixedClock
from deskbase.core.context import SYSTEM
from deskbase.server import build
from deskbase.web.session import CSRF_COOKIE, SESSION_COOKIE
from tests.web.conftest import WS, Console, csrf_of, seed_workspace


def test_pages_redirect_to_sign_in_and_back(anonymous: Console) -> None:
    r = anonymous.get(f"/w/{WS}/queue?view=open")
    assert r.status_code == 303
    assert r.headers["location"] == "/signin?next=%2Fw%2Facme%2Fqueue%3Fview%3Dopen"
    page = anonymous.get(r.headers["location"])
    assert page.status_code == 200 and 'name="token"' in page.text
    r = anonymous.sign_in(next="/w/acme/queue?view=open")
    assert (r.status_code, r.headers["location"]) == (303, "/w/acme/queue?view=open")
    assert anonymous.get("/w/acme/queue?view=open").status_code == 200


def test_htmx_requests_without_a_session_are_told_to_navigate(anonymous: Console) -> None:
    r = anonymous.get(f"/w/{WS}/queue", htmx=True)
    assert r.status_code == 200 and r.headers["HX-Redirect"].startswith("/signin")


def test_the_session_cookie_names_a_session_never_the_token(anonymous: Console) -> None:
    r = anonymous.sign_in()
    cookies = r.headers.get_list("set-cookie")
    session = next(c for c in cookies if c.startswith(SESSION_COOKIE + "="))
    assert anonymous.token not in session
    assert "HttpOnly" in session and "SameSite=strict" in session and "Path=/" in session
    csrf = next(c for c in cookies if c.startswith(CSRF_COOKIE + "="))
    assert "HttpOnly" in csrf and "SameSite=strict" in csrf
    assert "dsk_" not in "".join(cookies)


def test_a_wrong_token_is_refused_inline(anonymous: Console) -> None:
    anonymous.get("/signin")
    r = anonymous.client.post("/signin", data={"token": "dsk_nope", "csrf": anonymous.csrf()})
    assert r.status_code == 401
    assert "Sign-in failed: invalid token" in r.text and 'aria-invalid="true"' in r.text
    r = anonymous.client.post("/signin", data={"token": "", "csrf": anonymous.csrf()})
    assert r.status_code == 401 and "Enter your API token" in r.text
    assert anonymous.get(f"/w/{WS}/queue").status_code == 303


def test_sign_in_refuses_a_missing_or_foreign_csrf_token(anonymous: Console) -> None:
    anonymous.get("/signin")
    r = anonymous.client.post("/signin", data={"token": anonymous.token})
    assert r.status_code == 403 and "expired" in r.text
    r = anonymous.client.post("/signin", data={"token": anonymous.token, "csrf": "forged.value"})
    assert r.status_code == 403
    assert anonymous.get(f"/w/{WS}/queue").status_code == 303


def test_next_never_leaves_the_site(anonymous: Console) -> None:
    for target in ("https://evil.example/", "//evil.example/x", "/\\evil.example"):
        r = anonymous.sign_in(next=target)
        assert r.headers["location"] == "/"


def test_sign_out_ends_the_session(console: Console) -> None:
    page = console.get(f"/w/{WS}/queue")
    r = console.client.post("/signout", data={"csrf": csrf_of(page.text)}, follow_redirects=False)
    assert (r.status_code, r.headers["location"]) == (303, "/signin")
    assert console.get(f"/w/{WS}/queue").status_code == 303


def test_a_stolen_cookie_is_useless_after_sign_out(console: Console) -> None:
    cookie = console.client.cookies.get(SESSION_COOKIE)
    console.post("/signout")
    console.client.cookies.set(SESSION_COOKIE, cookie)
    assert console.get(f"/w/{WS}/queue").status_code == 303


def test_a_forged_session_cookie_is_ignored(anonymous: Console) -> None:
    anonymous.client.cookies.set(SESSION_COOKIE, "made-up-session.signature")
    assert anonymous.get(f"/w/{WS}/queue").status_code == 303


def test_revoking_the_token_ends_its_sessions_at_once(console: Console) -> None:
    raw, info = console.core.tokens.create("temp", [{"scope": {"workspaces": ["*"]}, "permissions": ["*"]}])
    console.client.cookies.clear()
    assert console.sign_in(raw).status_code == 303
    assert console.get(f"/w/{WS}/queue").status_code == 200
    console.core.tokens.revoke(SYSTEM, info["id"])
    r = console.get(f"/w/{WS}/queue")
    assert r.status_code == 303 and r.headers["location"].startswith("/signin")


def test_the_secret_is_kept_in_the_data_dir_with_mode_0600(console: Console) -> None:
    path = console.core.settings.data_path / "console-secret"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert len(path.read_text().strip()) == 64


def test_landing_goes_to_the_first_workspace_queue(console: Console) -> None:
    r = console.get("/")
    assert (r.status_code, r.headers["location"]) == (303, f"/w/{WS}/queue")
    assert console.get(f"/w/{WS}").headers["location"] == f"/w/{WS}/queue"


def test_a_token_seeing_no_workspace_gets_an_explanation(console: Console) -> None:
    raw, _ = console.core.tokens.create(
        "nowhere", [{"scope": {"workspaces": ["other"]}, "permissions": ["*"]}]
    )
    console.client.cookies.clear()
    console.sign_in(raw)
    r = console.get("/")
    assert r.status_code == 200 and "No workspace with tickets yet" in r.text


def test_pages_are_not_cached_or_framed(console: Console) -> None:
    r = console.get(f"/w/{WS}/queue")
    assert r.headers["Cache-Control"] == "no-store"
    assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"]
    assert "script-src 'self'" in r.headers["Content-Security-Policy"]
    assert r.headers["Server-Timing"].startswith("app;dur=")


def test_sign_out_needs_the_csrf_token_while_signed_in(console: Console) -> None:
    r = console.post("/signout", csrf=False)
    assert r.status_code == 403
    assert console.get(f"/w/{WS}/queue").status_code == 200
    jar = console.client.cookies
    for cookie in [c for c in jar.jar if c.name == SESSION_COOKIE]:  # httpx2 would keep it beside a new one
        jar.delete(cookie.name, domain=cookie.domain, path=cookie.path)
    jar.set(SESSION_COOKIE, "expired.session")
    r = console.post("/signout", csrf=False)
    assert (r.status_code, r.headers["location"]) == (303, "/signin")


def test_a_session_survives_a_restart(tmp_path: Path, clock: FixedClock) -> None:
    """Sessions live in the store: a second server on the same data dir (a restart, or another process)
    knows the cookie; the first server's sign-out ends it for both."""
    core, app = build(
        Settings(reply_hold_seconds=0, data_dir=str(tmp_path), replicate=False, sla_scheduler=False), clock
    )
    raw, _ = core.tokens.ensure_admin_token(tmp_path)
    seed = seed_workspace(core)
    with TestClient(app) as first:
        c = Console(first, core, raw, seed)
        assert c.sign_in().status_code == 303
        cookies = dict(first.cookies)
    _, app2 = build(
        Settings(reply_hold_seconds=0, data_dir=str(tmp_path), replicate=False, sla_scheduler=False), clock
    )
    with TestClient(app2, cookies=cookies) as second:
        r = second.get(f"/w/{WS}/queue", follow_redirects=False)
        assert r.status_code == 200 and "My open tickets" in r.text
        signed_out = second.post(
            "/signout", data={"csrf": second.cookies["deskbase_csrf"]}, follow_redirects=False
        )
        assert signed_out.status_code == 303
    with TestClient(app2, cookies=cookies) as third:
        assert third.get(f"/w/{WS}/queue", follow_redirects=False).status_code == 303
