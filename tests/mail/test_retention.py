"""The mail loop prunes finished outbound messages (with their attempts), skip-log entries and acknowledgement
marks older than mail_retention_days, in batches, and keeps what is newer, what is still queued and the
Message-ID index that threads replies."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from deskbase.core.clock import FixedClock
from deskbase.mail import inbound_state
from deskbase.mail.service import Mail
from deskbase.mail.tables import mail_acks, mail_attempts, mail_messages
from tests.conftest import Api
from tests.mail import corpus
from tests.mail.conftest import mail_api, send
from tests.mail.outgoing import WS, later, outbound, outbox, reply, settled, ticket_from_mail, until
from tests.mail.sink import Sink

DAY = 86400


def count(api: Api, table: object) -> int:
    with api.core.db.read() as conn:  # type: ignore[attr-defined]
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())  # type: ignore[arg-type]


def skip(api: Api, uid: int) -> None:
    core = api.core  # type: ignore[attr-defined]
    with core.db.tx() as tx:
        entry = inbound_state.Skip(f"INBOX uid {uid}", "payload_too_large", "too big", 10)
        inbound_state.advance(tx.conn, "acme", "support", uid, 0, entry, core.clock.now())


def skipped(api: Api) -> list[str]:
    return [e["ref"] for e in api.get(f"{WS}/mailboxes/support/skipped").json()["data"]]


def test_old_finished_mail_is_pruned_in_batches_and_the_rest_kept(oapi: Api, smtp: Sink) -> None:
    mail = oapi.core.extensions[Mail]  # type: ignore[attr-defined]
    mail.sender.pruner.batch = 2  # five old messages: the backlog takes several turns
    outbound(oapi, smtp, auto_acknowledge=True)
    first = ticket_from_mail(oapi)  # acknowledged: an ack row and a mark
    tid = first["ticket_id"]
    smtp.answer(lambda g: "550 5.1.1 no such user" if b"refused" in g.raw else "250 Ok")
    sent = [reply(oapi, tid, f"old reply {n}") for n in range(3)]
    failed = reply(oapi, tid, "refused reply")
    for rid in sent:
        settled(oapi, rid, "sent")
    settled(oapi, failed, "failed")
    skip(oapi, 1)
    assert len(outbox(oapi)) == 5 and count(oapi, mail_attempts) == 5 and count(oapi, mail_acks) == 1
    assert skipped(oapi) == ["INBOX uid 1"]

    later(oapi, 20 * DAY)  # newer ones, then 11 more days: the old ones are 31 days old, the new ones 11
    recent = reply(oapi, tid, "recent reply")
    settled(oapi, recent, "sent")
    skip(oapi, 2)
    later(oapi, 11 * DAY)

    until(lambda: len(outbox(oapi)) == 1)
    assert [m["response_id"] for m in outbox(oapi)] == [recent]
    assert count(oapi, mail_attempts) == 1 and count(oapi, mail_acks) == 0
    until(lambda: skipped(oapi) == ["INBOX uid 2"])
    # Threading does not depend on the pruned rows: a late answer to the first reply still finds the ticket.
    with oapi.core.db.read() as conn:  # type: ignore[attr-defined]
        first_reply_id = conn.execute(
            select(mail_messages.c.message_id).where(mail_messages.c.response_id == sent[0])
        ).scalar_one()
    late = send(oapi, corpus.gmail_reply(first_reply_id)).json()
    assert late["status"] == "appended" and late["ticket_id"] == tid


def test_retention_zero_keeps_everything(tmp_path: Path, clock: FixedClock, smtp: Sink) -> None:
    smtp.reset()
    with mail_api(tmp_path, clock, mail_retention_days=0) as api:
        outbound(api, smtp)
        rid = reply(api, ticket_from_mail(api)["ticket_id"])
        settled(api, rid, "sent")
        later(api, 400 * DAY)
        assert api.core.extensions[Mail].sender.pruner.step() is False  # type: ignore[attr-defined]
        assert len(outbox(api)) == 1 and count(api, mail_attempts) == 1
