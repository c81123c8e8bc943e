"""Group commit for blobs: a put returns only after a flush that began after its blob was linked into place;
concurrent puts share flushes; a flush fsyncs every changed directory, and the blob's bytes were fsynced
before its name existed; a failed flush is run again by the next put; the same bytes put twice at once both
wait for the flush."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from deskbase.core.blobs import LocalBlobs, Staged
from deskbase.core.blobsync import BlobSync


def staged(store: LocalBlobs, data: bytes) -> Staged:
    s = Staged(store.staging_dir(), 1 << 20)
    s.write(data)
    s.finish()
    return s


def blobs_under(root: Path) -> set[str]:
    return {p.name for p in root.glob("??/??/*")}


def test_every_put_returns_after_a_flush_that_covers_its_blob(tmp_path: Path) -> None:
    store = LocalBlobs(tmp_path / "files")
    flushed: set[str] = set()
    lock = threading.Lock()

    def slow_fsync(fd: int) -> None:
        """What is linked when a directory's flush starts is what it makes durable (a slow disk: 5 ms)."""
        linked = {p.name for p in Path(os.readlink(f"/proc/self/fd/{fd}")).glob("*")}
        time.sleep(0.005)
        with lock:
            flushed.update(linked)

    store.sync = BlobSync(store.root, fsync=slow_fsync)
    failures: list[str] = []

    def uploader(n: int) -> None:
        for i in range(10):
            s = staged(store, f"{n}:{i}".encode())
            store.put(s)
            s.discard()
            with lock:
                if s.sha256 not in flushed:
                    failures.append(f"{n}:{i} returned before a flush covered it")

    threads = [threading.Thread(target=uploader, args=(n,)) for n in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert failures == []
    assert len(blobs_under(store.root)) == 80
    assert 0 < store.sync.flushes < 80  # grouped: the puts shared flushes


def test_the_bytes_are_fsynced_before_the_name_and_every_changed_directory_after(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A name found in the store is taken as stored, so it must never exist before its content is durable."""
    store = LocalBlobs(tmp_path / "files")
    events: list[str] = []
    real_fsync, real_link = os.fsync, os.link
    monkeypatch.setattr(
        os,
        "fsync",
        lambda fd: (events.append("fsync " + os.readlink(f"/proc/self/fd/{fd}")), real_fsync(fd))[1],
    )
    monkeypatch.setattr(os, "link", lambda a, b: (events.append(f"link {b}"), real_link(a, b))[1])
    store.sync = BlobSync(
        store.root, fsync=lambda fd: events.append("dir " + os.readlink(f"/proc/self/fd/{fd}"))
    )
    s = staged(store, b"first")
    store.put(s)
    d = s.sha256
    root = store.root.resolve()
    target = root / d[:2] / d[2:4] / d
    assert events[0] == f"fsync {s.path.resolve()}" and events[1] == f"link {store._path(d)}"
    assert sorted(events[2:]) == sorted(f"dir {p}" for p in (root / d[:2] / d[2:4], root / d[:2], root))
    assert target.read_bytes() == b"first"
    again = staged(store, b"first")
    events.clear()
    store.put(again)  # stored already, and no flush owed: nothing to do
    assert events == []


def test_a_failed_flush_is_run_again_by_the_next_put(tmp_path: Path) -> None:
    store = LocalBlobs(tmp_path / "files")
    fsynced: list[str] = []
    fail = [True]

    def fsync(fd: int) -> None:
        if fail[0]:
            fail[0] = False
            raise OSError(5, "I/O error")
        fsynced.append(os.readlink(f"/proc/self/fd/{fd}"))

    store.sync = BlobSync(store.root, fsync=fsync)
    first = staged(store, b"first")
    with pytest.raises(OSError):
        store.put(first)
    second = staged(store, b"second")
    store.put(second)
    names = {Path(p).name for p in fsynced}
    d1, d2 = first.sha256, second.sha256
    assert {d1[2:4], d2[2:4]} <= names  # both blobs' directories


def test_the_same_bytes_put_twice_at_once_both_wait_for_the_flush(tmp_path: Path) -> None:
    store = LocalBlobs(tmp_path / "files")
    started, release = threading.Event(), threading.Event()
    done: list[str] = []

    def gated_fsync(fd: int) -> None:
        started.set()
        assert release.wait(10)
        done.append("flushed")

    store.sync = BlobSync(store.root, fsync=gated_fsync)
    a, b = staged(store, b"same"), staged(store, b"same")
    first = threading.Thread(target=lambda: (store.put(a), done.append("a")))
    first.start()
    assert started.wait(10)  # a's blob is linked, its flush in flight
    second = threading.Thread(target=lambda: (store.put(b), done.append("b")))
    second.start()
    time.sleep(0.05)
    assert "b" not in done  # b found the blob in place, but not yet durable: it waits
    release.set()
    first.join(10)
    second.join(10)
    assert done[0] == "flushed" and set(done) == {"flushed", "a", "b"}
    assert done.index("b") > done.index("flushed")


def test_several_blobs_put_together_share_one_flush_that_follows_every_link(tmp_path: Path) -> None:
    """A message and its attachments: every blob linked before the one flush, which covers all of them."""
    store = LocalBlobs(tmp_path / "files")
    linked_at_flush: list[set[str]] = []
    store.sync = BlobSync(store.root, fsync=lambda fd: linked_at_flush.append(blobs_under(store.root)))
    batch = [staged(store, f"part {i}".encode()) for i in range(3)]
    again = staged(store, b"part 0")  # the same bytes twice in one message: stored once
    store.put_all([*batch, again])
    assert store.sync.flushes == 1
    assert linked_at_flush and all(s == {b.sha256 for b in batch} for s in linked_at_flush)
    for b in batch:
        assert store._path(b.sha256).read_bytes() == f"part {batch.index(b)}".encode()
