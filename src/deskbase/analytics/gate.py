"""Admission and deadlines for SQL queries: concurrency caps per token, per workspace and per server, and a
watchdog that answers at the deadline even when the engine cannot stop yet.

Why a watchdog and not only ``max_execution_time``: ClickHouse checks its limits (and KILL QUERY) between
blocks, so a query whose single row costs seconds (``editDistance`` over 64 KiB strings) overruns its limit
by that much. The query therefore runs on its own thread; the caller waits until the deadline, then asks the
engine to cancel and answers 504 at once. The abandoned thread keeps its slot until the engine really stops,
so timed-out queries still count against the caps and cannot pile up.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import TypeVar

from deskbase.core.errors import RateLimited

__all__ = ["SqlGate", "Ticket", "run_with_deadline"]

T = TypeVar("T")
log = logging.getLogger(__name__)


class Ticket:
    """One admitted query's slot, held by the request and by the engine thread running it; the slot is
    given back when both have let go (reference counted, each holder releases exactly once)."""

    def __init__(self, release: Callable[[], None]) -> None:
        self._release = release
        self._holders = 1
        self._lock = threading.Lock()

    def hold(self) -> None:
        with self._lock:
            if self._holders == 0:
                raise RuntimeError("ticket already released")
            self._holders += 1

    def release(self) -> None:
        with self._lock:
            if self._holders == 0:
                return
            self._holders -= 1
            done = self._holders == 0
        if done:
            self._release()

    def __enter__(self) -> Ticket:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


class SqlGate:
    """Caps on queries running at once; over a cap the caller gets ``429 rate_limited`` with Retry-After.

    The server-wide cap bounds the share of the request thread pool SQL can hold (each admitted query holds
    one request thread until it answers); the per-token and per-workspace caps keep one caller from using it all.
    """

    def __init__(self, per_token: int, per_workspace: int, total: int) -> None:
        for name, value in (("per_token", per_token), ("per_workspace", per_workspace), ("total", total)):
            if value <= 0:
                raise ValueError(f"{name} must be positive")
        self.per_token = per_token
        self.per_workspace = per_workspace
        self.total = total
        self._lock = threading.Lock()
        self._freed = threading.Condition(self._lock)
        self._tokens: Counter[str] = Counter()
        self._workspaces: Counter[str] = Counter()
        self._running = 0

    @property
    def running(self) -> int:
        return self._running

    def admit(self, token: str | None, workspace: str, wait: float = 0.0) -> Ticket:
        """Take a slot for one query of ``token`` in ``workspace`` or refuse at once: clients' queries never
        queue (a queued request would hold a request thread while it waits). ``token`` None (the server's own
        queries, e.g. the console's reports) skips the per-token cap only. ``wait`` lets the server's own,
        bounded queries (a dashboard's few panels loading together) wait that long for a slot instead."""
        deadline = time.monotonic() + wait
        with self._lock:
            refusal = self._refusal(token, workspace)
            while refusal is not None and (left := deadline - time.monotonic()) > 0:
                self._freed.wait(left)
                refusal = self._refusal(token, workspace)
            if refusal is None:
                if token is not None:
                    self._tokens[token] += 1
                self._workspaces[workspace] += 1
                self._running += 1
        if refusal is not None:
            setting, cap, scope = refusal
            raise RateLimited(
                f"too many SQL queries running {scope} (at most {cap} at once); retry when one has finished",
                {"retry_after": 1, "limit": setting, "value": cap},
            )
        return Ticket(lambda: self._leave(token, workspace))

    def _refusal(self, token: str | None, workspace: str) -> tuple[str, int, str] | None:
        if token is not None and self._tokens[token] >= self.per_token:
            return ("sql_max_concurrent_per_token", self.per_token, "with this token")
        if self._workspaces[workspace] >= self.per_workspace:
            return ("sql_max_concurrent_per_workspace", self.per_workspace, "in this workspace")
        if self._running >= self.total:
            return ("sql_max_concurrent", self.total, "on this server")
        return None

    def _leave(self, token: str | None, workspace: str) -> None:
        with self._lock:
            if token is not None:
                self._tokens[token] -= 1
                if self._tokens[token] <= 0:
                    del self._tokens[token]
            self._workspaces[workspace] -= 1
            if self._workspaces[workspace] <= 0:
                del self._workspaces[workspace]
            self._running -= 1
            self._freed.notify_all()


def run_with_deadline(
    work: Callable[[], T], timeout: float, on_expiry: Callable[[], None], ticket: Ticket | None = None
) -> T:
    """Run ``work`` on a thread of its own and wait at most ``timeout`` seconds for it.

    At the deadline ``on_expiry`` runs (it asks the engine to cancel) and TimeoutError is raised at once; the
    thread is abandoned, not killed, and holds ``ticket`` until ``work`` really returns.
    """
    outcome: list[T] = []
    failure: list[BaseException] = []
    finished = threading.Event()
    if ticket is not None:
        ticket.hold()

    def target() -> None:
        try:
            outcome.append(work())
        except BaseException as exc:  # handed to the waiting caller, whatever it is
            failure.append(exc)
        finally:
            finished.set()
            if ticket is not None:
                ticket.release()

    threading.Thread(target=target, name="deskbase-sql", daemon=True).start()
    if not finished.wait(timeout):
        try:
            on_expiry()
        except Exception:  # the caller's answer (a timeout) must not turn into a 500 because a cancel failed
            log.exception("cancelling a query past its deadline failed; it runs until the engine stops it")
        raise TimeoutError(f"no answer within {timeout:g} s")
    if failure:
        raise failure[0]
    return outcome[0]
