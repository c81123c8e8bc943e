"""The generated security walk: every route of the running API, once per kind of caller, with the status it
must answer and proof (a digest of every table) that nothing was written.

Routes are read from the OpenAPI document (hidden aliases included), so a new route is walked the day it is
mounted. What a route needs comes from its `requires(...)` declaration (`x-deskbase-permissions`); an
undeclared route is probed with a token that holds no relevant permission, and the permission its 403 names
is taken as the requirement. A route checking several permissions must declare them.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest

from deskbase.api.ratelimit import RateLimiter
from deskbase.core.context import SYSTEM
from deskbase.core.grants import READ_PERMISSIONS
from tests.conftest import Api
from tests.security.walk import Fingerprint, Operation, operations

WS = "acme"
#: Routes any client may call without a token.
PUBLIC = {"GET /healthz"}
GRANTS = {
    "other_workspace": [{"scope": {"workspaces": ["other"]}, "permissions": ["*"]}],
    "read_only": [{"scope": {"workspaces": [WS]}, "permissions": sorted(READ_PERMISSIONS)}],
    "probe": [{"scope": {"workspaces": [WS]}, "permissions": ["import"]}],
    "collection_scoped": [
        {"scope": {"workspaces": [WS], "collections": ["customers"]}, "permissions": ["*"]}
    ],
}


@dataclass
class World:
    api: Api
    fingerprint: Fingerprint
    tokens: dict[str, str]
    values: dict[str, str]
    ops: list[Operation]

    def value(self, param: str, path: str) -> str:
        if param == "name":
            return "support" if "/templates/" in path else "agent_workload"
        return self.values.get(param, "walk-probe")

    def call(self, op: Operation, token: str | None) -> Any:
        return self.api.request(
            op.method, op.url(self.value), token=token, params=op.query or None, json=op.body
        )

    def needs(self, op: Operation) -> tuple[str, ...]:
        """What the route requires: its declaration, else what it names when refused to a powerless token."""
        if op.permissions is not None:
            return op.permissions
        r = self.call(op, self.tokens["probe"])
        if r.status_code == 403:
            return (r.json()["error"]["details"]["permission"],)
        return ()


@pytest.fixture
def world(sql_api: Api) -> Iterator[World]:
    api, core = sql_api, sql_api.core  # type: ignore[attr-defined]
    app = api.client.app
    app.state.limiter = RateLimiter(0, 1)  # the walk is a burst by design; the limiter has its own tests
    assert api.put(f"/v1/workspaces/{WS}", json={"name": "Acme"}).status_code == 201
    assert api.post(f"/v1/workspaces/{WS}/templates/support").status_code == 200
    assert api.put("/v1/workspaces/other", json={"name": "Other"}).status_code == 201
    ticket = api.post(
        f"/v1/workspaces/{WS}/records/tickets",
        json={"data": {"subject": "s", "status": "open", "priority": "high"}},
    ).json()
    customer = api.post(
        f"/v1/workspaces/{WS}/records/customers", json={"data": {"name": "C", "email": "c@example.com"}}
    ).json()
    link = api.post(
        f"/v1/workspaces/{WS}/relationships",
        json={
            "rel_type": "submitted_by",
            "source": {"collection": "tickets", "id": ticket["id"]},
            "target": {"collection": "customers", "id": customer["id"]},
        },
    ).json()
    now = core.clock.now()
    tokens = {name: core.tokens.create(name, grants)[0] for name, grants in GRANTS.items()}
    tokens["expired"], _ = core.tokens.create(
        "expired", GRANTS["read_only"], expires_at=now - timedelta(seconds=1)
    )
    tokens["revoked"], revoked = core.tokens.create(
        "revoked", [{"scope": {"workspaces": ["*"]}, "permissions": ["*"]}]
    )
    core.tokens.revoke(SYSTEM, revoked["id"])
    _, spare = core.tokens.create("spare", GRANTS["read_only"])
    values = {
        "ws": WS,
        "collection": "tickets",
        "rid": ticket["id"],
        "ticket_id": ticket["id"],
        "rel_id": link["id"],
        "rel_type": "submitted_by",
        "token_id": spare["id"],
    }
    yield World(api, Fingerprint(core.db.engine), tokens, values, operations(app))


def _error(r: Any) -> dict[str, Any]:
    body = r.json()
    assert set(body) == {"error"}, body
    return body["error"]  # type: ignore[no-any-return]


def _walk(world: World, check: Any) -> list[str]:
    """Run `check(op) -> problem | None` on every authenticated route; a route that wrote anything fails."""
    problems = []
    for op in world.ops:
        if not op.authenticated:
            continue
        before = world.fingerprint()
        problem = check(op)
        if world.fingerprint() != before:
            problem = (problem + "; " if problem else "") + "wrote to the store"
        if problem:
            problems.append(f"{op.id}: {problem}")
    return problems


def test_every_route_is_walked_and_only_healthz_is_public(world: World) -> None:
    public = {op.id for op in world.ops if not op.authenticated}
    assert public == PUBLIC
    assert len(world.ops) >= 60  # 53 documented operations and the hidden /documents alias, at least
    assert any(op.path.startswith("/v1/workspaces/{ws}/documents/") for op in world.ops)


@pytest.mark.parametrize("kind", ["none", "malformed", "expired", "revoked"])
def test_without_a_valid_token_every_route_is_401(world: World, kind: str) -> None:
    token = {"none": None, "malformed": "not-a-token"}.get(kind) or world.tokens[kind]

    def check(op: Operation) -> str | None:
        r = world.call(op, token)
        if r.status_code != 401 or _error(r)["code"] != "unauthorized":
            return f"expected 401, got {r.status_code} {r.text[:120]}"
        if r.headers.get("WWW-Authenticate") != 'Bearer realm="deskbase"':
            return "401 without WWW-Authenticate"
        return None

    assert _walk(world, check) == []


def test_another_workspaces_token_finds_nothing(world: World) -> None:
    """Every route under workspace A answers 404 exactly as for a workspace that does not exist; routes
    outside workspaces reveal nothing of A."""
    missing = {"code": "not_found", "message": f"workspace {WS!r} not found", "details": {"workspace": WS}}
    secrets = [WS, world.values["rid"], world.values["rel_id"]]

    def check(op: Operation) -> str | None:
        r = world.call(op, world.tokens["other_workspace"])
        if "{ws}" in op.path:
            if r.status_code != 404 or _error(r) != missing:
                return f"expected the missing-workspace 404, got {r.status_code} {r.text[:120]}"
            return None
        if r.status_code >= 500 or any(s in r.text for s in secrets):
            return f"{r.status_code} reveals workspace {WS}: {r.text[:120]}"
        return None

    assert _walk(world, check) == []


def test_a_read_only_token_cannot_write(world: World) -> None:
    """Routes needing only read permissions work; every other route (every write) is a 403."""

    def check(op: Operation) -> str | None:
        needs = world.needs(op)
        r = world.call(op, world.tokens["read_only"])
        if set(needs) <= READ_PERMISSIONS:
            if r.status_code in (401, 403) or r.status_code >= 500:
                return f"a read route needing {needs} answered {r.status_code} {r.text[:120]}"
        elif r.status_code != 403 or _error(r)["code"] != "forbidden":
            return f"needs {needs}: expected 403, got {r.status_code} {r.text[:120]}"
        if op.method != "GET" and r.status_code < 300 and not set(needs) <= READ_PERMISSIONS:
            return "a write succeeded"
        return None

    assert _walk(world, check) == []


def test_routes_behave_as_declared(world: World) -> None:
    """A token holding no relevant permission gets a 403 naming one of the route's declared permissions, so
    the OpenAPI `x-deskbase-permissions` clients read cannot drift from what the route checks."""

    def check(op: Operation) -> str | None:
        r = world.call(op, world.tokens["probe"])
        declared = op.permissions
        if declared is None:
            return None if r.status_code == 403 or r.status_code < 500 else f"{r.status_code}"
        if not declared:
            return None if r.status_code < 400 else f"declared open, got {r.status_code} {r.text[:120]}"
        if r.status_code != 403:
            return f"declared {declared}, got {r.status_code} {r.text[:120]}"
        named = _error(r)["details"].get("permission")
        return None if named in declared else f"checks {named!r}, declares {declared}"

    assert _walk(world, check) == []


def test_a_collection_scoped_token_does_not_see_other_collections(world: World) -> None:
    """Every route naming a collection outside the token's scope answers the missing-collection 404."""
    missing = {
        "code": "not_found",
        "message": f"collection 'tickets' not found in workspace {WS!r}",
        "details": {"workspace": WS, "collection": "tickets"},
    }

    def check(op: Operation) -> str | None:
        if "{collection}" not in op.path:
            return None
        r = world.call(op, world.tokens["collection_scoped"])
        if r.status_code != 404 or _error(r) != missing:
            return f"expected the missing-collection 404, got {r.status_code} {r.text[:120]}"
        return None

    assert _walk(world, check) == []
