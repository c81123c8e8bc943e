"""Roles: a named grants list per workspace. Five are built in; a workspace adds custom ones.

A role's grants are ordinary grants (grants.py) scoped to its workspace, so a user's rights are checked by the
same `authorize` as any token's. Built-ins: owner and admin (everything in the workspace; only an owner, or a
server admin, makes or unmakes owners), agent (work tickets and customers, no schema, SQL or import), light
agent (read everything an agent reads and write responses: internal notes), analyst (read and SQL).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.engine import Connection

from deskbase.core.clock import iso
from deskbase.core.errors import Conflict, NotFound, ValidationFailed
from deskbase.core.grants import READ_PERMISSIONS, Grant, normalize, workspaces_of
from deskbase.core.people_tables import memberships, roles

if TYPE_CHECKING:
    from deskbase.core.app import Deskbase

OWNER = "owner"
_AGENT_PERMISSIONS = [
    "read:records",
    "write:records",
    "read:collections",
    "read:relationships",
    "write:relationships",
    "read:audit",
    "read:files",
    "write:files",
]
_READ = sorted(READ_PERMISSIONS - {"sql"})
#: Built-in roles as grants without a workspace (filled in per membership) and what each is for.
BUILT_IN: dict[str, tuple[str, list[dict[str, Any]]]] = {
    OWNER: ("Everything in the workspace; makes and removes owners", [{"permissions": ["*"]}]),
    "admin": (
        "Everything in the workspace: settings, people, integrations, data",
        [{"permissions": ["admin"]}],
    ),
    "agent": (
        "Works tickets: reads and writes records, links and files",
        [{"permissions": _AGENT_PERMISSIONS}],
    ),
    "light_agent": (
        "Reads tickets and adds internal notes",
        [
            {"permissions": _READ},
            {"collections": ["responses"], "permissions": ["write:records"]},
            {"collections": ["tickets", "responses"], "permissions": ["write:relationships"]},
        ],
    ),
    "analyst": ("Reads everything and runs SQL", [{"permissions": sorted(READ_PERMISSIONS)}]),
}
_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")


def scoped(workspace_id: str, template: list[dict[str, Any]]) -> list[Grant]:
    """A built-in role's grants in one workspace."""
    out: list[Grant] = []
    for g in template:
        scope: dict[str, Any] = {"workspaces": [workspace_id]}
        if "collections" in g:
            scope["collections"] = list(g["collections"])
        out.append({"scope": scope, "permissions": list(g["permissions"])})
    return out


def _public(
    workspace_id: str, name: str, description: str | None, grants: list[Grant], row: Any
) -> dict[str, Any]:
    return {
        "name": name,
        "workspace": workspace_id,
        "built_in": row is None,
        "description": description,
        "grants": grants,
        "version": row.version if row is not None else 0,
        "created_at": iso(row.created_at) if row is not None else None,
        "updated_at": iso(row.updated_at) if row is not None else None,
    }


def _missing(workspace_id: str, name: str) -> NotFound:
    return NotFound(f"role {name!r} not found in workspace {workspace_id!r}", {"role": name})


