"""Streaming `multipart/form-data`: file parts go chunk by chunk into staged blobs, text parts are kept up to
a limit. Both adapters read uploads through it: the API's `POST …/files` (one `file` part) and the console's
composer (its text fields and the attached files), so neither holds a file whole in memory.

Starlette's form parser spools whole parts before a route sees them; here a body is parsed as it arrives, an
oversized file is refused (413 `file_too_large`) as soon as it crosses the limit, and every staged file is
dropped when anything fails. The parser's callbacks only record what they saw; the async loop then opens
staged files and writes to them off the event loop.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import unquote

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect, Request

from deskbase.core.blobs import Staged
from deskbase.core.errors import BadRequest, FileTooLarge, PayloadTooLarge, UnsupportedMediaType

_EXTENDED = re.compile(rb"filename\*\s*=\s*([^;]+)", re.IGNORECASE)
#: Data waiting for a staged file is written once this much has arrived (one thread hop per step).
WRITE_STEP = 256 * 1024


@dataclass
class FilePart:
    field: str
    name: str | None  #: the part's filename, as sent
    content_type: str | None  #: as declared by the client
    staged: Staged


@dataclass
class Received:
    fields: list[tuple[str, str]] = field(default_factory=list)  #: text parts in order (repeats kept)
    files: list[FilePart] = field(default_factory=list)  #: complete file parts, in order
    ignored_files: int = 0  #: file parts past `max_files`, not stored
    too_large: list[str] = field(default_factory=list)  #: with `skip_oversize`: names of files over the limit

    def discard(self) -> None:
        for f in self.files:
            f.staged.discard()


@dataclass(frozen=True)
class _Begin:
    """A file part's headers are in: what `receive` needs to open its staged file."""

    field: str
    filename: str | None
    content_type: str | None


@dataclass
class _Part:
    headers: dict[bytes, bytes] = field(default_factory=dict)
    header_name: bytes = b""
    header_value: bytes = b""
    kind: str = ""  # file | text | skip
    name: str = ""
    text: bytearray = field(default_factory=bytearray)


def filename_of(disposition: bytes) -> str | None:
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


def boundary_of(request: Request, hint: str) -> bytes:
    kind, options = parse_options_header(request.headers.get("content-type"))
    boundary = options.get(b"boundary")
    if kind != b"multipart/form-data" or not boundary:
        raise UnsupportedMediaType(hint, {"content_type": request.headers.get("content-type")})
    return boundary


def is_multipart(request: Request) -> bool:
    kind, _ = parse_options_header(request.headers.get("content-type"))
    return bool(kind == b"multipart/form-data")


class _Reader:
    """The parser's callbacks: they note events (a file begins, its data, its end; text) for `receive`."""

    def __init__(
        self, file_fields: frozenset[str], max_files: int, max_text: int, keep_text: bool, skip_empty: bool
    ) -> None:
        self.file_fields = file_fields
        self.skip_empty = skip_empty
        self.max_files = max_files
        self.max_text = max_text
        self.keep_text = keep_text
        self.part = _Part()
        self.events: list[_Begin | bytes | None] = []  # a file begins, its data, its end
        self.files_seen = 0
        self.ignored = 0
        self.text_size = 0
        self.fields: list[tuple[str, str]] = []

    def callbacks(self) -> dict[str, Callable[..., None]]:
        return {
            "on_part_begin": self.begin,
            "on_header_field": self.header_field,
            "on_header_value": self.header_value,
            "on_header_end": self.header_end,
            "on_headers_finished": self.headers_finished,
            "on_part_data": self.data,
            "on_part_end": self.end,
        }

    def begin(self) -> None:
        self.part = _Part()

    def header_field(self, data: bytes, start: int, end: int) -> None:
        self.part.header_name += data[start:end]

    def header_value(self, data: bytes, start: int, end: int) -> None:
        self.part.header_value += data[start:end]

    def header_end(self) -> None:
        p = self.part
        p.headers[p.header_name.strip().lower()] = p.header_value.strip()
        p.header_name = p.header_value = b""

    def headers_finished(self) -> None:
        p = self.part
        disposition = p.headers.get(b"content-disposition", b"")
        _, options = parse_options_header(disposition)
        p.name = options.get(b"name", b"").decode("utf-8", "replace")
        filename = filename_of(disposition)
        if p.name in self.file_fields:
            if filename == "" and self.skip_empty:  # a browser's file input with nothing chosen
                p.kind = "skip"
            elif self.files_seen >= self.max_files:
                p.kind, self.ignored = "skip", self.ignored + 1
            else:
                p.kind, self.files_seen = "file", self.files_seen + 1
                content_type = p.headers.get(b"content-type", b"").decode("latin-1") or None
                self.events.append(_Begin(p.name, filename, content_type))
        else:
            p.kind = "text" if self.keep_text and filename is None else "skip"

    def data(self, data: bytes, start: int, end: int) -> None:
        p = self.part
        if p.kind == "file":
            self.events.append(data[start:end])
        elif p.kind == "text":
            self.text_size += end - start
            if self.text_size > self.max_text:
                raise PayloadTooLarge(
                    f"the form's text is larger than {self.max_text} bytes", {"limit": self.max_text}
                )
            p.text += data[start:end]

    def end(self) -> None:
        p = self.part
        if p.kind == "file":
            self.events.append(None)
        elif p.kind == "text":
            self.fields.append((p.name, p.text.decode("utf-8", "replace")))
        p.kind = "skip"


