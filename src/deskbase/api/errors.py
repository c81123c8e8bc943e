"""One error envelope for every failure: {"error": {"code", "message", "details"}} with a fitting status."""

from __future__ import annotations

import logging
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from deskbase.core.errors import DeskbaseError

log = logging.getLogger("deskbase.api")

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    411: "length_required",
    412: "version_mismatch",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_failed",
    429: "rate_limited",
}


def envelope(
    status: int,
    code: str,
    message: str,
    details: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    body = orjson.dumps({"error": {"code": code, "message": message, "details": details or {}}})
    return Response(body, status_code=status, media_type="application/json", headers=headers)


def _pointer(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("body", "query", "path", "header"):
        where = parts[0]
        parts = parts[1:]
        return ("/" + "/".join(parts)) if where == "body" else f"{where}:" + ".".join(parts)
    return "/" + "/".join(parts)


def install(app: FastAPI) -> None:
    @app.exception_handler(DeskbaseError)
    async def _deskbase(_: Request, exc: DeskbaseError) -> Response:
        headers = {}
        if exc.status in (429, 503):
            headers["Retry-After"] = str(int(exc.details.get("retry_after", 1)))
        if exc.status == 401:
            headers["WWW-Authenticate"] = 'Bearer realm="deskbase"'  # RFC 6750
        return envelope(exc.status, exc.code, exc.message, exc.details, headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> Response:
        errors = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errors):
            msg = next(
                (e.get("ctx", {}).get("error") for e in errors if e.get("type") == "json_invalid"), None
            )
            return envelope(400, "invalid_json", f"request body is not valid JSON: {msg or 'parse error'}")
        items = [
            {"pointer": _pointer(tuple(e.get("loc", ()))), "message": e.get("msg", "invalid")} for e in errors
        ]
        first = items[0] if items else {"pointer": "", "message": "invalid"}
        return envelope(
            422,
            "validation_failed",
            f"invalid request: {first['pointer']}: {first['message']}",
            {"errors": items},
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> Response:
        code = _HTTP_CODES.get(exc.status_code, "error")
        return envelope(exc.status_code, code, str(exc.detail), None, dict(exc.headers or {}))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return envelope(500, "internal", "internal error; the server log has the details")
