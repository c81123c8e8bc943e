"""`deskbase hooks …` against a real server, with payloads POSTed over real HTTP and signed by the
third-party `standardwebhooks` package."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import orjson
import pytest
from standardwebhooks.webhooks import Webhook

from deskbase.core.context import SYSTEM
from tests.cli.cli_harness import Cli, Server, running_server

MAPPING = json.dumps({"subject": "/title", "status": {"const": "open"}, "priority": "/urgency"})


@pytest.fixture
def hook_server(tmp_path: Path) -> Iterator[Server]:
    with running_server(tmp_path / "data", webhooks=False) as s:
        s.core.workspaces.put("acme", "Acme", None, SYSTEM)
        s.core.templates.apply("acme", "support", SYSTEM)
        yield s


@pytest.fixture
def hcli(hook_server: Server, tmp_path: Path) -> Cli:
    return Cli(
        env={
            "DESKBASE_URL": hook_server.url,
            "DESKBASE_TOKEN": hook_server.token,
            "DESKBASE_WORKSPACE": "acme",
            "DESKBASE_CONFIG_DIR": str(tmp_path / "config"),
            "COLUMNS": "1000",
            "NO_COLOR": "1",
        }
    )


def post(url: str, secret: str | None, payload: dict[str, str], msg_id: str) -> httpx.Response:
    body = orjson.dumps(payload)
    now = datetime.now(UTC)
    headers = {"content-type": "application/json", "webhook-id": msg_id}
    if secret:
        headers |= {
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": Webhook(secret).sign(msg_id, now, body),
        }
    return httpx.post(url, content=body, headers=headers, timeout=10)


def test_the_hook_lifecycle(hcli: Cli, hook_server: Server) -> None:
    out = hcli("hooks", "create", "shop", "-c", "tickets", "--mapping", MAPPING, "--external-id", "/id")
    secret = out.stdout.strip()
    assert secret.startswith("whsec_") and "shown only now" in out.stderr
    assert hcli("hooks", "create", "shop", "-c", "tickets", "--mapping", MAPPING, expect=1).stderr.startswith(
        "error: conflict: "
    )
    shown = hcli.json("hooks", "show", "shop")
    url = shown["ingest_url"]
    assert url.startswith(hook_server.url + "/v1/hooks/hk_") and secret not in json.dumps(shown)
    assert url in hcli("hooks", "list").stdout

    first = post(url, secret, {"id": "A-1", "title": "Widget broke", "urgency": "high"}, "m1")
    assert first.status_code == 201, first.text
    again = post(url, secret, {"id": "A-1", "title": "Widget broke", "urgency": "high"}, "m1")
    assert again.status_code == 200 and again.json()["record_id"] == first.json()["record_id"]
    assert post(url, secret, {"id": "A-1", "title": "t", "urgency": "meh"}, "m2").status_code == 422
    assert post(url, "whsec_QUJDREVGR0hJSktMTU5PUFFSU1RVVldY", {"id": "A-2"}, "m3").status_code == 401
    table = hcli("hooks", "ingests", "shop").stdout
    assert "validation_failed" in table and first.json()["record_id"] in table
    log = hcli.json("hooks", "ingests", "shop", "--status", "failed")["data"]
    assert [e["webhook_id"] for e in log] == ["m2"]
    assert log[0]["error"]["details"]["errors"][0]["pointer"] == "/data/priority"

    rotated = hcli("hooks", "rotate-secret", "shop").stdout.strip()
    assert rotated.startswith("whsec_") and rotated != secret
    assert post(url, rotated, {"id": "A-3", "title": "t", "urgency": "low"}, "m4").status_code == 201
    updated = hcli.json("hooks", "update", "shop", "--disable", "--no-external-id", "--description", "off")
    assert (
        updated["enabled"] is False and updated["external_id"] is None and updated["collection"] == "tickets"
    )
    assert post(url, rotated, {"title": "t", "urgency": "low"}, "m5").status_code == 404
    assert hcli.json("hooks", "update", "shop", "--enable")["enabled"] is True
    assert hcli("hooks", "delete", "shop").stdout == "deleted hook shop\n"
    assert hcli("hooks", "show", "shop", expect=1).stderr.startswith("error: not_found: ")


def test_a_hook_without_verification_prints_its_url(hcli: Cli) -> None:
    out = hcli("hooks", "create", "open", "-c", "tickets", "--mapping", MAPPING, "--verify", "none")
    url = out.stdout.strip()
    assert "/v1/hooks/hk_" in url and "verify: none" in out.stderr
    assert post(url, None, {"title": "t", "urgency": "low"}, "x").status_code == 201
    on = hcli.json("hooks", "update", "open", "--verify", "standard-webhooks")
    assert on["secret"].startswith("whsec_")
    assert post(url, None, {"title": "t", "urgency": "low"}, "y").status_code == 401
    assert post(url, on["secret"], {"title": "t", "urgency": "low"}, "y").status_code == 201


def test_triggers_take_the_loop_guard_flag(hcli: Cli) -> None:
    hcli("triggers", "create", "crm", "--url", "https://crm.example.com/in", "--include-hook-writes")
    assert hcli.json("triggers", "show", "crm")["include_hook_writes"] is True
    assert hcli.json("triggers", "update", "crm", "--disable")["include_hook_writes"] is True  # kept
    assert hcli.json("triggers", "update", "crm", "--skip-hook-writes")["include_hook_writes"] is False
