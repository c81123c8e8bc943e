"""Outbound mail end to end: the API, the mail loop and a real SMTP server (aiosmtpd) on 127.0.0.1 — agent
replies threaded with Cc and attachments, customer answers threading back, what is never sent, bounces,
retries and failures, per-thread order, and which mailbox a reply leaves by."""

from __future__ import annotations

import time
from email.utils import getaddresses
from pathlib import Path
from typing import Any

from deskbase.core.clock import FixedClock
from tests.conftest import Api
from tests.mail import corpus
from tests.mail.conftest import ADDRESS, mail_api, send
from tests.mail.outgoing import (
    WS,
    data,
    delivery,
    later,
    outbound,
    outbox,
    parts,
    plain,
    reply,
    settled,
    ticket_from_mail,
    until,
)
from tests.mail.sink import Sink


def test_an_agent_reply_reaches_the_customer_in_the_thread(oapi: Api, smtp: Sink) -> None:
    first = ticket_from_mail(oapi, Cc="Bob <bob@example.com>")
    tid = first["ticket_id"]
    up = oapi.post(f"{WS}/files", files={"file": ("report.pdf", b"%PDF-1.4 report", "application/pdf")})
    assert up.status_code == 201, up.text
    body = "Hello Ada,\n\nturn it <off> & on.\nThanks"
    rid = reply(oapi, tid, body, attachments=[up.json()["id"]])
    done = settled(oapi, rid, "sent")
    assert done["attempts"] == 1 and done["answer"] == "250 2.0.0 Ok: queued"

    (got,) = smtp.wait_for(1)
    msg = got.msg
    mail = data(oapi, "responses", rid)["mail"]
    assert got.sender == ADDRESS and sorted(got.rcpt) == ["ada@example.com", "bob@example.com"]
    assert msg["From"] == "Acme Support <support@acme.test>"
    assert [a for _, a in getaddresses([str(msg["To"])])] == ["ada@example.com"]
    assert [a for _, a in getaddresses([str(msg["Cc"])])] == ["bob@example.com"]
    assert msg["Subject"] == "Re: Printer on fire [#1]"
    assert got.message_id == mail["message_id"] and got.message_id.endswith("@acme.test")
    assert (
        msg["In-Reply-To"] == f"<{first['message_id']}>" and msg["References"] == f"<{first['message_id']}>"
    )
    assert "Auto-Submitted" not in msg
    text, html, files = parts(msg)
    assert text.rstrip("\n") == body
    assert html == "<p>Hello Ada,</p>\n<p>turn it &lt;off&gt; &amp; on.<br>\nThanks</p>\n"
    assert files == [("report.pdf", "application/pdf", b"%PDF-1.4 report")]
    assert mail["direction"] == "outbound" and mail["mailbox"] == "support"
    assert (mail["from"], mail["to"], mail["cc"]) == (ADDRESS, ["ada@example.com"], ["bob@example.com"])
    assert mail["subject"] == "Re: Printer on fire [#1]" and mail["in_reply_to"] == first["message_id"]
    history = oapi.get(f"{WS}/records/responses/{rid}/history").json()["data"]
    states = [h["data"]["data"].get("mail", {}).get("delivery", {}).get("state") for h in history]
    assert states == [None, "queued", "sent"]
    assert [h["actor"]["id"] for h in history[1:]] == ["mail:outbound", "mail:outbound"]

    # The customer's answer to our reply threads into the same ticket, and our next reply follows it.
    later(oapi, 60)
    answer = send(oapi, corpus.gmail_reply(got.message_id, subject="Re: Printer on fire")).json()
    assert answer["status"] == "appended" and answer["ticket_id"] == tid
    later(oapi, 60)
    second = reply(oapi, tid, "Glad it works.")
    settled(oapi, second, "sent")
    again = smtp.wait_for(2)[1].msg
    assert again["In-Reply-To"] == f"<{answer['message_id']}>"
    assert again["References"].split() == [
        f"<{k}>" for k in (first["message_id"], got.message_id, answer["message_id"])
    ]
    (row,) = [m for m in outbox(oapi) if m["response_id"] == rid]
    assert (row["status"], row["attempts"], row["kind"], row["ticket_id"]) == ("sent", 1, "reply", tid)
    assert row["log"][0]["code"] == 250 and row["to"] == ["ada@example.com", "bob@example.com"]


