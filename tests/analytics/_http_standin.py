"""A tiny stand-in for a ClickHouse server's HTTP interface, for the transport only: it takes requests the way
the server does (query in the URL or the body, settings and ``param_*`` as URL parameters, the database as
``database``) and runs them on the test process's chDB, or records them without running them when they carry
rows in the body (chDB cannot feed ``input()``). Every request is kept in ``seen`` for the tests to read.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

#: URL parameters the HTTP interface consumes itself (not settings).
_TRANSPORT = frozenset(
    {
        "query_id",
        "session_id",
        "session_timeout",
        "session_check",
        "compress",
        "decompress",
        "default_format",
        "wait_end_of_query",
        "enable_http_compression",
        "send_progress_in_http_headers",
        "http_headers_progress_interval_ms",
        "client_protocol_version",
        "buffer_size",
    }
)


@dataclass
class Request:
    headers: dict[str, str]
    params: dict[str, str]
    query: str
    body: bytes | None


@contextmanager
def standin(path: str) -> Iterator[tuple[str, list[Request]]]:
    """Serve on a free loopback port; yields the base URL (without credentials) and the requests seen."""
    import chdb

    seen: list[Request] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _handle(self) -> None:
            params = dict(parse_qsl(urlsplit(self.path).query, keep_blank_values=True))
            raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            query = params.pop("query", None)
            body: bytes | None = raw
            if query is None:
                query, body = raw.decode(), None
            seen.append(Request(dict(self.headers), dict(params), query, body))
            if body:
                self._answer(200, b"")  # recorded, not run: chDB has no input() from a request body
                return
            settings = {k: v for k, v in params.items() if not k.startswith("param_") and k not in _TRANSPORT}
            query_params = {k[len("param_") :]: v for k, v in params.items() if k.startswith("param_")}
            conn = chdb.connect(
                path + ("?" + "&".join(f"{k}={v}" for k, v in settings.items()) if settings else "")
            )
            try:
                out = conn.query(
                    query, params.get("default_format", "TabSeparated"), params=query_params
                ).bytes()
            except RuntimeError as exc:  # the server answers a failure with a 500 and its message
                self._answer(500, str(exc).encode())
                return
            finally:
                conn.close()
            self._answer(200, out or b"")

        def _answer(self, status: int, payload: bytes) -> None:
            self.send_response(status)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = _handle
        do_POST = _handle

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, name="clickhouse-standin", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()
