"""The SQL gate and watchdog on their own: slots are counted per token, workspace and server, a slot is given
back only when every holder has let go, and the deadline answers while the work goes on."""

from __future__ import annotations

import threading
import time

import pytest

from deskbase.analytics.gate import SqlGate, run_with_deadline
from deskbase.analytics.replica_tables import database_of, qi
from deskbase.core.errors import InvalidId, RateLimited


def test_caps_count_per_token_workspace_and_server() -> None:
    gate = SqlGate(per_token=1, per_workspace=2, total=3)
    first = gate.admit("t1", "w1")
    with pytest.raises(RateLimited) as token_cap:
        gate.admit("t1", "w2")
    assert token_cap.value.details["limit"] == "sql_max_concurrent_per_token"
    second = gate.admit("t2", "w1")
    with pytest.raises(RateLimited) as ws_cap:
        gate.admit("t3", "w1")
    assert ws_cap.value.details["limit"] == "sql_max_concurrent_per_workspace"
    third = gate.admit(None, "w2")  # the server's own queries skip the per-token cap only
    with pytest.raises(RateLimited) as server_cap:
        gate.admit(None, "w3")
    assert server_cap.value.details["limit"] == "sql_max_concurrent"
    for ticket in (first, second, third):
        ticket.release()
    assert gate.running == 0
    gate.admit("t1", "w1").release()


def test_a_slot_is_free_only_when_every_holder_has_let_go() -> None:
    gate = SqlGate(per_token=1, per_workspace=1, total=1)
    ticket = gate.admit("t", "w")
    ticket.hold()
    ticket.release()
    assert gate.running == 1
    ticket.release()
    ticket.release()  # a second release by the same holder changes nothing
    assert gate.running == 0


def test_the_deadline_answers_while_the_work_keeps_its_slot() -> None:
    gate = SqlGate(per_token=1, per_workspace=1, total=1)
    release_work = threading.Event()
    expired: list[bool] = []
    with gate.admit("t", "w") as ticket, pytest.raises(TimeoutError):
        run_with_deadline(release_work.wait, 0.05, lambda: expired.append(True), ticket)
    assert expired == [True]
    assert gate.running == 1  # the abandoned work still holds the slot
    release_work.set()
    for _ in range(200):
        if gate.running == 0:
            break
        time.sleep(0.01)
    assert gate.running == 0


def test_a_failing_cancel_still_answers_timeout() -> None:
    def cancel() -> None:
        raise RuntimeError("engine closed")

    stop = threading.Event()
    with pytest.raises(TimeoutError):
        run_with_deadline(stop.wait, 0.01, cancel)
    stop.set()


def test_work_results_and_errors_come_back() -> None:
    assert run_with_deadline(lambda: 42, 5, lambda: None) == 42

    def boom() -> int:
        raise ValueError("no")

    with pytest.raises(ValueError, match="no"):
        run_with_deadline(boom, 5, lambda: None)


@pytest.mark.parametrize("workspace", ["zz COMMENT 'x'", "a`b", "UPPER", "", "x" * 64, "ws; DROP"])
def test_database_names_come_only_from_slugs(workspace: str) -> None:
    with pytest.raises(InvalidId):
        database_of(workspace)


def test_identifiers_in_ddl_are_quoted_and_checked() -> None:
    assert qi(database_of("acme-support_1")) == "`ws_acme_hsupport__1`"
    for bad in ("a`b", "a b", "", "1a"):
        with pytest.raises(ValueError):
            qi(bad)


def test_the_servers_own_queries_wait_for_a_slot_clients_do_not() -> None:
    gate = SqlGate(per_token=2, per_workspace=1, total=8)
    held = gate.admit(None, "acme")
    with pytest.raises(RateLimited):
        gate.admit("tok_a", "acme")  # a client: refused at once
    with pytest.raises(RateLimited):
        gate.admit(None, "acme", wait=0.05)  # waited, nobody let go
    threading.Timer(0.1, held.release).start()
    got = gate.admit(None, "acme", wait=5.0)  # let in when the slot frees
    assert gate.running == 1
    got.release()
