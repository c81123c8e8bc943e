"""Mail servers may not be on loopback, private, link-local (cloud metadata) or other non-public addresses
unless `webhook_allow_networks` allows them: refused when a mailbox is saved (422, by address or by what a
name resolves to) and again at connect time on the resolved address (the test, sending, IMAP fetching), so a
host that passed once cannot reach a private address later. TLS verifies the typed name, not the address."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from deskbase.core.clock import FixedClock
from tests.conftest import Api
from tests.mail.conftest import ADDRESS, mail_api, wait_for
from tests.mail.dovecot import PASSWORD, Dovecot
from tests.mail.outgoing import WS, delivery, reply, settled, ticket_from_mail
from tests.mail.sink import Sink, certificate, sink

BOX = f"{WS}/mailboxes/support"


def put(api: Api, **over: Any) -> Any:
    return api.put(BOX, json={"address": ADDRESS, **over})


def host_error(r: Any) -> tuple[str, str]:
    assert r.status_code == 422, r.text
    (err,) = r.json()["error"]["details"]["errors"]
    return err["pointer"], err["message"]


REFUSED = [
    ("127.0.0.1", "127.0.0.1 is a loopback address"),
    ("localhost", "localhost resolves to 127.0.0.1, a loopback address"),
    ("::1", "::1 is a loopback address"),
    ("169.254.169.254", "169.254.169.254 is a link-local address"),  # cloud metadata
    ("10.1.2.3", "10.1.2.3 is a private address"),
    ("100.64.0.1", "carrier-grade NAT"),
]


def test_saving_a_mailbox_on_a_private_host_is_refused(tmp_path: Path, clock: FixedClock) -> None:
    with mail_api(tmp_path, clock, webhook_allow_networks="") as api:
        for host, why in REFUSED:
            pointer, message = host_error(put(api, outbound={"host": host, "port": 25, "tls": "none"}))
            assert pointer == "/outbound/host" and why in message and "webhook_allow_networks" in message
            imap = {"kind": "imap", "host": host, "username": "u", "password": "p"}
            assert host_error(put(api, inbound=imap))[0] == "/inbound/host"
        assert api.get(BOX).json()["outbound"] is None  # nothing was saved


def test_public_hosts_names_that_do_not_resolve_and_allowed_networks_are_saved(
    tmp_path: Path, clock: FixedClock
) -> None:
    with mail_api(tmp_path, clock, webhook_allow_networks="10.0.0.0/8") as api:
        for host in ("93.184.216.34", "mail.acme.invalid", "10.1.2.3"):
            r = put(api, outbound={"host": host, "port": 25, "tls": "none"})
            assert r.status_code == 200 and r.json()["outbound"]["host"] == host, r.text
        assert (
            host_error(put(api, outbound={"host": "127.0.0.1", "port": 25, "tls": "none"}))[0]
            == "/outbound/host"
        )


def test_a_host_that_became_private_is_refused_when_connecting(
    tmp_path: Path, clock: FixedClock, smtp: Sink, dovecot: Dovecot, imap_user: str
) -> None:
    """Saved while loopback was allowed; after a restart without it, the name `localhost` resolves to an
    address the guard refuses: the test says so, replies are not sent, IMAP is not fetched."""
    smtp.reset()
    inbound = {"kind": "imap", "host": "localhost", "port": dovecot.port, "tls": "none"}
    inbound |= {"username": imap_user, "password": PASSWORD}
    with mail_api(tmp_path, clock, imap_fetch=False) as api:  # loopback allowed (the mail fixtures' default)
        outbound = {"host": "localhost", "port": smtp.port, "tls": "none"}
        assert put(api, outbound=outbound, inbound=inbound).status_code == 200
        assert api.post(f"{BOX}/test").json()["outbound"]["ok"] is True
    dovecot.append(
        imap_user, b"From: ada@example.com\r\nSubject: hi\r\nMessage-ID: <g1@example.com>\r\n\r\nhi\r\n"
    )
    with mail_api(tmp_path, clock, setup=False, webhook_allow_networks="", imap_poll_seconds=0.2) as api:
        checked = api.post(f"{BOX}/test").json()
        refused = "refused to connect to localhost: localhost resolves to 127.0.0.1, a loopback address"
        assert checked["outbound"]["ok"] is False and refused in checked["outbound"]["message"]
        assert checked["inbound"]["ok"] is False and refused in checked["inbound"]["message"]
        failed = wait_for(lambda: api.get(BOX).json()["health"]["last_error"], "a failed poll")
        assert refused in failed and api.get(BOX).json()["health"]["fetched"] == 0
        rid = reply(api, ticket_from_mail(api)["ticket_id"])
        tried = wait_for(lambda: (d := delivery(api, rid)).get("attempts") and d, "a send attempt")
        assert tried["state"] == "queued" and refused in tried["answer"]  # retried later, in case it changes
    assert smtp.tried == []


def test_tls_verifies_the_name_not_the_address_connected_to(
    tmp_path: Path, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The certificate names `localhost` only. The guard connects to 127.0.0.1, which `localhost` resolves
    to; the handshake is still checked against `localhost` (it passes), and a mailbox that names the address
    itself fails verification (so the check is real)."""
    cert = certificate(tmp_path, ip=False)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert[0]))
    with sink("starttls", cert=cert) as s, mail_api(tmp_path / "data", clock) as api:
        assert put(api, outbound={"host": "localhost", "port": s.port, "tls": "starttls"}).status_code == 200
        ok = api.post(f"{BOX}/test").json()["outbound"]
        assert ok["ok"] is True and f"localhost:{s.port} (STARTTLS)" in ok["message"]
        settled(api, reply(api, ticket_from_mail(api)["ticket_id"]), "sent")
        assert put(api, outbound={"host": "127.0.0.1", "port": s.port, "tls": "starttls"}).status_code == 200
        bad = api.post(f"{BOX}/test").json()["outbound"]
        assert bad["ok"] is False and "TLS" in bad["message"] and "127.0.0.1" in bad["message"]
