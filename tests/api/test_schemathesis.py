"""Schemathesis against a live server: generated requests (valid and invalid) to every operation of the
published OpenAPI document never get a 5xx, and every response is documented (status, JSON error envelope).

The server runs in this process (uvicorn in a thread, with the SQL replica on the session's chDB engine);
`st run` runs beside it with an admin token and real ids: a workspace with the support template, a ticket,
a customer, a link, a stored query, an SLA policy, a mailbox. Deletes aim at spare ids, so they run without emptying
what the rest of the run uses. Left out, because they would break the rest of the run: deleting the
workspace, a collection or a relationship type. Bounded to a few examples per operation (about a minute).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from deskbase.config import Settings
from deskbase.server import build

EXAMPLES = 12  # per operation and phase; raise locally with DESKBASE_SCHEMATHESIS_EXAMPLES
CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"


@pytest.fixture
def live(tmp_path: Path, chdb_engine: Any) -> Iterator[tuple[str, str]]:
    core, app = build(Settings(data_dir=str(tmp_path / "data"), sla_scheduler=False), engine=chdb_engine)
    raw, _ = core.tokens.ensure_admin_token(tmp_path / "data")
    server = uvicorn.Server(uvicorn.Config(app, log_level="critical", ws="none", lifespan="on"))
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}", raw
    finally:
        server.should_exit = True
        thread.join(30)
        sock.close()


def seed(url: str, token: str) -> dict[str, str]:
    """The real ids the run uses: what every path parameter is set to."""
    w = "/v1/workspaces/acme"
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60) as c:

        def ok(r: httpx.Response) -> Any:
            assert r.status_code < 300, r.text
            return r.json()

        ok(c.put(w, json={"name": "Acme"}))
        ok(c.post(f"{w}/templates/support"))
        customer = ok(
            c.post(f"{w}/records/customers", json={"data": {"name": "Ada", "email": "ada@example.com"}})
        )
        ticket, spare = (
            ok(
                c.post(
                    f"{w}/records/tickets",
                    json={"data": {"subject": s, "status": "open", "priority": "high"}},
                )
            )
            for s in ("Login fails", "Spare")
        )
        link, spare_link = (
            ok(
                c.post(
                    f"{w}/relationships",
                    json={
                        "rel_type": "submitted_by",
                        "source": {"collection": "tickets", "id": t["id"]},
                        "target": {"collection": "customers", "id": customer["id"]},
                    },
                )
            )
            for t in (ticket, spare)
        )
        for box in ("support", "spare-box"):
            ok(c.put(f"{w}/mailboxes/{box}", json={"address": f"{box}@acme.test"}))
        for name in ("open_tickets", "spare_query"):
            ok(c.put(f"{w}/queries/{name}", json={"query": "SELECT count() AS n FROM records"}))
        spare_token = ok(
            c.post(
                "/v1/tokens",
                json={
                    "name": "spare",
                    "grants": [{"scope": {"workspaces": ["acme"]}, "permissions": ["read:records"]}],
                },
            )
        )
    return {
        "ticket": ticket["id"],
        "spare": spare["id"],
        "link": link["id"],
        "spare_link": spare_link["id"],
        "token": spare_token["id"],
    }


def config(ids: dict[str, str]) -> str:
    return f"""
[parameters]
ws = "acme"
collection = "tickets"
rid = "{ids["ticket"]}"
ticket_id = "{ids["ticket"]}"
rel_id = "{ids["link"]}"
rel_type = "submitted_by"
plural = "policies"
cid = "default"
token_id = "{ids["token"]}"
mailbox_id = "support"

[[operations]]
include-name = [
  "DELETE /v1/workspaces/{{ws}}",
  "DELETE /v1/workspaces/{{ws}}/collections/{{collection}}",
  "DELETE /v1/workspaces/{{ws}}/relationship-types/{{rel_type}}",
]
enabled = false

[[operations]]
include-name-regex = "^DELETE .*/queries/"
parameters = {{ name = "spare_query" }}

[[operations]]
include-name-regex = "^DELETE .*/(records|relationships|sla)/"
parameters = {{ rid = "{ids["spare"]}", rel_id = "{ids["spare_link"]}", cid = "spare-policy" }}

[[operations]]
include-name-regex = "^DELETE .*/mailboxes/"
parameters = {{ mailbox_id = "spare-box" }}

[[operations]]
include-name-regex = "^(GET|PUT|POST) .*/queries/"
parameters = {{ name = "open_tickets" }}

[[operations]]
include-path-regex = "/templates/"
parameters = {{ name = "support" }}
"""


@pytest.mark.slow
def test_generated_requests_never_get_a_5xx_and_conform(live: tuple[str, str], tmp_path: Path) -> None:
    url, token = live
    ids = seed(url, token)
    cfg = tmp_path / "schemathesis.toml"
    cfg.write_text(config(ids))
    st = shutil.which("st", path=str(Path(sys.executable).parent)) or "st"
    examples = os.environ.get("DESKBASE_SCHEMATHESIS_EXAMPLES", str(EXAMPLES))
    cmd = [
        st,
        "--config-file",
        str(cfg),
        "run",
        f"{url}/openapi.json",
        "--checks",
        CHECKS,
        "--header",
        f"Authorization: Bearer {token}",
        "--max-examples",
        examples,
        "--workers",
        "1",
        "--phases",
        "examples,coverage,fuzzing",
        "--seed",
        "1",
        "--no-shrink",
        "--request-timeout",
        "30",
        "--suppress-health-check",
        "all",
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert out.returncode == 0, out.stdout[-20000:] + out.stderr[-5000:]
