"""Wire the support domain into a core, exactly as an extension would (templates, hooks)."""

from __future__ import annotations

from typing import Any

from deskbase.core.app import Deskbase
from deskbase.core.context import Actor
from deskbase.support.template import definition, seed_queries


def _after_apply(core: Deskbase, workspace_id: str, actor: Actor) -> dict[str, Any]:
    """The template also ships the seed's four example queries as stored queries."""
    names = []
    for name, (description, query) in seed_queries().items():
        core.stored_queries.put(workspace_id, name, query, description, {}, actor)
        names.append(name)
    return {"stored_queries": names}


def install(core: Deskbase) -> None:
    core.templates.register("support", definition(), _after_apply)
