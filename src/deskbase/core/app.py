"""The Deskbase facade: the only object adapters (API, CLI, console, workers) talk to."""

from __future__ import annotations

import threading
from typing import Any

from sqlalchemy import func, select

from deskbase.config import Settings
from deskbase.core import changelog, lookups, migrate
from deskbase.core import tables as t
from deskbase.core.agent_state import Drafts, Presence, Reads
from deskbase.core.auth import audit_view, collections_for, may_read_change
from deskbase.core.batch import Batch
from deskbase.core.changelog import Change
from deskbase.core.clock import Clock, SystemClock
from deskbase.core.collections import Collections
from deskbase.core.context import SYSTEM, Actor
from deskbase.core.db import Database, Tx
from deskbase.core.errors import InvalidFilter
from deskbase.core.extensions import Extensions
from deskbase.core.files import Files
from deskbase.core.hooks import Hooks
from deskbase.core.invitations import Invitations
from deskbase.core.lookups import SchemaCache
from deskbase.core.members import Members
from deskbase.core.personal_tokens import PersonalTokens
from deskbase.core.preferences import Preferences
from deskbase.core.records import Records
from deskbase.core.relationships import Relationships
from deskbase.core.reltypes import RelationshipTypes
from deskbase.core.roles import Roles
from deskbase.core.schemas import ValidatorCache
from deskbase.core.second_factor import SecondFactor
from deskbase.core.sessions import Sessions
from deskbase.core.signin import SignIn
from deskbase.core.stored_queries import StoredQueries
from deskbase.core.teams import Teams
from deskbase.core.templates import Templates
from deskbase.core.tokens import Tokens
from deskbase.core.users import Users
from deskbase.core.workspaces import Workspaces

#: Most change-log rows one feed request reads for a token that sees only part of the workspace.
FEED_SCAN = 10_000
#: Longest a feed read (or a "seen up to" mark) waits for writes in flight below the workspace's last change
#: (PostgreSQL); past it the answer stops at the horizon and the rest comes with the next read.
HORIZON_WAIT = 2.0


