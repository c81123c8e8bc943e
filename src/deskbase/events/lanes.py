"""How many lanes (requests in flight) each trigger may have: probed like TCP's window, kept only if it pays.

A lane sends one request at a time, so a trigger's lanes are its requests in flight. Every trigger starts at
`BASE` (2). Its answers are counted in windows of `WINDOW` times the limit answers:
- a window of 2xx answers, each within `slow` seconds and with all the trigger's lanes busy, that delivered at
  least `GAIN` times the best rate seen so far keeps the limit and probes one lane more, up to `cap`
  (`webhook_max_inflight_per_trigger`): an endpoint whose answers take a while is fed several at once;
- a window that did not gain goes back to the best limit and probes again only after `HOLD` seconds: when the
  dispatcher is CPU-bound (a fast local receiver), more lanes only add contention, so it keeps what paid;
- any failure (non-2xx, timeout, connection error) or answer slower than `slow` halves the limit, down to 1:
  a slow or failing endpoint is back to one lane after its first answers, and its surplus lanes stop after
  the delivery in hand.
Lanes above `BASE` come out of the shared pool only while `BASE` workers stay free for another trigger, and a
lane above `BASE` stops after its batch once the pool is that full: growth never takes workers another
trigger's first lanes would need.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

BASE = 2
WINDOW = 8  #: answers per lane in a measuring window
GAIN = 1.2  #: a lane more must deliver this much more to stay
HOLD = 30.0  #: seconds before probing again after a lane more did not pay


@dataclass(frozen=True)
class Window:
    """A trigger's lane limit and the lanes it has running."""

    limit: int
    running: int


@dataclass
class _Probe:
    limit: int
    best_rate: float = 0.0
    best_limit: int = 0
    answers: int = 0
    started: float = field(default_factory=time.monotonic)
    saturated: bool = True  #: every answer of the window came while all the trigger's lanes were busy
    hold_until: float = 0.0

    def restart(self, now: float) -> None:
        self.answers, self.started, self.saturated = 0, now, True


class Lanes:
    """Per-trigger lane limits and counts (keys: "workspace/trigger"); thread-safe."""

    def __init__(self, workers: int, cap: int, slow: float) -> None:
        self.workers = max(1, workers)
        self.cap = max(1, cap)
        self.base = min(BASE, self.cap)
        self.slow = slow
        self._lock = threading.Lock()
        self._probe: dict[str, _Probe] = {}
        self._running: dict[str, int] = {}
        self._total = 0

    def window(self, key: str) -> Window:
        with self._lock:
            return Window(self._limit(key), self._running.get(key, 0))

    def room(self, key: str) -> int:
        """Lanes `key` may start now: up to its base at any time (as many as before this existed), above it
        only while `base` workers of the pool stay free."""
        with self._lock:
            limit, running = self._limit(key), self._running.get(key, 0)
            below_base = max(0, min(limit, self.base) - running)
            spare = max(0, self.workers - self.base - self._total - below_base)
            above = max(0, limit - max(running, self.base))
            return below_base + min(above, spare)

    def full(self) -> list[str]:
        """The running triggers that may start no lane now (what the loop need not list as due)."""
        with self._lock:
            keys = list(self._running)
        return [key for key in keys if self.room(key) == 0]

    def started(self, key: str, n: int = 1) -> None:
        with self._lock:
            self._running[key] = self._running.get(key, 0) + n
            self._total += n

    def finished(self, key: str) -> None:
        with self._lock:
            self._release(key)

    def retire(self, key: str) -> bool:
        """A lane of `key` between deliveries asks whether it should stop: it is over the trigger's limit, or
        above the base while the pool is short of free workers. True: it stopped (and is no longer counted)."""
        with self._lock:
            limit, running = self._limit(key), self._running.get(key, 0)
            crowded = running > self.base and self._total > self.workers - self.base
            if running > limit or crowded:
                self._release(key)
                return True
            return False

    def surplus(self, key: str) -> bool:
        """`key` runs more lanes than its limit (one of them should stop after the delivery in hand)."""
        with self._lock:
            return self._running.get(key, 0) > self._limit(key)

    def observe(self, key: str, ok: bool, seconds: float) -> bool:
        """Count an answer (ok: a 2xx) toward `key`'s limit; True if the limit rose (a lane more may start)."""
        now = time.monotonic()
        with self._lock:
            p = self._probe.setdefault(key, _Probe(self.base))
            if not ok or seconds > self.slow:
                p.limit, p.best_rate = max(1, p.limit // 2), 0.0
                p.restart(now)
                return False
            p.answers += 1
            p.saturated = p.saturated and self._running.get(key, 0) >= p.limit
            if p.answers < WINDOW * p.limit:
                return False
            rate = p.answers / max(now - p.started, 1e-6)
            grew = False
            if not p.saturated:
                pass  # no backlog kept every lane busy: the window says nothing about more lanes
            elif rate >= p.best_rate * GAIN:
                p.best_rate, p.best_limit = rate, p.limit
                if p.limit < self.cap and now >= p.hold_until:
                    p.limit, grew = p.limit + 1, True
            else:  # the last lane did not pay: back to the best, and try again later
                p.limit, p.best_rate, p.hold_until = p.best_limit, 0.0, now + HOLD
            p.restart(now)
            return grew

    def _limit(self, key: str) -> int:
        p = self._probe.get(key)
        return self.base if p is None else p.limit

    def _release(self, key: str) -> None:
        left = self._running.get(key, 1) - 1
        if left > 0:
            self._running[key] = left
        else:
            self._running.pop(key, None)
        self._total -= 1


def deal(ids: list[str], lanes: int, batch: int = 50) -> list[list[str]]:
    """Up to `lanes` non-empty parts of at most `batch` ids each, dealt round-robin."""
    n = min(max(lanes, 0), len(ids))
    return [ids[i::n][:batch] for i in range(n)]
