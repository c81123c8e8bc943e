"""JSON Schema handling: compile once per collection version, validate with per-pointer errors."""

from __future__ import annotations

import threading
from typing import Any

import jsonschema_rs

from deskbase.core.errors import ValidationFailed

MAX_ERRORS = 50


def _escape(key: Any) -> str:
    return str(key).replace("~", "~0").replace("/", "~1")


def _pointer(path: list[Any]) -> str:
    return "/" + "/".join(_escape(p) for p in path) if path else ""


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


def numbered(schema: Any) -> bool:
    """Does the collection give its records human numbers (`"x-numbered": true` at the schema's root)?"""
    return isinstance(schema, dict) and schema.get("x-numbered") is True


def x_index_fields(schema: dict[str, Any]) -> list[str]:
    """Top-level properties marked `"x-index": true`, which get expression indexes."""
    props = schema.get("properties") or {}
    if not isinstance(props, dict):
        return []
    return sorted(k for k, v in props.items() if isinstance(v, dict) and v.get("x-index") is True)


def x_search_fields(schema: dict[str, Any]) -> list[str]:
    """Top-level properties marked `"x-search": true`, whose `search` filters use a trigram index.

    Lenient (it reads stored schemas, which `search_annotation_errors` checked on the way in)."""
    props = schema.get("properties") or {}
    if not isinstance(props, dict):
        return []
    return sorted(k for k, v in props.items() if isinstance(v, dict) and v.get("x-search") is True)


#: Keywords whose value maps names (not keywords) to subschemas, and keywords holding data, not schemas.
_NAMED_SUBSCHEMAS = {"properties", "patternProperties", "$defs", "definitions", "dependentSchemas"}
_DATA_KEYWORDS = {"enum", "const", "default", "examples", "required"}


def search_annotation_errors(schema: Any) -> list[dict[str, str]]:
    """Where `x-search` is misused: it must be a boolean on a top-level property of type string (the index
    covers the text of `data.<field>` only), and nowhere else — a nested one would silently do nothing."""
    if not isinstance(schema, dict):
        return []
    errors: list[dict[str, str]] = []
    props = schema.get("properties")
    for name, sub in props.items() if isinstance(props, dict) else ():
        if not isinstance(sub, dict) or "x-search" not in sub:
            continue
        pointer = f"/json_schema/properties/{_escape(name)}"
        flag = sub["x-search"]
        if not isinstance(flag, bool):
            errors.append({"pointer": f"{pointer}/x-search", "message": "x-search must be true or false"})
        elif flag and not _is_string_type(sub.get("type")):
            errors.append(
                {"pointer": pointer, "message": 'x-search needs "type": "string" (search indexes text only)'}
            )
    for pointer in _misplaced_search(schema, "/json_schema", root=True):
        errors.append(
            {"pointer": pointer, "message": "x-search applies to top-level properties only (data.<field>)"}
        )
    return errors


def _is_string_type(declared: Any) -> bool:
    if declared == "string":
        return True
    return isinstance(declared, list) and "string" in declared and set(declared) <= {"string", "null"}


def _misplaced_search(node: Any, pointer: str, top_property: bool = False, root: bool = False) -> list[str]:
    """Pointers of `x-search` keys anywhere but on a top-level property (data values are not walked)."""
    if isinstance(node, list):
        return [p for i, item in enumerate(node) for p in _misplaced_search(item, f"{pointer}/{i}")]
    if not isinstance(node, dict):
        return []
    out = [] if top_property or "x-search" not in node else [f"{pointer}/x-search"]
    for key, child in node.items():
        here = f"{pointer}/{_escape(key)}"
        if key in _DATA_KEYWORDS:
            continue
        if key in _NAMED_SUBSCHEMAS and isinstance(child, dict):
            for name, sub in child.items():
                top = root and key == "properties"
                out += _misplaced_search(sub, f"{here}/{_escape(name)}", top_property=top)
        else:
            out += _misplaced_search(child, here)
    return out


def x_file_fields(schema: Any) -> tuple[str, ...]:
    """Top-level properties marked `"x-files": true`: their values (a file id, or a list of them) refer
    to uploaded files, which records must name correctly and which readers of the record may read."""
    props = schema.get("properties") if isinstance(schema, dict) else None
    if not isinstance(props, dict):
        return ()
    return tuple(sorted(k for k, v in props.items() if isinstance(v, dict) and v.get("x-files") is True))


def file_annotation_errors(schema: dict[str, Any]) -> list[dict[str, str]]:
    """`x-files` goes on a top-level property holding a string or an array of strings, as a boolean."""
    errors: list[dict[str, str]] = []
    props = schema.get("properties")
    for name, sub in props.items() if isinstance(props, dict) else ():
        if not isinstance(sub, dict) or "x-files" not in sub:
            continue
        pointer = f"/json_schema/properties/{_escape(name)}"
        items = sub.get("items")
        holds_ids = _is_string_type(sub.get("type")) or (
            sub.get("type") == "array" and isinstance(items, dict) and _is_string_type(items.get("type"))
        )
        if not isinstance(sub["x-files"], bool):
            errors.append({"pointer": f"{pointer}/x-files", "message": "x-files must be true or false"})
        elif sub["x-files"] and not holds_ids:
            errors.append(
                {"pointer": pointer, "message": 'x-files needs "type": "string" or an array of strings'}
            )
    return errors
