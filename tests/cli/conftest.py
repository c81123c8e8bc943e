"""CLI fixtures: a fresh real server per test, the CLI runner pointed at it, and a ready workspace."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from deskbase.core.context import SYSTEM
from tests.cli.cli_harness import Cli, Server, running_server


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    with running_server(tmp_path / "data") as s:
        yield s


@pytest.fixture
def cli(server: Server, tmp_path: Path) -> Cli:
    return Cli(
        env={
            "DESKBASE_URL": server.url,
            "DESKBASE_TOKEN": server.token,
            "DESKBASE_WORKSPACE": None,
            "DESKBASE_CONFIG_DIR": str(tmp_path / "config"),
            "COLUMNS": "1000",
            "NO_COLOR": "1",
        }
    )


@pytest.fixture
def acme(server: Server) -> str:
    """Workspace `acme` with the support template applied (set up through the core, not the CLI under test)."""
    server.core.workspaces.put("acme", "Acme Support", None, SYSTEM)
    server.core.templates.apply("acme", "support", SYSTEM)
    return "acme"
