"""Query results: the Result shape and the readers that decode chDB and server output into it under a byte cap.

Read-only queries are streamed (``send_query``) as ``JSONCompactEachRowWithNamesAndTypes`` and counted as
they arrive, so a result past its byte cap is cancelled after one block instead of first being built whole
inside the engine (``query()`` buffers the full output: a 476 MB result cost 2.2 GB of server memory).
"""

from __future__ import annotations

import contextlib
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from deskbase.core.errors import PayloadTooLarge

__all__ = ["STREAM_FORMAT", "Column", "Result", "parse_json_compact", "read_lines", "read_stream"]

#: Rows as JSON arrays after a names line and a types line: decodable per block, and an empty result still
#: carries its columns.
STREAM_FORMAT = "JSONCompactEachRowWithNamesAndTypes"

# 128/256-bit integers do not fit orjson (or JSON consumers); they are re-read exactly and returned as str.
_WIDE_INT_TYPE = re.compile(r"\b(?:U?Int(?:128|256))\b")


@dataclass(frozen=True)
class Column:
    name: str
    type: str


@dataclass(frozen=True)
class Result:
    """A fully read result: ClickHouse column types, rows of JSON-able values and engine statistics."""

    columns: tuple[Column, ...]
    rows: list[list[Any]]
    rows_read: int = 0
    bytes_read: int = 0
    elapsed_ms: float = 0.0


def _int_or_str(text: str) -> int | str:
    value = int(text)
    return value if -(2**63) <= value < 2**64 else text


def _loads(raw: bytes, wide: bool) -> Any:
    return json.loads(raw, parse_int=_int_or_str) if wide else orjson.loads(raw)


def parse_json_compact(raw: bytes) -> Result:
    """Decode ClickHouse ``JSONCompact`` output (written with OUTPUT_SETTINGS) into a Result."""
    if not raw.strip():
        return Result(columns=(), rows=[])
    doc = orjson.loads(raw)
    if any(_WIDE_INT_TYPE.search(m["type"]) for m in doc.get("meta", ())):
        doc = json.loads(raw, parse_int=_int_or_str)
    stats = doc.get("statistics") or {}
    return Result(
        columns=tuple(Column(m["name"], m["type"]) for m in doc.get("meta", ())),
        rows=doc.get("data", []),
        rows_read=int(stats.get("rows_read", 0)),
        bytes_read=int(stats.get("bytes_read", 0)),
        elapsed_ms=float(stats.get("elapsed", 0.0)) * 1000.0,
    )


class _RowDecoder:
    """Decoder of the stream format. Verified: every streamed chunk is one block rendered as a whole document,
    names and types lines included (a UNION's later blocks may carry another branch's column names), so the
    first chunk's header names the columns and each chunk's rows are decoded on their own."""

    def __init__(self) -> None:
        self.names: list[str] = []
        self.types: list[str] = []
        self.rows: list[list[Any]] = []
        self._wide = False

    def feed(self, data: bytes) -> None:
        names, types, body = data.split(b"\n", 2)
        if not self.types:
            self.names = orjson.loads(names)
            self.types = orjson.loads(types)
            self._wide = any(_WIDE_INT_TYPE.search(t) for t in self.types)
        body = body.rstrip(b"\n")
        if body:
            # Raw newlines only separate rows (JSON escapes them inside strings): one decode per block.
            self.rows.extend(_loads(b"[" + body.replace(b"\n", b",") + b"]", self._wide))

    def columns(self) -> tuple[Column, ...]:
        return tuple(Column(n, t) for n, t in zip(self.names, self.types, strict=True))


def _too_large(max_bytes: int) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"the result is larger than sql_max_result_bytes ({max_bytes} bytes); select fewer rows or "
        "columns, or aggregate",
        {"limit": "sql_max_result_bytes", "value": max_bytes},
    )


