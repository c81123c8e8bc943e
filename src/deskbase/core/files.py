"""Files: uploads kept as content-addressed blobs, their metadata, and who may read them.

An upload is staged and hashed while it streams in, stored under its sha256 (once, however many uploads carry
the same bytes), then its metadata row and a change entry (`entity: "file"`) are written in one transaction.
Records refer to files by id (fields marked `x-files`); reading a file needs `read:files` and read access to a
record that refers to it — or being its uploader while nothing refers to it yet (see `file_refs.may_read`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from typing import IO, TYPE_CHECKING, Any

from sqlalchemy import select, update
from sqlalchemy.engine import Connection

from deskbase.core import bulk
from deskbase.core import tables as t
from deskbase.core.auth import authorize, permits
from deskbase.core.blobs import CHUNK, BlobStore, Staged, open_blobs
from deskbase.core.changelog import Change
from deskbase.core.clock import iso
from deskbase.core.context import Actor
from deskbase.core.db import Tx
from deskbase.core.errors import Conflict, Forbidden, NotFound
from deskbase.core.file_refs import is_referenced, may_read, readable
from deskbase.core.file_types import clean_content_type, clean_name
from deskbase.core.ids import uuid7

if TYPE_CHECKING:
    from deskbase.core.app import Deskbase

log = logging.getLogger(__name__)
f = t.files
CHUNK_IDS = 500


def public(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": row.name,
        "content_type": row.content_type,
        "size": row.size,
        "sha256": row.sha256,
        "created_at": iso(row.created_at),
        "created_by": row.created_by,
    }


class Files:
    def __init__(self, app: Deskbase) -> None:
        self.app = app
        self._blobs: BlobStore | None = None

    @property
    def blobs(self) -> BlobStore:
        """Opened on first use, so a server without uploads never needs its object store."""
        if self._blobs is None:
            self._blobs = open_blobs(self.app.settings)
        return self._blobs

    # ---- upload -----------------------------------------------------------------------------------
    def begin(self, workspace_id: str, actor: Actor, limit: int | None = None) -> Staged:
        """Check the caller may upload here, then open a staged upload to stream the bytes into, of at most
        `limit` bytes (default `max_file_bytes`; mail keeps a message's original under `max_mail_bytes`)."""
        with self.app.db.read() as conn:
            self.app.workspaces.require(conn, workspace_id)
        return self.stage(workspace_id, actor, limit)

    def stage(self, workspace_id: str, actor: Actor, limit: int | None = None) -> Staged:
        """`begin` for a caller that has just read the workspace itself (mail reads its mailbox): no read."""
        authorize(actor, "write:files", workspace_id)
        return Staged(self.blobs.staging_dir(), limit or self.app.settings.max_file_bytes)

    def commit(
        self, workspace_id: str, actor: Actor, staged: Staged, name: str | None, content_type: str | None
    ) -> dict[str, Any]:
        """Store a fully written staged upload and record its metadata; the staged file is removed."""
        try:
            self.persist(staged)
            with self.app.db.tx() as tx:
                self.app.workspaces.require(tx.conn, workspace_id)
                return self.add(tx, workspace_id, actor, staged, name, content_type)
        finally:
            staged.discard()

    def persist(self, staged: Staged) -> str:
        """Make a staged upload's bytes durable and put them in the blob store (outside any transaction:
        a slow object store must not hold a transaction open); returns the sha256."""
        self.persist_all([staged])
        return staged.sha256

    def persist_all(self, staged: Sequence[Staged]) -> None:
        """`persist` for a message and its attachments: their directory entries made durable by one flush."""
        for s in staged:
            s.finish()
        self.blobs.put_all(staged)

    def add(
        self,
        tx: Tx,
        workspace_id: str,
        actor: Actor,
        staged: Staged,
        name: str | None,
        content_type: str | None,
    ) -> dict[str, Any]:
        """Record a persisted upload's metadata inside the caller's transaction; its public form."""
        fid = self.add_all(tx, workspace_id, actor, [(staged, name, content_type)])[0]
        return public(self._row(tx.conn, workspace_id, fid))

    def add_all(
        self,
        tx: Tx,
        workspace_id: str,
        actor: Actor,
        uploads: Sequence[tuple[Staged, str | None, str | None]],
    ) -> list[str]:
        """Record persisted uploads' metadata inside the caller's transaction (mail stores a message's files
        with the message): one change-log append and one insert for them all; their ids, in order."""
        now = self.app.clock.now()
        changes: list[Change] = []
        rows: list[dict[str, Any]] = []
        for staged, name, content_type in uploads:
            fid = uuid7()
            image = {
                "name": clean_name(name),
                "content_type": clean_content_type(content_type),
                "size": staged.size,
                "sha256": staged.sha256,
                "created_at": iso(now),
            }
            # Deletes of a blob's last row hold this same lock (`collect`): re-put if one won.
            tx.lock(f"blob:{staged.sha256}")
            if not self.blobs.exists(staged.sha256):
                self.blobs.put(staged)
            changes.append(self._change(workspace_id, fid, "create", image, actor))
            rows.append(
                {
                    "workspace_id": workspace_id,
                    "id": fid,
                    "name": image["name"],
                    "content_type": image["content_type"],
                    "size": staged.size,
                    "sha256": staged.sha256,
                    "deleted": False,
                    "created_at": now,
                    "created_by": actor.id,
                }
            )
        if not rows:
            return []
        self.app.emit(tx, changes)
        for row, change in zip(rows, changes, strict=True):
            row["version"] = change.seq
        bulk.insert_dicts(tx.conn, f, rows)
        return [row["id"] for row in rows]

    def upload(
        self, workspace_id: str, actor: Actor, name: str | None, content_type: str | None, source: IO[bytes]
    ) -> dict[str, Any]:
        """Upload from a binary stream (CLI imports, tests, mail): read and staged in chunks."""
        staged = self.begin(workspace_id, actor)
        try:
            while chunk := source.read(CHUNK):
                staged.write(chunk)
        except BaseException:
            staged.discard()
            raise
        return self.commit(workspace_id, actor, staged, name, content_type)

    # ---- read -------------------------------------------------------------------------------------
    def get(self, workspace_id: str, actor: Actor, file_id: str) -> dict[str, Any]:
        with self.app.db.read() as conn:
            return public(self._readable(conn, workspace_id, actor, file_id))

    def readable(self, workspace_id: str, actor: Actor, file_ids: Iterable[str]) -> dict[str, dict[str, Any]]:
        """The metadata of those of `file_ids` the caller may read (one read for all: a page listing a
        conversation's attachments); the others are left out, as `get` would answer them 404."""
        authorize(actor, "read:files", workspace_id)
        ids = sorted(set(file_ids))
        with self.app.db.read() as conn:
            self.app.workspaces.require(conn, workspace_id)
            rows: list[Any] = []
            for i in range(0, len(ids), CHUNK_IDS):
                rows += conn.execute(
                    select(f).where(
                        f.c.workspace_id == workspace_id,
                        f.c.id.in_(ids[i : i + CHUNK_IDS]),
                        f.c.deleted.is_(False),
                    )
                ).all()
            allowed = readable(conn, actor, workspace_id, rows)
        return {row.id: public(row) for row in rows if row.id in allowed}

    def open(self, workspace_id: str, actor: Actor, file_id: str) -> tuple[dict[str, Any], Iterator[bytes]]:
        """The file's metadata and its bytes as an iterator of chunks (access checked before the first)."""
        meta = self.get(workspace_id, actor, file_id)
        return meta, self.blobs.read(meta["sha256"])

    def _readable(self, conn: Connection, workspace_id: str, actor: Actor, file_id: str) -> Any:
        authorize(actor, "read:files", workspace_id)
        return self._visible(conn, workspace_id, actor, file_id)

    def _visible(self, conn: Connection, workspace_id: str, actor: Actor, file_id: str) -> Any:
        """The live file row, when the caller may read it; otherwise the very 404 a missing file gets, so
        ids of files a token may not read tell it nothing."""
        self.app.workspaces.require(conn, workspace_id)
        row = self._row(conn, workspace_id, file_id)
        if row is None or row.deleted or not may_read(conn, actor, workspace_id, row):
            raise NotFound(f"file {file_id!r} not found", {"id": file_id})
        return row

    # ---- delete -----------------------------------------------------------------------------------
    def delete(self, workspace_id: str, actor: Actor, file_id: str) -> None:
        """The uploader (or a workspace admin) deletes a file no record refers to; its bytes go once no
        other live file carries the same content."""
        authorize(actor, "write:files", workspace_id)
        with self.app.db.tx() as tx:
            row = self._visible(tx.conn, workspace_id, actor, file_id)
            if row.created_by != actor.id and not permits(actor, "admin", workspace_id, whole_workspace=True):
                raise Forbidden(
                    "only the file's uploader or a workspace admin may delete it", {"permission": "admin"}
                )
            if is_referenced(tx.conn, workspace_id, file_id):
                raise Conflict(
                    f"file {file_id!r} is referred to by a record; remove it from the record first",
                    {"code": "file_referenced", "id": file_id},
                )
            change = self._log(tx, workspace_id, file_id, "delete", {"sha256": row.sha256}, actor)
            tx.conn.execute(
                update(f)
                .where(f.c.workspace_id == workspace_id, f.c.id == file_id)
                .values(deleted=True, version=change.seq)
            )
        self.collect([row.sha256])

    def collect(self, sha256s: Iterable[str]) -> None:
        """Remove those blobs no live file row names (after a delete, or when a write that persisted blobs
        did not commit their rows: a mail ingest that lost a race to the same message). Under each blob's
        lock (the one writer's lock on SQLite; taken in sorted order), so an upload of the same bytes either
        committed its row first (the blob stays) or re-puts the blob in its own transaction."""
        wanted = sorted({d for d in sha256s if d})
        if not wanted:
            return
        with self.app.db.tx() as tx:
            for sha256 in wanted:
                tx.lock(f"blob:{sha256}")
            live = set(
                tx.conn.execute(
                    select(f.c.sha256).where(f.c.sha256.in_(wanted), f.c.deleted.is_(False)).distinct()
                ).scalars()
            )
            for sha256 in wanted:
                if sha256 in live:
                    continue
                try:
                    self.blobs.delete(sha256)
                except Exception:  # the metadata is gone; a leftover blob is only space
                    log.exception("could not remove blob %s", sha256)

    # ---- helpers ----------------------------------------------------------------------------------
    @staticmethod
    def _row(conn: Connection, workspace_id: str, file_id: str) -> Any:
        return conn.execute(select(f).where(f.c.workspace_id == workspace_id, f.c.id == file_id)).first()

    def _log(
        self, tx: Tx, workspace_id: str, file_id: str, op: str, image: dict[str, Any], actor: Actor
    ) -> Change:
        change = self._change(workspace_id, file_id, op, image, actor)
        self.app.emit(tx, [change])
        return change

    def _change(
        self, workspace_id: str, file_id: str, op: str, image: dict[str, Any], actor: Actor
    ) -> Change:
        return Change(
            workspace_id,
            "file",
            None,
            file_id,
            op,
            image,
            actor.id,
            actor.name,
            self.app.clock.now(),
            source=actor.source,
        )
