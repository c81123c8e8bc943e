"""Atomic batches: up to 1,000 mixed operations in one transaction — all or nothing.

Operations may name records created earlier in the same batch with `"$ref:<ref>"`. Existing records and links
are loaded in bulk before the operations run, so a batch costs a handful of queries, not one per operation.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from deskbase.core.clock import parse_iso
from deskbase.core.context import Actor
from deskbase.core.errors import DeskbaseError, ValidationFailed
from deskbase.core.writer import UnitOfWork

if TYPE_CHECKING:
    from deskbase.core.app import Deskbase

ALIASES = {
    "upsert_document": "upsert_record",
    "delete_document": "delete_record",
    "patch_document": "patch_record",
}
KEYS = {
    "upsert_record": {
        "collection",
        "ref",
        "id",
        "data",
        "external_id",
        "external_source",
        "at",
        "created_at",
        "number",
    },
    "patch_record": {"collection", "id", "data", "at"},
    "delete_record": {"collection", "id", "at"},
    "upsert_relationship": {"rel_type", "source", "target", "data", "replace", "at"},
    "delete_relationship": {"id", "at"},
}
REF = "$ref:"


def _fail(index: int, message: str, pointer: str = "") -> ValidationFailed:
    return ValidationFailed(
        f"operation {index}: {message}",
        [{"pointer": f"/operations/{index}{pointer}", "message": message}],
        {"operation_index": index},
    )


def _at(exc: DeskbaseError, index: int) -> DeskbaseError:
    """The same error (status and code kept) naming the operation that failed."""
    if not exc.message.startswith("operation "):
        exc.message = f"operation {index}: {exc.message}"
    exc.args = (exc.message,)
    exc.details = {**exc.details, "operation_index": index}
    return exc


class Batch:
    def __init__(self, app: Deskbase) -> None:
        self.app = app

    def run(self, workspace_id: str, operations: Any, actor: Actor) -> dict[str, Any]:
        ops = self._check(workspace_id, operations, actor)

        def stage(uow: UnitOfWork) -> list[tuple[str, Any, bool]]:
            self._prefetch(uow, ops)
            refs: dict[str, str] = {}
            touched: list[tuple[str, Any, bool]] = []
            for i, op in enumerate(ops):
                try:
                    touched.append(self._apply(uow, op, refs, i))
                except DeskbaseError as exc:
                    raise _at(exc, i) from None
            return touched

        touched = self.app.records.run(workspace_id, actor, stage)
        return {
            "results": [
                {
                    "index": i,
                    "type": kind,
                    "created": created,
                    ("relationship" if kind.endswith("relationship") else "record"): st.public(),
                }
                for i, (kind, st, created) in enumerate(touched)
            ]
        }

    def _check(self, workspace_id: str, operations: Any, actor: Actor) -> list[dict[str, Any]]:
        """Shape checks for every operation before anything runs, including duplicate external ids and refs.
        Scope and permissions are checked per operation by the unit of work (404/403 at the op's index)."""
        limit = self.app.settings.max_batch_operations
        if not isinstance(operations, list) or not operations:
            raise ValidationFailed(
                "operations must be a non-empty list",
                [{"pointer": "/operations", "message": "expected a non-empty list"}],
            )
        if len(operations) > limit:
            raise ValidationFailed(
                f"a batch holds at most {limit} operations",
                [{"pointer": "/operations", "message": f"{len(operations)} > {limit}"}],
            )
        out: list[dict[str, Any]] = []
        externals: dict[tuple[str, str, str], int] = {}
        refs: dict[str, int] = {}
        for i, raw in enumerate(operations):
            if not isinstance(raw, dict):
                raise _fail(i, "an operation is an object with a 'type'")
            kind = ALIASES.get(str(raw.get("type")), raw.get("type"))
            if kind not in KEYS:
                raise _fail(
                    i, f"unknown operation type {raw.get('type')!r}; use one of {', '.join(KEYS)}", "/type"
                )
            unknown = set(raw) - KEYS[kind] - {"type"}
            if unknown:
                raise _fail(i, f"unknown fields for {kind}: {', '.join(sorted(unknown))}")
            op = {**raw, "type": kind}
            for key in ("at", "created_at"):
                if op.get(key) is not None:
                    try:
                        op[key] = parse_iso(op[key])
                    except (ValueError, TypeError, AttributeError) as exc:
                        raise _fail(i, f"{key} must be an ISO-8601 time with offset", f"/{key}") from exc
                    src = op.get("source")
                    coll = op.get("collection") or (src.get("collection") if isinstance(src, dict) else None)
                    try:
                        self.app.records.change_time(
                            actor, op[key], workspace_id, coll if isinstance(coll, str) else None
                        )
                    except DeskbaseError as exc:
                        raise _at(exc, i) from None
            if kind == "upsert_record":
                ext = (op.get("collection"), op.get("external_source"), op.get("external_id"))
                if ext[1] is not None and ext[2] is not None:
                    if ext in externals:
                        raise _fail(
                            i,
                            f"external id {ext[1]}/{ext[2]} also appears in operation {externals[ext]}",
                            "/external_id",
                        )
                    externals[ext] = i  # type: ignore[index]
                ref = op.get("ref")
                if ref is not None:
                    if not isinstance(ref, str) or ref in refs:
                        raise _fail(i, f"ref {ref!r} must be a unique string within the batch", "/ref")
                    refs[ref] = i
            if "collection" in KEYS[kind] and not isinstance(op.get("collection"), str):
                raise _fail(i, "collection is required", "/collection")
            out.append(op)
        return out

    def _prefetch(self, uow: UnitOfWork, ops: list[dict[str, Any]]) -> None:
        keys: list[tuple[str, str]] = []
        exts: list[tuple[str, str, str]] = []
        links: dict[str, list[tuple[str, str]]] = {}
        for op in ops:
            kind = op["type"]
            rid = op.get("id")
            if (
                kind in ("upsert_record", "patch_record", "delete_record")
                and isinstance(rid, str)
                and not rid.startswith(REF)
            ):
                keys.append((op["collection"], rid))
            if (
                kind == "upsert_record"
                and op.get("external_id") is not None
                and op.get("external_source") is not None
            ):
                exts.append((op["collection"], op["external_source"], op["external_id"]))
            if kind == "upsert_relationship":
                for end in ("source", "target"):
                    e = op.get(end)
                    if isinstance(e, dict) and isinstance(e.get("id"), str) and not e["id"].startswith(REF):
                        keys.append((e.get("collection"), e["id"]))  # type: ignore[arg-type]
                s = op.get("source")
                if (
                    isinstance(s, dict)
                    and isinstance(op.get("rel_type"), str)
                    and isinstance(s.get("id"), str)
                    and not s["id"].startswith(REF)
                ):
                    links.setdefault(op["rel_type"], []).append((s.get("collection"), s["id"]))  # type: ignore[arg-type]
        uow.prefetch_records(k for k in keys if isinstance(k[0], str))
        uow.prefetch_external(exts)
        for rel_type, sources in links.items():
            uow.prefetch_links(rel_type, [s for s in sources if isinstance(s[0], str)])

    def _resolve(self, value: Any, refs: dict[str, str], i: int, pointer: str) -> Any:
        if isinstance(value, str) and value.startswith(REF):
            name = value[len(REF) :]
            if name not in refs:
                raise _fail(i, f"{value!r} names no record created earlier in this batch", pointer)
            return refs[name]
        return value

    def _apply(
        self, uow: UnitOfWork, op: dict[str, Any], refs: dict[str, str], i: int
    ) -> tuple[str, Any, bool]:
        kind = op["type"]
        at: datetime | None = op.get("at")
        if kind == "upsert_record":
            rid = self._resolve(op.get("id"), refs, i, "/id")
            st, created = uow.upsert_record(
                op["collection"],
                op.get("data"),
                at,
                rid=rid,
                external_id=op.get("external_id"),
                external_source=op.get("external_source"),
                created_at=op.get("created_at"),
                number=op.get("number"),
            )
            if op.get("ref") is not None:
                refs[op["ref"]] = st.id
            return kind, st, created
        if kind in ("patch_record", "delete_record"):
            rid = self._resolve(op.get("id"), refs, i, "/id")
            if not isinstance(rid, str):
                raise _fail(i, "id is required", "/id")
            if kind == "patch_record":
                return kind, uow.patch_record(op["collection"], rid, op.get("data"), at), False
            return kind, uow.delete_record(op["collection"], rid, at), False
        if kind == "upsert_relationship":
            ends = []
            for end in ("source", "target"):
                e = op.get(end)
                if not isinstance(e, dict) or not isinstance(e.get("collection"), str):
                    raise _fail(i, f"{end} must be {{collection, id}}", f"/{end}")
                rid = self._resolve(e.get("id"), refs, i, f"/{end}/id")
                if not isinstance(rid, str):
                    raise _fail(i, f"{end}.id is required", f"/{end}/id")
                ends.append((e["collection"], rid))
            if not isinstance(op.get("rel_type"), str):
                raise _fail(i, "rel_type is required", "/rel_type")
            link, linked = uow.upsert_relationship(
                op["rel_type"], ends[0], ends[1], op.get("data"), at, bool(op.get("replace"))
            )
            return kind, link, linked
        rid = op.get("id")
        if not isinstance(rid, str):
            raise _fail(i, "id is required", "/id")
        return kind, uow.delete_relationship(rid, at), False
