"""The mail loop: one background loop (core/loops.py: a lease, wake on commit, a timer) that queues new agent
replies (queueing.py) and sends what is due.

Sending: due messages are grouped by mailbox and each mailbox gets one lane (a worker thread with one SMTP
connection, `mail_concurrency` lanes at most), so a slow server delays its own mailbox only. A lane sends
oldest first, each message's outcome (attempt, status, the response's delivery state) committed in its own
transaction right after the server answered — no transaction is open during network I/O, and a kill -9 can
only repeat the one message per lane whose answer was not yet committed (the receiver drops the copy by its
Message-ID). When a server cannot be reached, the mailbox's other queued messages wait as long as the one
that tried. Nothing is sent from a request: routes only queue. The loop also prunes old bookkeeping
(retention.py).
"""

from __future__ import annotations

import logging
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

from sqlalchemy import select

from deskbase.core import loops
from deskbase.core import tables as t
from deskbase.core.app import Deskbase
from deskbase.core.changelog import Change
from deskbase.core.db import Tx
from deskbase.core.errors import DeskbaseError
from deskbase.events.ssrf import Network
from deskbase.mail import delivery, outbox
from deskbase.mail.mailboxes import SMTP_DEFAULTS, Mailboxes
from deskbase.mail.queueing import NAME, Queuer
from deskbase.mail.retention import Pruner
from deskbase.mail.smtp import Answer, Server, Session
from deskbase.mail.tables import mailboxes

log = logging.getLogger(__name__)
LANE_BATCH = 50  #: messages a lane claims at a time
DUE_LIMIT = 500
REST = 30  #: seconds a mailbox waits after its lane failed unexpectedly


def server_of(
    box: Any, password: str | None, timeout: float, allowed: tuple[Network, ...] = ()
) -> Server | None:
    """The mailbox's SMTP server, or None when it has none."""
    cfg = box.outbound
    if not cfg or not cfg.get("host"):
        return None
    return Server(
        host=cfg["host"],
        port=int(cfg.get("port") or SMTP_DEFAULTS[0]),
        tls=cfg.get("tls") or SMTP_DEFAULTS[1],
        username=cfg.get("username"),
        password=password,
        helo=box.address.rpartition("@")[2] or "localhost",
        timeout=timeout,
        allowed=allowed,
    )


