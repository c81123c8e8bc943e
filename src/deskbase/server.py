"""Assemble and run the embedded server: core + support domain + API + SQL replica."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from deskbase.api.app import Extension, create_app
from deskbase.config import Settings
from deskbase.core.app import Deskbase
from deskbase.core.clock import Clock
from deskbase.core.context import SYSTEM
from deskbase.core.errors import Unavailable
from deskbase.events.service import install as install_webhooks
from deskbase.mail.service import install as install_mail
from deskbase.support.install import install as install_support
from deskbase.support.service import SlaService
from deskbase.web import install_console

DEMO_WORKSPACE = "my-support"
log = logging.getLogger("deskbase")


def build(
    settings: Settings, clock: Clock | None = None, extra: list[Extension] | None = None, engine: Any = None
) -> tuple[Deskbase, FastAPI]:
    """The one place where adapters are wired together; tests and `serve` both use it.

    `engine` lets a caller share one analytics engine (chDB allows one data path per process).
    """
    core = Deskbase.open(settings, clock)
    install_support(core)
    webhooks = install_webhooks(core)
    mail = install_mail(core)
    startup: list[Any] = []
    shutdown: list[Any] = []
    extensions: list[Extension] = list(extra or [])
    from deskbase.api.routers import sql

    analytics = None
    if settings.replicate:
        from deskbase.analytics.service import Analytics, open_embedded_engine

        if settings.clickhouse_url and engine is None:
            raise Unavailable(
                "a ClickHouse server replica (DESKBASE_CLICKHOUSE_URL) is not supported yet; "
                "leave it empty to use the embedded chDB replica"
            )
        own_engine = engine is None
        eng = engine if engine is not None else open_embedded_engine(settings.data_path / "chdb")
        analytics = Analytics(core, eng)
        core.extensions[Analytics] = analytics
        from deskbase.analytics.files import FILES
        from deskbase.events.replication import DELIVERIES
        from deskbase.support.replication import DERIVED

        for table in (*DERIVED, DELIVERIES, FILES):
            analytics.replica.register(table)
            analytics.allow(table.name)
        startup.append(analytics.start)
        shutdown.append(analytics.close if own_engine else analytics.replica.stop)

    def add_sql(app: FastAPI, _: Deskbase) -> None:
        """Mounted even without a replica, so clients get a clear 503 rather than a bare 404."""
        app.include_router(sql.router)

    extensions.append(add_sql)
    extensions.append(install_console)
    if settings.sla_scheduler:
        sla = core.extensions[SlaService]
        startup.append(sla.start)
        shutdown.append(sla.stop)
    if settings.webhooks:
        startup.append(webhooks.start)
        shutdown.append(webhooks.stop)
    if settings.mail_outbound:
        startup.append(mail.start)
        shutdown.append(mail.stop)
    shutdown.append(core.close)
    app = create_app(core, extensions, on_startup=startup, on_shutdown=shutdown)
    startup.append(app.state.console.start)
    shutdown.insert(0, app.state.console.close)
    return core, app


def load_demo(core: Deskbase) -> dict[str, int]:
    from deskbase.support import demo

    if DEMO_WORKSPACE not in {w["id"] for w in core.workspaces.list()}:
        core.workspaces.put(DEMO_WORKSPACE, "My Support (demo)", None, SYSTEM)
    return demo.load(core, DEMO_WORKSPACE, SYSTEM)


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


def serve(settings: Settings, demo: bool = False) -> None:
    import uvicorn

    problem = data_dir_problem(settings.data_path)
    if problem:
        raise Unavailable(problem, {"data_dir": str(settings.data_path)})
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    core, app = build(settings)
    raw, created = core.tokens.ensure_admin_token(settings.data_path)
    out = sys.stdout
    if demo:
        print("loading the support template and demo data into workspace 'my-support'…", file=out, flush=True)
        report = load_demo(core)
        if report.get("skipped"):
            print("demo data already present; reusing it", file=out)
        else:
            print(f"loaded {report['tickets']} tickets and {report['customers']} customers", file=out)
    url = f"http://{settings.host}:{settings.port}"
    print(f"\ndeskbase is running at {url}  (API docs: {url}/docs)", file=out)
    print(f"agent console: {url}/  (sign in with a token, e.g. the admin token below)", file=out)
    print(f"data directory: {settings.data_path}", file=out)
    token_file = settings.data_path / "admin-token"
    if created or demo:
        print(f"admin token: {raw}", file=out)
        print(f"  (kept in {token_file}, mode 0600)", file=out)
    else:
        print(f"admin token: in {token_file}", file=out)
    print(f"try: export DESKBASE_URL={url} DESKBASE_TOKEN=$(cat {token_file})\n", file=out, flush=True)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level=settings.log_level, access_log=False)
