"""Notification tests share one server per module (as tests/people do) with the notification loop switched
off: a test runs the loop's steps itself (`drain`), so what a step stores is checked without waiting."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from deskbase.core.context import Actor
from deskbase.notify.service import Notifications
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
    for people in serve(tmp_path_factory, notifications=False):
        yield World(people)
