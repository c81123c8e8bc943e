"""Query parameter values rendered as the text ClickHouse parses for ``{name:Type}`` placeholders."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

__all__ = ["render_param", "render_params"]

_PARAM_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _quote_literal(value: Any) -> str:
    """Render a value as a ClickHouse literal inside an Array/Map/Tuple parameter value."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_quote_literal(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_quote_literal(k)}: {_quote_literal(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"unsupported parameter value type {type(value).__name__}")


def render_param(value: Any) -> str:
    """Render a Python value as the text ClickHouse parses for a ``{name:Type}`` parameter.

    Scalars use the "escaped" text format (backslash, tab, newline and CR are escaped; nothing else needs
    to be); arrays and maps use literal syntax. The value is never spliced into the SQL text.
    """
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return value.replace("\\", "\\\\").replace("\n", "\\n").replace("\t", "\\t").replace("\r", "\\r")
    return _quote_literal(value)


def render_params(params: Mapping[str, Any] | None) -> dict[str, str]:
    """Every parameter rendered for chDB's ``params=``; names must be plain identifiers."""
    rendered: dict[str, str] = {}
    for name, value in (params or {}).items():
        if not _PARAM_NAME.match(name):
            raise ValueError(f"invalid parameter name {name!r}")
        rendered[name] = render_param(value)
    return rendered
