"""The sender over real sockets: kept-alive connections reused only while the peer keeps them, answers read
to 1 KiB, redirects not followed, and the SSRF policy applied to the resolved address at connect time."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from deskbase.events import ssrf
from deskbase.events.sender import Sender

LOOPBACK = ssrf.parse_networks("127.0.0.0/8")


@contextmanager
def raw_server(answer: Callable[[int], bytes], close_after: bool) -> Iterator[tuple[str, list[int]]]:
    """An HTTP/1.1 server on 127.0.0.1 that answers each request with `answer(n)` (n counts requests) and,
    if `close_after`, closes the connection after each answer without saying so (no `connection: close`).
    Yields its URL and the number of requests each accepted connection carried."""
    listener = socket.create_server(("127.0.0.1", 0))
    per_connection: list[int] = []
    count = [0]

    def serve() -> None:
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            per_connection.append(0)
            with conn:
                buf = b""
                while True:
                    while b"\r\n\r\n" not in buf:
                        chunk = conn.recv(65536)
                        if not chunk:
                            break
                        buf += chunk
                    if b"\r\n\r\n" not in buf:
                        break
                    head, _, buf = buf.partition(b"\r\n\r\n")
                    length = next(
                        int(line.split(b":", 1)[1])
                        for line in head.split(b"\r\n")
                        if line.lower().startswith(b"content-length:")
                    )
                    while len(buf) < length:
                        buf += conn.recv(65536)
                    buf = buf[length:]
                    count[0] += 1
                    per_connection[-1] += 1
                    conn.sendall(answer(count[0]))
                    if close_after:
                        break

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/hook", per_connection
    finally:
        listener.close()


def ok(_n: int) -> bytes:
    return b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"


def test_a_kept_alive_connection_carries_the_next_deliveries() -> None:
    sender = Sender(LOOPBACK, 5.0)
    with raw_server(ok, close_after=False) as (url, per_connection):
        results = [sender.post(url, {"webhook-id": f"m{i}"}, b"{}") for i in range(3)]
    sender.close()
    assert [r.status for r in results] == [200, 200, 200]
    assert per_connection == [3]


def test_a_connection_the_peer_closed_while_idle_is_not_reused() -> None:
    sender = Sender(LOOPBACK, 5.0)
    with raw_server(ok, close_after=True) as (url, per_connection):
        first = sender.post(url, {"webhook-id": "m1"}, b"{}")
        second = sender.post(url, {"webhook-id": "m2"}, b"{}")
    sender.close()
    assert (first.status, first.error) == (200, None)
    assert (second.status, second.error) == (200, None)  # not a failed attempt on the dead connection
    assert per_connection == [1, 1]


def test_the_answer_is_kept_to_1_kib_and_a_redirect_is_not_followed() -> None:
    def answer(n: int) -> bytes:
        if n == 1:
            body = b"x" * 5000
            return b"HTTP/1.1 503 Busy\r\nretry-after: 7\r\ncontent-length: 5000\r\n\r\n" + body
        return b"HTTP/1.1 302 Found\r\nlocation: http://127.0.0.1:1/elsewhere\r\ncontent-length: 0\r\n\r\n"

    sender = Sender(LOOPBACK, 5.0)
    with raw_server(answer, close_after=False) as (url, per_connection):
        busy = sender.post(url, {}, b"{}")
        moved = sender.post(url, {}, b"{}")
    sender.close()
    assert (busy.status, busy.retry_after, busy.response) == (503, "7", "x" * 1024)
    assert (moved.status, moved.error) == (302, None)
    assert per_connection == [2]  # the long answer was read to its end: the connection stayed usable


def test_a_host_that_resolves_to_a_private_address_is_refused_at_connect() -> None:
    sender = Sender((), 5.0)
    with raw_server(ok, close_after=False) as (url, per_connection):
        port = url.split(":")[2].split("/")[0]
        result = sender.post(f"http://localhost:{port}/hook", {}, b"{}")
    sender.close()
    assert result.status is None and result.error is not None and "loopback" in result.error
    assert per_connection == []  # refused before connecting
