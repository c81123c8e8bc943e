"""Group commit for SQLite: many acknowledged transactions share one fsync of the write-ahead log.

With `synchronous=FULL`, SQLite fsyncs the WAL inside every COMMIT, while the writer holds the store's one write
lock: N concurrent writes cost N serial fsyncs. Here each transaction commits with `synchronous=NORMAL` (the
commit frame is written to the WAL, not yet synced) and then, outside the write lock, waits for an fsync of the
WAL file that started after its commit. Whoever finds no fsync in flight runs one for every commit made so far
(leader/follower), so one fsync acknowledges all the writes that committed while the previous one ran.

Why this is as durable as FULL: FULL's guarantee is "the commit frame is on disk before COMMIT returns". Here a
request is answered only after an fsync of the WAL file that covers its commit frame (Linux `fsync` flushes the
file's pages whichever descriptor wrote them), and SQLite itself syncs the WAL before any checkpoint copies it
into the database. Each transaction is still its own transaction, so a failing one fails alone.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable


class WalSync:
    """Tickets are taken in commit order (under the caller's write lock); `wait(ticket)` returns once an fsync
    that began after that commit has finished."""

    def __init__(self, wal_path: str, fsync: Callable[[int], None] = os.fsync) -> None:
        self.wal_path = wal_path
        self._fsync = fsync
        self._cond = threading.Condition()
        self._issued = 0  #: the last ticket handed out
        self._synced = 0  #: every ticket up to this one is on disk
        self._syncing = False
        self.syncs = 0  #: fsyncs run (for tests and benchmarks)

    def ticket(self) -> int:
        """Call right after a COMMIT, still holding the write lock, so ticket order is commit order."""
        with self._cond:
            self._issued += 1
            return self._issued

    def wait(self, ticket: int) -> None:
        with self._cond:
            while self._synced < ticket:
                if self._syncing:
                    self._cond.wait()
                    continue
                self._syncing = True
                target = self._issued
                self._cond.release()
                try:
                    self._sync_file()
                except BaseException:
                    self._cond.acquire()
                    self._syncing = False
                    self._cond.notify_all()
                    raise
                self._cond.acquire()
                self._syncing = False
                self._synced = max(self._synced, target)
                self.syncs += 1
                self._cond.notify_all()

    def _sync_file(self) -> None:
        """Open the WAL afresh each time: SQLite may delete and recreate it when the last connection closes. No
        WAL file means every commit was checkpointed into the database, which SQLite synced itself."""
        try:
            fd = os.open(self.wal_path, os.O_RDONLY)
        except FileNotFoundError:
            return
        try:
            self._fsync(fd)
        finally:
            os.close(fd)
