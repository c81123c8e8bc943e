"""The view-count cache: exact while nothing changed, recounted at once when cheap, in the background when
expensive."""

from __future__ import annotations

import threading
import time

from deskbase.web import counts as c


def counter(values: list[dict], delay: float = 0.0) -> tuple[list[int], c.Counter]:
    calls: list[int] = []

    def count() -> dict:
        time.sleep(delay)
        calls.append(1)
        return values[min(len(calls) - 1, len(values) - 1)]

    return calls, count


def test_an_unchanged_workspace_is_served_from_memory() -> None:
    vc = c.ViewCounts()
    calls, count = counter([{"open": 1}])
    assert vc.get(("ws", "me"), 5, count) == {"open": 1}
    assert vc.get(("ws", "me"), 5, count) == {"open": 1}
    assert len(calls) == 1


def test_a_cheap_recount_happens_at_once() -> None:
    vc = c.ViewCounts()
    calls, count = counter([{"open": 1}, {"open": 2}])
    vc.get(("ws", "me"), 5, count)
    assert vc.get(("ws", "me"), 6, count) == {"open": 2}
    assert vc.get(("ws", "other"), 6, count) == {"open": 2} and len(calls) == 3


def test_an_expensive_recount_runs_in_the_background(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(c, "SYNC_BUDGET_MS", 1.0)
    monkeypatch.setattr(c, "SMALL", 0)
    monkeypatch.setattr(c, "MIN_REFRESH_SECONDS", 0.0)
    vc = c.ViewCounts()
    gate = threading.Event()
    results = [{"open": 1}, {"open": 2}]
    calls: list[int] = []

    def count() -> dict:
        if calls:
            gate.wait(5)
        time.sleep(0.01)
        calls.append(1)
        return results[len(calls) - 1]

    assert vc.get(("ws", "me"), 5, count) == {"open": 1}
    assert vc.get(("ws", "me"), 6, count) == {"open": 1}  # the previous counts, while a recount runs
    assert vc.get(("ws", "me"), 6, count) == {"open": 1}  # and only one recount at a time
    gate.set()
    deadline = time.monotonic() + 5
    while vc.get(("ws", "me"), 6, count) != {"open": 2}:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert len(calls) == 2
    vc.close()


def test_a_busy_big_workspace_is_recounted_at_most_every_few_seconds(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(c, "SYNC_BUDGET_MS", 0.0)
    monkeypatch.setattr(c, "SMALL", 0)
    vc = c.ViewCounts()
    calls, count = counter([{"open": 1}, {"open": 2}])
    vc.get(("ws", "me"), 5, count)
    for seq in range(6, 20):
        assert vc.get(("ws", "me"), seq, count) == {"open": 1}
    assert len(calls) == 1
    vc.close()


def test_two_first_askers_share_one_count() -> None:
    """The start-up warmer and the first visitor ask at once: one of them counts, the other waits for it."""
    vc = c.ViewCounts()
    started, release = threading.Event(), threading.Event()
    calls: list[int] = []

    def count() -> dict:
        calls.append(1)
        started.set()
        release.wait(5)
        return {"open": 7}

    first = threading.Thread(target=vc.get, args=(("ws", "me"), 1, count))
    first.start()
    assert started.wait(5)
    answers: list[dict] = []
    second = threading.Thread(target=lambda: answers.append(vc.get(("ws", "me"), 1, count)))
    second.start()
    release.set()
    first.join(5)
    second.join(5)
    assert answers == [{"open": 7}] and len(calls) == 1
    vc.close()


def test_a_small_workspace_is_recounted_at_once_even_when_counting_was_slow(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A slow count of a few rows means a busy machine, not a big workspace: never serve it stale."""
    monkeypatch.setattr(c, "SYNC_BUDGET_MS", 0.0)
    vc = c.ViewCounts()
    calls, count = counter([{"open": 1}, {"open": 2}])
    vc.get(("ws", "me"), 5, count)
    assert vc.get(("ws", "me"), 6, count) == {"open": 2} and len(calls) == 2
    vc.close()


def test_a_page_waits_only_so_long_for_counts_nobody_has_yet() -> None:
    """The first visit after a start gets None after its budget (the page loads the counts separately); the
    count it started finishes in the background and serves the next asker."""
    vc = c.ViewCounts()
    release = threading.Event()
    calls: list[int] = []

    def count() -> dict:
        calls.append(1)
        release.wait(5)
        return {"open": 3}

    assert vc.within(("ws", "me"), 1, count, 0.05) is None
    release.set()
    assert vc.get(("ws", "me"), 1, count) == {"open": 3}
    assert vc.within(("ws", "me"), 1, count, 0.05) == {"open": 3} and len(calls) == 1
    vc.close()


def test_a_small_workspace_is_never_deferred() -> None:
    """Once a workspace is known to be small, a page waits for its recount instead of deferring it."""
    vc = c.ViewCounts()
    vc.get(("ws", "me"), 1, lambda: {"open": 1})

    def slow() -> dict:
        time.sleep(0.1)
        return {"open": 2}

    assert vc.within(("ws", "me"), 2, slow, 0.01) == {"open": 2}
    vc.close()
