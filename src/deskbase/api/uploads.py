"""Streaming request bodies. `multipart/form-data` uploads for `POST …/files`: the `file` part goes chunk by
chunk into a staged blob (deskbase/multipart.py parses), so a file is never held whole in memory and an
oversized one is refused (413 `file_too_large`) as soon as it crosses the limit, with the staged bytes
dropped. Other form fields, and `file` parts after the first, are ignored without being kept. A raw body
that must be whole (a message for the mail pipeline) is read into one buffer of its declared size.
"""

from __future__ import annotations

from starlette.requests import Request

from deskbase import multipart
from deskbase.core.blobs import Staged
from deskbase.core.errors import BadRequest

FIELD = "file"
HINT = "send the file as multipart/form-data with a part named 'file'"


async def receive_file(request: Request, staged: Staged) -> tuple[str | None, str | None]:
    """Stream the request's `file` part into `staged`; returns (file name, declared content type)."""
    got = await multipart.receive(request, lambda: staged, frozenset({FIELD}), max_files=1, hint=HINT)
    if not got.files:
        raise BadRequest("the body has no complete part named 'file'", {"field": FIELD})
    part = got.files[0]
    return part.name, part.content_type


async def read_whole(request: Request) -> bytes | bytearray:
    """The whole body in one buffer: with a Content-Length, a buffer of that size filled as the chunks come
    (Starlette's `body()` keeps the chunks and their join, twice the size at its peak); else `body()`. The
    body-size middleware has refused a declared length over the route's limit already."""
    declared = request.headers.get("content-length", "")
    if not declared.isdigit():
        return await request.body()
    buffer = bytearray(int(declared))
    view = memoryview(buffer)
    at = 0
    async for chunk in request.stream():
        if at + len(chunk) > len(buffer):
            raise BadRequest("the body is longer than its Content-Length", {"content_length": len(buffer)})
        view[at : at + len(chunk)] = chunk
        at += len(chunk)
    del view
    if at < len(buffer):
        raise BadRequest("the body is shorter than its Content-Length", {"content_length": len(buffer)})
    return buffer
