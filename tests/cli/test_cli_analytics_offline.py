"""`deskbase analytics rebuild|verify --data-dir` wire the app through the composition root: an offline rebuild
replicates the support domain's derived tables (`sla_*`, `ticket_metrics`) as the server does.

Run in subprocesses: chDB opens one data path per process, and the test process holds another."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from deskbase.compose import compose
from deskbase.config import Settings
from deskbase.core.context import SYSTEM
from deskbase.server import DEMO_WORKSPACE
from deskbase.support import demo
from deskbase.support.demo import DemoSize

COUNT = """
import json
import sys
from deskbase.analytics.service import Analytics
from deskbase.compose import compose
from deskbase.config import Settings
comp = compose(Settings(data_dir=sys.argv[1], sla_scheduler=False, webhooks=False))
try:
    out = comp.core.extensions[Analytics].sql(sys.argv[2], "SELECT count() AS n FROM " + sys.argv[3])
    print(json.dumps(out["data"]))
finally:
    comp.close()
"""


def deskbase(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DESKBASE_")}
    return subprocess.run(
        [sys.executable, "-m", "deskbase.cli.main", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


@pytest.mark.slow
def test_an_offline_rebuild_fills_the_support_domains_tables(tmp_path: Path) -> None:
    settings = Settings(data_dir=str(tmp_path), replicate=False, sla_scheduler=False, webhooks=False)
    comp = compose(settings)
    try:
        comp.core.workspaces.put(DEMO_WORKSPACE, "Demo", None, SYSTEM)
        report = demo.load(comp.core, DEMO_WORKSPACE, SYSTEM, DemoSize(tickets=40, customers=10, weeks=1))
    finally:
        comp.close()
    assert report["tickets"] == 40

    rebuilt = deskbase("analytics", "rebuild", "--data-dir", str(tmp_path), "--output", "json")
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert json.loads(rebuilt.stdout)["replayed_changes"] > 0
    verified = deskbase("analytics", "verify", "--data-dir", str(tmp_path), "--output", "json")
    assert verified.returncode == 0 and json.loads(verified.stdout)["ok"] is True, verified.stdout

    counted = subprocess.run(
        [sys.executable, "-c", COUNT, str(tmp_path), DEMO_WORKSPACE, "sla_instances"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert counted.returncode == 0, counted.stderr
    rows = json.loads(counted.stdout.strip().splitlines()[-1])
    n = rows[0]["n"] if isinstance(rows[0], dict) else rows[0][0]
    assert int(n) > 0
