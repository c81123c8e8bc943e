"""Inbound hook mappings (pure): how a payload becomes a record's `data` and external id.

A mapping is `{"<field>": "<JSON pointer>" | {"const": <value>}}`. Each field of `data` takes the value the
pointer (RFC 6901) finds in the payload, or the constant. A pointer that finds nothing leaves its field out,
so an optional field may be absent and the collection's JSON Schema decides what is required. `external_id`
is a pointer too; it must find a non-empty string or an integer (a number becomes its decimal string).
Checking a mapping and applying it are separate: a saved mapping is always well-formed, and applying one
reports every field it could not fill, each with its pointer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

MAX_FIELDS = 200
MAX_POINTER = 1000
MAX_EXTERNAL_ID = 256
FieldErrors = list[dict[str, str]]


@dataclass(frozen=True)
class Extracted:
    """What a payload gave: the record's data, its external id when the hook names one, and the fields whose
    pointer found nothing (field → pointer: what a sender needs to see when the schema then refuses)."""

    data: dict[str, Any]
    external_id: str | None
    unresolved: dict[str, str]


class _Missing:
    """Nothing at a pointer (distinct from JSON null)."""


MISSING = _Missing()


def escape(token: str) -> str:
    """One reference token of a JSON pointer (`~` → `~0`, `/` → `~1`)."""
    return token.replace("~", "~0").replace("/", "~1")


def pointer_problem(pointer: Any) -> str | None:
    """Why `pointer` is not an RFC 6901 JSON pointer, or None."""
    if not isinstance(pointer, str):
        return "a JSON pointer is a string such as /data/title"
    if len(pointer) > MAX_POINTER:
        return f"a JSON pointer of at most {MAX_POINTER} characters"
    if pointer and not pointer.startswith("/"):
        return "a JSON pointer is empty (the whole payload) or starts with '/'"
    for token in pointer.split("/")[1:]:
        rest = token.replace("~0", "").replace("~1", "")
        if "~" in rest:
            return "'~' in a JSON pointer is escaped as ~0 ('/' as ~1)"
    return None


def resolve(document: Any, pointer: str) -> Any:
    """The value at `pointer` in `document`, or MISSING (a well-formed pointer is assumed)."""
    value = document
    for raw in pointer.split("/")[1:] if pointer else []:
        token = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(value, Mapping):
            if token not in value:
                return MISSING
            value = value[token]
        elif isinstance(value, list):
            if not token.isdigit() or (len(token) > 1 and token.startswith("0")) or int(token) >= len(value):
                return MISSING
            value = value[int(token)]
        else:
            return MISSING
    return value


def check(mapping: Any, external_id: Any) -> FieldErrors:
    """Every problem of a hook's `mapping` and `external_id`, each with its pointer in the hook's body."""
    errors: FieldErrors = []
    if not isinstance(mapping, dict) or not mapping:
        return [
            {"pointer": "/mapping", "message": 'a non-empty object: field → JSON pointer or {"const": value}'}
        ]
    if len(mapping) > MAX_FIELDS:
        errors.append({"pointer": "/mapping", "message": f"at most {MAX_FIELDS} fields"})
    for name, rule in mapping.items():
        at = f"/mapping/{escape(name)}"
        if not name or len(name) > 200:
            errors.append({"pointer": at, "message": "a field name of 1-200 characters"})
        if isinstance(rule, dict):
            if set(rule) != {"const"}:
                errors.append({"pointer": at, "message": 'a constant is {"const": value} and nothing else'})
        else:
            problem = pointer_problem(rule)
            if problem:
                errors.append({"pointer": at, "message": problem})
    if external_id is not None:
        problem = pointer_problem(external_id)
        if problem:
            errors.append({"pointer": "/external_id", "message": problem})
    return errors


def apply(mapping: Mapping[str, Any], external_id: str | None, payload: Any) -> tuple[Extracted, FieldErrors]:
    """The record data and external id a payload gives, with the problems found (pointers into the payload
    are named in each message; the error's own pointer names the hook's setting at fault)."""
    data: dict[str, Any] = {}
    unresolved: dict[str, str] = {}
    for name, rule in mapping.items():
        value = rule["const"] if isinstance(rule, dict) else resolve(payload, rule)
        if value is MISSING:
            unresolved[name] = rule
        else:
            data[name] = value
    errors: FieldErrors = []
    ext: str | None = None
    if external_id is not None:
        found = resolve(payload, external_id)
        if isinstance(found, bool) or not isinstance(found, str | int):
            what = "nothing" if found is MISSING else f"a {type(found).__name__}"
            errors.append(
                {
                    "pointer": "/external_id",
                    "message": f"the payload has {what} at {external_id!r}; an external id is a string or integer",
                }
            )
        else:
            ext = str(found)
            if not ext or len(ext) > MAX_EXTERNAL_ID:
                errors.append(
                    {
                        "pointer": "/external_id",
                        "message": f"the external id at {external_id!r} is empty or over {MAX_EXTERNAL_ID} characters",
                    }
                )
    return Extracted(data, ext, unresolved), errors
