"""People tests share one server per module (a fresh store in a module temp dir, the real app over HTTP):
each test makes its own workspace and users, so tests stay independent without paying a new store each.
Password hashing runs at OWASP's floor (19 MiB, t=2) rather than the default profile, to keep them fast."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi.testclient import TestClient

from deskbase.config import Settings
from deskbase.core.app import Deskbase
from deskbase.core.clock import FixedClock
from deskbase.core.context import SYSTEM
from deskbase.server import build
from deskbase.web.session import CSRF_COOKIE
from tests.conftest import START, Api

PASSWORD = "plum tractor orbit lamp"
_serial = itertools.count(1)


@dataclass
class Person:
    id: str
    email: str
    password: str
    token: str  #: a personal token that follows the user's roles


@dataclass
class People:
    """The module's server, and helpers that make a workspace, a user with a role, or a signed-in browser."""

    api: Api
    core: Deskbase
    clock: FixedClock
    app: Any
    made: list[str] = field(default_factory=list)

    def workspace(self) -> str:
        ws = f"ws{next(_serial)}"
        assert self.api.put(f"/v1/workspaces/{ws}", json={"name": ws.upper()}).status_code == 201
        assert self.api.post(f"/v1/workspaces/{ws}/templates/support").status_code == 200
        return ws

    def person(self, ws: str | None = None, role: str = "agent", password: str = PASSWORD) -> Person:
        n = next(_serial)
        email = f"person{n}@people.example"
        r = self.api.post("/v1/users", json={"email": email, "name": f"Person {n}", "password": password})
        assert r.status_code == 201, r.text
        uid = r.json()["id"]
        if ws is not None:
            assert self.api.put(f"/v1/workspaces/{ws}/members/{uid}", json={"role": role}).status_code == 201
        raw, _ = self.core.tokens.create(
            "personal", [{"scope": {"workspaces": ["*"]}, "permissions": ["*"]}], user_id=uid
        )
        return Person(uid, email, password, raw)

    def browser(self, address: str = "testclient") -> Console:
        """A browser of its own (cookies), calling from `address`."""
        return Console(TestClient(self.app, raise_server_exceptions=True, client=(address, 50000)))


class Console:
    """A cookie-keeping client of the console's forms."""

    def __init__(self, client: TestClient) -> None:
        self.client = client

    def csrf(self) -> str:
        if not self.client.cookies.get(CSRF_COOKIE):
            self.client.get("/signin")
        return str(self.client.cookies.get(CSRF_COOKIE))

    def post(self, path: str, data: dict[str, str], **kw: Any) -> Any:
        return self.client.post(path, data={**data, "csrf": self.csrf()}, follow_redirects=False, **kw)

    def sign_in(self, email: str, password: str) -> Any:
        self.client.get("/signin")  # as a browser does: the form brings a CSRF token for this state
        return self.post("/signin", {"email": email, "password": password})

    def get(self, path: str) -> Any:
        return self.client.get(path, follow_redirects=False)


def serve(tmp_path_factory: pytest.TempPathFactory, **overrides: Any) -> Iterator[People]:
    data = tmp_path_factory.mktemp("people")
    clock = FixedClock(START)
    values: dict[str, Any] = {
        "data_dir": str(data),
        "replicate": False,
        "sla_scheduler": False,
        "password_hash_memory_kib": 19456,
        "password_hash_time_cost": 2,
        # every TestClient request comes from one address: its throttle is tested on its own server
        "signin_free_failures_address": 10_000,
    }
    core, app = build(Settings(**{**values, **overrides}), clock)
    raw, _ = core.tokens.ensure_admin_token(data)
    with TestClient(app, raise_server_exceptions=False) as client:
        api = Api(client, raw)
        api.core = core  # type: ignore[attr-defined]
        yield People(api, core, clock, app)


@pytest.fixture(scope="module")
def people(tmp_path_factory: pytest.TempPathFactory) -> Iterator[People]:
    yield from serve(tmp_path_factory)


__all__ = ["PASSWORD", "SYSTEM", "Console", "People", "Person"]
