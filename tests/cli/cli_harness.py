"""CLI test harness: a real deskbase API on a free port (uvicorn in a thread) and an in-process CLI runner.

A module of its own (not conftest) so test modules can import it unambiguously.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import typer.main
import typer.testing
import uvicorn
from click.testing import Result
from typer.testing import CliRunner

from deskbase.cli.main import app as cli_app
from deskbase.config import Settings
from deskbase.core.app import Deskbase
from deskbase.server import build

# Typer's runner rebuilds the click command tree on every invoke (~0.1 s here); a user pays that once per
# process, so the tests build it once too (a no-op should typer rename its private helper).
COMMAND = typer.main.get_command(cli_app)
if hasattr(typer.testing, "_get_command"):
    typer.testing._get_command = lambda app: COMMAND if app is cli_app else typer.main.get_command(app)
SEED = Path(__file__).resolve().parents[2].parent / "shared" / "seed"


@dataclass
class Server:
    url: str
    token: str
    core: Deskbase


@contextmanager
def running_server(data_dir: Path, engine: Any = None, **settings: Any) -> Iterator[Server]:
    """The real server (as `deskbase serve` wires it) over a fresh store, on a socket bound to a free port.

    Without an `engine` the SQL replica is off (fast); pass the session's shared chDB engine to get `/sql`.
    """
    core, app = build(
        Settings(data_dir=str(data_dir), replicate=engine is not None, **settings), engine=engine
    )
    raw, _ = core.tokens.ensure_admin_token(data_dir)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", ws="none", lifespan="on"))
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.01)
    try:
        yield Server(f"http://127.0.0.1:{sock.getsockname()[1]}", raw, core)
    finally:
        server.should_exit = True  # lifespan shutdown closes the core (and stops the replica)
        thread.join(10)
        sock.close()


@dataclass
class Cli:
    """Runs `deskbase …` in-process with the environment a user would have after `deskbase login`."""

    env: dict[str, str | None]
    runner: CliRunner = field(default_factory=CliRunner)

    def __call__(
        self,
        *args: str,
        expect: int | None = 0,
        input: str | None = None,
        env: dict[str, str | None] | None = None,
    ) -> Result:
        result = self.runner.invoke(cli_app, list(args), input=input, env={**self.env, **(env or {})})
        if expect is not None and result.exit_code != expect:
            raise AssertionError(
                f"`deskbase {' '.join(args)}` exited {result.exit_code}, expected {expect}\n"
                f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}\n{result.exception!r}"
            )
        return result

    def json(self, *args: str, **kw: Any) -> Any:
        return json.loads(self(*args, "--output", "json", **kw).stdout)


def write_json(path: Path, value: Any) -> str:
    """Write a JSON file and return the `@path` flag value pointing at it."""
    path.write_text(json.dumps(value))
    return f"@{path}"
