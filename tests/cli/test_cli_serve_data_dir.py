"""`deskbase serve` refuses a data directory it cannot use with one line naming the path and the cause."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.cli.cli_harness import Cli

ROOT = hasattr(os, "geteuid") and os.geteuid() == 0


@pytest.fixture
def cli() -> Cli:
    return Cli(env={"DESKBASE_PORT": "1", "DESKBASE_DATABASE_URL": None})


def one_line_error(cli: Cli, data_dir: Path) -> str:
    out = cli("serve", "--data-dir", str(data_dir), expect=1)
    assert out.stdout == "" and out.stderr.count("\n") == 1 and "Traceback" not in out.stderr
    return out.stderr


def test_a_path_under_a_regular_file(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    line = one_line_error(cli, tmp_path / "file" / "data")
    assert line == (
        f"error: unavailable: data directory {tmp_path}/file/data cannot be created: "
        f"{tmp_path}/file is not a directory\n"
    )


def test_a_regular_file_as_the_data_dir(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    assert one_line_error(cli, tmp_path / "file") == (
        f"error: unavailable: data directory {tmp_path}/file is not a directory\n"
    )


@pytest.mark.skipif(
    ROOT, reason="root writes through permission bits; chmod cannot make a directory read-only"
)
def test_a_read_only_data_dir(cli: Cli, tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    data.chmod(0o500)
    try:
        line = one_line_error(cli, data)
    finally:
        data.chmod(0o700)
    assert line == f"error: unavailable: data directory {data} is not writable: permission denied\n"


@pytest.mark.skipif(
    ROOT, reason="root writes through permission bits; chmod cannot stop it creating a directory"
)
def test_a_missing_data_dir_under_a_read_only_parent(cli: Cli, tmp_path: Path) -> None:
    parent = tmp_path / "parent"
    parent.mkdir()
    parent.chmod(0o500)
    try:
        line = one_line_error(cli, parent / "data")
    finally:
        parent.chmod(0o700)
    assert line.startswith(
        f"error: unavailable: data directory {parent}/data cannot be created: permission denied"
    )
