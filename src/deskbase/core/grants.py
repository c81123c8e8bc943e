"""Grants: what a token may do where — their shape, coverage, and the "equal or narrower" order.

A grant is `{"scope": {"workspaces": [...], "collections": [...]?}, "permissions": [...]}`. `"*"` in workspaces
means every workspace (present and future); no `collections` (or `"*"`) means every collection of the scoped
workspaces. `admin` and `*` are the same: every permission inside the grant's scope. A token's rights are the
union of its grants.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from deskbase.core.errors import ValidationFailed
from deskbase.core.ids import SLUG_RE

ANY = "*"
PERMISSIONS = (
    "read:records",
    "write:records",
    "read:collections",
    "write:collections",
    "read:relationships",
    "write:relationships",
    "sql",
    "import",
    "read:audit",
    "read:files",
    "write:files",
    "admin",
)
#: Permissions that never change stored data; a "read-only" token holds only these.
READ_PERMISSIONS = frozenset(
    {"read:records", "read:collections", "read:relationships", "read:audit", "read:files", "sql"}
)
EVERYTHING = frozenset({ANY, "admin"})
MAX_GRANTS = 32
MAX_NAMES = 200

Grant = dict[str, Any]
#: (workspace or "*", collection or None for every collection, permission) — one point of a grant's coverage.
Point = tuple[str, str | None, str]


def workspaces_of(grant: Grant) -> list[str]:
    return list((grant.get("scope") or {}).get("workspaces") or [])


def collections_of(grant: Grant) -> frozenset[str] | None:
    """The collections a grant is restricted to, or None when it covers every collection."""
    colls = (grant.get("scope") or {}).get("collections")
    if not colls or ANY in colls:
        return None
    return frozenset(colls)


def permissions_of(grant: Grant) -> frozenset[str]:
    return frozenset(grant.get("permissions") or [])


# `gives` and `in_scope` run for every request and every staged write: plain list lookups, no allocation.
def gives(grant: Grant, permission: str) -> bool:
    perms = grant.get("permissions") or ()
    return permission in perms or ANY in perms or "admin" in perms


def in_scope(grant: Grant, workspace_id: str | None, collection: str | None = None) -> bool:
    """Does the grant reach this workspace (and collection)? `None` as the workspace means the whole server:
    only an unrestricted grant over every workspace reaches it."""
    scope = grant.get("scope") or {}
    wss = scope.get("workspaces") or ()
    colls = scope.get("collections")
    every = not colls or ANY in colls
    if workspace_id is None:
        return ANY in wss and every
    if ANY not in wss and workspace_id not in wss:
        return False
    return collection is None or every or collection in (colls or ())


def is_server_admin(grants: Iterable[Grant]) -> bool:
    return any(in_scope(g, None) and permissions_of(g) & EVERYTHING for g in grants)


# ---- shape ----------------------------------------------------------------------------------------------
def _names(value: Any, pointer: str, what: str, errors: list[dict[str, Any]]) -> list[str]:
    if not isinstance(value, list) or not value:
        errors.append({"pointer": pointer, "message": f"expected a non-empty list of {what}"})
        return []
    if len(value) > MAX_NAMES:
        errors.append({"pointer": pointer, "message": f"at most {MAX_NAMES} {what}"})
        return []
    out: list[str] = []
    for i, item in enumerate(value):
        if not isinstance(item, str) or not (item == ANY or SLUG_RE.match(item)):
            errors.append({"pointer": f"{pointer}/{i}", "message": f"not a {what[:-1]} id or '*'"})
        elif item not in out:
            out.append(item)
    return [ANY] if ANY in out else out


def normalize(grants: Any, pointer: str = "/grants") -> list[Grant]:
    """Check a grants list and return it in canonical form (deduplicated, `*` collapsing its list, an
    unrestricted collections list left out). Raises ValidationFailed naming every bad field."""
    errors: list[dict[str, Any]] = []
    if not isinstance(grants, list) or not grants:
        raise ValidationFailed(
            "grants must be a non-empty list", [{"pointer": pointer, "message": "expected a non-empty list"}]
        )
    if len(grants) > MAX_GRANTS:
        raise ValidationFailed(
            f"a token holds at most {MAX_GRANTS} grants", [{"pointer": pointer, "message": "too many"}]
        )
    out: list[Grant] = []
    for i, g in enumerate(grants):
        at = f"{pointer}/{i}"
        if not isinstance(g, dict) or set(g) - {"scope", "permissions"}:
            errors.append({"pointer": at, "message": "a grant is {scope, permissions}"})
            continue
        scope = g.get("scope")
        if not isinstance(scope, dict) or set(scope) - {"workspaces", "collections"}:
            errors.append({"pointer": f"{at}/scope", "message": "a scope is {workspaces, collections?}"})
            continue
        wss = _names(scope.get("workspaces"), f"{at}/scope/workspaces", "workspaces", errors)
        colls = None
        if scope.get("collections") is not None:
            colls = _names(scope["collections"], f"{at}/scope/collections", "collections", errors)
        perms: list[str] = []
        raw = g.get("permissions")
        if not isinstance(raw, list) or not raw:
            errors.append({"pointer": f"{at}/permissions", "message": "expected a non-empty list"})
        else:
            for j, p in enumerate(raw):
                if p != ANY and p not in PERMISSIONS:
                    errors.append(
                        {
                            "pointer": f"{at}/permissions/{j}",
                            "message": f"unknown permission {p!r}; use {', '.join(PERMISSIONS)} or '*'",
                        }
                    )
                elif p not in perms:
                    perms.append(p)
        new_scope: dict[str, Any] = {"workspaces": wss}
        if colls and ANY not in colls:
            new_scope["collections"] = colls
        out.append({"scope": new_scope, "permissions": [ANY] if ANY in perms else perms})
    if errors:
        raise ValidationFailed(f"invalid grants: {errors[0]['pointer']}: {errors[0]['message']}", errors)
    return out


# ---- order ----------------------------------------------------------------------------------------------
def _allows(parent: Iterable[Grant], point: Point) -> bool:
    ws, coll, perm = point
    for g in parent:
        wss = workspaces_of(g)
        if ANY not in wss and (ws == ANY or ws not in wss):
            continue
        colls = collections_of(g)
        if colls is not None and (coll is None or coll not in colls):
            continue
        perms = permissions_of(g)
        if perms & EVERYTHING or (perm not in EVERYTHING and perm in perms):
            return True
    return False


def points(grants: Iterable[Grant]) -> Iterable[Point]:
    for g in grants:
        colls = collections_of(g)
        for ws in workspaces_of(g):
            for coll in sorted(colls) if colls is not None else [None]:
                for perm in sorted(permissions_of(g)):
                    yield ws, coll, perm


def uncovered(parent: Iterable[Grant], child: Iterable[Grant]) -> Point | None:
    """The first point of `child` that `parent` does not cover, or None when child is equal or narrower.

    Exact, because coverage is a union of products: `*` in a child needs `*` in one parent grant (no list
    of named workspaces covers future ones), and so does an unrestricted collection scope."""
    parent = list(parent)
    return next((p for p in points(child) if not _allows(parent, p)), None)


# ---- intersection -----------------------------------------------------------------------------------
def _meet_names(a: list[str] | None, b: list[str] | None) -> list[str] | None:
    """Two name lists where None (or `*`) means "all": their common part, None still meaning all."""
    if a is None or ANY in a:
        return None if b is None or ANY in b else list(b)
    if b is None or ANY in b:
        return list(a)
    return [n for n in a if n in b]


def _meet_permissions(a: frozenset[str], b: frozenset[str]) -> list[str]:
    if a & EVERYTHING:
        return sorted(b)
    if b & EVERYTHING:
        return sorted(a)
    return sorted(a & b)


def intersect(first: Iterable[Grant], second: Iterable[Grant]) -> list[Grant]:
    """Grants giving exactly what both lists give (a personal token within its user's roles). Coverage is
    a union of products, so the meet of two unions is the union of the pairwise meets."""
    second = list(second)
    out: list[Grant] = []
    for a in first:
        for b in second:
            wss = _meet_names(workspaces_of(a), workspaces_of(b))
            ca, cb = collections_of(a), collections_of(b)
            colls = _meet_names(
                sorted(ca) if ca is not None else None, sorted(cb) if cb is not None else None
            )
            perms = _meet_permissions(permissions_of(a), permissions_of(b))
            if wss == [] or colls == [] or not perms:
                continue
            scope: dict[str, Any] = {"workspaces": wss if wss is not None else [ANY]}
            if colls is not None:
                scope["collections"] = colls
            grant = {"scope": scope, "permissions": perms}
            if grant not in out:
                out.append(grant)
    return out
