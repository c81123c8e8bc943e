"""Console fixtures: a real app on a fresh store (TestClient), a seeded support workspace, helpers that sign in
and post forms with the CSRF token, and a live uvicorn server for the browser tests."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event

from deskbase.config import Settings
from deskbase.core.app import Deskbase
from deskbase.core.clock import FixedClock
from deskbase.core.context import SYSTEM
from deskbase.server import build
from deskbase.support.service import SlaService
from deskbase.web.session import CSRF_COOKIE
from tests.serverproc import free_port

WS = "acme"
AGENT = "agent@acme.example"


@dataclass
class Seed:
    """Ids of the seeded records, by a name the tests use."""

    tickets: dict[str, str] = field(default_factory=dict)
    customers: dict[str, str] = field(default_factory=dict)


def seed_workspace(core: Deskbase) -> Seed:
    """Two customers and four tickets with a conversation: enough for every panel of every page."""
    core.workspaces.put(WS, "Acme Support", None, SYSTEM)
    core.templates.apply(WS, "support", SYSTEM)
    seed = Seed()
    customers = {
        "ana": {
            "name": "Ana Garcia",
            "email": "ana@globex.example",
            "plan": "enterprise",
            "company": "Globex",
        },
        "ben": {"name": "Ben Smith", "email": "ben@initech.example", "plan": "free", "company": "Initech"},
    }
    for key, data in customers.items():
        seed.customers[key] = core.records.create(WS, "customers", {"data": data}, SYSTEM)[0]["id"]
    tickets = {
        "export": (
            "ana",
            {
                "subject": "Export to CSV fails",
                "status": "open",
                "priority": "high",
                "assignee": AGENT,
                "category": "bug",
                "channel": "email",
                "tags": ["vip"],
                "description": "The export times out.",
            },
        ),
        "login": (
            "ben",
            {
                "subject": "Login loop after reset",
                "status": "waiting",
                "priority": "urgent",
                "category": "bug",
                "channel": "chat",
            },
        ),
        "invoice": (
            "ana",
            {
                "subject": "Invoice with VAT id",
                "status": "resolved",
                "priority": "low",
                "assignee": AGENT,
                "category": "billing",
                "channel": "web",
            },
        ),
        "dark": (
            "ben",
            {
                "subject": "Dark mode please",
                "status": "open",
                "priority": "medium",
                "category": "feature_request",
                "channel": "web",
                "tags": ["ui"],
            },
        ),
    }
    for key, (customer, data) in tickets.items():
        tid = core.records.create(WS, "tickets", {"data": data}, SYSTEM)[0]["id"]
        seed.tickets[key] = tid
        core.relationships.upsert(
            WS,
            {
                "rel_type": "submitted_by",
                "source": {"collection": "tickets", "id": tid},
                "target": {"collection": "customers", "id": seed.customers[customer]},
            },
            SYSTEM,
        )
    from deskbase.support.tickets import add_response

    export = seed.tickets["export"]
    add_response(core, WS, export, {"body": "It fails every time.", "author": "ana@globex.example"}, SYSTEM)
    add_response(core, WS, export, {"body": "Looking into it.", "author": AGENT}, SYSTEM)
    add_response(
        core, WS, export, {"body": "Engineering knows.", "type": "internal_note", "author": AGENT}, SYSTEM
    )
    return seed


class Console:
    """A browser-like client of the console: cookies kept, forms posted with the CSRF token."""

    def __init__(self, client: TestClient, core: Deskbase, token: str, seed: Seed) -> None:
        self.client = client
        self.core = core
        self.token = token
        self.seed = seed

    def sign_in(self, token: str | None = None, next: str = "/") -> Any:
        self.get("/signin")
        return self.client.post(
            "/signin",
            data={"token": token or self.token, "csrf": self.csrf(), "next": next},
            follow_redirects=False,
        )

    def csrf(self) -> str:
        value = self.client.cookies.get(CSRF_COOKIE)
        assert value, "no CSRF cookie yet: GET a page first"
        return value

    def get(self, path: str, htmx: bool = False, **kw: Any) -> Any:
        headers = {"HX-Request": "true"} if htmx else {}
        return self.client.get(path, headers=headers, follow_redirects=False, **kw)

    def post(
        self, path: str, data: dict[str, str] | None = None, htmx: bool = False, csrf: bool = True
    ) -> Any:
        body = dict(data or {})
        if csrf:
            body["csrf"] = self.csrf()
        headers = {"HX-Request": "true"} if htmx else {}
        return self.client.post(path, data=body, headers=headers, follow_redirects=False)

    def ticket(self, key: str) -> dict[str, Any]:
        return self.core.records.get(WS, "tickets", self.seed.tickets[key])

    def ticket_url(self, key: str, suffix: str = "") -> str:
        return f"/w/{WS}/tickets/{self.seed.tickets[key]}{suffix}"


@pytest.fixture
def console_app(tmp_path: Path, clock: FixedClock) -> Iterator[tuple[Deskbase, Any, str]]:
    core, app = build(Settings(reply_hold_seconds=0, data_dir=str(tmp_path), replicate=False), clock)
    raw, _ = core.tokens.ensure_admin_token(tmp_path)
    yield core, app, raw


@pytest.fixture
def console(console_app: tuple[Deskbase, Any, str]) -> Iterator[Console]:
    """Signed in as the admin, on a seeded workspace."""
    core, app, raw = console_app
    seed = seed_workspace(core)
    with TestClient(app, raise_server_exceptions=True) as client:
        assert app.state.console.warmed()
        c = Console(client, core, raw, seed)
        assert c.sign_in().status_code == 303
        yield c


@pytest.fixture
def anonymous(console_app: tuple[Deskbase, Any, str]) -> Iterator[Console]:
    """The same, but not signed in."""
    core, app, raw = console_app
    seed = seed_workspace(core)
    with TestClient(app, raise_server_exceptions=True) as client:
        assert app.state.console.warmed()
        yield Console(client, core, raw, seed)


@pytest.fixture
def sql_console(tmp_path: Path, clock: FixedClock, chdb_engine: Any) -> Iterator[Console]:
    """Signed in, seeded, with the SQL replica on the session's shared chDB engine (for the dashboard)."""
    core, app = build(Settings(reply_hold_seconds=0, data_dir=str(tmp_path)), clock, engine=chdb_engine)
    raw, _ = core.tokens.ensure_admin_token(tmp_path)
    seed = seed_workspace(core)
    with TestClient(app, raise_server_exceptions=True) as client:
        assert app.state.console.warmed()
        c = Console(client, core, raw, seed)
        assert c.sign_in().status_code == 303
        yield c


