"""Tables derived in the primary store (SLA state, webhook deliveries) that the replica copies too.

Their rows carry the `version` of the change that produced them, so after each batch of changes the replica
copies exactly the rows whose version falls in the batch (an index on `version` serves the range), raw as
the store holds them; ClickHouse types them with the table's expressions (see raw.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy import Table, select
from sqlalchemy.engine import Connection

from deskbase.analytics.raw import Raw, to_arrow


@dataclass(frozen=True)
class DerivedTable:
    """`name` in every workspace database (created with `ddl`), fed from the primary-store table `source`
    (which has `workspace_id` and `version`): `raw` are the columns read, `columns` maps each replica column
    to a ClickHouse expression over them."""

    name: str
    ddl: str
    source: Table
    raw: tuple[Raw, ...]
    columns: dict[str, str]

    def __post_init__(self) -> None:
        names = {r.name for r in self.raw}
        if "workspace_id" not in names:
            raise ValueError(f"{self.name}: the raw columns must include workspace_id")

    def fetch(self, conn: Connection, lo: int, hi: int) -> pa.Table:
        """The source rows with lo < version <= hi, raw."""
        v = self.source.c.version
        rows = conn.execute(select(*(r.expr for r in self.raw)).where(v > lo, v <= hi)).all()
        return to_arrow(self.raw, rows)


def split_by_workspace(batch: pa.Table) -> dict[str, pa.Table]:
    """The batch's rows per workspace (usually one), in order."""
    workspaces: list[Any] = batch.column("workspace_id").unique().to_pylist()
    if len(workspaces) == 1:
        return {workspaces[0]: batch}
    return {ws: batch.filter(pc.equal(batch["workspace_id"], ws)) for ws in workspaces}