class Deskbase:
    def __init__(self, settings: Settings, clock: Clock | None = None) -> None:
        self.settings = settings
        self.clock: Clock = clock or SystemClock()
        self.db = Database(
            settings.effective_database_url, settings.sqlite_synchronous, settings.sqlite_group_commit
        )
        self.hooks = Hooks()
        self.validators = ValidatorCache()
        self.schema_cache = SchemaCache()
        self.workspaces = Workspaces(self)
        self.collections = Collections(self)
        self.reltypes = RelationshipTypes(self)
        self.records = Records(self)
        self.relationships = Relationships(self)
        self.batch = Batch(self)
        self.files = Files(self)
        self.tokens = Tokens(self)
        self.people = Users(self)
        self.roles = Roles(self)
        self.members = Members(self)
        self.teams = Teams(self)
        self.invitations = Invitations(self)
        self.factors = SecondFactor(self)
        self.signin = SignIn(self)
        self.personal_tokens = PersonalTokens(self)
        self.templates = Templates(self)
        self.stored_queries = StoredQueries(self)
        self.preferences = Preferences(self)
        self.presence = Presence(self.db, self.clock)
        self.drafts = Drafts(self.db, self.clock)
        self.reads = Reads(self.db, self.clock)
        self.sessions = Sessions(self.db, self.clock)
        self.store_id = ""
        #: Services installed by extensions (the SLA service, webhooks, the replica), looked up by class.
        self.extensions = Extensions()
        self._last_seq: dict[str, int] = {}
        self._seq_lock = threading.Lock()

    @classmethod
    def open(cls, settings: Settings, clock: Clock | None = None) -> Deskbase:
        """Open the primary store and bring its schema up to date."""
        app = cls(settings, clock)
        migrate.upgrade(app.db)
        with app.db.read() as conn:
            app.store_id = conn.execute(select(t.meta.c.value).where(t.meta.c.key == "store_id")).scalar_one()
        return app

    def close(self) -> None:
        self.db.dispose()

    # ---- the change pipeline ----------------------------------------------------------------------
    def emit(self, tx: Tx, entries: list[Change], run_hooks: bool = True) -> None:
        """Append entries to the change log inside `tx`; hooks see them in the transaction and after commit."""
        changelog.append(tx.conn, entries)
        for c in entries:
            tx.note_change(c.workspace_id, c.seq)
        if run_hooks:
            self.run_in_tx_hooks(tx, entries)
        else:
            self._after_commit(tx, entries)

    def emit_definition(self, tx: Tx, change: Change) -> None:
        """Log a change to what every write reads (a collection, a relationship type, an extension's per-write
        configuration) and move its workspace's `schema_version` with it, so every process's caches reload."""
        self.emit(tx, [change])
        lookups.bump(tx, change.workspace_id, change.seq)

    def run_in_tx_hooks(self, tx: Tx, entries: list[Change]) -> None:
        for hook in self.hooks.in_transaction:
            hook(tx, entries)
        self._after_commit(tx, entries)

    def _after_commit(self, tx: Tx, entries: list[Change]) -> None:
        if tx.commit_hooks_registered:
            return
        tx.commit_hooks_registered = True

        def done() -> None:
            with self._seq_lock:
                for ws, seq in tx.changed_workspaces.items():
                    if seq > self._last_seq.get(ws, 0):
                        self._last_seq[ws] = seq
            for hook in self.hooks.after_commit:
                hook(entries)

        tx.after_commit(done)

    def last_seq(self, workspace_id: str) -> int:
        """The workspace's last committed change (what read-your-writes waits for)."""
        with self.db.read() as conn:
            return self._max_seq(conn, workspace_id)

    def settled_seq(self, workspace_id: str) -> int:
        """A seq up to which the workspace's change log is complete: no change at or below it can still
        commit (on PostgreSQL one may be in flight below `last_seq`; core/horizon.py). For "seen up to" marks
        and cache keys: a change committing late with a lower seq still counts as new."""
        with self.db.read() as conn:
            last = self._max_seq(conn, workspace_id)
            final = self.db.horizon.wait(conn, last, HORIZON_WAIT)
        return last if final is None else min(last, final)

    @staticmethod
    def _max_seq(conn: Any, workspace_id: str) -> int:
        seq = conn.execute(
            select(func.max(t.changes.c.seq)).where(t.changes.c.workspace_id == workspace_id)
        ).scalar()
        return int(seq or 0)

    def changes(
        self, workspace_id: str, after: int = 0, limit: int = 100, actor: Actor = SYSTEM
    ) -> dict[str, Any]:
        """The change feed as `actor` may read it: entries outside its scope are skipped and who made a change
        shows to read:audit holders only. `next_after` moves past skipped entries, so a page may be short
        (even empty) while more follow; the feed is caught up when `next_after` stops moving."""
        if not 1 <= limit <= 1000:
            raise InvalidFilter("limit must be between 1 and 1000", {"limit": limit})
        data: list[dict[str, Any]] = []
        cursor, scanned = after, 0
        chunk = limit
        readable = collections_for(actor, "read:records", workspace_id)  # most entries: filtered in SQL
        only = sorted(readable) if readable is not None else None
        with self.db.read() as conn:
            self.workspaces.require(conn, workspace_id)
            # Never past the log's horizon (PostgreSQL: a change below it may still be in flight, and a
            # cursor past it would skip that change for good). With rows filtered in SQL the last row read
            # is not the last row skipped: scan up to a bound taken first, below which the log is final, and
            # move the cursor to it when the scan runs out.
            last = self._max_seq(conn, workspace_id)
            final = self.db.horizon.wait(conn, last, HORIZON_WAIT)  # a reader after a write sees it
            bound = last if final is None else min(last, final)
            until = final if only is None else bound
            while len(data) < limit and scanned < FEED_SCAN:
                rows = changelog.feed(conn, workspace_id, cursor, chunk, only, until)
                for r in rows:
                    scanned += 1
                    cursor = r.seq
                    entry = changelog.public(r)
                    if may_read_change(actor, entry):
                        data.append(entry)
                        if len(data) == limit:
                            break
                if len(data) == limit:
                    break
                if len(rows) < chunk:
                    cursor = cursor if until is None else max(cursor, until)
                    break
                chunk = max(chunk, 1000)  # skipping entries: read on in larger steps
        return {"data": audit_view(actor, data), "next_after": cursor}
