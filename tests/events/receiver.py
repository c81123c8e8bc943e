"""A real HTTP receiver for webhook tests: a threaded server on 127.0.0.1 recording every POST."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson

#: (status, headers) or (status, headers, body); the body is b"ok" unless given
Reply = tuple[int, dict[str, str]] | tuple[int, dict[str, str], bytes]


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return orjson.loads(self.body)


@dataclass
class Receiver:
    """Records every POST; `reply` decides the answer (default 200)."""

    url: str
    received: list[Received] = field(default_factory=list)
    reply: Callable[[Received], Reply] = lambda _r: (200, {})
    lock: threading.Lock = field(default_factory=threading.Lock)

    def bodies(self, path: str | None = None) -> list[Any]:
        with self.lock:
            return [r.json for r in self.received if path is None or r.path == path]

    def wait_for(self, n: int, path: str | None = None, timeout: float = 30) -> list[Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.bodies(path)
            if len(got) >= n:
                return got
            time.sleep(0.05)
        raise AssertionError(f"expected {n} deliveries at {path or self.url}, got {len(self.bodies(path))}")


@contextmanager
def receiving() -> Iterator[Receiver]:
    """A threaded HTTP server on 127.0.0.1 that records what it is sent."""
    box: dict[str, Receiver] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            got = Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
            rec = box["r"]
            with rec.lock:
                rec.received.append(got)
            status, headers, *rest = rec.reply(got)
            payload = rest[0] if rest else b"ok"
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    box["r"] = Receiver(f"http://127.0.0.1:{server.server_address[1]}")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield box["r"]
    server.shutdown()
    server.server_close()
