"""JSON answers encoded once, here, for routes whose result is already plain JSON (a record as the core returns
it).

A sync route that returns a dict has FastAPI validate it against the route's return type and encode it, and
for a sync route that validation is a second hop through the thread pool. Answering bytes skips both; the
route keeps its `response_model`, so the OpenAPI document says what it said. The bytes mean what FastAPI's
encoding meant: anything orjson does not encode natively (a datetime, say) is handed to pydantic's encoder.
"""

from __future__ import annotations

from typing import Any

import orjson
import pydantic_core
from fastapi import Response

_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME


def json_bytes(content: Any) -> bytes:
    try:
        return orjson.dumps(content, default=pydantic_core.to_jsonable_python, option=_OPTIONS)
    except TypeError:  # e.g. an integer beyond 64 bits: pydantic encodes what orjson refuses
        return pydantic_core.to_json(content)


def json_reply(content: Any, status_code: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(json_bytes(content), status_code, headers, media_type="application/json")


def record_reply(record: dict[str, Any], status_code: int = 200) -> Response:
    """A record with its version as the ETag (what If-Match takes back)."""
    return json_reply(record, status_code, {"ETag": f'"{record["version"]}"'})