def test_notes_customer_messages_and_other_channels_are_never_sent(oapi: Api, smtp: Sink) -> None:
    tid = ticket_from_mail(oapi)["ticket_id"]
    note = reply(oapi, tid, "internal only", type="internal_note")
    by_customer = reply(oapi, tid, "me again", author="ada@example.com")
    chat = oapi.post(
        f"{WS}/records/tickets",
        json={"data": {"subject": "chat", "status": "open", "priority": "low", "channel": "chat"}},
    ).json()
    on_chat = reply(oapi, chat["id"], "chat answer")
    sent = reply(oapi, tid, "the one to send")
    settled(oapi, sent, "sent")
    time.sleep(0.2)
    assert [plain(g.msg) for g in smtp.received] == ["the one to send"]
    for rid in (note, by_customer, on_chat):
        assert "mail" not in data(oapi, "responses", rid)
    assert len(outbox(oapi)) == 1


def test_a_delivery_report_marks_the_reply_bounced(oapi: Api, smtp: Sink) -> None:
    tid = ticket_from_mail(oapi)["ticket_id"]
    rid = reply(oapi, tid)
    settled(oapi, rid, "sent")
    (got,) = smtp.wait_for(1)
    r = send(oapi, corpus.bounce(got.message_id))
    assert r.status_code == 200 and r.json()["bounced"] == [rid]
    state = delivery(oapi, rid)
    assert state["state"] == "bounced" and state["answer"] == "smtp; 550 5.1.1 user unknown"
    assert outbox(oapi, status="bounced")[0]["response_id"] == rid


def test_deferred_messages_are_retried_then_failed_and_a_retry_sends_them(oapi: Api, smtp: Sink) -> None:
    smtp.answer(lambda _g: "451 4.3.0 try again later")
    tid = ticket_from_mail(oapi)["ticket_id"]
    rid = reply(oapi, tid)
    first = until(lambda: (d := delivery(oapi, rid)).get("attempts") == 1 and d)
    assert first["state"] == "queued" and first["answer"] == "451 4.3.0 try again later"
    (row,) = outbox(oapi)
    assert row["status"] == "queued" and row["next_attempt_at"] is not None
    later(oapi, 11)
    until(lambda: delivery(oapi, rid).get("attempts") == 2)
    later(oapi, 22)
    failed = settled(oapi, rid, "failed")
    assert failed["attempts"] == 3 and len(smtp.tried) == 3 and smtp.received == []
    (row,) = outbox(oapi, status="failed")
    assert [a["code"] for a in row["log"]] == [451, 451, 451] and row["next_attempt_at"] is None

    smtp.answer(lambda _g: "250 2.0.0 Ok")
    r = oapi.post(f"{WS}/mailboxes/support/outbox/{row['id']}/retry")
    assert r.status_code == 202 and r.json()["status"] in ("queued", "sent")
    done = settled(oapi, rid, "sent")
    assert done["attempts"] == 1 and len(smtp.wait_for(1)) == 1
    again = oapi.post(f"{WS}/mailboxes/support/outbox/{row['id']}/retry")
    assert again.status_code == 409 and again.json()["error"]["code"] == "conflict"
    assert [a["n"] for a in outbox(oapi)[0]["log"]] == [1, 2, 3, 4]