def needs_sla(core: Deskbase) -> Any:
    sla = core.extensions.get(SlaService)
    if sla is None:
        pytest.skip("the SLA service is not installed yet (core.extensions.get('sla') is None)")
    return sla


class QueryCounter:
    """Counts SQL statements on the primary store, to prove a page's cost does not grow with its rows.

    Transaction control and the background loops' polls (the SLA scheduler's table, and anything run on a
    `deskbase-…` thread: the webhook dispatcher, the replicator) are not the page's work and are left out."""

    def __init__(self, core: Deskbase) -> None:
        self.engine = core.db.engine
        self.count = 0
        self.statements: list[str] = []

    def _hit(self, _conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.startswith("BEGIN") or "sla_tickets" in statement:
            return
        if threading.current_thread().name.startswith("deskbase-"):
            return
        self.count += 1
        self.statements.append(statement)

    def __enter__(self) -> QueryCounter:
        event.listen(self.engine, "before_cursor_execute", self._hit)
        return self

    def __exit__(self, *_: Any) -> None:
        event.remove(self.engine, "before_cursor_execute", self._hit)


def composer_text(html: str) -> str:
    """What the ticket page's composer holds."""
    m = re.search(r'<textarea id="composer-body"[^>]*>([^<]*)</textarea>', html)
    assert m, "no composer on the page"
    return m.group(1)


def csrf_of(html: str) -> str:
    m = re.search(r'name="csrf" value="([^"]+)"', html)
    assert m, "no CSRF field in the page"
    return m.group(1)


# ---- a live server for the browser tests ---------------------------------------------------------------
CHROMIUM = Path("/usr/bin/chromium")


@dataclass
class Live:
    url: str
    core: Deskbase
    token: str
    app: Any


@contextmanager
def serving(app: Any) -> Iterator[str]:
    """A real uvicorn server for `app` in a thread, on a free port of 127.0.0.1; yields its base URL."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the console's live server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def live_server(tmp_path_factory: pytest.TempPathFactory, chdb_engine: Any) -> Iterator[Live]:
    """A real uvicorn server (with the SQL replica on the shared chDB engine) in a thread, demo data loaded."""
    from deskbase.support import demo

    data = tmp_path_factory.mktemp("console-live")
    core, app = build(Settings(reply_hold_seconds=0, data_dir=str(data)), engine=chdb_engine)
    raw, _ = core.tokens.ensure_admin_token(data)
    core.workspaces.put(WS, "Acme Support", None, SYSTEM)
    demo.load(core, WS, SYSTEM, demo.DemoSize(tickets=120, customers=30, weeks=4))
    with serving(app) as url:
        yield Live(url, core, raw, app)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's chromium through Playwright, one per test module (tests/web/browser.py: the pages)."""
    from playwright.sync_api import expect, sync_playwright

    from tests.web.browser import ARGS

    # Assertions wait for the page as long as actions do (Tab's default timeout): with four test workers on two
    # cores a redraw can take longer than Playwright's 5 s default without anything being wrong.
    expect.set_options(timeout=10_000)
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        yield b
        b.close()
