"""The security walk's machinery: every route as a concrete request, and a fingerprint of the store.

Routes come from the app's OpenAPI document, generated with hidden routes (the `/documents` alias, the web
console's pages) switched into it, so a route nobody remembered to test is walked anyway. Each operation
becomes a request with path values from a map, required query parameters and a minimal body that passes
validation (so the route's own checks run, not just FastAPI's). A route carrying the bearer security
requirement is an API route; any other is presented with a console session unless it is explicitly public.
"""

from __future__ import annotations

import copy
import hashlib
import re
import sqlite3
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, routing
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute
from sqlalchemy import column, inspect, select, table
from sqlalchemy.engine import Engine

from deskbase.api.deps import PERMISSIONS_KEY

METHODS = ("get", "put", "post", "patch", "delete")
_PARAM = re.compile(r"{([^}]+)}")
#: Columns that change on reads by design (the once-a-minute last-use stamp), left out of "nothing written".
VOLATILE = {("tokens", "last_used_at")}
#: Rows a caller may change for itself whatever its permissions: its own console preferences, the console
#: sessions the walk opens for each call, and the presence heartbeats, drafts and read marks a ticket page keeps (each
#: keyed by the caller's own token; none of them is data).
OWN_ROWS: dict[str, Callable[[Any], bool]] = {
    "meta": lambda row: str(row.key).startswith("prefs:"),
    "console_sessions": lambda row: True,
    "presence": lambda row: True,
    "drafts": lambda row: True,
    "ticket_reads": lambda row: True,
}


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    permissions: tuple[str, ...] | None  # declared with `requires(...)`, None when undeclared
    bearer: bool  # the OpenAPI operation carries the bearer security requirement (an API route)
    query: dict[str, Any]
    body: Any

    @property
    def id(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def params(self) -> list[str]:
        return _PARAM.findall(self.path)

    def url(self, value: Callable[[str, str], str]) -> str:
        return _PARAM.sub(lambda m: value(m.group(1), self.path), self.path)


def document(app: FastAPI) -> dict[str, Any]:
    """The app's OpenAPI document, hidden API routes included."""
    return get_openapi(title=app.title, version=app.version, routes=[_shown(r) for r in _flat(app)])


def _flat(app: FastAPI) -> list[Any]:
    """Every route; FastAPI >= 0.16x keeps included routers nested and flattens them into route contexts."""
    iter_contexts = getattr(routing, "iter_route_contexts", None)
    return list(iter_contexts(app.routes)) if iter_contexts else list(app.routes)


def _shown(route: Any) -> Any:
    original = getattr(route, "original_route", route)
    if not isinstance(original, APIRoute) or route.include_in_schema:
        return route
    if isinstance(route, APIRoute):
        route = copy.copy(route)
        route.include_in_schema = True
        return route
    return _ShownContext(route.route, route._route_context)


if hasattr(routing, "RouteContext"):

    @dataclass(frozen=True)
    class _ShownContext(routing.RouteContext):  # type: ignore[name-defined,misc]
        include_in_schema = True


def operations(app: FastAPI) -> list[Operation]:
    doc = document(app)
    out = []
    for path, item in doc["paths"].items():
        for method in METHODS:
            op = item.get(method)
            if op is None:
                continue
            query = {
                p["name"]: sample(p.get("schema", {}), doc)
                for p in op.get("parameters", [])
                if p["in"] == "query" and p.get("required")
            }
            content = (op.get("requestBody") or {}).get("content", {}).get("application/json")
            declared = op.get(PERMISSIONS_KEY)
            out.append(
                Operation(
                    method.upper(),
                    path,
                    tuple(declared) if declared is not None else None,
                    bool(op.get("security")),
                    query,
                    sample(content["schema"], doc) if content else None,
                )
            )
    return out


def sample(schema: Mapping[str, Any], doc: Mapping[str, Any], depth: int = 0) -> Any:
    """A minimal instance of a JSON schema: required properties only, the first enum value, min lengths."""
    if depth > 12:
        return None
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return sample(doc["components"]["schemas"][name], doc, depth + 1)
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return schema["enum"][0]
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            options = [s for s in schema[key] if s.get("type") != "null"] or schema[key]
            return sample(options[0], doc, depth + 1)
    if "default" in schema:
        return schema["default"]
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        props = schema.get("properties", {})
        return {k: sample(props[k], doc, depth + 1) for k in schema.get("required", []) if k in props}
    if kind == "array":
        return [sample(schema.get("items", {}), doc, depth + 1) for _ in range(schema.get("minItems", 0))]
    if kind == "integer":
        return max(schema.get("minimum", 1), 1)
    if kind == "number":
        return 1.0
    if kind == "boolean":
        return False
    return "walk"


class Fingerprint:
    """A digest of every row of every table of the primary store: equal digests mean nothing was written.

    On SQLite a connection of its own watches `PRAGMA data_version`, which moves whenever another connection
    commits: while it stands still the last digest is still the store's, so a walk of read-only answers does not
    re-read every table after every request (that was three quarters of the walk's time)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._last: tuple[int, str] | None = None
        self._watch = (
            sqlite3.connect(engine.url.database, check_same_thread=False)
            if engine.dialect.name == "sqlite" and engine.url.database
            else None
        )
        insp = inspect(engine)
        self.tables = [
            table(
                name,
                *(column(c["name"]) for c in insp.get_columns(name) if (name, c["name"]) not in VOLATILE),
            )
            for name in sorted(insp.get_table_names())
        ]

    def __call__(self) -> str:
        version = self._version()
        if self._last is not None and version is not None and self._last[0] == version:
            return self._last[1]
        digest = self._digest()
        if version is not None:
            self._last = (version, digest)
        return digest

    def _version(self) -> int | None:
        if self._watch is None:
            return None
        return int(self._watch.execute("PRAGMA data_version").fetchone()[0])

    def _digest(self) -> str:
        h = hashlib.sha256()
        with self.engine.connect() as conn:
            for t in self.tables:
                own = OWN_ROWS.get(t.name, lambda _: False)
                rows = sorted(repr(tuple(r)) for r in conn.execute(select(*t.c)).all() if not own(r))
                h.update(f"{t.name}:{len(rows)}\n".encode())
                for row in rows:
                    h.update(row.encode())
        return h.hexdigest()