def test_a_refusal_fails_at_once_and_an_unreachable_server_holds_the_mailbox(oapi: Api, smtp: Sink) -> None:
    smtp.answer(lambda _g: "554 5.7.1 rejected: spam")
    tid = ticket_from_mail(oapi)["ticket_id"]
    rid = reply(oapi, tid)
    assert settled(oapi, rid, "failed") == {
        **delivery(oapi, rid),
        "attempts": 1,
        "answer": "554 5.7.1 rejected: spam",
    }

    # A server nobody listens on: the first message tries and waits; the others wait with it, untried.
    smtp.answer(lambda _g: "250 2.0.0 Ok")
    outbound(oapi, smtp, outbound={"host": "127.0.0.1", "port": 1, "tls": "none"})
    others = [ticket_from_mail(oapi, message_id=f"<m{i}@example.com>")["ticket_id"] for i in range(3)]
    ops: list[dict[str, Any]] = []
    for i, t in enumerate(others):  # one transaction, so the three are queued together
        ops.append(
            {
                "type": "upsert_record",
                "collection": "responses",
                "ref": f"r{i}",
                "data": {"body": "hi", "type": "reply"},
            }
        )
        ops.append(
            {
                "type": "upsert_relationship",
                "rel_type": "has_response",
                "source": {"collection": "tickets", "id": t},
                "target": {"collection": "responses", "id": f"$ref:r{i}"},
            }
        )
    r = oapi.post(f"{WS}/batch", json={"operations": ops})
    assert r.status_code == 200, r.text
    ids = [res["record"]["id"] for res in r.json()["results"][::2]]
    until(lambda: sum(len(m["log"]) for m in outbox(oapi, status="queued")) >= 1)
    time.sleep(0.3)
    queued = outbox(oapi, status="queued")
    assert len(queued) == 3 and sum(len(m["log"]) for m in queued) == 1
    assert "Connection refused" in next(m for m in queued if m["log"])["answer"]
    assert len({m["next_attempt_at"] for m in queued}) == 1
    outbound(oapi, smtp)
    later(oapi, 11)
    for rid in ids:
        settled(oapi, rid, "sent")
    assert len(smtp.wait_for(3)) == 3


def test_replies_on_one_thread_leave_in_order(oapi: Api, smtp: Sink) -> None:
    tid = ticket_from_mail(oapi)["ticket_id"]
    smtp.answer(lambda g: "451 4.3.0 later" if len(smtp.tried) == 1 else "250 2.0.0 Ok")
    one = reply(oapi, tid, "first")
    two = reply(oapi, tid, "second")
    other = reply(oapi, ticket_from_mail(oapi, message_id="<other@example.com>")["ticket_id"], "elsewhere")
    settled(oapi, other, "sent")
    time.sleep(0.3)
    assert delivery(oapi, one)["attempts"] == 1 and delivery(oapi, two)["attempts"] == 0
    later(oapi, 11)
    settled(oapi, two, "sent")
    bodies = [plain(g.msg) for g in smtp.received]
    assert bodies == ["elsewhere", "first", "second"]


def test_a_deleted_reply_is_not_sent(oapi: Api, smtp: Sink) -> None:
    smtp.answer(lambda _g: "451 4.3.0 later")
    tid = ticket_from_mail(oapi)["ticket_id"]
    rid = reply(oapi, tid)
    until(lambda: delivery(oapi, rid).get("attempts") == 1)
    assert oapi.delete(f"{WS}/records/responses/{rid}").status_code in (200, 204)
    later(oapi, 11)
    row = until(lambda: (m := outbox(oapi)[0])["status"] == "failed" and m)
    assert row["answer"] == "not sent: the reply was deleted before it went out" and len(smtp.tried) == 1


