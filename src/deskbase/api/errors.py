"""One error envelope for every failure: {"error": {"code", "message", "details"}} with a fitting status.

Unexpected exceptions are answered by `CatchAll`, inside Starlette's ServerErrorMiddleware: that one re-raises
after responding, which makes the server drop a keep-alive connection, so a client's next request would fail.
"""

from __future__ import annotations

import errno
import logging
import sqlite3
from collections.abc import Sequence
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from deskbase.core.errors import DeskbaseError, Unavailable

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
#: FastAPI's locations of request parameters (the body is the other location).
_PARAMETER_LOCATIONS = ("query", "path", "header", "cookie")
STORAGE_RETRY_SECONDS = 30


def envelope(
    status: int,
    code: str,
    message: str,
    details: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    body = orjson.dumps({"error": {"code": code, "message": message, "details": details or {}}})
    return Response(body, status_code=status, media_type="application/json", headers=headers)


def error_response(exc: DeskbaseError) -> Response:
    headers = {}
    if exc.status in (429, 503):
        headers["Retry-After"] = str(int(exc.details.get("retry_after", 1)))
    if exc.status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="deskbase"'  # RFC 6750
    return envelope(exc.status, exc.code, exc.message, exc.details, headers)


def _pointer(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("body", *_PARAMETER_LOCATIONS):
        where = parts[0]
        parts = parts[1:]
        return ("/" + "/".join(parts)) if where == "body" else f"{where}:" + ".".join(parts)
    return "/" + "/".join(parts)


def _parameter_errors(errors: Sequence[Any]) -> Response | None:
    """A bad query, path or header parameter is a 400 naming it (422 is for bodies that break a rule)."""
    bad = [e for e in errors if tuple(e.get("loc", ()))[:1] in {(w,) for w in _PARAMETER_LOCATIONS}]
    if not bad:
        return None
    items = [
        {
            "parameter": ".".join(str(p) for p in e["loc"][1:]),
            "in": e["loc"][0],
            "pointer": _pointer(tuple(e["loc"])),
            "message": e.get("msg", ""),
        }
        for e in bad
    ]
    first = items[0]
    return envelope(
        400,
        "bad_request",
        f"invalid {first['in']} parameter {first['parameter']!r}: {first['message']}",
        {"parameter": first["parameter"], "errors": items},
    )


def _wrong_media_type(request: Request, exc: RequestValidationError) -> Response | None:
    """A JSON body sent without `Content-Type: application/json` reaches the route as bytes; say why."""
    from deskbase.api.body import is_json

    raw = exc.body
    if not isinstance(raw, bytes | str) or not raw or is_json(request.headers.get("content-type")):
        return None
    if not any(tuple(e.get("loc", ())) == ("body",) for e in exc.errors()):
        return None
    try:
        orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    sent = request.headers.get("content-type")
    said = f"its Content-Type is {sent!r}" if sent else "it has no Content-Type"
    return envelope(
        415,
        "unsupported_media_type",
        f"the body is JSON but {said}: send Content-Type: application/json",
        {"content_type": sent},
    )


def storage_exhausted(exc: BaseException) -> bool:
    """The store ran out of room or resources (SQLITE_FULL, PostgreSQL class 53, ENOSPC): retry later."""
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        e = todo.pop()
        if e is None or id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, OSError) and e.errno == errno.ENOSPC:
            return True
        if isinstance(e, sqlite3.Error) and getattr(e, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL:
            return True
        sqlstate = getattr(e, "sqlstate", None)
        if isinstance(sqlstate, str) and sqlstate.startswith("53"):
            return True
        orig = getattr(e, "orig", None)  # SQLAlchemy wraps the driver's error
        todo += [orig if isinstance(orig, BaseException) else None, e.__cause__, e.__context__]
    return False


def unexpected_response(scope: Scope, exc: Exception) -> Response:
    """The answer to an exception no handler claimed: 503 when storage is exhausted, else a safe 500."""
    where = f"{scope.get('method')} {scope.get('path')}"
    if storage_exhausted(exc):
        log.error("storage exhausted on %s: %s", where, exc)
        return error_response(
            Unavailable(
                "the server's storage is full or out of resources; nothing was written. Retry later",
                {"retry_after": STORAGE_RETRY_SECONDS},
            )
        )
    log.error("unhandled error on %s", where, exc_info=exc)
    return envelope(500, "internal", "internal error; the server log has the details")


class CatchAll:
    """ASGI middleware: answers any exception that escapes the app with the envelope and does not re-raise,
    so the connection stays usable. An exception after the response started can only end the response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            if started:
                raise
            await unexpected_response(scope, exc)(scope, receive, send)


def install(app: FastAPI) -> None:
    @app.exception_handler(DeskbaseError)
    async def _deskbase(_: Request, exc: DeskbaseError) -> Response:
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        errors = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errors):
            msg = next(
                (e.get("ctx", {}).get("error") for e in errors if e.get("type") == "json_invalid"), None
            )
            return envelope(400, "invalid_json", f"request body is not valid JSON: {msg or 'parse error'}")
        special = _parameter_errors(errors) or _wrong_media_type(request, exc)
        if special is not None:
            return special
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
