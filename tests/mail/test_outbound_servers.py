"""Outbound over real TLS and AUTH (aiosmtpd with a self-signed certificate the client is made to trust),
the mailbox check (`POST …/mailboxes/{id}/test`), and the outbox API: paging, filters, who may see it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from deskbase.core.clock import FixedClock
from tests.conftest import Api
from tests.mail.conftest import mail_api
from tests.mail.outgoing import WS, outbound, outbox, reply, settled, ticket_from_mail
from tests.mail.sink import PASSWORD, Sink, certificate, sink


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return certificate(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def api(tmp_path: Path, clock: FixedClock) -> Iterator[Api]:
    with mail_api(tmp_path, clock) as a:
        yield a


def check(api: Api, mailbox: str = "support") -> dict[str, object]:
    r = api.post(f"{WS}/mailboxes/{mailbox}/test")
    assert r.status_code == 200, r.text
    assert r.json()["inbound"] == {
        "ok": True,
        "message": "messages come in through POST …/mailboxes/{id}/inbound",
    }
    return r.json()["outbound"]  # type: ignore[no-any-return]


def test_starttls_with_auth(api: Api, cert: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(cert[0]))
    with sink("starttls", auth=True, cert=cert) as s:
        outbound(api, s, outbound=s.outbound("starttls", PASSWORD))
        ok = check(api)
        assert ok["ok"] is True and f"127.0.0.1:{s.port} (STARTTLS, authenticated as support)" in str(
            ok["message"]
        )
        tid = ticket_from_mail(api)["ticket_id"]
        settled(api, reply(api, tid), "sent")
        assert len(s.wait_for(1)) == 1

        outbound(api, s, outbound=s.outbound("starttls", "wrong"))
        bad = check(api)
        assert bad["ok"] is False and "535" in str(bad["message"])
        refused = settled(api, reply(api, tid, "again"), "failed")
        assert refused["attempts"] == 1 and refused["answer"].startswith("535")

        outbound(api, s, outbound=s.outbound("none"))  # plain text to a server that demands STARTTLS
        plain = settled(api, reply(api, tid, "in the clear"), "failed")
        assert plain["answer"].startswith("530")
        assert len(s.received) == 1


def test_implicit_tls_verifies_the_certificate(
    api: Api, cert: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    with sink("ssl", cert=cert) as s:
        outbound(api, s, outbound=s.outbound("ssl"))
        untrusted = check(api)
        assert untrusted["ok"] is False and "certificate verify failed" in str(untrusted["message"])
        monkeypatch.setenv("SSL_CERT_FILE", str(cert[0]))
        assert check(api)["ok"] is True
        settled(api, reply(api, ticket_from_mail(api)["ticket_id"]), "sent")
        assert s.wait_for(1)[0].rcpt == ["ada@example.com"]


def test_checks_without_a_server_and_refusals(api: Api) -> None:
    assert check(api) == {"ok": None, "message": "no outbound SMTP server is set for this mailbox"}
    api.put(
        f"{WS}/mailboxes/support",
        json={"address": "support@acme.test", "outbound": {"host": "127.0.0.1", "port": 1, "tls": "none"}},
    )
    down = check(api)
    assert down["ok"] is False and "Connection refused" in str(down["message"])
    assert api.post(f"{WS}/mailboxes/nope/test").status_code == 404
    core = api.core  # type: ignore[attr-defined]
    admin, _ = core.tokens.create("admin", [{"scope": {"workspaces": ["acme"]}, "permissions": ["*"]}])
    agent, _ = core.tokens.create(
        "agent",
        [{"scope": {"workspaces": ["acme"]}, "permissions": ["read:records", "write:records"]}],
    )
    other, _ = core.tokens.create("other", [{"scope": {"workspaces": ["other"]}, "permissions": ["*"]}])
    for path in ("test", "outbox", "outbox/x/retry"):
        method = "GET" if path == "outbox" else "POST"
        r = api.request(method, f"{WS}/mailboxes/support/{path}", token=agent)
        assert r.status_code == 403 and r.json()["error"]["details"]["permission"] == "admin"
        assert api.request(method, f"{WS}/mailboxes/support/{path}", token=other).status_code in (403, 404)
        assert api.request(method, f"{WS}/mailboxes/support/{path}", token=admin).status_code != 403


def test_the_outbox_pages_and_filters(tmp_path: Path, clock: FixedClock, smtp: Sink) -> None:
    smtp.reset()
    smtp.answer(lambda g: "554 5.7.1 no" if "fail me" in g.raw.decode() else "250 2.0.0 Ok")
    with mail_api(tmp_path, clock) as api:
        outbound(api, smtp)
        tid = ticket_from_mail(api)["ticket_id"]
        for body in ("one", "two", "fail me"):
            settled(api, reply(api, tid, body), "failed" if body == "fail me" else "sent")
        r = api.get(f"{WS}/mailboxes/support/outbox", params={"limit": 2})
        page = r.json()
        assert [m["status"] for m in page["data"]] == ["failed", "sent"] and page["next_cursor"]
        rest = api.get(
            f"{WS}/mailboxes/support/outbox", params={"limit": 2, "cursor": page["next_cursor"]}
        ).json()
        assert [m["status"] for m in rest["data"]] == ["sent"] and rest["next_cursor"] is None
        assert len(outbox(api, status="sent")) == 2 and len(outbox(api, status="queued")) == 0
        bad = api.get(f"{WS}/mailboxes/support/outbox", params={"status": "lost"})
        assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_filter"
        assert api.get(f"{WS}/mailboxes/support/outbox", params={"cursor": "junk"}).status_code == 400
        assert api.get(f"{WS}/mailboxes/nope/outbox").status_code == 404
        assert api.post(f"{WS}/mailboxes/support/outbox/nope/retry").status_code == 404
        # Another workspace's mailbox of the same name sees none of it.
        assert api.put("/v1/workspaces/other", json={"name": "Other"}).status_code == 201
        assert (
            api.put("/v1/workspaces/other/mailboxes/support", json={"address": "s@other.test"}).status_code
            == 201
        )
        assert api.get("/v1/workspaces/other/mailboxes/support/outbox").json()["data"] == []
        failed_id = page["data"][0]["id"]
        assert api.post(f"/v1/workspaces/other/mailboxes/support/outbox/{failed_id}/retry").status_code == 404
