"""Live delivery: a hub that wakes a user's open streams when the fan-out stores a notification for them (or
they mark one read), and the Server-Sent Events stream the API and the console serve.

The stream reads the store, never the hub's message: the hub only says "look now". So a stream served by a
process other than the one running the loop (scale-out) still sees every notification, at its next poll,
and a reconnect with `Last-Event-ID` resumes after the last one it got (ids are time-ordered).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING

import orjson

if TYPE_CHECKING:
    from deskbase.notify.store import Store

POLL = 2.0  #: seconds between looks at the store when nothing woke the stream
KEEPALIVE = 15.0  #: a comment line this often keeps proxies from closing an idle stream
#: A stream ends after this long and the browser reconnects (EventSource does, with Last-Event-ID), so a
#: server shutting down never waits on an open stream for longer.
LIFETIME = 30.0
RETRY_MS = 2000


class Hub:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiters: dict[str, set[tuple[asyncio.AbstractEventLoop, asyncio.Event]]] = {}

    def subscribe(self, user_id: str) -> tuple[asyncio.AbstractEventLoop, asyncio.Event]:
        entry = (asyncio.get_running_loop(), asyncio.Event())
        with self._lock:
            self._waiters.setdefault(user_id, set()).add(entry)
        return entry

    def unsubscribe(self, user_id: str, entry: tuple[asyncio.AbstractEventLoop, asyncio.Event]) -> None:
        with self._lock:
            self._waiters.get(user_id, set()).discard(entry)
            if not self._waiters.get(user_id):
                self._waiters.pop(user_id, None)

    def publish(self, user_ids: set[str]) -> None:
        """From any thread: wake the streams of these users."""
        with self._lock:
            entries = [e for u in user_ids for e in self._waiters.get(u, ())]
        for loop, event in entries:
            with contextlib.suppress(RuntimeError):  # that stream's event loop is closed
                loop.call_soon_threadsafe(event.set)


def _event(name: str, data: object, eid: str | None = None) -> bytes:
    head = f"id: {eid}\n" if eid else ""
    return f"{head}event: {name}\ndata: {orjson.dumps(data).decode()}\n\n".encode()


async def stream(
    store: Store,
    hub: Hub,
    ws: str,
    user_id: str,
    after: str | None,
    disconnected: Callable[[], Awaitable[bool]],
    lifetime: float = LIFETIME,
) -> AsyncIterator[bytes]:
    """`notification` events (each with its id) newer than `after` (without it: from now on), and an
    `unread` event with the count whenever it changes."""
    entry = hub.subscribe(user_id)
    try:
        yield f"retry: {RETRY_MS}\n\n".encode()
        last = after if after is not None else await asyncio.to_thread(store.latest_id, ws, user_id)
        sent_unread: int | None = None
        started = quiet_since = time.monotonic()
        while True:
            entry[1].clear()
            rows, unread = await asyncio.to_thread(store.after, ws, user_id, last)
            for row in rows:
                last = row["id"]
                yield _event("notification", row, row["id"])
            sent = bool(rows) or unread != sent_unread
            if unread != sent_unread:
                sent_unread = unread
                yield _event("unread", {"unread": unread})
            if sent:
                quiet_since = time.monotonic()
            if time.monotonic() - started >= lifetime or await disconnected():
                return
            if time.monotonic() - quiet_since >= KEEPALIVE:
                quiet_since = time.monotonic()
                yield b": keep-alive\n\n"
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(entry[1].wait(), POLL)
    finally:
        hub.unsubscribe(user_id, entry)
