"""Per-token rate limit: one token bucket per token, in memory, per server process."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

from deskbase.core.context import Actor
from deskbase.core.errors import RateLimited


class RateLimiter:
    """`per_second` tokens refill continuously up to `burst`; each request takes one.

    Per process on purpose: with N API processes a token gets up to N times the rate, which keeps the limiter free
    of shared state (the goal is to stop one runaway client from starving the rest, not exact quotas)."""

    def __init__(self, per_second: float, burst: int, now: Callable[[], float] = time.monotonic) -> None:
        self.per_second = per_second
        self.burst = max(1, burst)
        self.now = now
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens left, when counted)
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.per_second > 0

    def take(self, key: str) -> int:
        """0 when the request may go ahead; otherwise whole seconds until one more request is allowed."""
        if not self.enabled:
            return 0
        with self._lock:
            now = self.now()
            left, then = self._buckets.get(key, (float(self.burst), now))
            left = min(float(self.burst), left + (now - then) * self.per_second)
            if left >= 1.0:
                self._buckets[key] = (left - 1.0, now)
                return 0
            self._buckets[key] = (left, now)
            return max(1, math.ceil((1.0 - left) / self.per_second))


def spend(limiter: RateLimiter | None, actor: Actor) -> None:
    """Spend one request of the actor's budget, or raise 429 `rate_limited`. Server admins are exempt: the
    operator's own token must be able to run imports and recover the server. Every adapter that answers a
    token (REST, MCP) spends from the same limiter, keyed by the token's id."""
    if limiter is None or actor.is_admin:
        return
    wait = limiter.take(actor.id)
    if wait:
        raise RateLimited(
            f"too many requests with this token (at most {limiter.per_second:g}/s, bursts of "
            f"{limiter.burst}); retry in {wait} s",
            {"retry_after": wait, "per_second": limiter.per_second, "burst": limiter.burst},
        )