def test_which_mailbox_a_reply_leaves_by(oapi: Api, smtp: Sink) -> None:
    ada = oapi.post(
        f"{WS}/records/customers", json={"data": {"name": "Ada", "email": "ada@example.com"}}
    ).json()

    def ticket(**extra: Any) -> str:
        t = {
            "subject": "Made in the console",
            "status": "open",
            "priority": "low",
            "channel": "email",
            **extra,
        }
        tid = str(oapi.post(f"{WS}/records/tickets", json={"data": t}).json()["id"])
        link = {
            "rel_type": "submitted_by",
            "source": {"collection": "tickets", "id": tid},
            "target": {"collection": "customers", "id": ada["id"]},
        }
        assert oapi.post(f"{WS}/relationships", json=link).status_code == 201
        return tid

    # The only mailbox: the reply starts a thread from it, and the ticket keeps it.
    only = ticket()
    rid = reply(oapi, only)
    settled(oapi, rid, "sent")
    got = smtp.wait_for(1)[0].msg
    assert got["Subject"] == "Re: Made in the console [#1]" and "In-Reply-To" not in got
    assert data(oapi, "tickets", only)["mail"]["mailbox"] == "support"

    outbound(oapi, smtp, "sales", address="sales@acme.test", name="Sales")
    several = reply(oapi, ticket())
    assert settled(oapi, several, "failed")["answer"].startswith(
        "not sent: the workspace has several mailboxes"
    )
    named = reply(oapi, ticket(mail={"mailbox": "sales"}))
    settled(oapi, named, "sent")
    assert smtp.wait_for(2)[1].sender == "sales@acme.test"
    missing = reply(oapi, ticket(mail={"mailbox": "gone"}))
    assert (
        settled(oapi, missing, "failed")["answer"] == "not sent: the ticket's mailbox 'gone' does not exist"
    )
    nobody = oapi.post(
        f"{WS}/records/tickets",
        json={
            "data": {
                "subject": "x",
                "status": "open",
                "priority": "low",
                "channel": "email",
                "mail": {"mailbox": "support"},
            }
        },
    ).json()["id"]
    orphan = reply(oapi, nobody)
    assert settled(oapi, orphan, "failed")["answer"] == "not sent: the ticket's customer has no email address"
    # Import mode: a reply dated more than a day back is history, never mailed.
    old = reply(oapi, only, "from the old system", at="2026-02-01T09:00:00Z")
    later(oapi, 1)
    time.sleep(0.3)
    assert "mail" not in data(oapi, "responses", old) and len(smtp.received) == 2


def test_without_mailboxes_replies_are_left_alone(tmp_path: Path, clock: FixedClock) -> None:
    with mail_api(tmp_path, clock) as api:
        assert api.delete(f"{WS}/mailboxes/support").status_code == 204
        t = {"subject": "s", "status": "open", "priority": "low", "channel": "email"}
        tid = api.post(f"{WS}/records/tickets", json={"data": t}).json()["id"]
        rid = reply(api, tid)
        time.sleep(0.3)
        assert "mail" not in data(api, "responses", rid)


def test_on_both_stores(tmp_path: Path, clock: FixedClock, store_url: str, smtp: Sink) -> None:
    smtp.reset()
    smtp.answer(lambda g: "451 4.3.0 later" if len(smtp.tried) == 2 else "250 2.0.0 Ok")
    with mail_api(tmp_path, clock, store_url, mail_retry_schedule="10") as api:
        outbound(api, smtp, auto_acknowledge=True)
        first = ticket_from_mail(api)
        smtp.wait_for(1)  # the acknowledgement
        one, two = reply(api, first["ticket_id"], "one"), reply(api, first["ticket_id"], "two")
        until(lambda: delivery(api, one).get("attempts") == 1)
        later(api, 11)
        settled(api, two, "sent")
        assert [plain(g.msg) for g in smtp.received[1:]] == ["one", "two"]
        got = smtp.received[2]
        assert send(api, corpus.gmail_reply(got.message_id)).json()["ticket_id"] == first["ticket_id"]
        assert send(api, corpus.bounce(got.message_id)).json()["bounced"] == [two]
        assert [m["status"] for m in outbox(api)] == ["bounced", "sent", "sent"]


def test_a_reply_that_cannot_be_built_fails_and_the_next_one_goes(oapi: Api, smtp: Sink) -> None:
    tid = ticket_from_mail(oapi)["ticket_id"]
    up = oapi.post(f"{WS}/files", files={"file": ("gone.txt", b"soon gone", "text/plain")}).json()
    oapi.core.files.blobs.delete(up["sha256"])  # type: ignore[attr-defined]  # the bytes lost from the store
    broken = reply(oapi, tid, "with a lost file", attachments=[up["id"]])
    fine = reply(oapi, tid, "without")
    assert settled(oapi, broken, "failed")["answer"].startswith("not sent: the message could not be built (")
    settled(oapi, fine, "sent")
    assert [plain(g.msg) for g in smtp.received] == ["without"]
