"""Where the CLI finds its server, token and workspace: flags, then DESKBASE_* env, then the login file."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from deskbase.cli.client import CliError

DEFAULT_URL = "http://127.0.0.1:8765"
ENV = {"url": "DESKBASE_URL", "token": "DESKBASE_TOKEN", "workspace": "DESKBASE_WORKSPACE"}


@dataclass(frozen=True)
class Profile:
    url: str
    token: str | None
    workspace: str | None


def config_path() -> Path:
    """~/.config/deskbase/config.json, or inside $DESKBASE_CONFIG_DIR (tests and multi-profile setups)."""
    base = os.environ.get("DESKBASE_CONFIG_DIR")
    folder = Path(base).expanduser() if base else Path.home() / ".config" / "deskbase"
    return folder / "config.json"


def load() -> dict[str, Any]:
    path = config_path()
    try:
        saved = orjson.loads(path.read_bytes())
    except FileNotFoundError:
        return {}
    except (OSError, orjson.JSONDecodeError) as exc:
        raise CliError("bad_config", f"cannot read {path}: {exc}; run `deskbase login` again") from exc
    return saved if isinstance(saved, dict) else {}


def resolve(url: str | None = None, token: str | None = None, workspace: str | None = None) -> Profile:
    """Each value independently: the flag if given, else its env var, else the saved login."""
    flags = {"url": url, "token": token, "workspace": workspace}
    saved: dict[str, Any] | None = None
    values: dict[str, str | None] = {}
    for key, flag in flags.items():
        value = flag or os.environ.get(ENV[key]) or None
        if value is None:
            saved = load() if saved is None else saved
            value = saved.get(key) or None
        values[key] = value
    return Profile(url=values["url"] or DEFAULT_URL, token=values["token"], workspace=values["workspace"])


def save(url: str, token: str, workspace: str | None = None) -> Path:
    """Write the login file readable by its owner only (it holds a bearer token)."""
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    body: dict[str, Any] = {"url": url, "token": token}
    if workspace:
        body["workspace"] = workspace
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(orjson.dumps(body, option=orjson.OPT_INDENT_2) + b"\n")
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
    return path
