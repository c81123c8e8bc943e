"""docs/cli.md documents every command and is exactly what `python -m deskbase.cli.docgen` prints."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import typer

from deskbase.cli.docgen import walk
from deskbase.cli.main import app

DOC = Path(__file__).resolve().parents[2] / "docs" / "cli.md"


def test_every_command_is_documented() -> None:
    text = DOC.read_text()
    paths = list(walk(typer.main.get_command(app)))
    assert len(paths) > 40
    missing = [" ".join(p) for p in paths if f"## `{' '.join(('deskbase', *p))}`\n" not in text]
    assert not missing, f"not in docs/cli.md (run `make docs`): {missing}"


def test_docs_are_current() -> None:
    # A fresh interpreter: docgen fixes width and colour before Typer reads its environment.
    generated = subprocess.run(
        [sys.executable, "-m", "deskbase.cli.docgen"], capture_output=True, text=True, check=True
    ).stdout
    assert generated == DOC.read_text(), "docs/cli.md is stale: run `make docs`"
