"""Non-ASCII addresses going out: a domain is sent in its ASCII (IDNA) form to any server; an address with a
non-ASCII local part goes with SMTPUTF8 to a server that offers it, and fails alone — with the reason
recorded — at one that does not, while the mailbox's other messages are sent."""

from __future__ import annotations

from collections.abc import Iterator
from email.utils import getaddresses
from pathlib import Path

import pytest

from deskbase.core.clock import FixedClock
from tests.conftest import Api
from tests.mail.conftest import mail_api
from tests.mail.outgoing import WS, outbound, outbox, reply, settled
from tests.mail.sink import Sink, sink

JOSE = "josé@bücher.example"
ADA = "ada@bücher.example"
IDN = "xn--bcher-kva.example"


@pytest.fixture
def api(tmp_path: Path, clock: FixedClock) -> Iterator[Api]:
    with mail_api(tmp_path, clock) as a:
        yield a


def email_ticket(api: Api, name: str, address: str) -> str:
    customer = api.post(f"{WS}/records/customers", json={"data": {"name": name, "email": address}})
    assert customer.status_code == 201, customer.text
    t = {"subject": f"For {name}", "status": "open", "priority": "low", "channel": "email"}
    tid = str(api.post(f"{WS}/records/tickets", json={"data": t}).json()["id"])
    link = {
        "rel_type": "submitted_by",
        "source": {"collection": "tickets", "id": tid},
        "target": {"collection": "customers", "id": customer.json()["id"]},
    }
    assert api.post(f"{WS}/relationships", json=link).status_code == 201
    return tid


def test_smtputf8_when_the_server_offers_it_and_idna_domains_always(api: Api) -> None:
    with sink(smtputf8=True) as s:
        outbound(api, s)
        to_jose = reply(api, email_ticket(api, "José", JOSE), "Hola José")
        settled(api, to_jose, "sent")
        to_ada = reply(api, email_ticket(api, "Ada", ADA), "Hello Ada")
        settled(api, to_ada, "sent")
        jose, ada = s.wait_for(2)
    assert jose.rcpt == [f"josé@{IDN}"] and "SMTPUTF8" in jose.options
    assert [a for _, a in getaddresses([str(jose.msg["To"])])] == [f"josé@{IDN}"]
    assert f"josé@{IDN}".encode() in jose.raw  # the header in UTF-8 (RFC 6532), not an encoded word
    # An ASCII local part needs no SMTPUTF8: its domain's A-label is all the server sees.
    assert ada.rcpt == [f"ada@{IDN}"] and ada.options == () and ada.raw.isascii()
    assert [a for _, a in getaddresses([str(ada.msg["To"])])] == [f"ada@{IDN}"]


def test_without_smtputf8_only_that_message_fails_with_the_reason(api: Api, smtp: Sink) -> None:
    smtp.reset()
    outbound(api, smtp)
    to_jose = reply(api, email_ticket(api, "José", JOSE), "Hola José")
    to_ada = reply(api, email_ticket(api, "Ada", ADA), "Hello Ada")
    failed = settled(api, to_jose, "failed")
    settled(api, to_ada, "sent")
    assert "does not offer SMTPUTF8" in failed["answer"] and f"josé@{IDN}" in failed["answer"]
    assert failed["attempts"] == 1
    (got,) = smtp.wait_for(1)
    assert got.rcpt == [f"ada@{IDN}"]
    (row,) = [m for m in outbox(api) if m["response_id"] == to_jose]
    assert row["status"] == "failed" and row["next_attempt_at"] is None
    assert row["log"][0]["code"] is None and "SMTPUTF8" in row["log"][0]["answer"]
    assert len(smtp.tried) == 1  # nothing of José's message reached the server
