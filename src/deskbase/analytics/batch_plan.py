"""What a batch of change rows becomes on the replica: one INSERT … SELECT per workspace and table, and the
places where a destructive change (a collection, relationship type or workspace deleted) cuts the batch.

Pure planning over Arrow tables; the replicator (replica.py) runs the inserts and acts on the cuts.
"""

from __future__ import annotations

from collections.abc import Callable

import pyarrow as pa
import pyarrow.compute as pc

from deskbase.analytics.change_rows import DESTRUCTIVE, TARGETS
from deskbase.analytics.derived import DerivedTable, split_by_workspace

#: One INSERT … SELECT: database, table, target column → expression, raw rows.
Insert = tuple[str, str, dict[str, str], pa.Table]
_DESTRUCTIVE = pa.array(sorted(DESTRUCTIVE))


def destructive_positions(batch: pa.Table) -> list[int]:
    """Row positions of the changes the replicator must act on in order (rows before them go in first)."""
    mask = pc.and_(pc.equal(batch["op"], "delete"), pc.is_in(batch["entity"], _DESTRUCTIVE))
    return pc.indices_nonzero(mask).to_pylist()  # type: ignore[no-any-return]


def change_inserts(batch: pa.Table, database: Callable[[str], str]) -> list[Insert]:
    """One INSERT … SELECT per workspace and table that the batch has rows for; `database(ws)` names (and
    readies) the workspace's database."""
    inserts: list[Insert] = []
    if batch.num_rows == 0:
        return inserts
    workspace_delete = pc.and_(pc.equal(batch["entity"], "workspace"), pc.equal(batch["op"], "delete"))
    if pc.any(workspace_delete).as_py():
        batch = batch.filter(pc.invert(workspace_delete))
    for ws, rows in split_by_workspace(batch).items():
        db = database(ws)
        entities = set(rows["entity"].unique().to_pylist())
        for target in TARGETS:
            if target.entities is None:
                inserts.append((db, target.table, target.columns, rows))
            elif entities.intersection(target.entities):
                mask = pc.is_in(rows["entity"], pa.array(target.entities))
                inserts.append((db, target.table, target.columns, rows.filter(mask)))
    return inserts


def derived_inserts(
    derived: list[tuple[DerivedTable, pa.Table]], database: Callable[[str], str]
) -> list[Insert]:
    """One INSERT … SELECT per derived table and workspace that a batch's changes produced rows for."""
    return [
        (database(ws), d.name, d.columns, rows)
        for d, table in derived
        if table.num_rows
        for ws, rows in split_by_workspace(table).items()
    ]