async def receive(
    request: Request,
    open_staged: Callable[[], Staged],
    file_fields: frozenset[str],
    max_files: int,
    keep_text: bool = False,
    max_text: int = 0,
    hint: str = "send a multipart/form-data body",
    skip_empty: bool = False,
    skip_oversize: bool = False,
) -> Received:
    """Read the request's multipart body. Each part named in `file_fields` (up to `max_files`) is streamed
    into a staged file from `open_staged` (called off the event loop); with `skip_empty`, a part with an
    empty filename (a browser's empty file input) is no file. Text parts are kept when `keep_text`, up to
    `max_text` bytes in all. A file over the staged limit raises FileTooLarge at once, or with
    `skip_oversize` is dropped and named in `too_large` while the rest of the form is read (a form keeps
    its text). On any failure every staged file is dropped."""
    reader = _Reader(file_fields, max_files, max_text, keep_text, skip_empty)
    parser = MultipartParser(boundary_of(request, hint), reader.callbacks())  # type: ignore[arg-type]
    out = Received()
    current: FilePart | None = None
    pending: list[bytes] = []
    pending_size = 0
    dropped = False  # the current file went over the limit (skip_oversize): its data is ignored

    async def flush() -> None:
        nonlocal pending, pending_size, dropped
        chunks, pending, pending_size = pending, [], 0
        if current is None or not chunks or dropped:
            return
        try:
            await run_in_threadpool(_write_all, current.staged, chunks)
        except FileTooLarge:  # the staged bytes are dropped already
            if not skip_oversize:
                raise
            dropped = True
            out.too_large.append(current.name or current.field)

    async def play() -> None:
        nonlocal current, pending_size, dropped
        events, reader.events = reader.events, []
        for event in events:
            if isinstance(event, _Begin):
                staged = await run_in_threadpool(open_staged)
                current = FilePart(event.field, event.filename, event.content_type, staged)
                dropped = False
            elif isinstance(event, bytes):
                pending.append(event)
                pending_size += len(event)
                if pending_size >= WRITE_STEP:
                    await flush()
            elif current is not None:  # the file part ended
                await flush()
                if not dropped:
                    out.files.append(current)
                current = None

    try:
        async for chunk in request.stream():
            parser.write(chunk)
            await play()
        parser.finalize()
        await play()
    except MultipartParseError as exc:
        _drop(out, current)
        raise BadRequest(f"malformed multipart body: {exc}") from exc
    except ClientDisconnect as exc:
        _drop(out, current)
        raise BadRequest("the client went away before the upload finished") from exc
    except BaseException:
        _drop(out, current)
        raise
    if current is not None:  # the body ended inside a file part
        _drop(out, current)
        raise BadRequest("the body ended before its last file part did")
    out.fields = reader.fields
    out.ignored_files = reader.ignored
    return out


def _drop(out: Received, current: FilePart | None) -> None:
    out.discard()
    if current is not None:
        current.staged.discard()


def _write_all(staged: Staged, chunks: list[bytes]) -> None:
    for c in chunks:
        staged.write(c)
