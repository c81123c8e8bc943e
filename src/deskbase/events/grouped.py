"""Group commit for the dispatcher's lanes: outcomes that lanes of different triggers store at about the same
time go into one transaction instead of one each.

Each write transaction costs the store's write lock and a WAL fsync that the writers of records wait on too; with
three triggers a write used to be followed by three small outcome transactions. No caller waits for a timer:
the first caller writes what is queued at once, and whatever queues while that transaction commits is written
by the next caller, together. Every caller returns once its own item is committed (or raises what the write
raised), so a lane still knows its outcomes are stored before it claims more.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class _Entry(Generic[T, R]):
    __slots__ = ("done", "error", "item", "result")

    def __init__(self, item: T) -> None:
        self.item = item
        self.done = False
        self.result: R | None = None
        self.error: BaseException | None = None


class GroupWriter(Generic[T, R]):
    """Calls `write(items)` (one transaction; returns one result per item, in order) for batches of
    concurrently submitted items; thread-safe."""

    def __init__(self, write: Callable[[list[T]], list[R]]) -> None:
        self._write = write
        self._cond = threading.Condition()
        self._queue: list[_Entry[T, R]] = []
        self._busy = False

    def submit(self, item: T) -> R:
        entry: _Entry[T, R] = _Entry(item)
        with self._cond:
            self._queue.append(entry)
            while self._busy and not entry.done:
                self._cond.wait()
            if not entry.done:  # nobody is writing and ours is still queued: write the queue
                self._busy = True
                batch, self._queue = self._queue, []
            else:
                batch = []
        if batch:
            self._run(batch)
        if entry.error is not None:
            raise entry.error
        return entry.result  # type: ignore[return-value]

    def _run(self, batch: list[_Entry[T, R]]) -> None:
        try:
            results = self._write([e.item for e in batch])
            for e, r in zip(batch, results, strict=True):
                e.result = r
        except BaseException as exc:  # every waiter learns it failed, then the leader re-raises it too
            for e in batch:
                e.error = exc
        finally:
            with self._cond:
                for e in batch:
                    e.done = True
                self._busy = False
                self._cond.notify_all()
