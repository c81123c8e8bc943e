"""The fan-out loop: reads the change log (and the SLA events its changes recorded) past its watermark, up to
the log's horizon, derives notifications (derive.py) and stores them with the new watermark in ONE
transaction. A crash re-reads at most the changes after the stored watermark, and the store's unique
(user, source_key) makes the re-read tell nobody twice. Never fired from a route: a write only wakes it.

It reads ticket versions (assignments, tickets entering a team), responses linked to tickets (replies, notes
with mentions) and edits of notes (mentions added), and the SLA events those changes recorded.

Facts older than `MAX_AGE` when read (history brought in by an import, a replay of old SLA clocks) notify
nobody.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.engine import Connection

from deskbase.core import loops
from deskbase.core import tables as t
from deskbase.core.app import Deskbase
from deskbase.core.clock import iso
from deskbase.core.entity_state import RecordState
from deskbase.notify import derive as rules
from deskbase.notify.derive import Assignment, Candidate, Message, SlaEvent, TeamEntry, Ticket
from deskbase.notify.kinds import wants
from deskbase.notify.recipients import Directory
from deskbase.notify.store import store
from deskbase.support import tables as st
from deskbase.support.assignee_emails import ACTOR_ID as EMAIL_CHANGE
from deskbase.support.assignment import OPEN_STATUSES
from deskbase.support.tickets import classify, records_by_id, submitting_customers

log = logging.getLogger(__name__)
NAME = "notifications"  #: the loop's lease and watermark (migration 0021 starts it at the log's head)
BATCH = 500  #: relevant changes read per step at most
SCAN = 20_000  #: change-log rows one step reads past at most
MAX_AGE = timedelta(days=1)
PERSIST_IDLE_WATERMARK = 5.0
HORIZON_POLL = 0.01
#: Called after a step committed new notifications, with each one's id and candidate.
Listener = Callable[[list[tuple[str, Candidate]]], None]
Prefs = dict[str, dict[str, bool]]
Sink = Callable[[Connection, list[tuple[Candidate, Prefs]]], None]


class Fanout:
    def __init__(self, core: Deskbase, preferences: Callable[[str], dict[str, dict[str, bool]]]) -> None:
        """`preferences`: a user's stored per-kind choices (kinds.wants reads them)."""
        self.core = core
        self.preferences = preferences
        self.listeners: list[Listener] = []
        #: Run inside the step's transaction with every derived candidate and its recipient's preferences
        #: (the email queue), so what they queue commits with the watermark.
        self.sinks: list[Sink] = []
        self.loop = loops.Loop(core.db, core.clock, NAME, self.step, idle_seconds=1.0)
        self._watermark: int | None = None
        self._saved_at = time.monotonic()
        core.hooks.on_commit(lambda _entries: self.loop.wake())

    def start(self) -> None:
        self.loop.start()

    def stop(self) -> None:
        self.loop.stop()

    def step(self) -> float | None:
        """One batch; 0 when more changes wait, a short poll while the horizon holds changes back."""
        with self.core.db.read() as conn:
            if self._watermark is None:
                self._watermark = loops.read_watermark(conn, NAME)
            lo = self._watermark
            head = int(conn.execute(select(func.max(t.changes.c.seq))).scalar() or 0)
            final = self.core.db.horizon.seq(conn)  # never past a change still in flight (core/horizon.py)
            held = final is not None and final < head
            top = head if final is None else min(head, final)
            if top <= lo:
                return HORIZON_POLL if held else None
            bound = min(top, lo + SCAN)
            rows = self._changes(conn, lo, bound)
            hi = int(rows[-1].seq) if len(rows) == BATCH else bound
            found = self._derive(conn, rows, lo, hi)
        self._write(found, hi)
        if hi < top:
            return 0.0
        return HORIZON_POLL if held else None

    # ---- reading --------------------------------------------------------------------------------------
    @staticmethod
    def _changes(conn: Connection, lo: int, hi: int) -> list[Any]:
        c = t.changes.c
        tickets = and_(c.entity == "record", c.collection == "tickets", c.op != "delete")
        edits = and_(c.entity == "record", c.collection == "responses", c.op == "update")
        links = and_(c.entity == "relationship", c.collection == "has_response", c.op == "create")
        q = select(t.changes).where(c.seq > lo, c.seq <= hi, or_(tickets, edits, links))
        return list(conn.execute(q.order_by(c.seq).limit(BATCH)).all())

    def _derive(self, conn: Connection, rows: list[Any], lo: int, hi: int) -> list[Candidate]:
        oldest = self.core.clock.now() - MAX_AGE
        d = Directory(conn)
        assignments: list[Assignment] = []
        entering: list[Any] = []
        edits: list[tuple[Any, tuple[str, ...]]] = []
        links: list[Any] = []
        last: dict[tuple[str, str, str], dict[str, Any]] = {}  # record -> its data after the last change read
        for r in rows:
            if not d.members(r.workspace_id):
                continue  # nobody to tell there
            if r.entity != "record":
                if r.at >= oldest:
                    links.append(r)
                continue
            img = r.data or {}
            data = img.get("data") or {}
            key = (r.workspace_id, r.collection, r.entity_id)
            if r.collection == "responses" and (
                data.get("type") != "internal_note" or not data.get("mentions")
            ):
                last[key] = data  # mentions nobody: no earlier version to read (most are delivery states)
                continue
            before = last[key] if key in last else self._before(conn, r)
            last[key] = data
            if r.at < oldest or img.get("deleted"):
                continue
            if r.collection == "responses":
                added = _added_mentions(before, data)
                if added:
                    edits.append((r, added))
                continue
            now_assigned = data.get("assignee")
            if now_assigned and now_assigned != before.get("assignee") and r.actor != EMAIL_CHANGE:
                subject = str(data.get("subject") or "")
                ticket = Ticket(r.workspace_id, r.entity_id, img.get("number"), subject, now_assigned)
                assignments.append(
                    Assignment(int(r.seq), ticket, before.get("assignee"), r.actor, r.actor_name)
                )
            team = data.get("team")
            if isinstance(team, str) and team != before.get("team") and not now_assigned:
                entering.append(r)
        messages = self._messages(conn, links) + self._edits(conn, edits)
        return rules.derive(
            d, assignments, messages, self._sla(conn, d, lo, hi, oldest), self._entries(conn, entering)
        )

    @staticmethod
    def _before(conn: Connection, r: Any) -> dict[str, Any]:
        """The record's data before change `r` (empty for a new record)."""
        if r.op == "create":
            return {}
        c = t.changes.c
        prev = conn.execute(
            select(c.data)
            .where(c.workspace_id == r.workspace_id, c.entity == "record", c.collection == r.collection)
            .where(c.entity_id == r.entity_id, c.seq < r.seq)
            .order_by(c.seq.desc())
            .limit(1)
        ).scalar()
        data = (prev or {}).get("data")
        return data if isinstance(data, dict) else {}

    @staticmethod
    def _entries(conn: Connection, entering: list[Any]) -> list[TeamEntry]:
        """The tickets that entered a team and, as they are now, are still in it, open and unassigned: the
        team's rule gives a ticket its assignee in the transaction that moves it (a version of its own right
        after the writer's), and a ticket someone has taken since needs no call to the team."""
        out: list[TeamEntry] = []
        for ws in sorted({r.workspace_id for r in entering}):
            mine = [r for r in entering if r.workspace_id == ws]
            now = records_by_id(conn, ws, "tickets", [r.entity_id for r in mine])
            for r in mine:
                ticket = now.get(r.entity_id)
                team = str(((r.data or {}).get("data") or {}).get("team"))
                if (
                    ticket is None
                    or ticket.deleted
                    or ticket.data.get("team") != team
                    or ticket.data.get("assignee")
                    or ticket.data.get("status") not in OPEN_STATUSES
                ):
                    continue
                out.append(TeamEntry(int(r.seq), _ticket(ws, ticket), team, r.actor, r.actor_name))
        return out

    @staticmethod
    def _edits(conn: Connection, edits: list[tuple[Any, tuple[str, ...]]]) -> list[Message]:
        """Internal notes edited to mention more people, as messages naming only the newly mentioned."""
        out: list[Message] = []
        rel = t.relationships.c
        for ws in sorted({r.workspace_id for r, _ in edits}):
            mine = [(r, added) for r, added in edits if r.workspace_id == ws]
            owners = dict(
                conn.execute(
                    select(rel.target_id, rel.source_id).where(
                        rel.workspace_id == ws,
                        rel.rel_type == "has_response",
                        rel.source_collection == "tickets",
                        rel.target_collection == "responses",
                        rel.target_id.in_([r.entity_id for r, _ in mine]),
                        rel.deleted.is_(False),
                    )
                ).all()
            )
            tickets = records_by_id(conn, ws, "tickets", sorted(set(owners.values())))
            for r, added in mine:
                ticket = tickets.get(owners.get(r.entity_id, ""))
                if ticket is None or ticket.deleted:
                    continue
                data = (r.data or {}).get("data") or {}
                body, author = str(data.get("body") or ""), str(data.get("author") or "")
                out.append(
                    Message(
                        int(r.seq), _ticket(ws, ticket), "note", body, author, r.actor, r.actor_name, added
                    )
                )
        return out

    def _messages(self, conn: Connection, links: list[Any]) -> list[Message]:
        by_ws: dict[str, list[Any]] = {}
        for r in links:
            img = r.data or {}
            if (img.get("source_collection"), img.get("target_collection")) == ("tickets", "responses"):
                by_ws.setdefault(r.workspace_id, []).append(r)
        out: list[Message] = []
        for ws, group in by_ws.items():
            responses = records_by_id(conn, ws, "responses", [r.data["target_id"] for r in group])
            tickets = records_by_id(conn, ws, "tickets", [r.data["source_id"] for r in group])
            customers = submitting_customers(conn, ws, list(tickets))
            settings = conn.execute(select(t.workspaces.c.settings).where(t.workspaces.c.id == ws)).scalar()
            match = list((settings or {}).get("customer_author_match") or ["email", "id"])
            for r in group:
                resp, ticket = responses.get(r.data["target_id"]), tickets.get(r.data["source_id"])
                if resp is None or ticket is None or resp.deleted or ticket.deleted:
                    continue
                customer = customers.get(ticket.id)
                who = classify(resp.public(), customer.public() if customer else None, match)
                mentions = resp.data.get("mentions")
                out.append(
                    Message(
                        int(r.seq),
                        _ticket(ws, ticket),
                        who,
                        str(resp.data.get("body") or ""),
                        str(resp.data.get("author") or ""),
                        r.actor,
                        r.actor_name,
                        tuple(mentions) if isinstance(mentions, list) else (),
                    )
                )
        return out

    @staticmethod
    def _sla(conn: Connection, d: Directory, lo: int, hi: int, oldest: Any) -> list[SlaEvent]:
        """Warnings and breaches recorded by changes (lo, hi], on tickets as they are now."""
        se = st.sla_events
        rows = conn.execute(
            select(se)
            .where(se.c.version > lo, se.c.version <= hi, se.c.deleted.is_(False))
            .where(se.c.kind.in_(("warn", "breach")), se.c.at >= oldest)
            .order_by(se.c.version, se.c.at)
        ).all()
        rows = [r for r in rows if d.members(r.workspace_id)]
        out: list[SlaEvent] = []
        for ws in sorted({r.workspace_id for r in rows}):
            mine = [r for r in rows if r.workspace_id == ws]
            tickets = records_by_id(conn, ws, "tickets", [r.ticket_id for r in mine])
            for r in mine:
                ticket = tickets.get(r.ticket_id)
                if ticket is None or ticket.deleted:
                    continue
                restart = int((r.details or {}).get("restart", 0))
                raw = f"{ws}|{r.ticket_id}|{r.metric}|{r.cycle}|{restart}|{r.kind}|{iso(r.at)}"
                key = "s:" + hashlib.sha256(raw.encode()).hexdigest()[:40]
                out.append(SlaEvent(key, _ticket(ws, ticket), r.kind, r.metric, iso(r.at)))
        return out

    # ---- writing --------------------------------------------------------------------------------------
    def _write(self, found: list[Candidate], hi: int) -> None:
        """Store the notifications and the watermark in one transaction. With nothing to store the watermark
        is saved at most every few seconds: a crash re-reads that much and stores nothing twice."""
        if not found and time.monotonic() - self._saved_at < PERSIST_IDLE_WATERMARK:
            self._watermark = hi
            return
        prefs = {u: self.preferences(u) for u in {c.user_id for c in found}}
        shown = [c for c in found if wants(prefs[c.user_id], c.kind, "in_app")]
        with self.core.db.tx() as tx:
            stored = store(tx.conn, shown, self.core.clock.now())
            for sink in self.sinks:
                sink(tx.conn, [(c, prefs[c.user_id]) for c in found])
            loops.write_watermark(tx.conn, NAME, hi, self.core.clock)
        self._saved_at = time.monotonic()
        self._watermark = hi
        if stored:
            for fn in self.listeners:
                try:
                    fn(stored)
                except Exception:
                    log.exception("a notification listener failed")


def _added_mentions(before: dict[str, Any], after: dict[str, Any]) -> tuple[str, ...]:
    """The user ids `after` mentions and `before` did not, in order."""
    was, now = before.get("mentions"), after.get("mentions")
    was = was if isinstance(was, list) else []
    now = now if isinstance(now, list) else []
    return tuple(dict.fromkeys(u for u in now if isinstance(u, str) and u not in was))


def _ticket(ws: str, rec: RecordState) -> Ticket:
    return Ticket(ws, rec.id, rec.number, str(rec.data.get("subject") or ""), rec.data.get("assignee"))
