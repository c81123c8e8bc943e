"""The permission checks every adapter makes with an actor's grants (scope, collection, audit visibility).
Tokens themselves are in `tokens.py`; the grant model (shape, coverage, "narrower than") in `grants.py`."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from deskbase.core.context import Actor
from deskbase.core.errors import Forbidden, NotFound
from deskbase.core.grants import (
    collections_of,
    gives,
    in_scope,
)

if TYPE_CHECKING:
    pass


def sees(actor: Actor, workspace_id: str, collection: str | None = None) -> bool:
    """Is the workspace (collection) inside the token's scope at all, whatever the permission?"""
    return actor.is_admin or any(in_scope(g, workspace_id, collection) for g in actor.grants)


def permits(
    actor: Actor,
    permission: str,
    workspace_id: str | None = None,
    collection: str | None = None,
    *,
    whole_workspace: bool = False,
) -> bool:
    """May the actor do `permission` here? `whole_workspace` asks for a grant without collection limits."""
    if actor.is_admin:
        return True
    return any(
        in_scope(g, workspace_id, collection)
        and gives(g, permission)
        and (not whole_workspace or collections_of(g) is None)
        for g in actor.grants
    )


def authorize(
    actor: Actor,
    permission: str,
    workspace_id: str | None = None,
    collection: str | None = None,
    *,
    whole_workspace: bool = False,
) -> None:
    """Raise unless the actor may do `permission` here. Workspaces and collections outside the token's scope
    look absent (404, with the very message a missing one gets), so a token never learns what exists beyond
    it; a missing permission inside its scope is a 403. No workspace means a server-wide operation."""
    if permits(actor, permission, workspace_id, collection, whole_workspace=whole_workspace):
        return
    details: dict[str, Any] = {"permission": permission}
    if workspace_id is None:
        raise Forbidden(f"this token lacks the {permission!r} permission over the whole server", details)
    authorize_scope(actor, workspace_id, collection)
    if whole_workspace and permits(actor, permission, workspace_id, collection):
        raise Forbidden(
            f"this needs the {permission!r} permission over the whole workspace; "
            "a grant limited to some collections is not enough",
            {**details, "scope": "workspace"},
        )
    raise Forbidden(f"this token lacks the {permission!r} permission here", details)


def authorize_scope(actor: Actor, workspace_id: str, collection: str | None = None) -> None:
    """Raise the missing-workspace (or missing-collection) 404 unless the token's scope reaches here."""
    if not sees(actor, workspace_id):
        raise NotFound(f"workspace {workspace_id!r} not found", {"workspace": workspace_id})
    if collection is not None and not sees(actor, workspace_id, collection):
        raise NotFound(
            f"collection {collection!r} not found in workspace {workspace_id!r}",
            {"workspace": workspace_id, "collection": collection},
        )


def authorize_any(actor: Actor, permissions: Iterable[str], workspace_id: str) -> None:
    """At least one of `permissions` in the workspace (each item of the request is checked later)."""
    wanted = list(permissions)
    if not any(permits(actor, p, workspace_id) for p in wanted):
        authorize(actor, wanted[0], workspace_id)


def authorize_link(
    actor: Actor, permission: str, workspace_id: str, source: str, target: str, rel_id: str
) -> None:
    """A relationship needs the permission on both ends; one with an end outside the scope does not exist."""
    if actor.is_admin:
        return
    if not (sees(actor, workspace_id, source) and sees(actor, workspace_id, target)):
        raise NotFound(f"relationship {rel_id!r} not found", {"id": rel_id})
    authorize(actor, permission, workspace_id, source)
    authorize(actor, permission, workspace_id, target)


def collections_for(actor: Actor, permission: str, workspace_id: str) -> frozenset[str] | None:
    """The collections of a workspace on which the actor holds `permission`; None means all of them."""
    if actor.is_admin:
        return None
    out: set[str] = set()
    for g in actor.grants:
        if in_scope(g, workspace_id) and gives(g, permission):
            colls = collections_of(g)
            if colls is None:
                return None
            out |= colls
    return frozenset(out)


def holds(actor: Actor, permission: str) -> bool:
    """Does any grant of the actor carry the permission, anywhere?"""
    return actor.is_admin or any(gives(g, permission) for g in actor.grants)


# ---- the change log as each token may read it -------------------------------------------------------
def _subject(entry: dict[str, Any]) -> str | None:
    """The collection a change entry belongs to, for scoping (None: workspace-level)."""
    if entry["entity"] == "record":
        return entry["collection"]  # type: ignore[no-any-return]
    if entry["entity"] == "collection":
        return entry["entity_id"]  # type: ignore[no-any-return]
    return None


def may_read_change(actor: Actor, entry: dict[str, Any]) -> bool:
    """A change entry is readable when its entity is: records by collection, links by both ends, schema by
    read:collections; kinds the core does not know need read:records over the whole workspace."""
    if actor.is_admin:
        return True
    ws, kind, data = entry["workspace_id"], entry["entity"], entry.get("data") or {}
    if kind in ("record", "collection"):
        perm = "read:records" if kind == "record" else "read:collections"
        return permits(actor, perm, ws, _subject(entry))
    if kind == "relationship":
        ends = (data.get("source_collection"), data.get("target_collection"))
        if not all(isinstance(e, str) for e in ends):
            return permits(actor, "read:relationships", ws, whole_workspace=True)
        return all(permits(actor, "read:relationships", ws, e) for e in ends)
    if kind == "relationship_type":
        named = [*(data.get("source_collections") or []), *(data.get("target_collections") or [])]
        if not data:
            return permits(actor, "read:collections", ws, whole_workspace=True)
        return all(permits(actor, "read:collections", ws, c) for c in named or [None])
    if kind == "workspace":
        return permits(actor, "read:collections", ws)
    if kind == "stored_query":
        return permits(actor, "sql", ws, whole_workspace=True)
    if kind == "file":  # a file's name and size, whoever may read it: only for whole-workspace readers
        return permits(actor, "read:files", ws, whole_workspace=True) and permits(
            actor, "read:records", ws, whole_workspace=True
        )
    return permits(actor, "read:records", ws, whole_workspace=True)


def audit_view(actor: Actor, entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Who made a change (token id and name) is audit information: shown to read:audit holders only."""
    if actor.is_admin:
        return entries
    return [
        e if permits(actor, "read:audit", e["workspace_id"], _subject(e)) else {**e, "actor": None}
        for e in entries
    ]