class Sender:
    def __init__(
        self,
        core: Deskbase,
        store: Mailboxes,
        schedule: tuple[float, ...],
        timeout: float,
        concurrency: int,
        retention_days: int = 0,
    ) -> None:
        self.core = core
        self.store = store
        self.pruner = Pruner(core, retention_days)
        self.schedule = schedule
        self.timeout = timeout
        self.queuer = Queuer(core)
        self.loop = loops.Loop(core.db, core.clock, NAME, self.step, idle_seconds=1.0)
        self._pool = ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="deskbase-mail")
        self._lock = threading.Lock()
        self._lanes: set[str] = set()  # "ws/mailbox" keys with a lane running
        self._resting: dict[str, float] = {}  # key -> monotonic time its next lane may start
        self._stopping = threading.Event()
        self._random = random.Random()
        core.hooks.on_commit(self._committed)

    # ---- lifecycle ----------------------------------------------------------------------------------
    def start(self) -> None:
        self._stopping.clear()
        self.loop.start()

    def stop(self) -> None:
        """Lanes finish the message in hand (at most the SMTP timeout) and leave the rest queued."""
        self._stopping.set()
        self.loop.stop()
        self._pool.shutdown(wait=True, cancel_futures=True)

    def wake(self) -> None:
        self.loop.wake()

    def _committed(self, entries: list[Change]) -> None:
        """Wake for a commit that linked a response to a ticket (a reply to queue); any other write would
        cost a turn of reads for nothing, and the idle timer still moves the watermark on."""
        if any(
            c.entity == "relationship" and c.collection == "has_response" and c.op == "create"
            for c in entries
        ):
            self.loop.wake()

    def idle(self) -> bool:
        with self._lock:
            return not self._lanes

    # ---- one turn -----------------------------------------------------------------------------------
    def step(self) -> float | None:
        more = self.queuer.step()
        wait = self.send_due()
        backlog = self.pruner.step()
        return 0.0 if more or backlog else wait

    def send_due(self) -> float | None:
        """Start a lane for each mailbox with due messages; returns the seconds until the next one is due."""
        now = self.core.clock.now()
        with self.core.db.read() as conn:
            due = outbox.due(conn, now, DUE_LIMIT)
            upcoming = outbox.next_due(conn)
        with self._lock:
            rested = time.monotonic()
            for key in dict.fromkeys(f"{r.workspace_id}/{r.mailbox_id}" for r in due):
                if self._resting.get(key, 0.0) > rested:
                    continue
                self._resting.pop(key, None)
                if key not in self._lanes and not self._stopping.is_set():
                    self._lanes.add(key)
                    self._pool.submit(self._lane, key)
        if upcoming is None:
            return None
        return max(0.0, (upcoming - self.core.clock.now()).total_seconds())

    # ---- a lane (in a worker thread) ----------------------------------------------------------------
    def _lane(self, key: str) -> None:
        """Send the mailbox's due messages, claiming the next ones until none is due."""
        ws, _, mid = key.partition("/")
        session: Session | None = None
        problem: str | None = None
        try:
            while not self._stopping.is_set():
                with self.core.db.read() as conn:
                    ids = [r.id for r in outbox.due(conn, self.core.clock.now(), LANE_BATCH, ws, mid)]
                    box = conn.execute(
                        select(mailboxes).where(mailboxes.c.workspace_id == ws, mailboxes.c.id == mid)
                    ).first()
                    batch = outbox.rows(conn, ids) if ids else []
                    live = _live_replies(conn, ws, [r.response_id for r in batch if r.kind == "reply"])
                if not batch:
                    return
                if session is None and problem is None:
                    session, problem = self._session(box)
                if not self._send_batch(session, problem, batch, live):
                    return
        except Exception:
            # Whatever broke (the store, say) may break again at once: the mailbox rests before the next lane.
            log.exception("mail lane %s failed unexpectedly; it rests %d s", key, REST)
            with self._lock:
                self._resting[key] = time.monotonic() + REST
        finally:
            if session is not None:
                session.close()
            with self._lock:
                self._lanes.discard(key)
            self.loop.wake()

    def _session(self, box: Any) -> tuple[Session | None, str | None]:
        """A session with the mailbox's server, or why its messages cannot be sent."""
        if box is None:
            return None, "not sent: its mailbox was deleted"
        try:
            password = self.store.password(box.outbound_password)
        except Exception:
            log.exception("mailbox %s/%s: the SMTP password cannot be opened", box.workspace_id, box.id)
            return None, "not sent: the mailbox's SMTP password cannot be opened with this server's key"
        server = server_of(box, password, self.timeout, self.store.allowed)
        if server is None:
            return None, "not sent: the mailbox has no outbound SMTP server"
        return Session(server), None

    def _send_batch(
        self, session: Session | None, problem: str | None, batch: list[Any], live: set[str]
    ) -> bool:
        """Send a batch in order; False when the lane should stop (stopping, or the server is unreachable)."""
        for row in batch:
            if self._stopping.is_set():
                return False
            if session is None:
                self._give_up(row, problem or "not sent")
                continue
            if row.kind == "reply" and row.response_id not in live:
                self._give_up(row, "not sent: the reply was deleted before it went out")
                continue
            at = self.core.clock.now()
            answer = session.send(row.envelope["from"], list(row.envelope["to"]), row.message)
            if not self._record(row, at, answer) and answer.code is None:
                return False
        return True

    def _record(self, row: Any, at: Any, answer: Answer) -> bool:
        """Store the attempt, its outcome and the response's delivery state in one transaction; False when
        the message is to be retried."""
        now = self.core.clock.now()
        out = delivery.outcome(
            answer.code, int(row.attempts) + 1, self.schedule, now, self._random.random(), answer.permanent
        )
        with self.core.db.tx() as tx:
            attempts = outbox.record(
                tx.conn,
                row,
                at,
                answer.code,
                answer.text,
                answer.duration_ms,
                out.status,
                out.next_attempt_at,
                now,
            )
            if attempts is not None and answer.code is None and out.next_attempt_at is not None:
                outbox.postpone(tx.conn, row.workspace_id, row.mailbox_id, out.next_attempt_at, now)
            if attempts is not None and row.kind == "reply":
                self._state(tx, row, out.status, answer.text, attempts, now)
        if out.status != "sent":
            log.info("mail %s/%s %s: %s", row.workspace_id, row.mailbox_id, out.status, answer.text)
        return out.status != "queued"

    def _give_up(self, row: Any, reason: str) -> None:
        now = self.core.clock.now()
        with self.core.db.tx() as tx:
            if outbox.fail(tx.conn, row, reason, now) and row.kind == "reply":
                self._state(tx, row, "failed", reason, int(row.attempts), now)
        log.info("mail %s/%s failed: %s", row.workspace_id, row.mailbox_id, reason)

    def _state(self, tx: Tx, row: Any, state: str, answer: str, attempts: int, now: datetime) -> None:
        """The response's delivery state, in the outcome's transaction. A response that refuses it (its
        collection's schema changed, say) must not undo the outcome: that would send the message again."""
        with delivery.bookkeeping(self.core, tx, row.workspace_id) as uow:
            try:
                delivery.set_state(uow, row.response_id, state, answer, attempts, now)
            except DeskbaseError as exc:
                log.error(
                    "response %s/%s keeps no delivery state: %s", row.workspace_id, row.response_id, exc
                )


def _live_replies(conn: Any, ws: str, ids: list[str]) -> set[str]:
    if not ids:
        return set()
    r = t.records
    return set(
        conn.execute(
            select(r.c.id).where(
                r.c.workspace_id == ws, r.c.collection == "responses", r.c.id.in_(ids), r.c.deleted.is_(False)
            )
        ).scalars()
    )
