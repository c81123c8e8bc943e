"""The loop helper (lease, watermark, wake-ups) and secrets at rest."""

from __future__ import annotations

import stat
import threading
from pathlib import Path

import pytest

from deskbase.core import loops
from deskbase.core.app import Deskbase
from deskbase.core.secrets import KEY_FILE, SecretBox


def test_one_holder_per_lease_until_it_expires_or_is_released(core: Deskbase) -> None:
    db, clock = core.db, core.clock
    assert loops.take_lease(db, "x", "host:1:a", clock)
    assert loops.take_lease(db, "x", "host:1:a", clock)  # renewal
    assert not loops.take_lease(db, "x", "host:2:b", clock)
    clock.advance(seconds=loops.LEASE.total_seconds() + 1)  # type: ignore[attr-defined]
    assert loops.take_lease(db, "x", "host:2:b", clock)
    loops.release_lease(db, "x", "host:2:b")
    assert loops.take_lease(db, "x", "host:3:c", clock)


def test_a_lease_of_a_dead_process_on_this_host_is_taken_at_once(core: Deskbase) -> None:
    import socket
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    dead = f"{socket.gethostname()}:{proc.stdout.strip()}:x"
    assert loops.take_lease(core.db, "y", dead, core.clock)
    assert loops.take_lease(core.db, "y", loops.process_owner(), core.clock)


def test_the_watermark_commits_with_the_callers_transaction(core: Deskbase) -> None:
    with core.db.tx() as tx:
        loops.write_watermark(tx.conn, "w", 42, core.clock)
    with pytest.raises(RuntimeError), core.db.tx() as tx:
        loops.write_watermark(tx.conn, "w", 99, core.clock)
        raise RuntimeError("rolled back")
    with core.db.read() as conn:
        assert loops.read_watermark(conn, "w") == 42
        assert loops.read_watermark(conn, "never") == 0


def test_a_loop_runs_its_step_and_wakes_early(core: Deskbase) -> None:
    ran = threading.Event()
    calls = []

    def step() -> float | None:
        calls.append(1)
        ran.set()
        return None

    loop = loops.Loop(core.db, core.clock, "t", step, idle_seconds=60)
    loop.start()
    try:
        assert ran.wait(10)
        ran.clear()
        loop.wake()
        assert ran.wait(10)  # long before the 60 s idle interval
    finally:
        loop.stop()
    assert len(calls) >= 2


def test_secrets_round_trip_with_a_key_made_on_first_use(tmp_path: Path) -> None:
    box = SecretBox.for_settings("", tmp_path)
    assert not (tmp_path / KEY_FILE).exists()
    sealed = box.seal("whsec_abc")
    assert "whsec_abc" not in sealed and box.open(sealed) == "whsec_abc"
    assert stat.S_IMODE((tmp_path / KEY_FILE).stat().st_mode) == 0o600
    assert SecretBox.for_settings("", tmp_path).open(sealed) == "whsec_abc"  # the same key next start
    with pytest.raises(ValueError, match="cannot be decrypted"):
        SecretBox.for_settings("another passphrase", tmp_path).open(sealed)
    assert "whsec" not in repr(box)


def test_a_passphrase_setting_is_the_key(tmp_path: Path) -> None:
    a = SecretBox.for_settings("correct horse", tmp_path / "a")
    b = SecretBox.for_settings("correct horse", tmp_path / "b")
    assert b.open(a.seal("s")) == "s"
    assert not (tmp_path / "a").exists()
