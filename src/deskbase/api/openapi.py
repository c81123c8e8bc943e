"""The published OpenAPI document: every operation lists the error statuses it can answer, with our envelope.

Routes declare only their success; the errors follow from what the operation takes (parameters, a body,
a bearer token, If-Match), so they are added once here rather than on each route, and clients (and
schemathesis) see every status a request can get.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from deskbase.api.paths import PATH_RULES

ERROR_SCHEMA: dict[str, Any] = {
    "title": "Error",
    "type": "object",
    "required": ["error"],
    "additionalProperties": False,
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "details"],
            "additionalProperties": False,
            "properties": {
                "code": {"type": "string", "description": "Stable machine-readable code, e.g. `not_found`."},
                "message": {"type": "string", "description": "For humans."},
                "details": {"type": "object", "description": "The code's specifics, e.g. `errors` pointers."},
            },
        }
    },
}
#: An error response's content: the envelope above (routes that document an extra status use it too).
ERROR_REF: dict[str, Any] = {
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
}
_DESCRIPTIONS = {
    400: "Bad request: a parameter, id, filter or JSON body that cannot be used",
    401: "Missing, unknown, expired or revoked token",
    403: "The token lacks the permission",
    404: "Not found (or outside the token's scope)",
    409: "Conflict with the current state",
    412: "If-Match does not match the current version",
    413: "Request body too large",
    415: "A JSON body sent without Content-Type: application/json",
    422: "Well-formed input that breaks a rule; `details.errors` lists JSON pointers",
    429: "Rate limited; retry after `Retry-After` seconds",
    503: "Temporarily unavailable (storage full, replica lagging or disabled); see `Retry-After`",
    504: "The query ran out of time",
}
_WRITES = {"put", "post", "patch", "delete"}
#: A body's `format` choice → the media type the success response then has (SQL results as CSV or NDJSON).
FORMAT_MEDIA_TYPES = {"json": "application/json", "csv": "text/csv", "ndjson": "application/x-ndjson"}


def error_statuses(method: str, operation: dict[str, Any]) -> list[int]:
    """The error statuses an operation can answer, from what it takes."""
    statuses = {400, 404, 503}
    if operation.get("security"):
        statuses |= {401, 403, 429}
    if method in _WRITES:
        statuses |= {409, 422}
    if "requestBody" in operation:
        statuses |= {413, 415, 422}
    if any(p.get("in") == "header" and p.get("name", "").lower() == "if-match" for p in _params(operation)):
        statuses.add(412)
    if "sql" in operation.get("tags", []):
        statuses |= {422, 504}
    return sorted(statuses)


def _params(operation: dict[str, Any]) -> list[dict[str, Any]]:
    return list(operation.get("parameters", []))


def add_error_responses(doc: dict[str, Any]) -> dict[str, Any]:
    """Add the Error schema and, to every operation, its error responses (replacing FastAPI's 422), and
    publish each path parameter's id rule as its `pattern`."""
    doc.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    schemas = doc["components"]["schemas"]
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    ref = ERROR_REF
    for item in doc.get("paths", {}).values():
        for method, operation in item.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            for param in _params(operation):
                schema = param.get("schema", {})
                if (
                    param.get("in") == "path"
                    and param.get("name") in PATH_RULES
                    and schema.get("type") == "string"
                ):
                    schema["pattern"] = PATH_RULES[param["name"]][0].pattern
            responses = operation["responses"]
            _add_format_media_types(doc, operation)
            if method == "put":
                _add_upsert_statuses(responses)
            responses.pop("422", None)
            for status in error_statuses(method, operation):
                responses.setdefault(str(status), {"description": _DESCRIPTIONS[status], **ref})
    return doc


def _add_upsert_statuses(responses: dict[str, Any]) -> None:
    """PUT creates or replaces (DESIGN §6): 201 when it created, 200 when it replaced, the same body."""
    success = next((responses[s] for s in ("200", "201") if s in responses), None)
    if success is None:
        return
    responses.setdefault("200", {**success, "description": "Replaced"})
    responses.setdefault("201", {**success, "description": "Created"})


def _add_format_media_types(doc: dict[str, Any], operation: dict[str, Any]) -> None:
    """An operation whose body chooses a `format` documents each choice's media type on its success."""
    body = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {})
    if "$ref" in body:
        body = doc["components"]["schemas"].get(body["$ref"].rsplit("/", 1)[-1], {})
    choices = body.get("properties", {}).get("format", {}).get("enum", [])
    ok = operation["responses"].get("200")
    if not ok or not choices:
        return
    generic = ok.get("content", {}).get("application/json", {"schema": {}})
    for choice in choices:
        media = FORMAT_MEDIA_TYPES.get(choice)
        if media and media != "application/json":
            ok.setdefault("content", {})[media] = {"schema": {"type": "string"}}
    ok["content"].setdefault("application/json", generic)


def install(app: FastAPI) -> None:
    """Make `app.openapi()` (and so `/openapi.json`) publish the error responses."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = add_error_responses(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
