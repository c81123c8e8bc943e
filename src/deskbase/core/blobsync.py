"""Group commit for blobs: the directory entries of many concurrent uploads made durable together.

A blob is durable once its bytes and its directory entry are on disk. Its bytes are fsynced before it is
linked into place (`Staged.finish`): a name in the store always has its content behind it, since a put that
finds the name takes it as stored. The entry then needs its directory fsynced, which every upload did on its
own. Here a put links its blob and waits for a flush that began after the link; whoever finds none in flight
runs one for every blob linked so far (leader/follower, as core/walsync.py does for the WAL): an fsync of each
distinct changed directory, of which the first commits the file system's journal for all of them on ext4/XFS.

`syncfs(2)` would flush the group in one call, but it writes back everything dirty on the file system — the
replica's parts included, which share the data directory — so a mail or upload could wait on a catch-up's
hundreds of megabytes. Not used.

Why it is as durable as an fsync per directory a blob: a put returns only after a flush that began after its
link, and callers write the row naming the blob only after the put returned, so no committed row can name a
blob that a power loss takes back.
"""

from __future__ import annotations

import os
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path


class BlobSync:
    """`durable(paths)` returns once a flush that began after the call has covered `paths` (the directories
    whose entries changed); `settled(directory)` waits for a flush this process still owes a directory
    another put linked (the same bytes uploaded twice at once)."""

    def __init__(
        self,
        root: Path,
        fsync: Callable[[int], None] = os.fsync,
    ) -> None:
        self.root = root
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
        for path in dict.fromkeys(batch):
            fd = os.open(path, os.O_RDONLY)
            try:
                self._fsync(fd)
            finally:
                os.close(fd)