class Roles:
    def __init__(self, app: Deskbase) -> None:
        self.app = app

    def grants(self, conn: Connection, workspace_id: str, name: str) -> list[Grant]:
        """The role's grants in the workspace; a role deleted meanwhile gives nothing."""
        if name in BUILT_IN:
            return scoped(workspace_id, BUILT_IN[name][1])
        row = conn.execute(
            select(roles.c.grants).where(roles.c.workspace_id == workspace_id, roles.c.name == name)
        ).first()
        return list(row.grants) if row is not None else []

    def exists(self, conn: Connection, workspace_id: str, name: str) -> bool:
        return name in BUILT_IN or bool(
            conn.execute(
                select(roles.c.name).where(roles.c.workspace_id == workspace_id, roles.c.name == name)
            ).first()
        )

    def require(self, conn: Connection, workspace_id: str, name: Any, pointer: str = "/role") -> str:
        if not isinstance(name, str) or not self.exists(conn, workspace_id, name):
            raise ValidationFailed(
                f"no role {name!r} in workspace {workspace_id!r}; use a built-in role "
                f"({', '.join(BUILT_IN)}) or one of the workspace's custom roles",
                [{"pointer": pointer, "message": "unknown role"}],
            )
        return name

    def list(self, workspace_id: str) -> list[dict[str, Any]]:
        out = [_public(workspace_id, n, d, scoped(workspace_id, g), None) for n, (d, g) in BUILT_IN.items()]
        with self.app.db.read() as conn:
            self.app.workspaces.require(conn, workspace_id)
            rows = conn.execute(
                select(roles).where(roles.c.workspace_id == workspace_id).order_by(roles.c.name)
            ).all()
        return out + [_public(workspace_id, r.name, r.description, r.grants, r) for r in rows]

    def get(self, workspace_id: str, name: str) -> dict[str, Any]:
        for role in self.list(workspace_id):
            if role["name"] == name:
                return role
        raise _missing(workspace_id, name)

    def put(
        self, workspace_id: str, name: str, grants: Any, description: str | None
    ) -> tuple[dict[str, Any], bool]:
        """Create or replace a custom role. Its grants must stay inside the workspace; members' rights change
        with it at once (their tokens too)."""
        if name in BUILT_IN:
            raise Conflict(f"{name!r} is a built-in role and cannot be changed", {"role": name})
        if not _NAME.match(name):
            raise ValidationFailed(
                "a role name is a lowercase slug", [{"pointer": "/name", "message": "invalid"}]
            )
        normal = normalize(grants)
        outside = [i for i, g in enumerate(normal) if workspaces_of(g) != [workspace_id]]
        if outside:
            raise ValidationFailed(
                f"a role's grants are scoped to its workspace: set scope.workspaces to [{workspace_id!r}]",
                [
                    {"pointer": f"/grants/{i}/scope/workspaces", "message": f"must be [{workspace_id!r}]"}
                    for i in outside
                ],
            )
        now = self.app.clock.now()
        with self.app.db.tx() as tx:
            self.app.workspaces.require(tx.conn, workspace_id)
            key = (roles.c.workspace_id == workspace_id) & (roles.c.name == name)
            row = tx.conn.execute(select(roles).where(key)).first()
            if row is None:
                tx.conn.execute(
                    insert(roles).values(
                        workspace_id=workspace_id,
                        name=name,
                        description=description,
                        grants=normal,
                        version=1,
                        created_at=now,
                        updated_at=now,
                    )
                )
            else:
                tx.conn.execute(
                    update(roles)
                    .where(key)
                    .values(description=description, grants=normal, version=row.version + 1, updated_at=now)
                )
            out = tx.conn.execute(select(roles).where(key)).one()
        self.app.people.forget()
        return _public(workspace_id, name, out.description, out.grants, out), row is None

    def delete(self, workspace_id: str, name: str) -> None:
        """A custom role nobody holds (a role in use would leave its members without rights)."""
        if name in BUILT_IN:
            raise Conflict(f"{name!r} is a built-in role and cannot be deleted", {"role": name})
        with self.app.db.tx() as tx:
            self.app.workspaces.require(tx.conn, workspace_id)
            key = (roles.c.workspace_id == workspace_id) & (roles.c.name == name)
            if tx.conn.execute(select(roles.c.name).where(key)).first() is None:
                raise _missing(workspace_id, name)
            held = tx.conn.execute(
                select(func.count())
                .select_from(memberships)
                .where(memberships.c.workspace_id == workspace_id, memberships.c.role == name)
            ).scalar_one()
            if held:
                raise Conflict(
                    f"role {name!r} is held by {held} member(s); give them another role first",
                    {"role": name, "members": held},
                )
            tx.conn.execute(delete(roles).where(key))
