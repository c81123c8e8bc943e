"""Assignment rules on the store, SQLite and PostgreSQL: concurrent writers filing tickets into one
round-robin team take turns on its position (the team's lock), so the rotation stays even; and an SLA
escalation naming someone who is not an agent still runs its other actions."""

from __future__ import annotations

import itertools
import threading
from collections import Counter

from deskbase.core.app import Deskbase
from deskbase.core.context import SYSTEM, Actor

WRITERS = 4
EACH = 6


def agent(core: Deskbase, ws: str, email: str) -> str:
    uid = str(core.people.create(SYSTEM, {"email": email, "name": email.split("@")[0]})["id"])
    core.members.put(SYSTEM, ws, uid, "agent")
    core.sessions.open(None, uid)
    return uid


def test_concurrent_writers_keep_the_rotation_even(core: Deskbase, ws: str) -> None:
    a, b, c = (agent(core, ws, f"{n}@acme.example") for n in "abc")
    core.teams.put(SYSTEM, ws, "rr", {"name": "RR", "rule": "round_robin", "members": [a, b, c]})
    errors: list[BaseException] = []
    writer = Actor(id="tok_writer", name="writer", is_admin=True)

    def write(n: int) -> None:
        try:
            for k in range(EACH):
                body = {"subject": f"{n}-{k}", "status": "open", "priority": "low", "team": "rr"}
                core.records.create(ws, "tickets", {"data": body}, writer)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(WRITERS)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []
    got = core.records.query(ws, "tickets", None, [{"field": "created_at", "direction": "asc"}], 100)["data"]
    counts = Counter(t["data"].get("assignee") for t in got)
    per = WRITERS * EACH // 3
    assert counts == {"a@acme.example": per, "b@acme.example": per, "c@acme.example": per}
    # and in seq order the rule went a, b, c, a, … without a repeat
    seq = [t["data"]["assignee"] for t in sorted(got, key=lambda t: t["version"])]
    assert all(x != y for x, y in itertools.pairwise(seq))
