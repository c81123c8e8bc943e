"""The SLA hook's configuration cache is keyed by the workspace's schema_version: a policy saved through one
Deskbase governs the very next ticket write of another on the same store."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from deskbase.config import Settings
from deskbase.core.app import Deskbase
from deskbase.core.clock import FixedClock
from deskbase.core.context import SYSTEM
from deskbase.support.install import install
from deskbase.support.service import SlaService
from tests.support.test_sla_store import assert_current, stored, ticket


def test_a_policy_saved_by_one_instance_governs_the_next_write_of_another(
    core: Deskbase, ws: str, clock: FixedClock, tmp_path: Path, store_url: str
) -> None:
    other = Deskbase.open(Settings(data_dir=str(tmp_path), database_url=store_url), clock)
    try:
        install(other)
        ticket(other, ws)  # the other instance now holds the configuration as it was
        sla = core.extensions[SlaService]
        definition = dict(sla.config.get(ws, "policy", "default").definition or {})
        definition["targets"] = {
            **definition["targets"],
            "first_response": {"high": {"seconds": 600, "business": False}},
        }
        sla.config.put(ws, "policy", "default", definition, SYSTEM)
        clock.advance(minutes=1)
        tid = ticket(other, ws)
        targets = {r[0]: r[5] for r in stored(core, ws, tid)["instances"]}
        assert targets["first_response"] == clock.now() + timedelta(seconds=600)
        assert_current(core, ws, tid)
    finally:
        other.close()
