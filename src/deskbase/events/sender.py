"""Post one signed delivery over a kept-alive connection, with the SSRF policy applied at connect time.

`http.client` (standard library), one connection per (lane thread, endpoint): a lane sends one request at a
time, so no pool, no lock and no per-request state machine beyond http.client's own — it costs about half the
CPU of httpcore per delivery (measured in bench/README.md), and the sender is most of a delivery's CPU.
Redirects are not followed (http.client never does). Each connection resolves its host, refuses it unless
every resolved address is allowed (events/ssrf.py), and connects to the very address it checked, so DNS
rebinding cannot slip a private address in; TLS still verifies the URL's host name. A connection is reused
only while it is idle for less than `KEEPALIVE` seconds and the peer has not closed it meanwhile.
"""

from __future__ import annotations

import http.client
import select
import socket
import ssl
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from deskbase.events.ssrf import Network, refusal

RESPONSE_KEEP = 1024
DRAIN = 64 * 1024  #: a longer answer than this is not read to its end: its connection is closed instead
KEEPALIVE = 30.0
USER_AGENT = "deskbase-webhooks/1"


class Refused(OSError):
    """The destination resolves to an address webhooks may not reach."""


@dataclass(frozen=True)
class Result:
    status: int | None
    duration_ms: int
    error: str | None
    response: str | None
    retry_after: str | None


class _Connection(http.client.HTTPConnection):
    """An HTTP/1.1 connection that checks where it connects (and wraps TLS itself for https)."""

    def __init__(
        self, host: str, port: int, timeout: float, allowed: tuple[Network, ...], tls: ssl.SSLContext | None
    ) -> None:
        self.default_port = 443 if tls else 80  # the Host header names the port only when it is not this
        super().__init__(host, port, timeout)
        self.allowed, self.tls = allowed, tls
        self.used_at = time.monotonic()

    def connect(self) -> None:
        try:
            infos = socket.getaddrinfo(self.host, self.port, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise ConnectionError(f"cannot resolve {self.host}: {exc}") from exc
        addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
        for address in addresses:
            reason = refusal(address, self.allowed)
            if reason is not None:
                raise Refused(f"refused to connect to {self.host}: {reason} (see webhook_allow_networks)")
        error: OSError | None = None
        for address in addresses:
            try:
                sock = socket.create_connection((address, self.port), self.timeout)
                break
            except OSError as exc:
                error = exc
        else:
            raise ConnectionError(f"cannot connect to {self.host}: {error}")
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = self.tls.wrap_socket(sock, server_hostname=self.host) if self.tls else sock

    def reusable(self, now: float) -> bool:
        """Idle not too long, and the peer has not closed it (a readable idle socket: EOF or stray bytes)."""
        if self.sock is None or now - self.used_at > KEEPALIVE:
            return False
        try:
            readable, _, _ = select.select([self.sock], [], [], 0)
        except (OSError, ValueError):
            return False
        return not readable


class Sender:
    """Thread-safe: each thread has its own connections."""

    def __init__(self, allowed: Iterable[Network], timeout: float) -> None:
        self.allowed = tuple(allowed)
        self.timeout = timeout
        self.tls = ssl.create_default_context()
        self._local = threading.local()
        self._lock = threading.Lock()
        self._open: set[_Connection] = set()

    def post(self, url: str, headers: Mapping[str, str], body: bytes) -> Result:
        started = time.monotonic()
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            return Result(None, _ms(started), f"unsupported URL: {url}", None, None)
        sent = {
            "content-type": "application/json",
            "user-agent": USER_AGENT,
            "content-length": str(len(body)),
            **headers,
        }
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        conn: _Connection | None = None
        try:
            conn = self._connection(parts.scheme, parts.hostname, parts.port)
            conn.request("POST", target, body, sent)
            resp = conn.getresponse()
            kept = resp.read(RESPONSE_KEEP)
            if not resp.isclosed():
                resp.read(DRAIN)
            if resp.isclosed() and not resp.will_close:
                conn.used_at = time.monotonic()
            else:  # unread answer left on the wire, or the peer closes: not reusable
                self._drop(conn)
            return Result(
                resp.status,
                _ms(started),
                None,
                kept.decode("utf-8", "replace"),
                resp.getheader("retry-after"),
            )
        except TimeoutError as exc:
            self._drop(conn)
            return Result(None, _ms(started), f"timeout: {exc or 'no answer in time'}", None, None)
        except (OSError, http.client.HTTPException, ValueError) as exc:
            self._drop(conn)
            return Result(None, _ms(started), f"{type(exc).__name__}: {exc}", None, None)

    def _connection(self, scheme: str, host: str, port: int | None) -> _Connection:
        mine: dict[tuple[str, str, int | None], _Connection] = self._local.__dict__.setdefault("conns", {})
        key = (scheme, host, port)
        conn = mine.get(key)
        if conn is not None and conn.reusable(time.monotonic()):
            return conn
        if conn is not None:
            self._drop(conn)
        tls = self.tls if scheme == "https" else None
        conn = _Connection(host, port or (443 if tls else 80), self.timeout, self.allowed, tls)
        mine[key] = conn
        with self._lock:
            self._open.add(conn)
        return conn

    def _drop(self, conn: _Connection | None) -> None:
        if conn is None:
            return
        conn.close()
        mine = self._local.__dict__.get("conns", {})
        for key, c in list(mine.items()):
            if c is conn:
                del mine[key]
        with self._lock:
            self._open.discard(conn)

    def close(self) -> None:
        """Close every thread's connections (after the lanes stopped)."""
        with self._lock:
            conns, self._open = list(self._open), set()
        for conn in conns:
            conn.close()


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
