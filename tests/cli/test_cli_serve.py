"""`deskbase serve` builds Settings from flags over the environment and hands them to deskbase.server.serve."""

from __future__ import annotations

import sys
import types
from typing import Any

import pytest

from deskbase.config import Settings
from tests.cli.cli_harness import Cli


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Settings, bool, bool]]:
    seen: list[tuple[Settings, bool, bool]] = []
    module: Any = types.ModuleType("deskbase.server")
    module.serve = lambda settings, demo=False, background=True: seen.append((settings, demo, background))
    monkeypatch.setitem(sys.modules, "deskbase.server", module)
    return seen


def test_serve_passes_flags_and_environment(
    cli: Cli, calls: list[tuple[Settings, bool, bool]], tmp_path: Any
) -> None:
    cli(
        "serve",
        "--host",
        "0.0.0.0",
        "--port",
        "9000",
        "--data-dir",
        str(tmp_path),
        "--demo",
        env={"DESKBASE_LOG_LEVEL": "debug", "DESKBASE_PORT": "1"},
    )
    settings, demo, background = calls[0]
    assert background is True
    assert (settings.host, settings.port, settings.data_dir, settings.log_level, demo) == (
        "0.0.0.0",
        9000,
        str(tmp_path),
        "debug",
        True,
    )
    cli("serve", env={"DESKBASE_PORT": "1234", "DESKBASE_HOST": None, "DESKBASE_DATA_DIR": None})
    assert (calls[1][0].port, calls[1][0].host, calls[1][1]) == (1234, "127.0.0.1", False)
    cli("serve", "--no-background", env={"DESKBASE_PORT": "1"})
    assert calls[2][2] is False


def test_serve_reports_a_bad_setting(cli: Cli, calls: list[tuple[Settings, bool, bool]]) -> None:
    out = cli("serve", env={"DESKBASE_PORT": "eighty"}, expect=1)
    assert out.stderr == "error: bad_setting: DESKBASE_PORT='eighty' is not a valid int\n" and not calls


def test_serve_help_lists_every_setting(cli: Cli) -> None:
    text = cli("serve", "--help").stdout
    assert "DESKBASE_DATA_DIR" in text and "DESKBASE_SQL_MAX_RESULT_ROWS" in text
