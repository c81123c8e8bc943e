"""Auto-acknowledgements through the inbound route and a real SMTP server: once per sender per mailbox per
hour (kept in the store), never for noise or for a message that joins a ticket, and threaded like a reply."""

from __future__ import annotations

import time

from sqlalchemy import func, select

from deskbase.mail.ack import WINDOW
from deskbase.mail.tables import mail_acks, mail_attempts, mail_messages, mail_outbox
from tests.conftest import Api
from tests.mail import corpus
from tests.mail.conftest import ADDRESS, message, send
from tests.mail.outgoing import later, outbound, outbox, ticket_from_mail, until
from tests.mail.sink import Sink


def test_a_new_ticket_is_acknowledged_once_per_sender_per_hour(oapi: Api, smtp: Sink) -> None:
    outbound(oapi, smtp, auto_acknowledge=True)
    first = ticket_from_mail(oapi)
    (ack,) = smtp.wait_for(1)
    msg = ack.msg
    assert ack.rcpt == ["ada@example.com"] and ack.sender == ADDRESS
    assert msg["Auto-Submitted"] == "auto-replied" and msg["X-Auto-Response-Suppress"] == "All"
    assert msg["Subject"] == "Re: Printer on fire [#1]" and msg["To"] == "Ada Lovelace <ada@example.com>"
    assert msg["In-Reply-To"] == f"<{first['message_id']}>"
    text = msg.get_body(("plain",)).get_content()
    assert "#1" in text and "[#1]" in text and "Acme Support" in text
    # The sink has the message once the server said 250; the outcome commits right after.
    until(lambda: [r["status"] for r in outbox(oapi)] == ["sent"])
    (row,) = outbox(oapi)
    assert (row["kind"], row["response_id"], row["ticket_id"], row["status"]) == (
        "ack",
        None,
        first["ticket_id"],
        "sent",
    )

    # The same sender within the hour, a message joining a ticket, and noise: no acknowledgement.
    again = ticket_from_mail(oapi, subject="Another problem")
    assert again["status"] == "created"
    assert send(oapi, corpus.gmail_reply(first["message_id"])).json()["status"] == "appended"
    for noise in (corpus.auto_reply(), corpus.bulk(), corpus.list_mail(), corpus.bounce("x@acme.test")):
        assert send(oapi, noise).json()["status"] == "ignored"
    assert send(oapi, message(sender=ADDRESS, subject="From ourselves")).json()["status"] == "created"
    # Another sender is acknowledged at once; Ada again only once the hour is over.
    ticket_from_mail(oapi, sender="Bob <bob@example.com>", subject="Bob's problem")
    until(lambda: len(smtp.received) == 2)
    later(oapi, WINDOW.total_seconds() - 1)
    ticket_from_mail(oapi, subject="Still within the hour")
    later(oapi, 2)
    late = ticket_from_mail(oapi, subject="An hour later")
    until(lambda: len(smtp.received) == 3)
    time.sleep(0.3)
    got = smtp.received
    assert [g.rcpt for g in got] == [["ada@example.com"], ["bob@example.com"], ["ada@example.com"]]
    assert got[2].msg["Subject"] == "Re: An hour later [#6]"
    assert len(outbox(oapi)) == 3

    # Answering the acknowledgement threads into its ticket.
    answer = send(oapi, corpus.gmail_reply(got[2].message_id, subject="Re: An hour later")).json()
    assert answer["status"] == "appended" and answer["ticket_id"] == late["ticket_id"]


def test_without_auto_acknowledge_nothing_is_sent(oapi: Api, smtp: Sink) -> None:
    ticket_from_mail(oapi)
    time.sleep(0.3)
    assert smtp.tried == [] and outbox(oapi) == []


def test_deleting_the_workspace_forgets_its_outbox_attempts_and_marks(oapi: Api, smtp: Sink) -> None:
    outbound(oapi, smtp, auto_acknowledge=True)
    ticket_from_mail(oapi)
    until(lambda: outbox(oapi) and outbox(oapi)[0]["status"] == "sent")
    assert oapi.delete("/v1/workspaces/acme").status_code == 204
    with oapi.core.db.read() as conn:  # type: ignore[attr-defined]
        left = {
            table.name: conn.execute(select(func.count()).select_from(table)).scalar()
            for table in (mail_outbox, mail_attempts, mail_acks, mail_messages)
        }
    assert left == {"mail_outbox": 0, "mail_attempts": 0, "mail_acks": 0, "mail_messages": 0}
