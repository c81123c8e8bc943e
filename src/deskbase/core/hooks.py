"""Core hooks: the support domain and the replicator subscribe here exactly as an extension would.

`in_transaction` hooks see the change entries of a write inside its transaction (derived state such as SLA
clocks stays consistent with the write); `after_commit` hooks run only once the write is durable
(replication wake-ups, webhooks) and never for a rolled-back write; `read` hooks add derived fields to
single-record reads.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from deskbase.core.changelog import Change
from deskbase.core.db import Tx

InTxHook = Callable[[Tx, list[Change]], None]
AfterCommitHook = Callable[[list[Change]], None]
ReadHook = Callable[[str, dict[str, Any]], dict[str, Any]]
#: Tokens revoked in this transaction (ids): what acts with a token's recorded grants stops with it.
RevokeHook = Callable[[Tx, set[str]], None]


class Hooks:
    def __init__(self) -> None:
        self.in_transaction: list[InTxHook] = []
        self.after_commit: list[AfterCommitHook] = []
        self.read: dict[str, list[ReadHook]] = {}
        self.revoked: list[RevokeHook] = []

    def on_change_in_tx(self, fn: InTxHook) -> InTxHook:
        self.in_transaction.append(fn)
        return fn

    def on_commit(self, fn: AfterCommitHook) -> AfterCommitHook:
        self.after_commit.append(fn)
        return fn

    def on_tokens_revoked(self, fn: RevokeHook) -> RevokeHook:
        """Triggers and hooks keep their owner's grants; they must stop in the transaction that revokes it."""
        self.revoked.append(fn)
        return fn

    def on_read(self, collection: str, fn: ReadHook) -> ReadHook:
        """Add fields to single-record reads of a collection (e.g. `sla` and `metrics` on tickets)."""
        self.read.setdefault(collection, []).append(fn)
        return fn

    def enrich(self, workspace_id: str, record: dict[str, Any]) -> dict[str, Any]:
        for fn in self.read.get(record["collection"], []):
            record = {**record, **fn(workspace_id, record)}
        return record
