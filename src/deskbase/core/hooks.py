"""Core hooks: the support domain and the replicator subscribe here exactly as an extension would.

`in_transaction` hooks see the change entries of a write inside its transaction (derived state such as SLA
clocks stays consistent with the write); `after_commit` hooks run only once the write is durable
(replication wake-ups, webhooks) and never for a rolled-back write; `read` hooks add derived fields to
single-record reads. `record_checks` are a collection's domain rules on a staged write (ones a JSON Schema
cannot state, such as "the assignee is an agent"), and `before_flush` hooks may add changes of their own to a
unit of work just before it is written (assignment rules), so every write path gets both in one place.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from deskbase.core.changelog import Change
from deskbase.core.db import Tx

if TYPE_CHECKING:
    from deskbase.core.writer import UnitOfWork

InTxHook = Callable[[Tx, list[Change]], None]
AfterCommitHook = Callable[[list[Change]], None]
ReadHook = Callable[[str, dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class Revocation:
    """Owners (token ids, and user ids: a console session configures as its user) whose recorded grants end
    in this transaction: what acts with them stops, with `reason` recorded as its `disabled_reason`."""

    owners: frozenset[str]
    reason: str
    workspace_id: str | None = None  #: only what they configured there (a member removed); None: everywhere


#: Recorded grants ended in this transaction: what acts with them stops with them.
RevokeHook = Callable[[Tx, Revocation], None]
#: A user's email changed in this transaction: (tx, user id, old email, new email).
EmailHook = Callable[[Tx, str, str, str], None]
#: A user left a workspace (its id) or the server (None) in this transaction: what was theirs there goes.
LeaveHook = Callable[[Tx, str, str | None], None]
#: A staged record write: (unit of work, data before the write or None for a new record, data after).
#: Raises ValidationFailed to refuse it.
RecordCheck = Callable[["UnitOfWork", dict[str, Any] | None, dict[str, Any]], None]
BeforeFlush = Callable[["UnitOfWork"], None]


class Hooks:
    def __init__(self) -> None:
        self.in_transaction: list[InTxHook] = []
        self.after_commit: list[AfterCommitHook] = []
        self.read: dict[str, list[ReadHook]] = {}
        self.revoked: list[RevokeHook] = []
        self.left: list[LeaveHook] = []
        self.email_changed: list[EmailHook] = []
        self.record_checks: dict[str, list[RecordCheck]] = {}
        self.before_flush: list[BeforeFlush] = []

    def on_change_in_tx(self, fn: InTxHook) -> InTxHook:
        self.in_transaction.append(fn)
        return fn

    def on_commit(self, fn: AfterCommitHook) -> AfterCommitHook:
        self.after_commit.append(fn)
        return fn

    def on_tokens_revoked(self, fn: RevokeHook) -> RevokeHook:
        """Triggers and hooks keep their owner's grants; they must stop in the transaction that ends them (a
        token revoked, a user suspended or deleted, a member demoted or removed)."""
        self.revoked.append(fn)
        return fn

    def on_user_left(self, fn: LeaveHook) -> LeaveHook:
        """In the transaction that removes a member from a workspace, or deletes a user (workspace None)."""
        self.left.append(fn)
        return fn

    def on_email_changed(self, fn: EmailHook) -> EmailHook:
        """In the transaction that changes a user's email (what refers to people by email follows them)."""
        self.email_changed.append(fn)
        return fn

    def on_record_write(self, collection: str, fn: RecordCheck) -> RecordCheck:
        """Check every staged write of a collection's records (create, replace, patch) before it is logged."""
        self.record_checks.setdefault(collection, []).append(fn)
        return fn

    def on_before_flush(self, fn: BeforeFlush) -> BeforeFlush:
        """See a unit of work's staged records just before they are written; may stage more changes."""
        self.before_flush.append(fn)
        return fn

    def on_read(self, collection: str, fn: ReadHook) -> ReadHook:
        """Add fields to single-record reads of a collection (e.g. `sla` and `metrics` on tickets)."""
        self.read.setdefault(collection, []).append(fn)
        return fn

    def enrich(self, workspace_id: str, record: dict[str, Any]) -> dict[str, Any]:
        for fn in self.read.get(record["collection"], []):
            record = {**record, **fn(workspace_id, record)}
        return record
