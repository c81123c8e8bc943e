"""Streaming `multipart/form-data` uploads: the `file` part goes chunk by chunk into a staged blob.

Starlette's form parser spools whole parts before a route sees them; an upload here is parsed as it arrives,
so a file is never held whole in memory and an oversized one is refused (413 `file_too_large`) as soon as
it crosses the limit, with the staged bytes dropped. Other form fields are ignored without being kept.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import unquote

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request

from deskbase.core.blobs import Staged
from deskbase.core.errors import BadRequest, UnsupportedMediaType

FIELD = "file"
_EXTENDED = re.compile(rb"filename\*\s*=\s*([^;]+)", re.IGNORECASE)
#: Data waiting for the staged file is written once this much has arrived (one thread hop per step).
WRITE_STEP = 256 * 1024


@dataclass
class Part:
    """What the parser learned of the current part and the `file` part."""

    headers: dict[bytes, bytes] = field(default_factory=dict)
    field_name: bytes = b""
    header_name: bytes = b""
    header_value: bytes = b""
    in_file: bool = False
    found: bool = False
    done: bool = False
    name: str | None = None
    content_type: str | None = None
    pending: list[bytes] = field(default_factory=list)
    pending_size: int = 0


def _filename(disposition: bytes) -> str | None:
    """RFC 7578 `filename` (browsers send UTF-8 as is), or the RFC 2231/8187 `filename*` when given."""
    extended = _EXTENDED.search(disposition)
    if extended:
        charset, _, rest = extended.group(1).strip().strip(b'"').decode("latin-1").partition("'")
        encoded = rest.partition("'")[2]
        try:
            return unquote(encoded, encoding=charset or "utf-8", errors="replace")
        except LookupError:  # an unknown charset name
            return unquote(encoded, errors="replace")
    _, options = parse_options_header(disposition)
    name = options.get(b"filename")
    if name is None:
        return None
    try:
        return name.decode("utf-8")
    except UnicodeDecodeError:
        return name.decode("latin-1")


def _parser(boundary: bytes, part: Part) -> MultipartParser:
    def on_part_begin() -> None:
        part.headers = {}
        part.in_file = False

    def on_header_field(data: bytes, start: int, end: int) -> None:
        part.header_name += data[start:end]

    def on_header_value(data: bytes, start: int, end: int) -> None:
        part.header_value += data[start:end]

    def on_header_end() -> None:
        part.headers[part.header_name.strip().lower()] = part.header_value.strip()
        part.header_name = part.header_value = b""

    def on_headers_finished() -> None:
        disposition = part.headers.get(b"content-disposition", b"")
        _, options = parse_options_header(disposition)
        if options.get(b"name") == FIELD.encode() and not part.found:
            part.in_file = part.found = True
            part.name = _filename(disposition)
            part.content_type = part.headers.get(b"content-type", b"").decode("latin-1") or None

    def on_part_data(data: bytes, start: int, end: int) -> None:
        if part.in_file:
            part.pending.append(data[start:end])
            part.pending_size += end - start

    def on_part_end() -> None:
        if part.in_file:
            part.done = True
        part.in_file = False

    callbacks = {
        "on_part_begin": on_part_begin,
        "on_header_field": on_header_field,
        "on_header_value": on_header_value,
        "on_header_end": on_header_end,
        "on_headers_finished": on_headers_finished,
        "on_part_data": on_part_data,
        "on_part_end": on_part_end,
    }
    return MultipartParser(boundary, callbacks)  # type: ignore[arg-type]


def boundary_of(request: Request) -> bytes:
    kind, options = parse_options_header(request.headers.get("content-type"))
    boundary = options.get(b"boundary")
    if kind != b"multipart/form-data" or not boundary:
        raise UnsupportedMediaType(
            "send the file as multipart/form-data with a part named 'file'",
            {"content_type": request.headers.get("content-type")},
        )
    return boundary


async def receive_file(request: Request, staged: Staged) -> tuple[str | None, str | None]:
    """Stream the request's `file` part into `staged`; returns (file name, declared content type)."""
    part = Part()
    parser = _parser(boundary_of(request), part)

    async def drain() -> None:
        chunks, part.pending, part.pending_size = part.pending, [], 0
        if chunks:
            await run_in_threadpool(_write_all, staged, chunks)

    try:
        async for chunk in request.stream():
            parser.write(chunk)
            if part.pending_size >= WRITE_STEP:
                await drain()
        parser.finalize()
    except MultipartParseError as exc:
        raise BadRequest(f"malformed multipart body: {exc}") from exc
    except ClientDisconnect as exc:
        raise BadRequest("the client went away before the upload finished") from exc
    await drain()
    if not part.done:
        raise BadRequest("the body has no complete part named 'file'", {"field": FIELD})
    return part.name, part.content_type


def _write_all(staged: Staged, chunks: list[bytes]) -> None:
    for c in chunks:
        staged.write(c)
