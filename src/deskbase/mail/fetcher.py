"""IMAP fetching: one background loop per IMAP mailbox (core/loops.py), and the supervisor that starts and
stops them as mailboxes come and go.

A loop per mailbox, each under its own lease (`imap:<ws>/<id>`), so exactly one process fetches a mailbox
while another may fetch the next, and a server that IDLEs holds its own connection and thread. Each turn:

1. Read the mailbox (a changed version — a new password, another folder — reconnects with the new settings,
   so a change takes effect without a restart) and its watermark.
2. Select the folder. A UIDVALIDITY (or server, account, folder) other than the watermark's starts over from
   the first UID: Message-ID dedupe in the pipeline recognises what is stored already, so nothing repeats.
3. For each UID past the watermark, at most BATCH a turn, oldest first: skip it if its size is over
   `max_mail_bytes`, else fetch it and hand it to the pipeline (one transaction per message). The watermark
   moves past what committed at the end of the turn, or when a message fails (a separate transaction: a
   crash in between fetches those messages again, and they dedupe). A message the pipeline refuses for
   good (too large, not storable) is recorded in the skip log in the watermark's transaction and passed;
   one that fails for an unknown reason is retried, and skipped after STRIKES tries. Processed messages
   are then flagged `\\Seen`; skipped ones are left unread for a person to look at.
4. Wait: in IDLE when the server offers it (woken by the server's EXISTS, re-polled every
   `imap_poll_seconds` anyway), else until the next poll. A connection or store failure is recorded in the
   mailbox's health and retried with a growing back-off (a changed mailbox is retried at once).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from deskbase.core import loops
from deskbase.core.app import Deskbase
from deskbase.core.errors import (
    BadRequest,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    Unavailable,
    ValidationFailed,
)
from deskbase.mail import inbound_state
from deskbase.mail.imap import Folder, ImapFailure, Server, Session
from deskbase.mail.inbound_state import Skip, State
from deskbase.mail.ingest import Ingest
from deskbase.mail.mailboxes import Mailboxes
from deskbase.mail.tables import mailboxes

log = logging.getLogger(__name__)
BATCH = 50  #: messages a turn at most: the lease is renewed and a stop is heard between turns
IDLE_SLICE = 1.0  #: seconds an IDLE wait lasts before the turn ends (the loop's stop and lease checks)
#: A turn ends after this long, so the loop renews its lease (core/loops.py: renewed at half its length)
#: between turns in time; one message that takes longer lets it lapse, which dedupe makes harmless.
TURN_SECONDS = loops.LEASE.total_seconds() / 3
STRIKES = 3  #: tries of a message that fails for an unknown reason before it is skipped
MAX_BACKOFF = 900.0
RECONCILE_SECONDS = 5.0  #: how often the supervisor looks for mailboxes added, changed or removed elsewhere
#: The pipeline refused the message itself: retrying cannot help.
PERMANENT = (PayloadTooLarge, ValidationFailed, BadRequest)
#: The store, the disk or the connection failed, or the mailbox cannot write (its workspace lost the support
#: template, say): the message is fine, so it is tried again later, as often as it takes.
RETRY = (SQLAlchemyError, OSError, Unavailable, ImapFailure, NotFound, Forbidden)


class Fetcher:
    """Fetches one IMAP mailbox: the step of its loop."""

    def __init__(
        self, core: Deskbase, boxes: Mailboxes, ingest: Ingest, ws: str, mid: str, poll_seconds: float
    ) -> None:
        self.core = core
        self.boxes = boxes
        self.ingest = ingest
        self.ws = ws
        self.mid = mid
        self.poll_seconds = poll_seconds
        # Woken at least once a lease: a process that does not hold it tries to take it over that often.
        idle = min(poll_seconds, loops.LEASE.total_seconds())
        self.loop = loops.Loop(
            core.db, core.clock, inbound_state.loop_name(ws, mid), self.step, idle_seconds=idle
        )
        self._session: Session | None = None
        self._version: int | None = None  # the mailbox version the session was opened with
        self._reconnected = False  # a kept session failed and was replaced at once (only once in a row)
        self._retry_at = 0.0  # monotonic: no new connection before this (back-off) …
        self._failed_version: int | None = None  # … unless the mailbox changed since it failed
        self._next_poll = 0.0  # monotonic: when an IDLE wait is cut short for a poll anyway
        self._strikes: tuple[int, int] | None = None  # (uid, failures) of a message failing unexplained
        self._stopping = threading.Event()

    def start(self) -> None:
        self._stopping.clear()
        self.loop.start()

    def stop(self) -> None:
        self._stopping.set()
        self.loop.stop()
        self._close()

    def wake(self) -> None:
        self.loop.wake()

    # ---- one turn -----------------------------------------------------------------------------------
    def step(self) -> float | None:
        with self.core.db.read() as conn:
            row = conn.execute(
                select(mailboxes).where(mailboxes.c.workspace_id == self.ws, mailboxes.c.id == self.mid)
            ).first()
            state = inbound_state.read(conn, self.ws, self.mid)
        if row is None or row.inbound.get("kind") != "imap":
            self._close()  # deleted or no longer IMAP: the supervisor stops this loop
            return None
        if self._session is not None and row.version != self._version:
            self._close()
        now = time.monotonic()
        if self._session is None and now < self._retry_at and row.version == self._failed_version:
            return self._retry_at - now
        if self._session is not None and not self._session.idling and now < self._next_poll:
            return self._next_poll - now  # polling without IDLE: not yet time
        kept = self._session is not None
        try:
            if self._session is None:
                self._session = Session.open(Server.of(row, self.boxes))
                self._version = row.version
                self._next_poll = 0.0
            elif self._session.idling:
                woke = self._session.idle_wait(min(IDLE_SLICE, max(0.0, self._next_poll - now)))
                if not woke and time.monotonic() < self._next_poll:
                    return 0.0
                self._session.idle_stop()
            more = self._poll(self._session, state)
            with self.core.db.tx() as tx:
                inbound_state.polled(
                    tx.conn, self.ws, self.mid, self._session.idle_supported, self.core.clock.now()
                )
        except Exception as exc:
            self._close()
            if kept and isinstance(exc, ImapFailure) and not self._reconnected:
                self._reconnected = True  # a kept connection dropped (a server restart, a timeout): once more
                return 0.0
            return self._failed(row.version, exc)
        self._reconnected = False
        if more:
            return 0.0
        self._next_poll = time.monotonic() + self.poll_seconds
        if self._session.idle_supported:
            self._session.idle_start()
            return 0.0
        return self.poll_seconds

    def _poll(self, session: Session, state: State) -> bool:
        """Fetch up to BATCH new messages; True when more are waiting."""
        folder = session.select()
        last = state.last_uid
        source = session.server.source
        if state.uidvalidity != folder.uidvalidity or state.source != source:
            if state.uidvalidity is not None:
                log.warning(
                    "mailbox %s/%s: folder %s is new to us (UIDVALIDITY %s, was %s; or another server or "
                    "folder): fetching it from its first message, stored ones are recognised by Message-ID",
                    self.ws,
                    self.mid,
                    folder.name,
                    folder.uidvalidity,
                    state.uidvalidity,
                )
            with self.core.db.tx() as tx:
                inbound_state.start_over(
                    tx.conn, self.ws, self.mid, source, folder.uidvalidity, self.core.clock.now()
                )
            last = 0
        uids = session.uids_after(last, folder.uidnext)
        batch = uids[:BATCH]
        if not batch:
            return False
        sizes = session.sizes(batch)
        done: list[int] = []
        passed: int | None = None  # the last UID handled and not yet behind the stored watermark …
        fetched = 0  # … and how many committed messages that covers
        started = time.monotonic()
        try:
            for n, uid in enumerate(batch):
                if self._stopping.is_set() or time.monotonic() - started > TURN_SECONDS:
                    batch = batch[:n]  # the rest next turn, after the loop renewed its lease
                    break
                got, skip = self._one(session, folder, uid, sizes.get(uid))
                passed, fetched = uid, fetched + got
                if got:
                    done.append(uid)
                if skip is not None:  # the skip log and the watermark past it, together
                    self._advance(uid, fetched, skip)
                    passed, fetched = None, 0
        finally:  # also when a message failed: what came before it is committed
            if passed is not None:
                self._advance(passed, fetched, None)
        if done:
            session.mark_seen(done)
        return len(uids) > len(batch)

    def _advance(self, uid: int, fetched: int, skip: Skip | None) -> None:
        with self.core.db.tx() as tx:
            inbound_state.advance(tx.conn, self.ws, self.mid, uid, fetched, skip, self.core.clock.now())

    def _one(self, session: Session, folder: Folder, uid: int, size: int | None) -> tuple[int, Skip | None]:
        """Hand one message to the pipeline: (1, None) once it committed, (0, skip) when refused for good,
        (0, None) when it vanished from the folder meanwhile; raises to retry it later."""
        if size is None:
            return 0, None
        ref = f"{folder.name} uidvalidity {folder.uidvalidity} uid {uid}"
        limit = self.ingest.max_bytes
        if size > limit:
            reason = f"the message is {size} bytes; this server takes at most {limit} (max_mail_bytes)"
            return 0, self._skip(session, uid, ref, size, PayloadTooLarge.code, reason)
        raw = session.body(uid)
        if raw is None:
            return 0, None
        try:
            self.ingest(self.ws, self.mid, raw)
        except PERMANENT as exc:
            return 0, self._skip(session, uid, ref, len(raw), exc.code, exc.message)
        except RETRY:
            raise
        except Exception as exc:
            n = self._strikes[1] + 1 if self._strikes and self._strikes[0] == uid else 1
            self._strikes = (uid, n)
            if n < STRIKES:
                raise
            log.exception("mailbox %s/%s: %s failed %d times; skipping it", self.ws, self.mid, ref, n)
            reason = f"failed {n} times: {type(exc).__name__}: {exc}"[:2000]
            return 0, self._skip(session, uid, ref, len(raw), "failed", reason)
        self._strikes = None
        return 1, None

    def _skip(self, session: Session, uid: int, ref: str, size: int, code: str, reason: str) -> Skip:
        log.warning("mailbox %s/%s: skipping %s: %s", self.ws, self.mid, ref, reason)
        head = session.headers(uid)
        self._strikes = None
        return Skip(ref, code, reason, size, head["message_id"], head["from"], head["subject"])

    def _failed(self, version: int, exc: Exception) -> float:
        """Record the failure in the mailbox's health; returns the back-off before the next try."""
        message = str(exc) if isinstance(exc, ImapFailure) else f"{type(exc).__name__}: {exc}"
        log.warning("mailbox %s/%s: fetch failed: %s", self.ws, self.mid, message)
        try:
            with self.core.db.tx() as tx:
                n = inbound_state.failed(tx.conn, self.ws, self.mid, message, self.core.clock.now())
        except SQLAlchemyError:
            log.exception("mailbox %s/%s: could not record the failure", self.ws, self.mid)
            n = 1
        wait = min(self.poll_seconds * 2 ** min(n - 1, 16), max(MAX_BACKOFF, self.poll_seconds))
        self._retry_at = time.monotonic() + wait
        self._failed_version = version
        return wait

    def _close(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            session.close()


class Fetchers:
    """Runs a Fetcher for each IMAP mailbox of the store, following mailboxes as they are added, changed
    (the fetcher is woken: a back-off ends at once) or removed. Every process running it starts the same
    loops; their leases decide which one fetches each mailbox."""

    def __init__(self, core: Deskbase, boxes: Mailboxes, ingest: Ingest, poll_seconds: float) -> None:
        self.core = core
        self.boxes = boxes
        self.ingest = ingest
        self.poll_seconds = poll_seconds
        self._running: dict[tuple[str, str], tuple[Fetcher, int]] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="deskbase-imap", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None
        with self._lock:
            running, self._running = list(self._running.values()), {}
        _stop_all([f for f, _ in running])

    def wake(self) -> None:
        """A mailbox changed in this process: reconcile now rather than at the next interval."""
        self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            try:
                self.reconcile()
            except Exception:
                log.exception("IMAP supervisor: could not read the mailboxes; retrying")
            self._wake.wait(RECONCILE_SECONDS)

    def reconcile(self) -> None:
        with self.core.db.read() as conn:
            rows = conn.execute(
                select(mailboxes.c.workspace_id, mailboxes.c.id, mailboxes.c.version, mailboxes.c.inbound)
            ).all()
        wanted = {
            (r.workspace_id, r.id): int(r.version) for r in rows if (r.inbound or {}).get("kind") == "imap"
        }
        with self._lock:
            if self._stop.is_set():
                return
            gone = [self._running.pop(key)[0] for key in list(self._running) if key not in wanted]
            for key, version in wanted.items():
                current = self._running.get(key)
                if current is None:
                    fetcher = Fetcher(self.core, self.boxes, self.ingest, *key, self.poll_seconds)
                    self._running[key] = (fetcher, version)
                    fetcher.start()
                elif current[1] != version:
                    self._running[key] = (current[0], version)
                    current[0].wake()
        _stop_all(gone)


def _stop_all(fetchers: list[Any]) -> None:
    """Stop fetchers side by side (each may be in an IDLE wait of up to IDLE_SLICE)."""
    threads = [threading.Thread(target=f.stop, daemon=True) for f in fetchers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=35)
