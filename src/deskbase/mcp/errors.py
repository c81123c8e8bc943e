"""Failures as MCP answers: a domain error keeps the code, message and details the REST API gives it (its
JSON error body is the tool result's text); anything unexpected is logged and answered without a trace."""

from __future__ import annotations

import logging
from typing import Any

import mcp_types as types
import orjson
from mcp.shared.exceptions import MCPError
from pydantic import ValidationError

from deskbase.api.errors import storage_exhausted
from deskbase.core.errors import DeskbaseError, Unavailable, ValidationFailed

log = logging.getLogger("deskbase.mcp")
STORAGE_RETRY_SECONDS = 30
INTERNAL = {"code": "internal", "message": "internal error; the server log has the details", "details": {}}


def invalid_arguments(exc: ValidationError) -> ValidationFailed:
    """Arguments that break the tool's input model, worded as the REST API words a body that breaks its
    model (422 `validation_failed`, one JSON pointer per problem)."""
    items = [
        {"pointer": "/" + "/".join(str(p) for p in e.get("loc", ())), "message": e.get("msg", "invalid")}
        for e in exc.errors()
    ]
    first = items[0] if items else {"pointer": "", "message": "invalid"}
    return ValidationFailed(f"invalid request: {first['pointer']}: {first['message']}", items)


def envelope(exc: BaseException, where: str) -> dict[str, Any]:
    """`{"error": {code, message, details}}` for any failure of a call; `where` names it in the log."""
    if isinstance(exc, ValidationError):
        exc = invalid_arguments(exc)
    if isinstance(exc, DeskbaseError):
        return {"error": exc.to_dict()}
    if storage_exhausted(exc):
        log.error("storage exhausted in %s: %s", where, exc)
        full = Unavailable(
            "the server's storage is full or out of resources; nothing was written. Retry later",
            {"retry_after": STORAGE_RETRY_SECONDS},
        )
        return {"error": full.to_dict()}
    log.error("unhandled error in %s", where, exc_info=exc)
    return {"error": dict(INTERNAL)}


def dumps(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


def tool_result(value: dict[str, Any]) -> types.CallToolResult:
    """A successful call: compact JSON text for any client, the same object as structured content."""
    return types.CallToolResult(
        content=[types.TextContent(type="text", text=dumps(value))], structured_content=value
    )


def tool_error(exc: BaseException, where: str) -> types.CallToolResult:
    body = envelope(exc, where)
    return types.CallToolResult(
        content=[types.TextContent(type="text", text=dumps(body))], structured_content=body, is_error=True
    )


#: JSON-RPC error codes for failed resource reads and prompts (tools answer `isError` results instead).
RESOURCE_NOT_FOUND = -32002


def request_error(exc: BaseException, where: str) -> MCPError:
    """A failed resource read or prompt as a JSON-RPC error: `<code>: <message>` as the message, the REST
    error body as its data."""
    body = envelope(exc, where)
    err = body["error"]
    status = exc.status if isinstance(exc, DeskbaseError) else 500
    code = (
        RESOURCE_NOT_FOUND
        if status == 404
        else types.INVALID_PARAMS
        if status < 500
        else types.INTERNAL_ERROR
    )
    return MCPError(code, f"{err['code']}: {err['message']}", body)
