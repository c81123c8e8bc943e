"""Post one signed delivery: httpcore (no redirects followed) over a network backend that applies the SSRF policy
to every resolved address at connect time and connects to the very address it checked (TLS still verifies
the URL's host name, which httpcore passes to the handshake separately)."""

from __future__ import annotations

import socket
import ssl
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import httpcore

from deskbase.events.ssrf import Network, refusal

RESPONSE_KEEP = 1024
USER_AGENT = "deskbase-webhooks/1"


class Refused(httpcore.ConnectError):
    """The destination resolves to an address webhooks may not reach."""


class GuardedBackend(httpcore.NetworkBackend):
    def __init__(self, allowed: Iterable[Network], inner: httpcore.NetworkBackend | None = None) -> None:
        self.allowed = tuple(allowed)
        self.inner = inner or httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
        addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
        for address in addresses:
            reason = refusal(address, self.allowed)
            if reason is not None:
                raise Refused(f"refused to connect to {host}: {reason} (see webhook_allow_networks)")
        error: Exception | None = None
        for address in addresses:
            try:
                return self.inner.connect_tcp(address, port, timeout, local_address, socket_options)
            except httpcore.ConnectError as exc:
                error = exc
        raise httpcore.ConnectError(f"cannot connect to {host}: {error}")

    def connect_unix_socket(
        self, path: str, timeout: float | None = None, socket_options: Iterable[Any] | None = None
    ) -> httpcore.NetworkStream:
        raise Refused("webhooks do not connect to unix sockets")

    def sleep(self, seconds: float) -> None:
        self.inner.sleep(seconds)


@dataclass(frozen=True)
class Result:
    status: int | None
    duration_ms: int
    error: str | None
    response: str | None
    retry_after: str | None


class Sender:
    """One connection pool for every delivery (keep-alive per endpoint); thread-safe."""

    def __init__(self, allowed: Iterable[Network], timeout: float) -> None:
        self.timeout = timeout
        self.pool = httpcore.ConnectionPool(
            ssl_context=ssl.create_default_context(),
            max_connections=64,
            keepalive_expiry=30,
            network_backend=GuardedBackend(allowed),
        )

    def post(self, url: str, headers: Mapping[str, str], body: bytes) -> Result:
        sent = {
            "content-type": "application/json",
            "user-agent": USER_AGENT,
            "content-length": str(len(body)),
            **headers,
        }
        t = self.timeout
        started = time.monotonic()
        try:
            with self.pool.stream(
                "POST",
                url,
                headers=list(sent.items()),
                content=body,
                extensions={"timeout": {"connect": t, "read": t, "write": t, "pool": t}},
            ) as resp:
                kept = b""
                for chunk in resp.iter_stream():
                    kept += chunk
                    if len(kept) >= RESPONSE_KEEP:
                        break
                retry_after = next(
                    (v.decode("latin-1") for k, v in resp.headers if k.lower() == b"retry-after"), None
                )
                return Result(
                    resp.status,
                    _ms(started),
                    None,
                    kept[:RESPONSE_KEEP].decode("utf-8", "replace"),
                    retry_after,
                )
        except httpcore.TimeoutException as exc:
            return Result(None, _ms(started), f"timeout: {exc or 'no answer in time'}", None, None)
        except (httpcore.ConnectError, httpcore.NetworkError, httpcore.ProtocolError) as exc:
            return Result(None, _ms(started), f"{type(exc).__name__}: {exc}", None, None)
        except httpcore.UnsupportedProtocol as exc:
            return Result(None, _ms(started), f"unsupported URL: {exc}", None, None)

    def close(self) -> None:
        self.pool.close()


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
