"""The filter language, parsed and validated once: `{field, op, value}` or `{and|or: [...]}` (pure, stdlib only).

One parser checks the shape, the op and the value each op takes, and returns a tree that two back ends read:
`core/filters.py` compiles it to SQL (record queries and counts) and `evaluate` here runs it on Python values
(SLA policy conditions, trigger filters). Field paths are the back end's business (record queries know system
columns, a policy knows `ticket.` and `customer.`), so `parse` takes a field checker.

Python semantics, kept close to the SQL ones: `eq` needs the same JSON kind (`1` never equals `"1"` or `true`);
`neq` and `not_in` are true for a missing field; ordering ops are false across kinds; `like` is case-sensitive
and `ilike` is not (`%` any run, `_` one character); `has` tests membership in an array. `search` (trigram
search on an indexed text field) exists only in record queries.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

OPS = frozenset(
    {
        "eq",
        "neq",
        "gt",
        "gte",
        "lt",
        "lte",
        "in",
        "not_in",
        "like",
        "ilike",
        "is_null",
        "is_not_null",
        "has",
        "search",
    }
)
PYTHON_OPS = OPS - {"search"}
MAX_CONDITIONS = 100
MAX_DEPTH = 8
MAX_IN = 1000


class FilterError(ValueError):
    """A rejected filter; `pointer` is a JSON pointer into it (below the caller's base pointer)."""

    def __init__(self, pointer: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(f"{pointer}: {message}" if pointer else message)
        self.pointer = pointer
        self.message = message
        self.details = details or {}


@dataclass(frozen=True)
class Leaf:
    field: Any  # what the back end's field checker returned
    raw_field: Any
    op: str
    value: Any
    pointer: str

    def condition(self) -> dict[str, Any]:
        return {
            "field": self.raw_field,
            "op": self.op,
            **({} if self.value is None else {"value": self.value}),
        }


@dataclass(frozen=True)
class Group:
    kind: str  # "and" | "or"
    items: tuple[Node, ...]
    pointer: str


Node = Leaf | Group
FieldCheck = Callable[[Any, str], Any]


def parse(node: Any, check_field: FieldCheck, ops: frozenset[str] = OPS, base: str = "") -> Node:
    """Validate a filter and return its tree; every problem is a FilterError naming where it is."""
    return _parse(node, check_field, ops, base, 0, [0])


def _parse(
    node: Any, check_field: FieldCheck, ops: frozenset[str], where: str, depth: int, n: list[int]
) -> Node:
    if depth > MAX_DEPTH:
        raise FilterError(where, f"filter nests deeper than {MAX_DEPTH} levels")
    if not isinstance(node, Mapping):
        raise FilterError(
            where, "a filter is an object {field, op, value} or {and|or: [...]}", {"filter": node}
        )
    for kind in ("and", "or"):
        if kind in node:
            if len(node) != 1:
                raise FilterError(where, f"an '{kind}' node takes no other keys", {"keys": sorted(node)})
            items = node[kind]
            if not isinstance(items, list) or not items:
                raise FilterError(f"{where}/{kind}", f"'{kind}' takes a non-empty list of filters")
            parsed = tuple(
                _parse(item, check_field, ops, f"{where}/{kind}/{i}", depth + 1, n)
                for i, item in enumerate(items)
            )
            return Group(kind, parsed, where)
    n[0] += 1
    if n[0] > MAX_CONDITIONS:
        raise FilterError(where, f"a filter may hold at most {MAX_CONDITIONS} conditions")
    unknown = sorted(str(k) for k in node if k not in ("field", "op", "value"))
    if unknown:
        raise FilterError(
            f"{where}/{_escape(unknown[0])}",
            f"unknown filter keys: {', '.join(unknown)}; a condition is {{field, op, value}}",
            {"keys": unknown},
        )
    op = node.get("op")
    if op not in ops:
        raise FilterError(
            f"{where}/op", f"unknown filter op {op!r}; use one of {', '.join(sorted(ops))}", {"op": op}
        )
    raw = node.get("field")
    field = check_field(raw, f"{where}/field")
    value = node.get("value")
    _check_value(op, value, "value" in node, f"{where}/value", raw)
    return Leaf(field, raw, op, value, where)


def _check_value(op: str, value: Any, given: bool, where: str, field: Any) -> None:
    details = {"field": field, "op": op}
    if op in ("is_null", "is_not_null"):
        if value is not None:
            raise FilterError(where, f"'{op}' takes no value", details)
        return
    if op in ("in", "not_in"):
        if not isinstance(value, list) or not 0 < len(value) <= MAX_IN:
            raise FilterError(where, f"'{op}' takes a list of 1-{MAX_IN} values", details)
        for i, v in enumerate(value):
            _check_scalar(v, f"{where}/{i}", op, field)
        return
    if op in ("like", "ilike", "search"):
        if not isinstance(value, str):
            raise FilterError(where, f"'{op}' takes a string pattern", details)
        return
    if not given:
        raise FilterError(where, "required", details)
    _check_scalar(value, where, op, field)


def _check_scalar(value: Any, where: str, op: str, field: Any) -> None:
    if not isinstance(value, str | int | float) or (isinstance(value, float) and not math.isfinite(value)):
        raise FilterError(
            where, f"'{op}' on {field} takes a string, number or boolean value", {"field": field, "op": op}
        )


def _escape(part: str) -> str:
    return part.replace("~", "~0").replace("/", "~1")


# ---- the Python back end -----------------------------------------------------------------------------

Failure = dict[str, Any]
Lookup = Callable[[Any], Any]


def explain(node: Node, lookup: Lookup) -> Failure | None:
    """None when `node` holds for the document `lookup` reads fields from (given a Leaf's checked field);
    otherwise the condition that failed, with the value it saw (for an `or`, every alternative)."""
    if isinstance(node, Group):
        failures = []
        for item in node.items:
            failed = explain(item, lookup)
            if node.kind == "and" and failed is not None:
                return failed
            if node.kind == "or":
                if failed is None:
                    return None
                failures.append(failed)
        return (
            None
            if node.kind == "and"
            else {"pointer": f"{node.pointer}/or", "condition": "or", "alternatives": failures}
        )
    actual = lookup(node.field)
    if holds(node.op, node.value, actual):
        return None
    return {"pointer": node.pointer, "condition": node.condition(), "actual": actual}


def matches(node: Node | None, lookup: Lookup) -> bool:
    return node is None or explain(node, lookup) is None


def holds(op: str, value: Any, actual: Any) -> bool:
    """One condition on one value."""
    if op == "is_null":
        return actual is None
    if op == "is_not_null":
        return actual is not None
    if op == "eq":
        return _eq(actual, value)
    if op == "neq":
        return not _eq(actual, value)
    if op == "in":
        return any(_eq(actual, v) for v in value)
    if op == "not_in":
        return not any(_eq(actual, v) for v in value)
    if op in ("like", "ilike"):
        return isinstance(actual, str) and _like(value, op == "ilike").fullmatch(actual) is not None
    if op == "search":
        return isinstance(actual, str) and value.lower() in actual.lower()
    if op == "has":
        return isinstance(actual, list) and any(_eq(x, value) for x in actual)
    if _kind(actual) is None or _kind(actual) != _kind(value):
        return False
    return {"gt": actual > value, "gte": actual >= value, "lt": actual < value, "lte": actual <= value}[op]


_PATTERNS: dict[tuple[str, bool], re.Pattern[str]] = {}


def _like(pattern: str, insensitive: bool) -> re.Pattern[str]:
    key = (pattern, insensitive)
    if key not in _PATTERNS:
        body = "".join(".*" if c == "%" else "." if c == "_" else re.escape(c) for c in pattern)
        if len(_PATTERNS) > 10_000:
            _PATTERNS.clear()
        _PATTERNS[key] = re.compile(body, re.DOTALL | (re.IGNORECASE if insensitive else 0))
    return _PATTERNS[key]


def _kind(value: object) -> str | None:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return None


def _eq(a: object, b: object) -> bool:
    return _kind(a) is not None and _kind(a) == _kind(b) and a == b


def path_value(doc: Any, path: tuple[str, ...]) -> Any:
    """The value at a dotted path, None when absent (or when the path crosses a non-object)."""
    for part in path:
        doc = doc.get(part) if isinstance(doc, Mapping) else None
    return doc
