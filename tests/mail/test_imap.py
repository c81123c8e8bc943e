"""IMAP fetching against a real dovecot: messages become tickets once, the watermark survives restarts and
UIDVALIDITY changes, refused messages are skipped and logged, IDLE wakes a fetch, health and the live check
say how a mailbox is doing, and settings changes (a password, TLS) take effect without a restart."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from deskbase.core.clock import FixedClock
from tests.conftest import Api
from tests.mail.conftest import ADDRESS, mail_api, message, wait_for
from tests.mail.corpus import gmail_reply
from tests.mail.dovecot import PASSWORD, Dovecot

WS = "/v1/workspaces/acme"
BOX = f"{WS}/mailboxes/support"
SEEN = b"\\Seen"


def imap_box(api: Api, dovecot: Dovecot, user: str, **inbound: Any) -> dict[str, Any]:
    settings = {
        "kind": "imap",
        "host": "127.0.0.1",
        "port": dovecot.port,
        "tls": "none",
        "username": user,
        "password": PASSWORD,
        **inbound,
    }
    r = api.put(BOX, json={"address": ADDRESS, "inbound": settings})
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def health(api: Api) -> dict[str, Any]:
    return api.get(BOX).json()["health"]  # type: ignore[no-any-return]


def tickets(api: Api) -> list[dict[str, Any]]:
    return api.get(f"{WS}/records/tickets", params={"limit": 1000}).json()["data"]  # type: ignore[no-any-return]


def subjects(api: Api) -> list[str]:
    return sorted(t["data"]["subject"] for t in tickets(api))


def responses(api: Api) -> int:
    return len(api.get(f"{WS}/records/responses", params={"limit": 1000}).json()["data"])


def fetched(api: Api, n: int) -> Any:
    return wait_for(lambda: health(api)["fetched"] >= n and health(api), f"{n} messages fetched")


@pytest.fixture
def iapi(tmp_path: Path, clock: FixedClock) -> Iterator[Api]:
    with mail_api(tmp_path, clock, imap_poll_seconds=0.2) as api:
        yield api


def test_fetched_mail_becomes_tickets_is_flagged_and_health_says_so(
    iapi: Api, dovecot: Dovecot, imap_user: str
) -> None:
    first = message("Printer on fire")
    dovecot.append(imap_user, first.as_bytes())
    dovecot.append(imap_user, gmail_reply(first["Message-ID"].strip("<>")).as_bytes())
    dovecot.append(imap_user, message("Newsletter", Precedence="bulk").as_bytes())
    dovecot.append(imap_user, message("Invoice wrong", sender="bob@example.com").as_bytes())
    box = imap_box(iapi, dovecot, imap_user)
    assert box["health"]["fetched"] == 0 and "password" not in box["inbound"]
    h = fetched(iapi, 4)
    assert subjects(iapi) == [
        "Invoice wrong",
        "Printer on fire",
    ]  # the reply threads, the newsletter is noise
    assert responses(iapi) == 3
    assert h["last_uid"] == 4 and h["skipped"] == 0 and h["uidvalidity"] > 0
    h = wait_for(lambda: health(iapi)["last_poll_at"] and health(iapi), "a completed poll")
    assert h["last_error"] is None and h["failing"] is False and h["idle"] is True
    assert all(SEEN in f for f in dovecot.flags(imap_user).values())
    listed = iapi.get(f"{WS}/mailboxes").json()["data"]
    assert listed[0]["health"]["fetched"] == 4
    test = iapi.post(f"{BOX}/test").json()["inbound"]
    assert test["ok"] is True and "holds 4 messages" in test["message"], test
    history = iapi.get(f"{WS}/records/tickets/{tickets(iapi)[0]['id']}/history").json()["data"]
    assert history[0]["actor"]["id"] == "mailbox:support"


def test_a_restart_resumes_from_the_watermark(
    tmp_path: Path, clock: FixedClock, dovecot: Dovecot, imap_user: str
) -> None:
    for n in range(2):
        dovecot.append(imap_user, message(f"before {n}").as_bytes())
    with mail_api(tmp_path, clock, imap_poll_seconds=0.2) as api:
        imap_box(api, dovecot, imap_user)
        fetched(api, 2)
    # While the server is down: two more arrive, and someone marks everything unread again. The watermark,
    # not the flags, says what was fetched.
    for n in range(2):
        dovecot.append(imap_user, message(f"after {n}").as_bytes())
    with dovecot.client(imap_user) as c:
        c.select_folder("INBOX")
        c.remove_flags(c.search(), [SEEN])
    with mail_api(tmp_path, clock, setup=False, imap_poll_seconds=0.2) as api:
        h = fetched(api, 4)
        assert subjects(api) == ["after 0", "after 1", "before 0", "before 1"]
        assert h["fetched"] == 4 and h["last_uid"] == 4  # the first two were not fetched again


def test_a_new_uidvalidity_starts_over_without_repeating_anything(
    iapi: Api, dovecot: Dovecot, imap_user: str
) -> None:
    a, b, c = message("A"), message("B"), message("C")
    dovecot.append(imap_user, a.as_bytes(), "Support")
    dovecot.append(imap_user, b.as_bytes(), "Support")
    imap_box(iapi, dovecot, imap_user, folder="Support")
    old = fetched(iapi, 2)["uidvalidity"]
    iapi.put(BOX, json={"address": ADDRESS, "inbound": {"kind": "api"}})  # pause fetching
    with dovecot.client(imap_user) as client:  # the folder is recreated: its UIDs start again
        client.delete_folder("Support")
        client.create_folder("Support")
    assert dovecot.append(imap_user, b.as_bytes(), "Support") == 1
    assert dovecot.append(imap_user, c.as_bytes(), "Support") == 2
    imap_box(iapi, dovecot, imap_user, folder="Support")
    h = wait_for(
        lambda: health(iapi)["uidvalidity"] != old and health(iapi)["last_uid"] == 2 and health(iapi),
        "the new folder fetched",
    )
    assert subjects(iapi) == ["A", "B", "C"] and responses(iapi) == 3  # C came in, B did not come twice
    assert h["fetched"] == 4


def test_refused_messages_are_skipped_logged_and_not_retried(
    tmp_path: Path, clock: FixedClock, dovecot: Dovecot, imap_user: str
) -> None:
    big = message("Huge", "x" * 30_000)
    attached = message("Big attachment")
    attached.add_attachment(b"y" * 9_000, maintype="application", subtype="octet-stream", filename="b.bin")
    dovecot.append(imap_user, message("one").as_bytes())
    dovecot.append(imap_user, big.as_bytes())
    dovecot.append(imap_user, attached.as_bytes())
    dovecot.append(imap_user, message("two").as_bytes())
    with mail_api(tmp_path, clock, imap_poll_seconds=0.2, max_mail_bytes=25_000, max_file_bytes=8_000) as api:
        imap_box(api, dovecot, imap_user)
        h = fetched(api, 2)
        assert h["skipped"] == 2 and h["last_uid"] == 4
        assert subjects(api) == ["one", "two"]
        # More mail and more polls: the skipped ones are not tried again.
        dovecot.append(imap_user, message("three").as_bytes())
        h = fetched(api, 3)
        assert h["skipped"] == 2
        log = api.get(f"{BOX}/skipped").json()
        assert [e["code"] for e in log["data"]] == ["file_too_large", "payload_too_large"]
        newest, oldest = log["data"]
        assert oldest["subject"] == "Huge" and oldest["message_id"] == big["Message-ID"]
        assert oldest["size"] > 25_000 and "uid 2" in oldest["ref"] and "25000" in oldest["reason"]
        assert newest["subject"] == "Big attachment" and newest["from"] == "Ada Lovelace <ada@example.com>"
        page = api.get(f"{BOX}/skipped", params={"limit": 1}).json()
        assert len(page["data"]) == 1 and page["next_cursor"]
        rest = api.get(f"{BOX}/skipped", params={"limit": 1, "cursor": page["next_cursor"]}).json()
        assert [e["id"] for e in rest["data"]] == [oldest["id"]] and rest["next_cursor"] is None
        flags = dovecot.flags(imap_user)
        assert [uid for uid, f in sorted(flags.items()) if SEEN not in f] == [2, 3]  # left for a person


def test_idle_wakes_a_fetch_long_before_the_next_poll(
    tmp_path: Path, clock: FixedClock, dovecot: Dovecot, imap_user: str
) -> None:
    with mail_api(tmp_path, clock, imap_poll_seconds=300) as api:
        imap_box(api, dovecot, imap_user)
        wait_for(lambda: health(api)["last_poll_at"], "the first poll")
        dovecot.append(imap_user, message("Arrives while idling").as_bytes())
        wait_for(lambda: subjects(api) == ["Arrives while idling"], "the IDLE wake-up", timeout=20)


def test_a_login_failure_is_reported_and_a_new_password_takes_effect(
    iapi: Api, dovecot: Dovecot, imap_user: str
) -> None:
    dovecot.append(imap_user, message("Waiting").as_bytes())
    imap_box(iapi, dovecot, imap_user, password="wrong")
    h = wait_for(lambda: health(iapi)["failing"] and health(iapi), "the failure in the health")
    assert "login" in h["last_error"] and "wrong" not in h["last_error"] and h["fetched"] == 0
    imap_box(iapi, dovecot, imap_user)  # the right password: no restart
    h = fetched(iapi, 1)
    assert subjects(iapi) == ["Waiting"]
    h = wait_for(lambda: not health(iapi)["failing"] and health(iapi), "a poll after the fix")
    assert h["last_error"] is not None  # the last error stays on record, with its time


def test_tls_modes(iapi: Api, dovecot: Dovecot, imap_user: str, monkeypatch: pytest.MonkeyPatch) -> None:
    dovecot.append(imap_user, message("Over TLS").as_bytes())
    imap_box(iapi, dovecot, imap_user, tls="ssl", port=dovecot.ssl_port, folder="Nowhere")
    untrusted = iapi.post(f"{BOX}/test").json()["inbound"]
    assert (
        untrusted["ok"] is False and "TLS" in untrusted["message"] and "certificate" in untrusted["message"]
    )
    monkeypatch.setenv("SSL_CERT_FILE", str(dovecot.cert))  # how an operator trusts a private CA
    missing = iapi.post(f"{BOX}/test").json()["inbound"]
    assert missing["ok"] is False and "Nowhere" in missing["message"]
    imap_box(iapi, dovecot, imap_user, tls="starttls", port=dovecot.port)
    assert iapi.post(f"{BOX}/test").json()["inbound"]["ok"] is True
    imap_box(iapi, dovecot, imap_user, tls="ssl", port=dovecot.ssl_port)
    assert iapi.post(f"{BOX}/test").json()["inbound"]["ok"] is True
    fetched(iapi, 1)
    assert subjects(iapi) == ["Over TLS"]


def test_other_kinds_check_and_have_no_fetch_health(iapi: Api) -> None:
    box = iapi.get(BOX).json()
    assert box["health"] is None
    assert iapi.post(f"{BOX}/test").json()["inbound"] == {
        "ok": True,
        "message": "messages come in through POST …/mailboxes/{id}/inbound",
    }
    assert iapi.put(BOX, json={"address": ADDRESS, "inbound": {"kind": "smtp"}}).status_code == 200
    out = iapi.post(f"{BOX}/test").json()["inbound"]
    assert out["ok"] is False and "smtp_port" in out["message"]
    assert iapi.get(f"{WS}/mailboxes/nope/skipped").status_code == 404
    assert iapi.post(f"{WS}/mailboxes/nope/test").status_code == 404
