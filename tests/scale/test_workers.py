"""Scale-out on one machine: an API process serving HTTP only (`serve --no-background`) and two `deskbase
worker` processes on the same store. Each loop runs in exactly one worker (its lease); kill -9 of the worker
holding the webhook dispatcher's lease hands the loop to the other within 10 s, and it resumes from the stored
watermark: a change made after the kill is delivered, the one before it is not delivered again."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from tests.events.receiver import Receiver, receiving
from tests.events.test_delivery import until
from tests.serverproc import serve, worker

WS = "acme"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with receiving() as r:
        yield r


def holder(url: str, loop: str) -> int | None:
    """The pid holding a loop's lease (owners are `host:pid:nonce`), or None."""
    eng = sa.create_engine(url)
    try:
        with eng.connect() as conn:
            owner = conn.execute(
                sa.text("SELECT owner FROM loop_state WHERE name = :n AND owner IS NOT NULL"), {"n": loop}
            ).scalar()
    finally:
        eng.dispose()
    return int(owner.split(":")[1]) if owner else None


def delivered(url: str) -> int:
    """Deliveries the store holds as delivered."""
    eng = sa.create_engine(url)
    try:
        with eng.connect() as conn:
            return int(
                conn.execute(
                    sa.text("SELECT count(*) FROM webhook_deliveries WHERE status = 'delivered'")
                ).scalar()
                or 0
            )
    finally:
        eng.dispose()


def ticket(api: httpx.Client, subject: str) -> str:
    r = api.post(
        f"/workspaces/{WS}/records/tickets",
        json={"data": {"subject": subject, "status": "open", "priority": "high"}},
    )
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for p in procs:
        if p.poll() is None:
            p.terminate()
    for p in procs:
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()


@pytest.mark.slow
def test_two_workers_run_each_loop_once_and_take_over_after_kill_9(
    tmp_path: Path, store_url: str, receiver: Receiver
) -> None:
    env = {
        "DESKBASE_DATABASE_URL": store_url,
        "DESKBASE_REPLICATE": "false",  # embedded chDB belongs to one process; see docs/deploy.md
        "DESKBASE_WEBHOOK_ALLOW_NETWORKS": "127.0.0.0/8",
    }
    with serve(tmp_path, env=env, args=("--no-background",)) as (api, _server):
        assert api.put(f"/workspaces/{WS}", json={"name": "Acme"}).status_code in (200, 201)
        assert api.post(f"/workspaces/{WS}/templates/support").status_code in (200, 201)
        body = {"url": receiver.url, "events": ["record.created"], "collections": ["tickets"]}
        assert api.put(f"/workspaces/{WS}/triggers/crm", json=body).status_code == 201

        first = ticket(api, "before any worker")
        time.sleep(1.5)
        assert receiver.received == []  # the API process runs no loops

        workers = [worker(tmp_path, env), worker(tmp_path, env)]
        try:
            until(lambda: holder(store_url, "webhooks") in {w.pid for w in workers}, timeout=60)
            receiver.wait_for(1)
            # The kill comes after the leader stored the delivery as delivered (attempts are stored every
            # 0.2 s): killed before that, resending it is the at-least-once promise, not a double delivery.
            until(lambda: delivered(store_url) == 1, timeout=30)
            leader_pid = holder(store_url, "webhooks")
            leader = next(w for w in workers if w.pid == leader_pid)
            other = next(w for w in workers if w.pid != leader_pid)

            leader.send_signal(signal.SIGKILL)
            leader.wait(timeout=10)
            killed_at = time.monotonic()
            second = ticket(api, "after the kill")
            until(
                lambda: sum(r.json["data"]["record"]["id"] == second for r in receiver.received) >= 1,
                timeout=30,
            )
            took = time.monotonic() - killed_at
            owner = holder(store_url, "webhooks")
            assert took <= 10, f"takeover took {took:.1f} s"
            assert owner == other.pid, (owner, other.pid, leader_pid, other.poll())
            until(lambda: holder(store_url, "sla-scheduler") == other.pid, timeout=15)

            time.sleep(1.0)  # nothing more arrives: each change went out once
            # only this test's two tickets: a port can be reused while another test's sender still retries
            ours = [r for r in receiver.received if r.json["data"]["record"]["id"] in (first, second)]
            assert [r.json["data"]["record"]["id"] for r in ours] == [first, second]
            assert len({r.headers["webhook-id"] for r in ours}) == 2
        finally:
            stop(workers)
