"""Run one uvicorn server (one worker) for the HTTP benchmarks, as its own process.

    python bench/launcher.py deskbase --data-dir DIR --port P [--replicate [--catch-up]] [--sync FULL] [--setup]
    python bench/launcher.py echo --port P

`deskbase` builds the real app with `deskbase.server.build` (what `deskbase serve` runs) and writes the admin
token to DIR/admin-token via `core.tokens.ensure_admin_token`; `--setup` also creates the `bench` workspace with
the support template. `echo` is the bare-FastAPI baseline: POST returns the JSON body it got.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI

from deskbase.analytics.service import Analytics

HOST = "127.0.0.1"


def echo_app() -> FastAPI:
    app = FastAPI()

    @app.post("/echo")
    def echo(body: dict[str, Any]) -> dict[str, Any]:
        """Sync handler with a parsed JSON body: the same FastAPI path (threadpool, validation,
        serialisation) that deskbase's record routes take, with no work inside."""
        return body

    @app.post("/echo-async")
    async def echo_async(body: dict[str, Any]) -> dict[str, Any]:
        return body

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


def deskbase_app(
    data_dir: Path, replicate: bool, sync: str, setup: bool, catch_up: bool, detach: bool
) -> FastAPI:
    from common import WORKSPACE, detach_sla, setup_workspace

    from deskbase.config import Settings
    from deskbase.server import build

    settings = Settings(
        data_dir=str(data_dir), replicate=replicate, sqlite_synchronous=sync, host=HOST, log_level="warning"
    )
    core, app = build(settings)
    core.tokens.ensure_admin_token(settings.data_path)
    if setup:
        setup_workspace(core, WORKSPACE)
    if detach and not detach_sla(core):
        raise SystemExit("--detach-sla: the SLA hook was not found")
    if replicate and catch_up:  # start measuring with the replica level with the store, not replaying it
        app.state.core.extensions[Analytics].replica.catch_up()
    return app


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("kind", choices=["deskbase", "echo"])
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--data-dir", type=Path)
    p.add_argument("--replicate", action="store_true")
    p.add_argument("--sync", default="FULL")
    p.add_argument("--setup", action="store_true")
    p.add_argument(
        "--catch-up", action="store_true", help="with --replicate: replicate the store before serving"
    )
    p.add_argument("--detach-sla", action="store_true", help="attribution only: run without the SLA hook")
    args = p.parse_args()
    logging.basicConfig(level=logging.WARNING)
    if args.kind == "echo":
        app = echo_app()
    else:
        if args.data_dir is None:
            p.error("deskbase needs --data-dir")
        app = deskbase_app(
            args.data_dir, args.replicate, args.sync, args.setup, args.catch_up, args.detach_sla
        )
    uvicorn.run(app, host=HOST, port=args.port, workers=1, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
