"""JSON Schema handling: compile once per collection version, validate with per-pointer errors."""

from __future__ import annotations

import threading
from typing import Any

import jsonschema_rs

from deskbase.core.errors import ValidationFailed

MAX_ERRORS = 50


def _pointer(path: list[Any]) -> str:
    return "/" + "/".join(str(p).replace("~", "~0").replace("/", "~1") for p in path) if path else ""


def _refuse_remote(uri: str) -> Any:
    raise ValueError(f"remote $ref {uri!r} is not allowed; inline the definition")


def compile_schema(schema: Any, pointer: str = "/json_schema") -> Any:
    """Compile a schema (formats `email` and `date-time` enforced); a broken schema is a 422, never a 500."""
    if not isinstance(schema, dict):
        raise ValidationFailed(
            "a JSON Schema must be an object", [{"pointer": pointer, "message": "not an object"}]
        )
    try:
        return jsonschema_rs.validator_for(schema, validate_formats=True, retriever=_refuse_remote)
    except (jsonschema_rs.ValidationError, ValueError, TypeError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ValidationFailed(
            f"invalid JSON Schema: {first}", [{"pointer": pointer, "message": first}]
        ) from exc


def errors_of(validator: Any, data: Any, prefix: str = "") -> list[dict[str, str]]:
    if validator.is_valid(data):
        return []
    out: list[dict[str, str]] = []
    for err in validator.iter_errors(data):
        out.append({"pointer": prefix + _pointer(list(err.instance_path)), "message": err.message})
        if len(out) >= MAX_ERRORS:
            break
    return out


class ValidatorCache:
    """Compiled validators keyed by (workspace, collection, version): compiling costs far more than validating."""

    def __init__(self) -> None:
        self._cache: dict[tuple[str, str, str], tuple[int, Any]] = {}
        self._lock = threading.Lock()

    def get(self, kind: str, workspace_id: str, name: str, version: int, schema: Any) -> Any:
        key = (kind, workspace_id, name)
        hit = self._cache.get(key)
        if hit is not None and hit[0] == version:
            return hit[1]
        validator = compile_schema(schema)
        with self._lock:
            self._cache[key] = (version, validator)
        return validator


def x_index_fields(schema: dict[str, Any]) -> list[str]:
    """Top-level properties marked `"x-index": true`, which get expression indexes."""
    props = schema.get("properties") or {}
    if not isinstance(props, dict):
        return []
    return sorted(k for k, v in props.items() if isinstance(v, dict) and v.get("x-index") is True)
