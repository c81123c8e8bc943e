"""Notification tests share one server per module (as tests/people do) with the notification loop switched
off: a test runs the loop's steps itself (`drain`), so what a step stores is checked without waiting."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import sqlalchemy as sa

from deskbase.core.context import Actor
from deskbase.notify.service import Notifications
from tests.conftest import _pg_available, postgres_url
from tests.people.conftest import People, Person, serve


@dataclass
class World:
    people: People

    @property
    def notes(self) -> Notifications:
        return self.people.core.extensions[Notifications]

    def drain(self) -> None:
        """Run the loop's steps until it has read everything committed."""
        for _ in range(100):
            if self.notes.fanout.step() != 0.0:
                return
        raise AssertionError("the notification loop never caught up")

    def actor(self, p: Person) -> Actor:
        return self.people.core.people.actor(p.id)

    def ticket(self, ws: str, by: Actor | None = None, **data: Any) -> dict[str, Any]:
        from deskbase.core.context import SYSTEM

        body = {"subject": "VPN down", "status": "open", "priority": "high", **data}
        out, _ = self.people.core.records.create(ws, "tickets", {"data": body}, by or SYSTEM)
        return out

    def assign(self, ws: str, ticket: dict[str, Any], assignee: Any, by: Actor) -> None:
        self.people.core.records.patch(ws, "tickets", ticket["id"], {"assignee": assignee}, by)

    def mine(self, ws: str, p: Person) -> list[dict[str, Any]]:
        return self.notes.store.page(ws, p.id, "newest", 100)["data"]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    # the SMTP sink of test_email.py is on 127.0.0.1, which mail/guard.py refuses unless allowed
    for people in serve(tmp_path_factory, notifications=False, webhook_allow_networks="127.0.0.0/8"):
        yield World(people)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def stored_world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """The world on SQLite and on PostgreSQL (a fresh schema; skipped when PostgreSQL is not reachable)."""
    if request.param == "sqlite":
        yield from (World(p) for p in serve(tmp_path_factory, notifications=False))
        return
    url = postgres_url()
    assert url
    reason = _pg_available(url)
    if reason:
        pytest.skip(reason)
    schema = "t_" + uuid.uuid4().hex[:12]
    eng = sa.create_engine(url)
    with eng.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    try:
        sep = "&" if "?" in url else "?"
        dsn = f"{url}{sep}options=-csearch_path%3D{schema}"
        yield from (World(p) for p in serve(tmp_path_factory, notifications=False, database_url=dsn))
    finally:
        with eng.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        eng.dispose()
