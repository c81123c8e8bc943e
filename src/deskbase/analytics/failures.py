"""ClickHouse failures of sandboxed queries mapped onto the sandbox's errors, with internal details removed."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from deskbase.analytics.errors import PayloadTooLarge, QueryError, QueryRejected, QueryTimeout

if TYPE_CHECKING:
    from deskbase.analytics.engine import Limits

__all__ = ["clean_message", "error_parts", "sandbox_error"]

_CODE = re.compile(r"Code:\s*(\d+)\.")
_NAME = re.compile(r"\(([A-Z][A-Z0-9_]+)\)(?:\s*\(version [^)]*\))?\.?\s*$")
_PREFIX = re.compile(r"^(?:(?:Code:\s*\d+\.\s*)?DB::Exception:\s*)+")
_TRAILING_NAME = re.compile(r"[\s.:]*\([A-Z][A-Z0-9_]+\)[\s.]*$")
_VERSION = re.compile(r"\s*\(version [^)]*\)")
_ABS_PATH = re.compile(r"(?<![\w:/.])/(?:[\w.@+-]+/)+[\w.@+-]*")

_TIMEOUT_NAMES = frozenset({"TIMEOUT_EXCEEDED", "TOO_SLOW", "QUERY_WAS_CANCELLED"})
_LIMIT_NAMES = {
    "MEMORY_LIMIT_EXCEEDED": "max_memory_usage",
    "TOO_MANY_ROWS": "max_rows_to_read",
    "TOO_MANY_BYTES": "max_bytes_to_read",
    "TOO_MANY_ROWS_OR_BYTES": "max_result_rows",
}
_REFUSED_NAMES = frozenset({"READONLY", "ACCESS_DENIED"})


def clean_message(message: str, data_path: str | None = None) -> str:
    """ClickHouse's message without codes, version, stack trace or any filesystem path."""
    text = _PREFIX.sub("", message.split("Stack trace", 1)[0].strip())
    text = _VERSION.sub("", text)
    while (shorter := _TRAILING_NAME.sub("", text)) != text:
        text = shorter
    if data_path:
        text = re.sub(re.escape(data_path) + r"[\w./@+-]*", "<path>", text)
    return _ABS_PATH.sub("<path>", text)


def error_parts(message: str) -> tuple[int | None, str | None]:
    code = _CODE.search(message)
    name = _NAME.search(message.split("Stack trace", 1)[0].strip())
    return (int(code.group(1)) if code else None, name.group(1) if name else None)


def sandbox_error(message: str, limits: Limits, data_path: str | None = None) -> Exception:
    """Map a ClickHouse failure of a read-only query onto QueryTimeout / QueryRejected / QueryError."""
    code, name = error_parts(message)
    details: dict[str, Any] = {"clickhouse_code": code, "clickhouse_error": name}
    text = clean_message(message, data_path)
    if name in _TIMEOUT_NAMES:
        return QueryTimeout(
            f"query stopped after max_execution_time ({limits.max_execution_time:g} s)",
            {**details, "limit": "max_execution_time", "value": limits.max_execution_time},
        )
    if name == "TOO_MANY_ROWS_OR_BYTES" and "max bytes" in text:
        return PayloadTooLarge(
            f"the result is larger than sql_max_result_bytes ({limits.max_result_bytes} bytes); select "
            "fewer rows or columns, or aggregate",
            {**details, "limit": "sql_max_result_bytes", "value": limits.max_result_bytes},
        )
    if name in _LIMIT_NAMES:
        setting = _LIMIT_NAMES[name]
        value = getattr(limits, setting, None)
        return QueryRejected(
            f"query stopped: it exceeded the {setting} limit" + (f" ({value})" if value is not None else ""),
            {**details, "kind": "limit", "name": setting, "value": value, "engine_message": text},
        )
    if name in _REFUSED_NAMES:
        return QueryRejected(
            f"query refused by the read-only sandbox: {text}", {**details, "kind": "readonly"}
        )
    return QueryError(text, details)
