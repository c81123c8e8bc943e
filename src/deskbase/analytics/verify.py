"""Replica verification: live counts and max versions per collection and relationship type, on both sides."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import case, func, select

from deskbase.analytics.engine import Engine
from deskbase.analytics.replica_tables import database_of, qi
from deskbase.core import tables as t
from deskbase.core.app import Deskbase


def differences(core: Deskbase, engine: Engine, databases: Collection[str]) -> list[dict[str, Any]]:
    """Per workspace and collection (and relationship type): where the primary store and the replica
    (`databases` are the workspace databases it holds) disagree on live counts or max versions.

    Empty means consistent; meaningful once the replica has caught up.
    """
    diffs: list[dict[str, Any]] = []
    r, rel = t.records, t.relationships
    with core.db.read() as conn:
        workspaces = [x[0] for x in conn.execute(select(t.workspaces.c.id))]
        prim_rec = {
            (x.workspace_id, x.collection): (int(x.live), int(x.maxv or 0))
            for x in conn.execute(
                select(
                    r.c.workspace_id,
                    r.c.collection,
                    func.sum(case((r.c.deleted.is_(False), 1), else_=0)).label("live"),
                    func.max(r.c.version).label("maxv"),
                ).group_by(r.c.workspace_id, r.c.collection)
            )
        }
        prim_rel = {
            (x.workspace_id, x.rel_type): (int(x.live), int(x.maxv or 0))
            for x in conn.execute(
                select(
                    rel.c.workspace_id,
                    rel.c.rel_type,
                    func.sum(case((rel.c.deleted.is_(False), 1), else_=0)).label("live"),
                    func.max(rel.c.version).label("maxv"),
                ).group_by(rel.c.workspace_id, rel.c.rel_type)
            )
        }
    for ws in workspaces:
        db = database_of(ws)
        if db not in databases:
            diffs.append({"workspace": ws, "problem": "missing replica database"})
            continue
        rep = engine.execute(
            f"SELECT collection, countIf(NOT deleted), max(version) FROM {qi(db)}.records FINAL GROUP BY collection"
        )
        rep_rec = {(ws, c): (int(n), int(v)) for c, n, v in rep.rows}
        rep = engine.execute(
            f"SELECT rel_type, countIf(NOT deleted), max(version) FROM {qi(db)}.relationships FINAL GROUP BY rel_type"
        )
        rep_rel = {(ws, c): (int(n), int(v)) for c, n, v in rep.rows}
        for kind, prim, repl in (("collection", prim_rec, rep_rec), ("rel_type", prim_rel, rep_rel)):
            keys = {k for k in prim if k[0] == ws} | set(repl)
            for key in sorted(keys):
                a, b = prim.get(key, (0, 0)), repl.get(key, (0, 0))
                if a != b:
                    diffs.append(
                        {
                            "workspace": ws,
                            kind: key[1],
                            "primary": {"live": a[0], "max_version": a[1]},
                            "replica": {"live": b[0], "max_version": b[1]},
                        }
                    )
    return diffs
