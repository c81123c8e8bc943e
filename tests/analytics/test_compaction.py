"""After a backlog the replicator merges the parts that queries read with FINAL, and the seed queries answer
the same before and after (merging only collapses versions FINAL already collapsed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from deskbase.analytics import replica as replica_module
from deskbase.analytics.replica_tables import database_of
from deskbase.analytics.service import Analytics
from deskbase.config import Settings
from deskbase.core.clock import FixedClock
from deskbase.core.context import SYSTEM
from deskbase.server import build

WS = "acme"
SEED = Path(__file__).resolve().parents[3] / "shared" / "seed" / "queries"


def active_parts(analytics: Analytics, table: str) -> int:
    db = database_of(WS)
    rows = analytics.engine.execute(
        "SELECT count() FROM system.parts WHERE database = {d:String} AND table = {t:String} AND active",
        {"d": db, "t": table},
    ).rows
    return int(rows[0][0])


def test_a_backlog_is_merged_and_the_seed_queries_answer_the_same(
    tmp_path: Path, clock: FixedClock, chdb_engine: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(replica_module, "BATCH", 40)  # a "backlog" of a few batches, not 20k changes
    settings = Settings(data_dir=str(tmp_path), sla_scheduler=False, webhooks=False)
    core, _app = build(settings, clock, engine=chdb_engine)
    analytics: Analytics = core.extensions[Analytics]
    replica = analytics.replica
    try:
        core.workspaces.put(WS, "Acme", None, SYSTEM)
        core.templates.apply(WS, "support", SYSTEM)
        replica.catch_up()
        for n in range(200):
            core.records.create(
                WS,
                "tickets",
                {"data": {"subject": f"t{n}", "status": "open", "priority": ["low", "urgent"][n % 2]}},
                SYSTEM,
            )
        engine = analytics.engine
        db = database_of(WS)
        engine.execute(f"SYSTEM STOP MERGES `{db}`.records")
        queries = {p.name: p.read_text() for p in sorted(SEED.glob("*.sql"))}
        assert len(queries) == 4
        with replica._lock:
            replica._drain(replica._head())  # what catch_up does, without its merge
        assert active_parts(analytics, "records") > 3

        def answers() -> dict[str, Any]:
            return {name: analytics.sql(WS, q, {"workspace_id": WS})["data"] for name, q in queries.items()}

        unmerged = answers()
        engine.execute(f"SYSTEM START MERGES `{db}`.records")
        replica.compact({db})
        assert active_parts(analytics, "records") == 1
        assert answers() == unmerged

        for n in range(200, 300):  # the next backlog goes through catch_up, which merges it
            body = {"data": {"subject": f"t{n}", "status": "waiting", "priority": "low"}}
            core.records.create(WS, "tickets", body, SYSTEM)
        assert replica.catch_up() >= replica_module.BATCH
        assert active_parts(analytics, "records") == 1
        rows = answers()["open_tickets_by_priority.sql"]
        assert [list(r.values()) if isinstance(r, dict) else list(r) for r in rows] == [
            ["low", 200],
            ["urgent", 100],
        ]
    finally:
        replica.stop()
        core.close()
