"""Password reset by email: "Forgot password?" mails a one-time reset link through a workspace's mailbox.

The link is the one an admin makes (core/signin.py), valid for an hour, and leaves through the outbox like a
notification email (the same queue, retries and SMTP sender; never threaded onto a ticket), with the
`public_url` setting as its address (never the request's Host header, which a caller chooses).

Who gets one: an active person with a membership in a workspace that has a mailbox with an outbound server.
Whoever administers that workspace chooses the SMTP server the mail leaves through, so they could read the
link; a link is therefore mailed only when that reveals nothing they could not reach already, or when the
account has a second factor (the link sets the password; signing in still needs the code):
- the person is not a server admin;
- the person is a member of that one workspace only, and not its owner (a workspace admin cannot make or
  remove owners).
Anyone else asks an admin (`deskbase users reset-password`). The caller is never told which case applied.
(Those admins could still act under a colleague's name, with no rights beyond their own: the trust placed in
whoever runs an organisation's mail. Two-step sign-in closes that too.)
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection

from deskbase.core.app import Deskbase
from deskbase.core.ids import uuid7
from deskbase.core.people_tables import memberships
from deskbase.core.people_tables import user_factors as uf
from deskbase.core.signin import EMAILED_RESET_TTL
from deskbase.core.user_access import ACTIVE
from deskbase.mail import outbound, outbox
from deskbase.mail.outbound import Draft
from deskbase.mail.tables import mailboxes

log = logging.getLogger(__name__)
HEADERS = {"Auto-Submitted": "auto-generated", "X-Auto-Response-Suppress": "All"}


def available(core: Deskbase) -> bool:
    """Whether any reset email can go out at all: a public address for the link, and some mailbox with an
    outbound server. The same for every caller, so the forgot-password page may say it."""
    if not core.settings.public_url.strip():
        return False
    with core.db.read() as conn:
        return any(r.outbound for r in conn.execute(select(mailboxes.c.outbound)))


def _mailbox(conn: Connection, user: Any) -> tuple[str, Any] | None:
    """The workspace and mailbox a link for `user` may leave through, or None (see the module's rules)."""
    ms = conn.execute(
        select(memberships.c.workspace_id, memberships.c.role).where(memberships.c.user_id == user.id)
    ).all()
    if not ms:
        return None
    second = _has_factor(conn, user.id)
    if not second and (user.server_admin or len(ms) != 1 or ms[0].role == "owner"):
        return None
    for m in sorted(ms, key=lambda m: m.workspace_id):
        boxes = conn.execute(
            select(mailboxes).where(mailboxes.c.workspace_id == m.workspace_id).order_by(mailboxes.c.id)
        ).all()
        box = next((b for b in boxes if b.outbound), None)
        if box is not None:
            return m.workspace_id, box
    return None


def _has_factor(conn: Connection, user_id: str) -> bool:
    row = conn.execute(select(uf.c.confirmed_at).where(uf.c.user_id == user_id)).first()
    return row is not None and row.confirmed_at is not None


def text(name: str, link: str) -> str:
    minutes = int(EMAILED_RESET_TTL.total_seconds() // 60)
    return (
        f"Hello {name},\n\n"
        "Someone asked to reset the password of your deskbase account. To choose a new one, open this link "
        f"within {minutes} minutes:\n\n{link}\n\n"
        "It works once. If you did not ask, ignore this email: your password stays as it is.\n"
    )


def send(core: Deskbase, email: str) -> bool:
    """Queue a reset link for the person with this email, if they may get one; True when queued. The link
    and its outbox row are written in one transaction."""
    base = core.settings.public_url.strip().rstrip("/")
    if not base:
        return False
    with core.db.tx() as tx:
        user = core.people.by_email(tx.conn, email) if email else None
        if user is None or user.status != ACTIVE:
            return False
        found = _mailbox(tx.conn, user)
        if found is None:
            return False
        ws, box = found
        raw, _ = core.signin.issue_reset(tx, user.id, EMAILED_RESET_TTL)
        draft = Draft(
            sender=(box.name or "deskbase", box.address),
            to=[(user.name, user.email)],
            cc=[],
            subject="Reset your deskbase password",
            message_id=outbound.new_message_id(box.address),
            date=core.clock.now(),
            text=text(user.name, f"{base}/reset/{raw}"),
            headers=HEADERS,
        )
        queued = outbox.Queued(
            ws, box.id, f"reset:{user.id}", f"reset:{user.id}:{uuid7()}", outbox.NOTIFY, draft.message_id,
            box.address, draft.recipients, outbound.build(draft),
        )  # fmt: skip
        outbox.enqueue(tx.conn, queued, core.clock.now())
    log.info("password reset link for user %s queued through mailbox %s/%s", user.id, ws, box.id)
    return True
