"""`deskbase triggers …` against a real server and a real receiver."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from deskbase.core.context import SYSTEM
from tests.cli.cli_harness import Cli, Server, running_server
from tests.events.receiver import Receiver, receiving


@pytest.fixture
def hook_server(tmp_path: Path) -> Iterator[Server]:
    with running_server(
        tmp_path / "data", webhook_allow_networks="127.0.0.0/8", webhook_retry_schedule="3600"
    ) as s:
        s.core.workspaces.put("acme", "Acme", None, SYSTEM)
        s.core.templates.apply("acme", "support", SYSTEM)
        yield s


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with receiving() as r:
        yield r


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


def wait(check: object, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.1)
    raise AssertionError("not reached")


def test_the_trigger_lifecycle(hcli: Cli, hook_server: Server, receiver: Receiver) -> None:
    out = hcli("triggers", "create", "crm", "--url", receiver.url, "-e", "record.created", "-c", "tickets")
    secret = out.stdout.strip()
    assert secret.startswith("whsec_") and "shown only now" in out.stderr
    again = hcli("triggers", "create", "crm", "--url", receiver.url, expect=1)
    assert again.stderr.startswith("error: conflict: ")
    assert "crm" in hcli("triggers", "list").stdout
    shown = hcli.json("triggers", "show", "crm")
    assert shown["events"] == ["record.created"] and secret not in json.dumps(shown)

    hook_server.core.records.create(
        "acme", "tickets", {"data": {"subject": "s", "status": "open", "priority": "low"}}, SYSTEM
    )
    receiver.wait_for(1)
    wait(lambda: "delivered" in hcli("triggers", "deliveries", "crm").stdout)
    test_id = hcli("triggers", "test", "crm").stdout.strip()
    receiver.wait_for(2)
    assert hcli("triggers", "retry", test_id).stdout.startswith(f"queued delivery {test_id}")
    receiver.wait_for(3)
    assert hcli("triggers", "replay", "crm", "--since-seq", "0").stdout == "queued 1 deliveries\n"
    receiver.wait_for(4)
    log = hcli.json("triggers", "deliveries", "crm")["data"]
    assert {d["origin"] for d in log} == {"live", "test", "replay"}
    wait(lambda: hcli.json("triggers", "health", "crm")["counts"].get("pending", 0) == 0)
    health = hcli.json("triggers", "health", "crm")
    assert health["last_attempt"]["ok"] is True and health["last_24h"]["failed"] == 0
    assert "failing (last 100)" in hcli("triggers", "health", "crm").stdout

    rotated = hcli("triggers", "rotate-secret", "crm")
    assert rotated.stdout.strip().startswith("whsec_") and rotated.stdout.strip() != secret
    off = hcli.json("triggers", "update", "crm", "--disable", "-e", "*")
    assert off["enabled"] is False and off["events"] == ["*"] and off["collections"] == ["tickets"]
    assert "disabled by" in hcli("triggers", "show", "crm").stdout
    assert hcli.json("triggers", "update", "crm", "--enable", "--all-collections")["collections"] is None
    assert hcli("triggers", "delete", "crm").stdout == "deleted trigger crm\n"
    assert hcli("triggers", "show", "crm", expect=1).stderr.startswith("error: not_found: ")
