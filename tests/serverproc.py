"""A real `deskbase serve` in a subprocess on a free port, for the kill -9 tests: started, waited for, and
handed out with an HTTP client carrying the admin token; terminated afterwards unless a test killed it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.conftest import seed_store


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serve(
    data: Path, base: str = "/v1", env: dict[str, str] | None = None, args: tuple[str, ...] = ()
) -> Iterator[tuple[httpx.Client, subprocess.Popen[bytes]]]:
    """`env` adds DESKBASE_* settings, `args` flags of `serve`; the client's base URL is the server's plus
    `base`."""
    port = free_port()
    settings = {"DESKBASE_DATA_DIR": str(data), "DESKBASE_PORT": str(port), "DESKBASE_LOG_LEVEL": "warning"}
    if "DESKBASE_DATABASE_URL" not in (env or {}):
        seed_store(data)
    proc = subprocess.Popen(
        [sys.executable, "-m", "deskbase.cli.main", "serve", *args],
        env={**os.environ, **settings, **(env or {})},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = (
            time.monotonic() + 120
        )  # a loaded CI machine (four test workers on two cores) starts slowly
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else "server died"
            assert time.monotonic() < deadline, "server did not start"
            time.sleep(0.2)
        token = (data / "admin-token").read_text().strip()
        with httpx.Client(
            base_url=f"http://127.0.0.1:{port}{base}",
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        ) as client:
            yield client, proc
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(timeout=30)


def worker(data: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """A `deskbase worker` on the same store (its settings as `serve`'s); the caller stops or kills it."""
    settings = {"DESKBASE_DATA_DIR": str(data), "DESKBASE_LOG_LEVEL": "warning"}
    return subprocess.Popen(
        [sys.executable, "-m", "deskbase.cli.main", "worker"],
        env={**os.environ, **settings, **(env or {})},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
