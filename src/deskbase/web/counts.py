"""The navigation's per-view counts (and other aggregates: record counts, SLA attainment), kept cheap on big
workspaces.

Each count is an indexed `core.records.count`, but on a large workspace six of them on every page would
dominate the page's time. So counts are remembered per (workspace, me) together with the stamp they were taken
at (the workspace's change sequence, plus the minute for counts that move with the clock, like "at risk"): an
unchanged workspace is served from memory, exactly. After a change, a small
workspace (where counting took under `SYNC_BUDGET_MS`, or counted fewer than `SMALL` rows) is recounted on
the spot; a large one shows the
previous counts while a background worker recounts — at most one recount per key at a time and one every
`MIN_REFRESH_SECONDS`, so a busy workspace does not keep a core busy counting (docs/console.md). The server
warms the shared counts of every workspace when it starts, so the first visitor does not pay for them.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Hashable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Any

log = logging.getLogger("deskbase.web")
SYNC_BUDGET_MS = 40.0
#: below this many counted rows a recount is always cheap (a slow one was a busy machine, not a big workspace)
SMALL = 20_000
MIN_REFRESH_SECONDS = 5.0
MAX_ENTRIES = 2000

Counter = Callable[[], dict[str, Any]]


@dataclass
class Entry:
    stamp: Hashable
    values: dict[str, Any]
    cost_ms: float
    at: float  #: time.monotonic() of the count
    size: int  #: what was counted (the sum of the counts): a small workspace is always counted at once
    refreshing: bool = False


class ViewCounts:
    def __init__(self, workers: int = 2) -> None:
        self._entries: dict[tuple[str, str], Entry] = {}
        #: counts being taken right now: a second asker waits for them instead of counting again
        self._inflight: dict[tuple[tuple[str, str], Hashable], Future[dict[str, Any]]] = {}
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="deskbase-counts")
        #: for the counts of one recount to run side by side (a separate pool: a recount waits on it)
        self.fanout = ThreadPoolExecutor(max_workers=4, thread_name_prefix="deskbase-count")

    def get(self, key: tuple[str, str], stamp: Hashable, count: Counter) -> dict[str, Any]:
        """The counts for `key` at `stamp` (or, on a big workspace, the previous ones while a recount runs)."""
        found = self._lookup(key, stamp, count)
        if isinstance(found, dict):
            return found
        return found.result() if found is not None else self._run(key, stamp, count, self._begin(key, stamp))

    def within(
        self, key: tuple[str, str], stamp: Hashable, count: Counter, seconds: float
    ) -> dict[str, Any] | None:
        """Like `get`, but a page waits at most `seconds` for counts nobody has yet (the first visit after a
        start, racing the warm-up) or for a big workspace's: None then, and the page fetches them in a second
        request. A workspace known to be small is counted at once, as `get` does."""
        with self._lock:
            entry = self._entries.get(key)
        if entry is not None and entry.size < SMALL:
            return self.get(key, stamp, count)
        found = self._lookup(key, stamp, count)
        if isinstance(found, dict):
            return found
        if found is None:
            found = self._begin(key, stamp)
            self._pool.submit(self._run, key, stamp, count, found)
        try:
            return found.result(timeout=seconds)
        except FutureTimeout:
            return None

    def _lookup(
        self, key: tuple[str, str], stamp: Hashable, count: Counter
    ) -> dict[str, Any] | Future[dict[str, Any]] | None:
        """Remembered counts that will do, else the count already under way, else None."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry.stamp == stamp:
                return entry.values
            if entry is not None and entry.cost_ms > SYNC_BUDGET_MS and entry.size >= SMALL:
                if not entry.refreshing and time.monotonic() - entry.at >= MIN_REFRESH_SECONDS:
                    entry.refreshing = True
                    self._pool.submit(self._run, key, stamp, count, self._begin(key, stamp, locked=True))
                return entry.values
            return self._inflight.get((key, stamp))

    def _begin(self, key: tuple[str, str], stamp: Hashable, locked: bool = False) -> Future[dict[str, Any]]:
        """Announce a count, so that others asking meanwhile wait for it instead of counting again."""
        promise: Future[dict[str, Any]] = Future()
        if locked:
            return self._inflight.setdefault((key, stamp), promise)
        with self._lock:
            return self._inflight.setdefault((key, stamp), promise)

    def _run(
        self, key: tuple[str, str], stamp: Hashable, count: Counter, promise: Future[dict[str, Any]]
    ) -> dict[str, Any]:
        with self._lock:
            mine = not (promise.running() or promise.done()) and promise.set_running_or_notify_cancel()
        if not mine:
            return promise.result()  # someone else is running (or ran) this count
        started = time.perf_counter()
        try:
            values = count()
        except Exception as exc:
            log.exception("recounting the queue views of %s failed", key[0])
            with self._lock:
                if key in self._entries:
                    self._entries[key].refreshing = False
                self._inflight.pop((key, stamp), None)
            promise.set_exception(exc)
            raise
        cost = (time.perf_counter() - started) * 1000
        with self._lock:
            if len(self._entries) >= MAX_ENTRIES:
                self._entries.clear()
            size = sum(v for v in values.values() if isinstance(v, int))
            self._entries[key] = Entry(stamp, values, cost, time.monotonic(), size)
            self._inflight.pop((key, stamp), None)
        promise.set_result(values)
        return values

    def clear(self) -> None:
        """Forget every remembered count (the next page counts afresh)."""
        with self._lock:
            self._entries.clear()

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self.fanout.shutdown(wait=False, cancel_futures=True)
