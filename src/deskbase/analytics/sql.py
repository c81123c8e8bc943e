"""Run one user SQL query against a workspace's replica: guard → bind → read-only with limits → result."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import orjson

from deskbase.analytics.engine import Engine, Limits
from deskbase.analytics.errors import QueryError, QueryRejected
from deskbase.analytics.gate import Ticket
from deskbase.analytics.guard import check_query

__all__ = ["Limits", "bind_parameters", "format_csv", "format_ndjson", "iter_csv", "iter_ndjson", "run_sql"]

WORKSPACE_PARAM = "workspace_id"
_PARAM_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_REQUEST_TAG = re.compile(r"[^A-Za-z0-9_.:-]")


# ClickHouse wraps an out-of-range integer parameter silently ({x:UInt8} = 300 reads as 44, 10^30 as 0).
_INT_RANGES = {
    f"{sign}Int{bits}": ((0, 2**bits - 1) if sign else (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1))
    for sign in ("", "U")
    for bits in (8, 16, 32, 64)
}
_WRAPPER = re.compile(r"^(?:Nullable|LowCardinality)\((.*)\)$")
_ARRAY = re.compile(r"^Array\((.*)\)$")
_INT_TEXT = re.compile(r"^\s*[+-]?\d+\s*$")
_INT64_MIN, _UINT64_MAX = -(2**63), 2**64 - 1


def _check_range(name: str, param_type: str, value: Any) -> None:
    """Refuse an integer (or integer text) outside the declared (U)Int8-64 type, inside arrays too."""
    param_type = param_type.strip()
    while match := _WRAPPER.match(param_type):
        param_type = match.group(1).strip()
    if (array := _ARRAY.match(param_type)) and isinstance(value, list | tuple):
        for item in value:
            _check_range(name, array.group(1), item)
        return
    bounds = _INT_RANGES.get(param_type)
    if bounds is None or isinstance(value, bool):
        return
    if isinstance(value, str) and _INT_TEXT.match(value):
        value = int(value)
    if isinstance(value, int) and not bounds[0] <= value <= bounds[1]:
        raise QueryError(
            f"query parameter '{name}' is out of range for {param_type} ({bounds[0]} to {bounds[1]})",
            {"parameter": name, "type": param_type, "min": bounds[0], "max": bounds[1]},
        )


def _check_value(name: str, value: Any, depth: int = 0) -> None:
    if depth > 8:
        raise QueryError(f"query parameter '{name}' is nested too deeply", {"parameter": name})
    if isinstance(value, int) and not isinstance(value, bool) and not _INT64_MIN <= value <= _UINT64_MAX:
        raise QueryError(
            f"query parameter '{name}' is an integer beyond 64 bits; pass it as a string",
            {"parameter": name},
        )
    if value is None or isinstance(value, str | int | float | bool):
        return
    if isinstance(value, list | tuple):
        for item in value:
            _check_value(name, item, depth + 1)
        return
    if isinstance(value, dict):
        for key, item in value.items():
            _check_value(name, key, depth + 1)
            _check_value(name, item, depth + 1)
        return
    raise QueryError(f"query parameter '{name}' has an unsupported value type", {"parameter": name})


def bind_parameters(
    declared: Mapping[str, str], workspace_id: str, params: Mapping[str, Any] | None
) -> dict[str, Any]:
    """Values for the placeholders the query declares; ``workspace_id`` is always the caller's own.

    Values travel as ClickHouse query parameters, never as SQL text. Extra client parameters are ignored.
    Integers are checked against a declared (U)Int8-64 type, and none may exceed 64 bits.
    """
    params = dict(params or {})
    for name in params:
        if not isinstance(name, str) or not _PARAM_NAME.match(name):
            raise QueryError(f"invalid query parameter name {name!r}", {"parameter": str(name)})
    if WORKSPACE_PARAM in params and params[WORKSPACE_PARAM] != workspace_id:
        raise QueryRejected(
            "query parameter 'workspace_id' must be your own workspace; it is bound automatically",
            {"kind": "parameter", "name": WORKSPACE_PARAM},
        )
    bound: dict[str, Any] = {}
    for name, param_type in declared.items():
        if name == WORKSPACE_PARAM:
            bound[name] = workspace_id
            continue
        if name not in params:
            raise QueryError(f"query parameter {{{name}:{param_type}}} has no value", {"parameter": name})
        _check_range(name, param_type, params[name])
        _check_value(name, params[name])
        bound[name] = params[name]
    return bound


def run_sql(
    engine: Engine,
    database: str,
    workspace_id: str,
    query: str,
    params: Mapping[str, Any] | None,
    limits: Limits,
    allowed_tables: Iterable[str],
    *,
    request_id: str | None = None,
    check_tables: Callable[[frozenset[str]], None] | None = None,
    ticket: Ticket | None = None,
) -> dict[str, Any]:
    """Run ``query`` for ``workspace_id`` in ``database`` and return the JSON result shape of DESIGN §4.

    ``truncated`` is true only when the engine produced more than ``limits.max_result_rows`` rows: one
    extra row is fetched to know. ``request_id`` tags the statement (``/* req:<id> */``) for cancellation.
    ``check_tables`` sees the tables the checked query reads and may refuse (the caller's permissions).
    ``ticket`` is the caller's concurrency slot, held by the engine until the query has really stopped.
    """
    checked = check_query(engine, query, frozenset(allowed_tables), database=database)
    if check_tables is not None:
        check_tables(checked.tables)
    bound = bind_parameters(checked.parameters, workspace_id, params)
    sql = checked.sql
    if request_id:
        sql = f"/* req:{_REQUEST_TAG.sub('_', request_id)[:64]} */ {sql}"
    result = engine.query_readonly(sql, bound, limits, database=database, ticket=ticket)
    rows = result.rows
    truncated = len(rows) > limits.max_result_rows
    if truncated:
        rows = rows[: limits.max_result_rows]
    return {
        "meta": [{"name": c.name, "type": c.type} for c in result.columns],
        "data": rows,
        "rows": len(rows),
        "truncated": truncated,
        "statistics": {
            "elapsed_ms": round(result.elapsed_ms, 3),
            "rows_read": result.rows_read,
            "bytes_read": result.bytes_read,
        },
    }


# ----------------------------------------------------------------------------------------------- formats


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return orjson.dumps(value).decode()
    return str(value)


def iter_csv(result: Mapping[str, Any], chunk_rows: int = 1000) -> Iterator[str]:
    """CSV (RFC 4180, header row first) of a ``run_sql`` result, in chunks for streaming.

    NULL is an empty cell; arrays, maps and JSON objects are JSON text in one cell.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([m["name"] for m in result["meta"]])
    for index, row in enumerate(result["data"], start=1):
        writer.writerow([_csv_cell(v) for v in row])
        if index % chunk_rows == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue()


def iter_ndjson(result: Mapping[str, Any]) -> Iterator[bytes]:
    """One JSON object per row keyed by column name (a repeated column name keeps its last value)."""
    names = [m["name"] for m in result["meta"]]
    for row in result["data"]:
        yield orjson.dumps(dict(zip(names, row, strict=True))) + b"\n"


def format_csv(result: Mapping[str, Any]) -> str:
    return "".join(iter_csv(result))


def format_ndjson(result: Mapping[str, Any]) -> bytes:
    return b"".join(iter_ndjson(result))
