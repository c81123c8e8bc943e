"""Every error type reaches clients as the same envelope with its stable code and status."""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

import deskbase
from deskbase.api.app import create_app
from deskbase.config import Settings
from deskbase.core.app import Deskbase
from deskbase.core.errors import DeskbaseError, all_error_types

# Every module, so the error types of every domain and adapter (mail, SSO, analytics…) are defined and walked.
for _module in pkgutil.walk_packages(deskbase.__path__, "deskbase."):
    if ".migrations" not in _module.name:  # Alembic's scripts run only under Alembic
        importlib.import_module(_module.name)
TYPES = all_error_types()


@pytest.fixture
def client(tmp_path: Path) -> TestClient:
    core = Deskbase.open(Settings(data_dir=str(tmp_path)))

    def boom(app: FastAPI, _: Deskbase) -> None:
        @app.get("/boom/{name}")
        def raise_it(name: str) -> None:
            if name == "unexpected":
                raise RuntimeError("secret internal detail /var/lib/x")
            cls = next(c for c in TYPES if c.__name__.lower() == name)  # path ids are lowercase slugs
            raise cls(
                f"{cls.__name__} happened", {"retry_after": 3} if cls.status in (429, 503) else {"k": "v"}
            )

    return TestClient(create_app(core, [boom]), raise_server_exceptions=False)


def test_codes_are_unique_and_statuses_are_errors() -> None:
    codes = [c.code for c in TYPES]
    assert len(codes) == len(set(codes))
    assert all(400 <= c.status < 600 for c in TYPES)


@pytest.mark.parametrize("cls", TYPES, ids=[c.__name__ for c in TYPES])
def test_each_error_type_maps_to_its_envelope(client: TestClient, cls: type[DeskbaseError]) -> None:
    r = client.get(f"/boom/{cls.__name__.lower()}")
    assert r.status_code == cls.status
    assert r.json() == {
        "error": {
            "code": cls.code,
            "message": f"{cls.__name__} happened",
            "details": r.json()["error"]["details"],
        }
    }
    if cls.status in (429, 503):
        assert r.headers["Retry-After"] == "3"


def test_unexpected_errors_are_a_safe_500_envelope(client: TestClient) -> None:
    r = client.get("/boom/unexpected")
    assert r.status_code == 500
    assert r.json()["error"]["code"] == "internal" and "/var/lib" not in r.text


def test_framework_errors_use_the_envelope(client: TestClient) -> None:
    r = client.get("/v1/nothing-here")
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    r = client.post("/healthz")
    assert r.status_code == 405 and r.json()["error"]["code"] == "method_not_allowed"
