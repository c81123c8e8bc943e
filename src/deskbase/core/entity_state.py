"""What a unit of work holds of a record or a relationship while it writes, and how a row becomes one: the
states, their public and change-log images, and RFC 7396 merge patches."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from deskbase.core.changelog import Change
from deskbase.core.clock import iso


@dataclass
class RecordState:
    collection: str
    id: str
    data: dict[str, Any]
    version: int
    deleted: bool
    external_id: str | None
    external_source: str | None
    created_at: datetime
    updated_at: datetime
    created_by: str | None
    updated_by: str | None
    number: int | None = None
    in_db: bool = True
    dirty: bool = False
    last_change: Change | None = None
    #: The data as stored (None for a new or deleted record): what the file-reference index reflects.
    stored_data: Any = None

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "collection": self.collection,
            "number": self.number,
            "data": self.data,
            "version": self.version,
            "deleted": self.deleted,
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
            "external_id": self.external_id,
            "external_source": self.external_source,
        }

    def image(self) -> dict[str, Any]:
        """The after-image stored in the change log: enough to rebuild the row (and the replica) from it."""
        out = {
            "data": self.data,
            "deleted": self.deleted,
            "external_id": self.external_id,
            "external_source": self.external_source,
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
        }
        if self.number is not None:
            out["number"] = self.number
        return out


@dataclass
class RelState:
    id: str
    rel_type: str
    source_collection: str
    source_id: str
    target_collection: str
    target_id: str
    data: dict[str, Any] | None
    version: int
    deleted: bool
    single_key: str | None
    created_at: datetime
    updated_at: datetime
    created_by: str | None
    updated_by: str | None
    in_db: bool = True
    dirty: bool = False
    last_change: Change | None = None

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "rel_type": self.rel_type,
            "source": {"collection": self.source_collection, "id": self.source_id},
            "target": {"collection": self.target_collection, "id": self.target_id},
            "data": self.data,
            "version": self.version,
            "deleted": self.deleted,
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
        }

    def image(self) -> dict[str, Any]:
        return {
            "rel_type": self.rel_type,
            "source_collection": self.source_collection,
            "source_id": self.source_id,
            "target_collection": self.target_collection,
            "target_id": self.target_id,
            "data": self.data,
            "deleted": self.deleted,
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
        }


def record_from_row(row: Any) -> RecordState:
    return RecordState(
        row.collection,
        row.id,
        row.data,
        row.version,
        row.deleted,
        row.external_id,
        row.external_source,
        row.created_at,
        row.updated_at,
        row.created_by,
        row.updated_by,
        row.number,
        stored_data=None if row.deleted else row.data,
    )


def rel_from_row(row: Any) -> RelState:
    return RelState(
        row.id,
        row.rel_type,
        row.source_collection,
        row.source_id,
        row.target_collection,
        row.target_id,
        row.data,
        row.version,
        row.deleted,
        row.single_key,
        row.created_at,
        row.updated_at,
        row.created_by,
        row.updated_by,
    )


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396 JSON merge patch."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result
