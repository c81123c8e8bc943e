"""Inbound hook ingest: verify the sender, dedupe on `webhook-id`, map the payload, upsert the record — and
the hook's ingest log.

One POST is one unit of work by the actor `hook:<id>` with its owner's grants (core/writer.py checks them),
so the record, its change-log entry and the ingest-log entry commit together or not at all. An accepted
webhook id is unique per hook: a second delivery of it answers with the record the first one wrote and writes
nothing. A refusal after the sender was verified (bad JSON, a payload the mapping or the collection's schema
refuses) is logged with its error and may be retried with the same webhook id; an unverified request is
logged nowhere, so nobody without the secret can fill the log.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import delete, func, insert, select
from sqlalchemy.engine import Connection

from deskbase.core.app import Deskbase
from deskbase.core.clock import iso
from deskbase.core.errors import (
    BadRequest,
    DeskbaseError,
    InvalidFilter,
    InvalidJson,
    NotFound,
    PayloadTooLarge,
    Unauthorized,
    ValidationFailed,
)
from deskbase.core.filters import decode_cursor, encode_cursor
from deskbase.core.ids import uuid7
from deskbase.events import mapping, signing
from deskbase.events.deliveries import PRUNE_BATCH
from deskbase.events.hooks import Hooks, actor_of
from deskbase.events.tables import hook_ingests

h = hook_ingests
STATUSES = ("created", "updated", "failed")
RETENTION_STEP = timedelta(hours=1)
Parse = Callable[[bytes], Any]


def _orjson(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidJson(f"the payload is not valid JSON: {exc}") from None


@dataclass(frozen=True)
class Ingested:
    """The answer to an accepted POST: `duplicate` when the webhook id was applied before."""

    status: str  # created | updated | duplicate
    record_id: str
    collection: str
    ingest_id: str  # the ingest-log entry that wrote the record
    webhook_id: str | None

    def public(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "record_id": self.record_id,
            "collection": self.collection,
            "ingest_id": self.ingest_id,
            "webhook_id": self.webhook_id,
        }


def public(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "webhook_id": row.webhook_id,
        "received_at": iso(row.received_at),
        "status": row.status,
        "record_id": row.record_id,
        "error": row.error,
    }


class Ingest:
    def __init__(self, core: Deskbase, store: Hooks, max_bytes: int) -> None:
        self.core = core
        self.store = store
        self.max_bytes = max_bytes

    def __call__(
        self,
        key: str,
        headers: Mapping[str, str],
        body: bytes,
        parse: Parse = _orjson,
        throttle: Callable[[str], None] | None = None,
    ) -> Ingested:
        """Apply one POST to the hook whose ingest URL carries `key`. Headers are looked up by lower-case
        name; `parse` turns the body into JSON under the API's rules; `throttle` (the adapter's rate limit)
        is asked with "<workspace>/<hook id>" once the hook is known to exist, so unknown URLs cost no state."""
        now = self.core.clock.now()
        row = self.store.by_key(key)
        if throttle is not None:
            throttle(f"{row.workspace_id}/{row.id}")
        if len(body) > self.max_bytes:
            raise PayloadTooLarge(
                f"the payload is {len(body)} bytes; this server takes at most {self.max_bytes}",
                {"size": len(body), "limit": self.max_bytes},
            )
        webhook_id = self._sender(row, headers, body, now)
        try:
            seen = self._seen(row, webhook_id)
            if seen is not None:
                return seen
            return self._write(row, webhook_id, parse(body), now)
        except DeskbaseError as exc:
            exc.details["ingest_id"] = self._refused(row, webhook_id, now, exc)
            raise

    def _sender(self, row: Any, headers: Mapping[str, str], body: bytes, now: datetime) -> str | None:
        """The verified webhook id (Standard Webhooks), or the id a `none` hook was sent, if any."""
        if row.verify == "none":
            given = headers.get("webhook-id") or None
            if given is not None and len(given) > signing.MAX_ID:
                raise BadRequest(f"webhook-id is longer than {signing.MAX_ID} characters")
            return given
        try:
            return signing.verify(self.store.verifying_secrets(row, now), headers, body, int(now.timestamp()))
        except signing.Refused as exc:
            raise Unauthorized(f"signature refused: {exc}") from None

    def _seen(self, row: Any, webhook_id: str | None, conn: Connection | None = None) -> Ingested | None:
        if webhook_id is None:
            return None
        q = select(h).where(
            h.c.workspace_id == row.workspace_id, h.c.hook_id == row.id, h.c.dedupe_key == webhook_id
        )
        if conn is None:
            with self.core.db.read() as c:
                hit = c.execute(q).first()
        else:
            hit = conn.execute(q).first()
        if hit is None:
            return None
        return Ingested("duplicate", hit.record_id, row.collection, hit.id, webhook_id)

    def _write(self, row: Any, webhook_id: str | None, payload: Any, now: datetime) -> Ingested:
        got, errors = mapping.apply(row.mapping, row.external_id, payload)
        if errors:
            raise ValidationFailed(f"the payload does not fit hook {row.id!r}", errors)
        coll, source, entry = row.collection, f"hook:{row.id}", uuid7()
        try:
            with self.core.records.unit(row.workspace_id, actor_of(row)) as uow:
                if webhook_id is not None:
                    uow.claim("hook", row.id, webhook_id)  # a redelivery waits, then finds this one
                again = self._seen(row, webhook_id, uow.tx.conn)
                if again is not None:
                    return again
                data = got.data
                if got.external_id is not None:
                    uow.prefetch_external([(coll, source, got.external_id)])
                    known = uow.by_external.get((coll, source, got.external_id))
                    current = uow.records.get(known) if known else None
                    if current is not None and not current.deleted:
                        data = {**current.data, **data}  # the hook owns the fields it maps, not the others
                st, created = uow.upsert_record(
                    coll,
                    data,
                    None,
                    external_id=got.external_id,
                    external_source=source if got.external_id is not None else None,
                )
                status = "created" if created else "updated"
                uow.tx.conn.execute(
                    insert(h).values(
                        id=entry,
                        workspace_id=row.workspace_id,
                        hook_id=row.id,
                        webhook_id=webhook_id,
                        dedupe_key=webhook_id,
                        received_at=now,
                        status=status,
                        record_id=st.id,
                    )
                )
        except ValidationFailed as exc:
            if got.unresolved:
                exc.details["unresolved"] = got.unresolved
            raise
        except NotFound as exc:
            raise ValidationFailed(
                f"hook {row.id!r} writes to collection {coll!r}, which no longer exists",
                [{"pointer": "/collection", "message": exc.message}],
            ) from exc
        return Ingested(status, st.id, coll, entry, webhook_id)

    def _refused(self, row: Any, webhook_id: str | None, now: datetime, exc: DeskbaseError) -> str:
        """Log a refused POST (in its own transaction: the refused write rolled back); returns the entry id."""
        entry = uuid7()
        with self.core.db.tx() as tx:
            tx.conn.execute(
                insert(h).values(
                    id=entry,
                    workspace_id=row.workspace_id,
                    hook_id=row.id,
                    webhook_id=webhook_id,
                    dedupe_key=None,
                    received_at=now,
                    status="failed",
                    error=exc.to_dict(),
                )
            )
        return entry

    # ---- the ingest log -----------------------------------------------------------------------------
    def log(self, ws: str, hid: str, cursor: str | None, limit: int, status: str | None) -> dict[str, Any]:
        """Newest first, by cursor."""
        selection(ws, hid, status)  # an unknown status is refused before the hook is looked up
        self.store.get(ws, hid)
        with self.core.db.read() as conn:
            return log_page(conn, ws, hid, cursor, limit, status)


def selection(ws: str, hid: str, status: str | None) -> list[Any]:
    """The conditions of a hook's ingest log, optionally of one status: the log lists them and the summary
    counts them, so a count shown beside a hook is the number of rows its filtered log has."""
    if status is not None and status not in STATUSES:
        raise InvalidFilter(f"status is one of {', '.join(STATUSES)}", {"status": status})
    where = [h.c.workspace_id == ws, h.c.hook_id == hid]
    return where if status is None else [*where, h.c.status == status]


def log_page(
    conn: Connection, ws: str, hid: str, cursor: str | None, limit: int, status: str | None
) -> dict[str, Any]:
    """A page of the ingest log, newest first, inside the caller's read transaction."""
    q = select(h).where(*selection(ws, hid, status))
    if cursor:
        (last,) = decode_cursor(cursor, 1)
        if not isinstance(last, str):
            raise InvalidFilter("invalid cursor", {"cursor": cursor})
        q = q.where(h.c.id < last)
    rows = conn.execute(q.order_by(h.c.id.desc()).limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    return {
        "data": [public(r) for r in rows],
        "next_cursor": encode_cursor([rows[-1].id]) if more else None,
    }


@dataclass(frozen=True)
class Summary:
    """How a hook is doing: its newest ingest-log entry and how many refused ingests the log holds."""

    last: dict[str, Any] | None  #: the newest entry in its wire form (`public`), None for an empty log
    refused: int  #: entries with status `failed`: what the log filtered to `failed` lists


def summary(conn: Connection, ws: str, hid: str) -> Summary:
    """The hook's summary (inside the caller's read transaction, beside the log page it goes with)."""
    last = conn.execute(select(h).where(*selection(ws, hid, None)).order_by(h.c.id.desc()).limit(1)).first()
    refused = conn.execute(select(func.count()).where(*selection(ws, hid, "failed"))).scalar_one()
    return Summary(public(last) if last is not None else None, int(refused))


def prune(conn: Connection, before: datetime) -> int:
    """Forget up to `PRUNE_BATCH` ingest-log entries received before `before` (their webhook ids no longer
    dedupe)."""
    ids = list(conn.execute(select(h.c.id).where(h.c.received_at < before).limit(PRUNE_BATCH)).scalars())
    if ids:
        conn.execute(delete(h).where(h.c.id.in_(ids)))
    return len(ids)
