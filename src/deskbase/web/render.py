"""The console's Jinja2 environment: autoescaped templates, filters for times and labels, asset URLs."""

from __future__ import annotations

import hashlib
import threading
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from jinja2 import (
    BytecodeCache,
    Environment,
    FileSystemLoader,
    StrictUndefined,
    pass_context,
    select_autoescape,
)
from jinja2.bccache import Bucket
from jinja2.runtime import Context

from deskbase.core.clock import parse_iso
from deskbase.web.sla import duration

HERE = Path(__file__).parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"


def _parse(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not value:
        return None
    try:
        return parse_iso(value)
    except ValueError:
        return None


@pass_context
def reltime(ctx: Context, value: Any) -> str:
    """ "5m ago", "in 2h" against the server's clock (the page's `shell.now`)."""
    t = _parse(value)
    if t is None:
        return ""
    now: datetime = ctx["shell"].now
    delta = (now - t).total_seconds()
    if abs(delta) < 45:
        return "just now"
    text = duration(abs(delta))
    return f"{text} ago" if delta > 0 else f"in {text}"


def _zone(name: str | None) -> tuple[ZoneInfo, str]:
    try:
        return ZoneInfo(name or "UTC"), name or "UTC"
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC"), "UTC"


@pass_context
def abstime(ctx: Context, value: Any, fmt: str = "%a %d %b %Y, %H:%M", zone: str | None = None) -> str:
    """An absolute time in the viewer's time zone (`shell.timezone`), or in `zone`, with the zone named."""
    t = _parse(value)
    if t is None:
        return ""
    tz, tz_name = _zone(zone or ctx["shell"].timezone)
    return f"{t.astimezone(tz).strftime(fmt)} {tz_name}"


def utctime(value: Any) -> str:
    """The UTC instant, for a time's hover text: unambiguous whatever zone the page shows."""
    t = _parse(value)
    if t is None:
        return ""
    return t.astimezone(ZoneInfo("UTC")).strftime("%Y-%m-%d %H:%M:%S UTC")


def humanize(value: Any) -> str:
    """'in_progress' -> 'In progress'."""
    if value is None or value == "":
        return "—"
    text = str(value).replace("_", " ")
    return text[:1].upper() + text[1:]


def number(value: Any) -> str:
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.1f}"
    if isinstance(value, (int, float)):
        return f"{int(value):,}"
    return "" if value is None else str(value)


def _asset_versions() -> dict[str, str]:
    """Content hashes, so assets can be cached forever and still change with a release."""
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()[:10] for p in STATIC.iterdir() if p.is_file()}


class _CompiledTemplates(BytecodeCache):
    """Compiled templates shared by every console environment of the process (all are built with the same
    options): a second app in one process (a worker, every test) loads each template's code instead of
    parsing and compiling 70 templates again, which cost more than the rest of starting an app. A bucket is
    keyed by the template's name and checked against its source's checksum, so an edited template compiles
    anew."""

    def __init__(self) -> None:
        self._code: dict[str, bytes] = {}
        self._lock = threading.Lock()

    def load_bytecode(self, bucket: Bucket) -> None:
        code = self._code.get(bucket.key)
        if code is not None:
            bucket.bytecode_from_string(code)

    def dump_bytecode(self, bucket: Bucket) -> None:
        with self._lock:
            self._code[bucket.key] = bucket.bytecode_to_string()


_COMPILED = _CompiledTemplates()


def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        bytecode_cache=_COMPILED,
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    versions = _asset_versions()
    env.globals["static"] = lambda name: f"/static/{name}?v={versions.get(name, '0')}"
    env.filters.update(
        reltime=reltime, abstime=abstime, utctime=utctime, humanize=humanize, number=number, duration=duration
    )
    return env
