"""Group commit for blobs: the new blobs of many concurrent uploads made durable by one flush.

A blob is durable once its bytes and its directory entry are on disk: per blob an fsync of the file and one
of its directory, two journal commits (2.5-8 ms each on this project's busy disk), taken by every upload on
its own. Here a put links its blob into place and waits for a flush that began after the link; whoever finds
none in flight runs one for every blob linked so far (leader/follower, as core/walsync.py does for the WAL):
on Linux one `syncfs` of the store's file system, which writes back every dirty page and inode there and
then flushes the device — the bytes and directory entries of the whole group; elsewhere an fsync of each
file and each distinct directory of the group.

Why it is as durable as two fsyncs a blob: a put returns only after a flush that began after its link, and
callers write the row naming the blob only after the put returned, so no committed row can name a blob that
a power loss takes back. `syncfs` reports write-back errors of the file system since Linux 5.8.
"""

from __future__ import annotations

import ctypes
import os
import sys
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path


def _libc_syncfs() -> Callable[[int], None] | None:
    """syncfs(2) through libc (Python has no binding), or None where there is none."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        fn = ctypes.CDLL(None, use_errno=True).syncfs
    except (OSError, AttributeError):
        return None

    def syncfs(fd: int) -> None:
        if fn(fd) != 0:  # ctypes releases the GIL for the call
            err = ctypes.get_errno()
            raise OSError(err, os.strerror(err))

    return syncfs


SYNCFS = _libc_syncfs()


class BlobSync:
    """`durable(paths)` returns once a flush that began after the call has covered `paths` (new blob files and
    the directories whose entries changed); `settled(path)` waits for a flush this process still owes a path
    another put linked (the same bytes uploaded twice at once)."""

    def __init__(
        self,
        root: Path,
        syncfs: Callable[[int], None] | None = SYNCFS,
        fsync: Callable[[int], None] = os.fsync,
    ) -> None:
        self.root = root
        self._syncfs = syncfs
        self._fsync = fsync
        self._cond = threading.Condition()
        self._pending: list[Path] = []  #: registered, not yet in a flush
        self._owed: Counter[Path] = Counter()  #: registered, not yet flushed (pending or in flight)
        self._issued = 0
        self._synced = 0
        self._syncing = False
        self.flushes = 0  #: flushes run (for tests and benchmarks)

    def durable(self, paths: Sequence[Path]) -> None:
        with self._cond:
            self._pending += paths
            self._owed.update(paths)
            self._issued += 1
            ticket = self._issued
            while self._synced < ticket:
                if self._syncing:
                    self._cond.wait()
                    continue
                self._syncing = True
                target, batch, self._pending = self._issued, self._pending, []
                self._cond.release()
                try:
                    self._flush(batch)
                except BaseException:
                    self._cond.acquire()
                    self._pending = batch + self._pending  # the next leader flushes them again
                    self._syncing = False
                    self._cond.notify_all()
                    raise
                self._cond.acquire()
                self._owed.subtract(batch)
                self._owed = +self._owed  # drop the paths no flush owes any more
                self._syncing = False
                self._synced = max(self._synced, target)
                self.flushes += 1
                self._cond.notify_all()

    def settled(self, path: Path) -> None:
        with self._cond:
            owed = self._owed[path] > 0
        if owed:
            self.durable([])  # a ticket after the other put's: the flush that covers it began after its link

    def _flush(self, batch: list[Path]) -> None:
        if self._syncfs is not None:
            fd = os.open(self.root, os.O_RDONLY)
            try:
                self._syncfs(fd)
            finally:
                os.close(fd)
            return
        for path in dict.fromkeys(batch):
            fd = os.open(path, os.O_RDONLY)
            try:
                self._fsync(fd)
            finally:
                os.close(fd)
