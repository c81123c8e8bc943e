"""The people services on both stores (SQLite and PostgreSQL): users, custom roles, memberships, invitations,
the throttle's rows, personal tokens narrowed to the role, and cutting a user off in one transaction."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from deskbase.config import Settings
from deskbase.core.app import Deskbase
from deskbase.core.auth import permits
from deskbase.core.clock import FixedClock
from deskbase.core.context import SYSTEM
from deskbase.core.errors import RateLimited, Unauthorized


@pytest.fixture
def core(tmp_path: Path, clock: FixedClock, store_url: str) -> Iterator[Deskbase]:
    """The store with cheap hashing (OWASP's floor) and one free failure, so the test stays fast."""
    settings = Settings(
        data_dir=str(tmp_path),
        database_url=store_url,
        password_hash_memory_kib=19456,
        password_hash_time_cost=2,
        signin_free_failures_account=1,
    )
    app = Deskbase.open(settings, clock)
    yield app
    app.close()


def test_people_lifecycle(core: Deskbase) -> None:
    ws = "acme"
    core.workspaces.put(ws, "Acme", None, SYSTEM)
    ann = core.people.create(SYSTEM, {"email": "Ann@Example.com", "name": "Ann"}, "violet harbour engine")
    grants = [{"scope": {"workspaces": [ws], "collections": ["tickets"]}, "permissions": ["read:records"]}]
    core.roles.put(ws, "triage", grants, "tickets only")
    core.members.put(SYSTEM, ws, ann["id"], "triage")
    raw, token = core.tokens.create(
        "cli", [{"scope": {"workspaces": ["*"]}, "permissions": ["*"]}], user_id=ann["id"]
    )
    actor = core.tokens.authenticate(raw)
    assert permits(actor, "read:records", ws, "tickets") and not permits(
        actor, "read:records", ws, "customers"
    )
    assert [m["user"]["email"] for m in core.members.list(ws)] == ["ann@example.com"]

    invitation = core.invitations.create(SYSTEM, ws, "bo@example.com", "analyst")
    user, joined = core.invitations.accept(invitation["token"], "cobalt meadow tiger", name="Bo")
    assert joined == ws and core.members.get(ws, user["id"])["role"] == "analyst"

    assert core.signin.password("ann@example.com", "violet harbour engine", "192.0.2.1").id == ann["id"]
    for _ in range(2):
        with pytest.raises(Unauthorized):
            core.signin.password("ann@example.com", "wrong guess here", "192.0.2.1")
    with pytest.raises(RateLimited):
        core.signin.password("ann@example.com", "violet harbour engine", "192.0.2.1")

    core.people.patch(SYSTEM, ann["id"], {"status": "suspended"})
    with pytest.raises(Unauthorized):
        core.tokens.authenticate(raw)
    assert core.tokens.get(SYSTEM, token["id"])["revoked_at"] is not None
    core.people.delete(SYSTEM, ann["id"])
    assert [m["user"]["email"] for m in core.members.list(ws)] == ["bo@example.com"]
    core.workspaces.delete(ws, SYSTEM)
    assert core.people.me(core.people.actor(user["id"]))["memberships"] == []
