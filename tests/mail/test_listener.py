"""The built-in SMTP/LMTP listener, spoken to with smtplib over a real socket: configured addresses (and their
subaddresses) are accepted and become tickets, others get 550, SIZE is advertised and enforced with 552, the
answer after DATA comes once the ingest committed, and a message that also came by the API is stored once."""

from __future__ import annotations

import smtplib
from collections.abc import Iterator
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path

import pytest

from deskbase.core.clock import FixedClock
from tests.conftest import Api
from tests.mail.conftest import ADDRESS, mail_api, message, send
from tests.serverproc import free_port

WS = "/v1/workspaces/acme"
LIMIT = 20_000


def subjects(api: Api) -> list[str]:
    data = api.get(f"{WS}/records/tickets", params={"limit": 1000}).json()["data"]
    return sorted(t["data"]["subject"] for t in data)


@pytest.fixture
def smtp(tmp_path: Path, clock: FixedClock) -> Iterator[tuple[Api, int]]:
    port = free_port()
    with mail_api(tmp_path, clock, smtp_port=port, max_mail_bytes=LIMIT) as api:
        r = api.put(f"{WS}/mailboxes/support", json={"address": ADDRESS, "inbound": {"kind": "smtp"}})
        assert r.status_code == 200
        assert api.put(f"{WS}/mailboxes/sales", json={"address": "sales@acme.test"}).status_code == 201
        yield api, port


def test_a_configured_address_and_its_subaddresses_become_tickets(smtp: tuple[Api, int]) -> None:
    api, port = smtp
    with smtplib.SMTP("127.0.0.1", port) as client:
        assert client.ehlo()[0] == 250
        assert client.has_extn("size") and client.esmtp_features["size"] == str(LIMIT)
        refused = client.sendmail("ada@example.com", [ADDRESS], message("Printer on fire").as_bytes())
        assert refused == {}
    (ticket,) = api.get(f"{WS}/records/tickets").json()["data"]
    number = ticket["number"]
    with smtplib.SMTP("127.0.0.1", port) as client:
        tagged = f"Support+{number}@ACME.test"
        client.sendmail("ada@example.com", [tagged], message("More smoke", to=tagged).as_bytes())
    assert subjects(api) == ["Printer on fire"]  # the plus address threads to the ticket
    responses = api.get(f"{WS}/records/responses").json()["data"]
    assert len(responses) == 2
    assert api.get(f"{WS}/mailboxes/support").json()["health"] is None  # no fetching for an smtp mailbox
    assert api.post(f"{WS}/mailboxes/support/test").json()["inbound"]["ok"] is True


def test_other_addresses_are_refused_with_550(smtp: tuple[Api, int]) -> None:
    api, port = smtp
    with smtplib.SMTP("127.0.0.1", port) as client:
        client.ehlo()
        client.mail("ada@example.com")
        for rcpt in ("nobody@acme.test", "sales@acme.test", "support@other.test", "not an address"):
            code, _ = client.rcpt(rcpt)
            assert code in (550, 553), rcpt  # sales@ takes mail by the API only; 553: malformed
        assert client.rcpt(ADDRESS)[0] == 250
        code, answer = client.data(wire(message("Mixed")))
        assert code == 250, answer
    assert subjects(api) == ["Mixed"]


def test_an_oversized_message_is_refused_with_552(smtp: tuple[Api, int]) -> None:
    api, port = smtp
    big = wire(message("Huge", "x" * (LIMIT + 1000)))
    with smtplib.SMTP("127.0.0.1", port) as client:
        with pytest.raises(smtplib.SMTPSenderRefused) as announced:  # smtplib sends SIZE= with MAIL FROM
            client.sendmail("ada@example.com", [ADDRESS], big)
        assert announced.value.smtp_code == 552
    with smtplib.SMTP("127.0.0.1", port) as client:
        client.ehlo()
        assert client.mail("ada@example.com")[0] == 250  # no SIZE given: found while reading DATA
        assert client.rcpt(ADDRESS)[0] == 250
        code, answer = client.data(big)
        assert code == 552, answer
    assert subjects(api) == []


def test_the_same_message_by_the_listener_and_the_api_is_one_ticket(smtp: tuple[Api, int]) -> None:
    api, port = smtp
    msg = message("Sent twice")
    with smtplib.SMTP("127.0.0.1", port) as client:
        client.sendmail("ada@example.com", [ADDRESS], msg.as_bytes())
        # A retry by the MTA is answered 250 as well, and stores nothing.
        code, answer = _send(client, wire(msg))
        assert code == 250 and b"duplicate" in answer
    assert send(api, msg).json()["status"] == "duplicate"
    assert subjects(api) == ["Sent twice"]
    assert len(api.get(f"{WS}/records/responses").json()["data"]) == 1


def test_a_mailbox_that_cannot_write_answers_451_so_the_mta_retries(smtp: tuple[Api, int]) -> None:
    api, port = smtp
    assert api.delete(f"{WS}/collections/responses").status_code == 204
    with smtplib.SMTP("127.0.0.1", port) as client:
        code, _ = _send(client, wire(message("Later")))
        assert code == 451
    assert subjects(api) == []


def test_lmtp_answers_each_recipient(tmp_path: Path, clock: FixedClock) -> None:
    port = free_port()
    with mail_api(tmp_path, clock, smtp_port=port, smtp_lmtp=True) as api:
        for mid, address in (("support", ADDRESS), ("billing", "billing@acme.test")):
            body = {"address": address, "inbound": {"kind": "smtp"}}
            assert api.put(f"{WS}/mailboxes/{mid}", json=body).status_code in (200, 201)
        with smtplib.LMTP("127.0.0.1", port) as client:
            assert client.docmd("EHLO", "relay.example")[0] == 500  # LMTP greets with LHLO only
            assert client.ehlo()[0] == 250  # smtplib's LMTP sends LHLO
            client.mail("ada@example.com")
            for rcpt in (ADDRESS, "billing+7@acme.test", "support+1@acme.test"):
                assert client.rcpt(rcpt)[0] == 250
            code, first = client.data(wire(message("To both")))
            replies = [(code, first), client.getreply(), client.getreply()]
        assert [c for c, _ in replies] == [250, 250, 250]
        assert [a.split()[1] for _, a in replies] == [b"created", b"created", b"created"]
        assert subjects(api) == ["To both", "To both"]  # one ticket in each mailbox


def wire(msg: EmailMessage) -> bytes:
    """The message as an MTA sends it: CRLF line ends (smtplib's data() sends bytes as they are)."""
    return msg.as_bytes(policy=SMTP)


def _send(client: smtplib.SMTP, raw: bytes) -> tuple[int, bytes]:
    client.ehlo_or_helo_if_needed()
    client.mail("ada@example.com")
    client.rcpt(ADDRESS)
    return client.data(raw)
