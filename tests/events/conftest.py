"""Webhook fixtures: a real HTTP receiver on 127.0.0.1 and the API with the dispatcher running on a FixedClock
that starts at the real time (Standard Webhooks receivers reject timestamps more than 5 minutes off)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from deskbase.config import Settings
from deskbase.core.clock import FixedClock, SystemClock
from deskbase.server import build
from tests.conftest import Api
from tests.events.receiver import Receiver, receiving


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with receiving() as r:
        yield r


@pytest.fixture
def live_clock() -> FixedClock:
    return FixedClock(SystemClock().now())


@contextmanager
def hooks_api(tmp_path: Path, clock: FixedClock, **settings: Any) -> Iterator[Api]:
    values: dict[str, Any] = {
        "data_dir": str(tmp_path),
        "replicate": False,
        "sla_scheduler": False,
        "webhook_allow_networks": "127.0.0.0/8",
        "webhook_retry_schedule": "10,20,30",
        "webhook_timeout_seconds": 5.0,
        **settings,
    }
    core, app = build(Settings(**values), clock)
    raw, _ = core.tokens.ensure_admin_token(tmp_path)
    with TestClient(app, raise_server_exceptions=False) as client:
        a = Api(client, raw)
        a.core = core  # type: ignore[attr-defined]
        assert a.put("/v1/workspaces/acme", json={"name": "Acme"}).status_code == 201
        assert a.post("/v1/workspaces/acme/templates/support").status_code == 200
        yield a


@pytest.fixture
def wapi(tmp_path: Path, live_clock: FixedClock) -> Iterator[Api]:
    """The API with the webhook dispatcher running and workspace `acme` with the support template."""
    with hooks_api(tmp_path, live_clock) as api:
        yield api
