"""The checks of bench/soak.py, run on the PostgreSQL store after the scenario: acknowledged writes stored at
their versions, and the SLA events (each breach once, none retracted, every answered ticket fulfilled, every
unanswered one breached). Kept apart so the scenario module stays one concept; see soak.py."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

import sqlalchemy as sa

WS = "soak"


class Acknowledged(Protocol):
    """What the writers acknowledged (soak.Writers)."""

    tickets: dict[str, int]
    responses: list[str]
    unanswered: set[str]
    answered: set[str]


@dataclass
class Outcome:
    """What the run measured (`figures`) and each check as (name, passed, detail)."""

    figures: dict[str, Any] = field(default_factory=dict)
    checks: list[tuple[str, bool, str]] = field(default_factory=list)

    def check(self, name: str, ok: bool, detail: str) -> None:
        self.checks.append((name, ok, detail))

    @property
    def ok(self) -> bool:
        return all(ok for _, ok, _ in self.checks)


def check_stored(out: Outcome, eng: sa.Engine, load: Acknowledged) -> None:
    with eng.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT id, version FROM records WHERE workspace_id = :w AND collection = 'tickets' AND NOT deleted"
            ),
            {"w": WS},
        ).all()
        stored = {str(i): int(v) for i, v in rows}
        resp = {
            str(i)
            for (i,) in conn.execute(
                sa.text(
                    "SELECT id FROM records WHERE workspace_id = :w AND collection = 'responses' AND NOT deleted"
                ),
                {"w": WS},
            )
        }
    missing = [i for i in load.tickets if i not in stored]
    older = [i for i, v in load.tickets.items() if i in stored and stored[i] < v]
    lost = [i for i in load.responses if i not in resp]
    out.check(
        "every acknowledged write stored",
        not (missing or older or lost),
        f"{len(load.tickets)} tickets, {len(load.responses)} responses; missing {len(missing)}, "
        f"older than acknowledged {len(older)}, responses missing {len(lost)}",
    )


def check_sla(out: Outcome, eng: sa.Engine, load: Acknowledged) -> None:
    with eng.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT ticket_id, metric, cycle, count(*) FROM sla_events WHERE workspace_id = :w "
                "AND kind = 'breach' AND NOT deleted GROUP BY ticket_id, metric, cycle"
            ),
            {"w": WS},
        ).all()
        kinds = conn.execute(
            sa.text("SELECT kind, count(*) FROM sla_events WHERE workspace_id = :w GROUP BY kind"), {"w": WS}
        ).all()
        clocks = conn.execute(
            sa.text("SELECT count(*) FROM sla_instances WHERE workspace_id = :w"), {"w": WS}
        ).scalar()
        retracted = conn.execute(
            sa.text("SELECT event_key FROM sla_events WHERE workspace_id = :w AND deleted"), {"w": WS}
        ).all()
        fulfilled = {
            str(t)
            for (t,) in conn.execute(
                sa.text(
                    "SELECT ticket_id FROM sla_events WHERE workspace_id = :w AND kind = 'fulfil' AND NOT deleted"
                ),
                {"w": WS},
            )
        }
    out.figures["sla_events_by_kind"] = dict(sorted((str(k), int(n)) for k, n in kinds))
    out.figures["sla_events_retracted"] = sorted(str(k) for (k,) in retracted)
    out.figures["answered_without_fulfil"] = len(load.answered - fulfilled)
    out.figures["sla_clocks"] = clocks
    twice = [r for r in rows if r[3] > 1] + [k for (k,) in retracted if str(k).endswith(":breach")]
    out.check(
        "no SLA event retracted, every answered ticket fulfilled",
        not retracted and not load.answered - fulfilled,
        f"{len(retracted)} retracted, {len(load.answered - fulfilled)} of {len(load.answered)} answered without fulfil",
    )
    breached = {str(r[0]) for r in rows if r[1] == "first_response"}
    unrecorded = sorted(load.unanswered - breached)
    out.figures["sla_breaches"] = len(rows)
    out.check(
        "each SLA breach recorded once",
        bool(rows) and not twice and not unrecorded,
        f"{len(rows)} breaches, {len(twice)} recorded more than once (or retracted), "
        f"{len(unrecorded)} of {len(load.unanswered)} unanswered tickets without their breach",
    )


@contextmanager
def fresh_database(base: str) -> Iterator[str]:
    """A database of this run's own on the server at `base`; dropped afterwards."""
    base = base.replace("postgresql://", "postgresql+psycopg://", 1)
    name = "soak_" + uuid.uuid4().hex[:10]
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    try:
        yield sa.make_url(base).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        admin.dispose()
