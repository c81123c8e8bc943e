"""Templates: named bundles of collections and relationship types, applied idempotently to a workspace.

The core only knows the registry; domains (e.g. `deskbase.support`) register their templates here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from deskbase.core.context import Actor
from deskbase.core.errors import NotFound

if TYPE_CHECKING:
    from deskbase.core.app import Deskbase

AfterApply = Callable[["Deskbase", str, Actor], dict[str, Any]]


class Templates:
    def __init__(self, app: Deskbase) -> None:
        self.app = app
        self._registry: dict[str, tuple[dict[str, Any], AfterApply | None]] = {}

    def register(self, name: str, definition: dict[str, Any], after_apply: AfterApply | None = None) -> None:
        self._registry[name] = (definition, after_apply)

    def names(self) -> list[str]:
        return sorted(self._registry)

    def definition(self, name: str) -> dict[str, Any]:
        if name not in self._registry:
            raise NotFound(
                f"template {name!r} not found; available: {', '.join(self.names()) or 'none'}",
                {"template": name},
            )
        return self._registry[name][0]

    def apply(self, workspace_id: str, name: str, actor: Actor) -> dict[str, Any]:
        """Upsert the template's collections and relationship types; unchanged ones are left as they are."""
        definition = self.definition(name)
        report: dict[str, Any] = {"template": name, "collections": [], "relationship_types": []}
        for coll in definition.get("collections", []):
            body = {k: coll.get(k) for k in ("name", "description", "icon", "color", "json_schema")}
            out, created = self.app.collections.upsert(workspace_id, coll["id"], body, actor)
            report["collections"].append({"id": out["id"], "version": out["version"], "created": created})
        for rel in definition.get("relationships", []):
            body = {
                "description": rel.get("description"),
                "source_collections": [rel["source"]]
                if isinstance(rel.get("source"), str)
                else rel.get("source"),
                "target_collections": [rel["target"]]
                if isinstance(rel.get("target"), str)
                else rel.get("target"),
                "cardinality": rel.get("cardinality", "many"),
                "schema": rel.get("schema"),
            }
            out, created = self.app.reltypes.upsert(workspace_id, rel["type"], body, actor)
            report["relationship_types"].append(
                {"rel_type": out["rel_type"], "version": out["version"], "created": created}
            )
        after = self._registry[name][1]
        if after is not None:
            report.update(after(self.app, workspace_id, actor))
        return report
