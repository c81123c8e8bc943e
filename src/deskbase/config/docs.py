"""The settings registry described: `deskbase serve --help` and docs/configuration.md are generated from the
fields of `Settings` (name, environment variable, default, help), so the docs cannot drift from the code."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

from deskbase.config.settings import Settings


def describe() -> list[dict[str, Any]]:
    """Name, env var, default and help of every setting, for docs and `--help`."""
    return [
        {
            "name": f.name,
            "env": f"DESKBASE_{f.name.upper()}",
            "type": str(f.type),
            "default": f.default,
            "help": f.metadata["help"],
        }
        for f in fields(Settings)
    ]


DOC_HEADER = """# Configuration

Every setting has a default and can be set through an environment variable (and, for `deskbase serve`, a flag \
where noted in `deskbase serve --help`).

| setting | environment variable | default | what it does |
|---|---|---|---|
"""


def render_docs() -> str:
    """docs/configuration.md: `python -m deskbase.config > docs/configuration.md` (a test checks it is current)."""
    rows = [f"| `{d['name']}` | `{d['env']}` | `{d['default']}` | {d['help']} |" for d in describe()]
    return DOC_HEADER + "\n".join(rows) + "\n"
