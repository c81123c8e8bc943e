"""The delivery state of an outbound message, kept on its response (`data.mail.delivery`) so the API, the
console and the replica all see it: queued → sent | failed, and bounced when a delivery report names it.

Also what an SMTP answer means (`outcome`, pure): 2xx sent; 5xx failed at once (the server refuses for good);
4xx or no answer at all (connection refused, timeout, TLS failure) retried after the next wait of the
schedule, each wait with up to 10% jitter so many deferred messages do not come back at once, and failed once
the schedule is used up.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from deskbase.core.clock import iso
from deskbase.core.context import Actor
from deskbase.core.db import Tx
from deskbase.core.writer import UnitOfWork
from deskbase.events.retry import JITTER
from deskbase.mail import outbox

if TYPE_CHECKING:
    from deskbase.core.app import Deskbase

STATES = ("queued", "sent", "failed", "bounced")
_MAILER_PERMISSIONS = ("read:records", "write:records", "read:relationships", "read:files")


def mailer(workspace_id: str) -> Actor:
    """Who writes delivery states (and reads a reply's attachments to send them): `mail:outbound`, scoped
    to the workspace."""
    grant = {"scope": {"workspaces": [workspace_id]}, "permissions": list(_MAILER_PERMISSIONS)}
    return Actor(id="mail:outbound", name="outbound mail", grants=(grant,))


@contextmanager
def bookkeeping(core: Deskbase, tx: Tx, workspace_id: str) -> Iterator[UnitOfWork]:
    """A unit of work in `tx` for delivery states: by `mail:outbound`, and without the domain's in-transaction
    hooks — a delivery state is no SLA fact, and an edited response makes the SLA replay its ticket."""
    uow = UnitOfWork(core, tx, workspace_id, mailer(workspace_id), domain_hooks=False)
    yield uow
    uow.flush()


def set_state(
    uow: UnitOfWork,
    response_id: str,
    state: str,
    answer: str | None,
    attempts: int,
    at: datetime,
    envelope: dict[str, Any] | None = None,
) -> None:
    """A new version of the response with this delivery state, and the envelope it is sent with when given
    (a response deleted meanwhile stays so)."""
    st = uow.record("responses", response_id)
    if st is None or st.deleted:
        return
    mail = {**(st.data.get("mail") or {}), **(envelope or {})}
    mail["delivery"] = {"state": state, "answer": answer, "attempts": attempts, "at": iso(at)}
    uow.patch_record("responses", response_id, {"mail": mail}, None)


def mark_bounced(uow: UnitOfWork, keys: list[str], reason: str | None, at: datetime) -> list[str]:
    """Mark the workspace's outbound messages with these Message-IDs bounced; returns their response ids."""
    if not keys:
        return []
    answer = reason or "a delivery report says the message could not be delivered"
    out = []
    for row in outbox.bounced(uow.tx.conn, uow.workspace_id, keys[:100], answer, at):
        if row.kind == "reply":
            set_state(uow, row.response_id, "bounced", answer, int(row.attempts), at)
            out.append(row.response_id)
    return out


def public_state(data: dict[str, Any]) -> str | None:
    return ((data.get("mail") or {}).get("delivery") or {}).get("state")


@dataclass(frozen=True)
class Outcome:
    status: str  # sent | queued (to be retried at next_attempt_at) | failed
    next_attempt_at: datetime | None


def outcome(
    code: int | None,
    attempts: int,
    schedule: tuple[float, ...],
    now: datetime,
    jitter: float,
    permanent: bool = False,
) -> Outcome:
    """What follows attempt number `attempts` (1-based) answered with `code` (None: no server answered).
    `jitter` in [0, 1) is the caller's random draw; `permanent`: refused for a reason a retry cannot change
    (the server lacks SMTPUTF8, say)."""
    if code is not None and 200 <= code < 300:
        return Outcome("sent", None)
    if permanent or (code is not None and 500 <= code < 600):
        return Outcome("failed", None)
    if attempts > len(schedule):
        return Outcome("failed", None)
    wait = schedule[attempts - 1] * (1 + JITTER * jitter)
    return Outcome("queued", now + timedelta(seconds=wait))