def read_stream(conn: Any, sql: str, params: dict[str, str], max_bytes: int) -> Result:
    """Run ``sql`` on a raw chDB connection (``chdb._chdb.connect``) block by block, at most ``max_bytes``
    of output; past it the query is cancelled and PayloadTooLarge raised.

    The raw connection is used because the ``chdb.connect`` wrapper ends a stream at the first block that
    read no rows, which drops the column header of an empty result.
    """
    started = time.monotonic()
    decoder = _RowDecoder()
    total = rows_read = bytes_read = 0
    try:
        handle = conn.send_query(sql, STREAM_FORMAT, params=params)
    except RuntimeError as exc:
        if "Streaming query is not supported" not in str(exc):
            raise
        # Not a SELECT (only text that got past the guard): run it whole, so that the read-only
        # connection refuses it with ClickHouse's own error.
        raw = conn.query(sql, "JSONCompact", params=params).bytes()
        if len(raw) > max_bytes:
            raise _too_large(max_bytes) from None
        return parse_json_compact(raw)
    finished = False
    try:
        while True:
            chunk = conn.streaming_fetch_result(handle)
            if chunk is None:
                break
            if chunk.has_error():
                raise RuntimeError(chunk.error_message())
            size = chunk.size()
            if not size:
                break
            total += size
            if total > max_bytes:  # checked before the block is copied into Python
                raise _too_large(max_bytes)
            data = chunk.bytes()
            rows_read += chunk.storage_rows_read()
            bytes_read += chunk.storage_bytes_read()
            decoder.feed(data)
        finished = True
    finally:
        if not finished:
            # A query that already failed or ended has nothing left to cancel.
            with contextlib.suppress(RuntimeError):
                conn.streaming_cancel_query(handle)
    return Result(
        columns=decoder.columns(),
        rows=decoder.rows,
        rows_read=rows_read,
        bytes_read=bytes_read,
        elapsed_ms=(time.monotonic() - started) * 1000.0,
    )


#: How much of a failed stream's tail is read to find the server's exception text.
_ERROR_TAIL = 64 * 1024


def _fail(lines: list[bytes], stream: Any, failure: Callable[[str], Exception]) -> Exception:
    """The server wrote its exception into the stream (after the 200 status): its text, as the sandbox's error."""
    text = b"\n".join(lines) + (stream.read(_ERROR_TAIL) or b"")
    at = text.find(b"Code:")
    return failure(text[at if at >= 0 else 0 :].decode(errors="replace").strip())


def read_lines(
    stream: Any, max_bytes: int, failure: Callable[[str], Exception], chunk_size: int = 64 * 1024
) -> Result:
    """Decode a server's streamed ``STREAM_FORMAT`` output (one names line, one types line, rows) read from
    ``stream`` (``read(n)``/HTTP response) in chunks, at most ``max_bytes`` of it (PayloadTooLarge past it;
    the caller closes the stream, which stops the query on the server).

    A query that fails after its first rows were sent cannot change the HTTP status any more: the server
    appends its exception to the body, as a ``{"exception": …}`` row or as plain text; ``failure`` maps that
    text onto the sandbox's error.
    """
    started = time.monotonic()
    header: list[list[str]] = []
    rows: list[list[Any]] = []
    pending = b""
    total = 0
    wide = False

    def take(lines: list[bytes]) -> None:
        nonlocal wide
        while lines and len(header) < 2:
            try:
                value = orjson.loads(lines[0])
            except orjson.JSONDecodeError:
                value = None
            if not isinstance(value, list):
                raise _fail(lines, stream, failure)
            header.append(value)
            lines.pop(0)
            if len(header) == 2:
                wide = any(_WIDE_INT_TYPE.search(t) for t in header[1])
        lines = [line for line in lines if line.strip()]
        if not lines:
            return
        try:
            decoded = _loads(b"[" + b",".join(lines) + b"]", wide)
        except ValueError:  # orjson's and json's decode errors are ValueErrors
            raise _fail(lines, stream, failure) from None
        if decoded and not isinstance(decoded[-1], list):
            last = decoded[-1]
            raise failure(str(last.get("exception", last)) if isinstance(last, dict) else str(last))
        rows.extend(decoded)

    while chunk := stream.read(chunk_size):
        total += len(chunk)
        if total > max_bytes:
            raise _too_large(max_bytes)
        pending += chunk
        cut = pending.rfind(b"\n")
        if cut >= 0:
            take(pending[:cut].split(b"\n"))
            pending = pending[cut + 1 :]
    if pending.strip():
        take([pending])
    names, types = (header[0], header[1]) if len(header) == 2 else ([], [])
    return Result(
        columns=tuple(Column(n, t) for n, t in zip(names, types, strict=True)),
        rows=rows,
        elapsed_ms=(time.monotonic() - started) * 1000.0,
    )
