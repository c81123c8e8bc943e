"""kill -9 of a real server while it fetches a mailbox from dovecot, then a restart: every message in the
folder is stored exactly once — nothing lost (the watermark moves only after the pipeline committed) and
nothing twice (what was committed but not yet passed by the watermark is recognised by its Message-ID)."""

from __future__ import annotations

import signal
import time
from pathlib import Path

import httpx
import pytest

from deskbase.config import Settings
from deskbase.core.app import Deskbase
from deskbase.support.install import install
from tests.mail.conftest import ADDRESS, message
from tests.mail.dovecot import PASSWORD, Dovecot
from tests.serverproc import serve

N = 60
ENV = {
    "DESKBASE_REPLICATE": "false",
    "DESKBASE_SLA_SCHEDULER": "false",
    "DESKBASE_WEBHOOKS": "false",
    "DESKBASE_RATE_LIMIT_PER_SECOND": "0",
    "DESKBASE_IMAP_POLL_SECONDS": "0.2",
    "DESKBASE_WEBHOOK_ALLOW_NETWORKS": "127.0.0.0/8",  # dovecot is on loopback (mail/guard.py)
}


def ticket_count(client: httpx.Client) -> int:
    return len(client.get("/workspaces/acme/records/tickets", params={"limit": 1000}).json()["data"])


@pytest.mark.slow
def test_kill_9_during_a_poll_then_a_restart_stores_every_message_once(
    tmp_path: Path, dovecot: Dovecot, imap_user: str
) -> None:
    raws = []
    for n in range(N):
        msg = message(f"message {n}", f"Body {n}\n", sender=f"customer{n}@example.com")
        msg.add_attachment(
            bytes([n]) * 40_000, maintype="application", subtype="octet-stream", filename="a.bin"
        )
        raws.append(msg.as_bytes())
    dovecot.append_all(imap_user, raws)
    data = tmp_path / "data"
    inbound = {"kind": "imap", "host": "127.0.0.1", "port": dovecot.port, "tls": "none"}
    inbound |= {"username": imap_user, "password": PASSWORD}
    with serve(data, env=ENV) as (client, proc):
        assert client.put("/workspaces/acme", json={"name": "Acme"}).status_code == 201
        assert client.post("/workspaces/acme/templates/support").status_code == 200
        r = client.put("/workspaces/acme/mailboxes/support", json={"address": ADDRESS, "inbound": inbound})
        assert r.status_code == 201, r.text
        deadline = time.monotonic() + 60
        while (seen := ticket_count(client)) < 8:
            assert time.monotonic() < deadline, "the fetch did not start"
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    assert seen < N, "the kill came after the poll; nothing was tested"
    with serve(data, env=ENV) as (client, _):
        deadline = time.monotonic() + 90
        while ticket_count(client) < N:
            assert time.monotonic() < deadline, (
                f"only {ticket_count(client)} of {N} messages after the restart"
            )
            time.sleep(0.1)
        health = client.get("/workspaces/acme/mailboxes/support").json()["health"]
        assert health["last_uid"] == N and health["skipped"] == 0
    core = Deskbase.open(Settings(data_dir=str(data), replicate=False))
    install(core)
    try:
        with core.db.read() as conn:
            rows = conn.exec_driver_sql(
                "SELECT collection, count(*), count(DISTINCT json_extract(data, '$.subject'))"
                " FROM records WHERE workspace_id = 'acme' AND deleted = 0 GROUP BY collection"
            ).all()
            indexed = conn.exec_driver_sql("SELECT count(*) FROM mail_messages").scalar()
    finally:
        core.close()
    counts = {c: (n, distinct) for c, n, distinct in rows}
    assert counts["tickets"] == (N, N) and counts["responses"][0] == N and counts["customers"][0] == N
    assert indexed == N
