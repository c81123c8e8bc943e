"""Run the HTTP server: the API and console over the composition root (compose.py), with the background
loops in this process (the embedded default) or in `deskbase worker` processes (`--no-background`)."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from deskbase.api.app import Extension, create_app
from deskbase.compose import compose
from deskbase.config import Settings
from deskbase.core.app import Deskbase
from deskbase.core.clock import Clock
from deskbase.core.context import SYSTEM
from deskbase.core.errors import Unavailable
from deskbase.core.passwords import generate as generate_password
from deskbase.mail.service import Mail
from deskbase.mcp.http import install as install_mcp
from deskbase.web import install_console

DEMO_WORKSPACE = "my-support"
log = logging.getLogger("deskbase")


def build(
    settings: Settings,
    clock: Clock | None = None,
    extra: list[Extension] | None = None,
    engine: Any = None,
    background: bool = True,
) -> tuple[Deskbase, FastAPI]:
    """The HTTP app over the one composition root (compose.py); tests and `serve` both use it.

    `engine` lets a caller share one analytics engine (chDB allows one data path per process).
    `background=False` serves HTTP only: the loops run in `deskbase worker` processes.
    """
    from deskbase.api.routers import sql

    comp = compose(settings, clock, engine)
    core = comp.core
    extensions: list[Extension] = list(extra or [])

    def add_sql(app: FastAPI, _: Deskbase) -> None:
        """Mounted even without a replica, so clients get a clear 503 rather than a bare 404."""
        app.include_router(sql.router)

    extensions.append(add_sql)
    extensions.append(install_mcp)
    extensions.append(install_console)
    startup: list[Any] = [comp.start_background] if background else []
    shutdown: list[Any] = [comp.close]
    listener = core.extensions[Mail].listener  # the SMTP/LMTP listener belongs to the serving process
    if listener is not None:
        startup.append(listener.start)
        shutdown.insert(0, listener.stop)  # take no mail in while the rest shuts down
    app = create_app(core, extensions, on_startup=startup, on_shutdown=shutdown)
    startup.append(app.state.console.start)
    shutdown.insert(0, app.state.console.close)
    return core, app


def load_demo(core: Deskbase) -> dict[str, int]:
    from deskbase.support import demo

    if DEMO_WORKSPACE not in {w["id"] for w in core.workspaces.list()}:
        core.workspaces.put(DEMO_WORKSPACE, "My Support (demo)", None, SYSTEM)
    return demo.load(core, DEMO_WORKSPACE, SYSTEM)


DEMO_ADMIN = "admin@example.com"
#: Every agent the demo's tickets are assigned to is a person of the demo workspace (an assignee is an
#: agent's email); Maria and Tom are the ones `serve --demo` names, all share one printed password.
DEMO_AGENTS = (
    ("maria@support.example", "Maria Santos"),
    ("tom@support.example", "Tom Becker"),
    ("aisha@support.example", "Aisha Khan"),
    ("li@support.example", "Li Wei"),
    ("pedro@support.example", "Pedro Alves"),
    ("sofia@support.example", "Sofia Rossi"),
    ("jamal@support.example", "Jamal Okafor"),
    ("nina@support.example", "Nina Ito"),
)
#: The demo's team: a ticket filed to it unassigned goes round-robin to whichever of the two is signed in.
DEMO_TEAM = (
    "frontline",
    {"name": "Frontline", "rule": "round_robin", "members": [e for e, _ in DEMO_AGENTS[:2]]},
)


def demo_people(core: Deskbase) -> dict[str, str] | None:
    """On a demo's first start: a server-admin user, the demo workspace's agents (the demo's tickets are
    assigned to them, so Maria's "My open tickets" is full) and its team. Returns the generated passwords, which are
    never stored in the clear and shown only now; None when the demo people exist already."""
    with core.db.read() as conn:
        if core.people.by_email(conn, DEMO_ADMIN) is not None:
            return None
    passwords = {
        DEMO_ADMIN: generate_password([(DEMO_ADMIN, "Admin")]),
        "agents": generate_password(list(DEMO_AGENTS)),
    }
    core.people.create(
        SYSTEM, {"email": DEMO_ADMIN, "name": "Admin", "server_admin": True}, passwords[DEMO_ADMIN]
    )
    for email, name in DEMO_AGENTS:
        with core.db.read() as conn:
            found = core.people.by_email(conn, email)
        user = (
            found.id
            if found
            else core.people.create(SYSTEM, {"email": email, "name": name}, passwords["agents"])["id"]
        )
        core.members.put(SYSTEM, DEMO_WORKSPACE, user, "agent")
    core.teams.put(SYSTEM, DEMO_WORKSPACE, *DEMO_TEAM)
    return passwords


def data_dir_problem(path: Path) -> str | None:
    """Why `path` cannot hold the server's data, in one line, or None. A missing directory is created (as
    on a first start); checked before anything opens it, so the operator reads the cause, not a traceback."""
    if path.exists() and not path.is_dir():
        return f"data directory {path} is not a directory"
    if not path.exists():
        ancestor = next(p for p in path.parents if p.exists())
        if not ancestor.is_dir():
            return f"data directory {path} cannot be created: {ancestor} is not a directory"
        try:
            path.mkdir(parents=True)
        except OSError as exc:
            return f"data directory {path} cannot be created: {(exc.strerror or str(exc)).lower()} ({exc.filename})"
    probe = path / ".deskbase-write-check"
    try:
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        return f"data directory {path} is not writable: {(exc.strerror or str(exc)).lower()}"
    database = path / "deskbase.db"
    if database.exists() and not os.access(database, os.R_OK | os.W_OK):
        return f"database file {database} is not writable: permission denied"
    return None


def serve(settings: Settings, demo: bool = False, background: bool = True) -> None:
    import uvicorn

    problem = data_dir_problem(settings.data_path)
    if problem:
        raise Unavailable(problem, {"data_dir": str(settings.data_path)})
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    core, app = build(settings, background=background)
    raw, created = core.tokens.ensure_admin_token(settings.data_path)
    out = sys.stdout
    people = None
    if demo:
        print("loading the support template and demo data into workspace 'my-support'…", file=out, flush=True)
        report = load_demo(core)
        if report.get("skipped"):
            print("demo data already present; reusing it", file=out)
        else:
            print(f"loaded {report['tickets']} tickets and {report['customers']} customers", file=out)
        people = demo_people(core)
    url = f"http://{settings.host}:{settings.port}"
    print(f"\ndeskbase is running at {url}  (API docs: {url}/docs)", file=out)
    print(f"agent console: {url}/  (sign in with an email and password, or with a token)", file=out)
    print(f"data directory: {settings.data_path}", file=out)
    token_file = settings.data_path / "admin-token"
    if created or demo:
        print(f"admin token: {raw}", file=out)
        print(f"  (kept in {token_file}, mode 0600)", file=out)
    else:
        print(f"admin token: in {token_file}", file=out)
    if people is not None:
        agents = ", ".join(email for email, _ in DEMO_AGENTS[:2])
        print(f"admin user: {DEMO_ADMIN}  password: {people[DEMO_ADMIN]}  (shown once)", file=out)
        print(
            f"demo agents: {agents} and {len(DEMO_AGENTS) - 2} more  password: {people['agents']}  (shown once)",
            file=out,
        )
    elif demo:
        print(
            f"admin user: {DEMO_ADMIN}  (a new password: deskbase users reset-password {DEMO_ADMIN})",
            file=out,
        )
    print(f"try: export DESKBASE_URL={url} DESKBASE_TOKEN=$(cat {token_file})\n", file=out, flush=True)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level=settings.log_level, access_log=False)
