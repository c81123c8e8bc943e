"""How many times one ticket create on PostgreSQL waits for the server's answer (round trips), 1 writer.

Counts each time psycopg waits for the socket to become readable while `core.records.create` runs on the
support template's `tickets` (the full write path: numbering, SLA upkeep), after a warm-up. A pipeline of
many statements is one wait; so is a statement on the record-number pool's connection.

    .venv/bin/python bench/pg_round_trips.py [--size N] [--json]

PostgreSQL: DESKBASE_BENCH_POSTGRES_URL (default postgresql://postgres@127.0.0.1:5432/test).
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import psycopg
from common import PG_URL, WORKSPACE, Report, parser, scratch, setup_workspace, size_of
from gen import create_bodies
from pg_writers import fresh_schema

from deskbase.config import Settings
from deskbase.core.app import Deskbase
from deskbase.core.context import SYSTEM
from deskbase.support.install import install

READ = 1  #: psycopg's Wait.R: the client waits for the server's answer


def count_waits() -> list[int]:
    """Wrap `psycopg.Connection.wait` so that every wait for a readable socket adds one to the list's item."""
    waits = [0]
    original = psycopg.Connection.wait

    def counted(self: Any, gen: Generator[Any, Any, Any], *args: Any, **kwargs: Any) -> Any:
        def wrapped() -> Generator[Any, Any, Any]:
            sent = None
            while True:
                try:
                    state = gen.send(sent)
                except StopIteration as stop:
                    return stop.value
                if int(state) == READ:
                    waits[0] += 1
                sent = yield state

        return original(self, wrapped(), *args, **kwargs)

    psycopg.Connection.wait = counted  # type: ignore[method-assign]
    return waits


def main() -> None:
    args = parser("server answers waited for per ticket create on PostgreSQL", 100, 1000).parse_args()
    n = size_of(args)
    bodies = create_bodies(n + 20)
    waits = count_waits()
    report = Report("pg_round_trips", {"creates": n, "store": "postgresql"})
    with scratch("pg_round_trips", args.keep) as root, fresh_schema(PG_URL) as url:
        core = Deskbase.open(Settings(data_dir=str(root / "core"), database_url=url, replicate=False))
        install(core)
        setup_workspace(core, WORKSPACE)
        for body in bodies[:20]:  # warm-up: pools filled, statements prepared, caches loaded
            core.records.create(WORKSPACE, "tickets", body, SYSTEM)
        waits[0] = 0
        for body in bodies[20:]:
            core.records.create(WORKSPACE, "tickets", body, SYSTEM)
        core.close()
    report.table(
        "one writer, support template", ["creates", "waits", "waits/create"], [[n, waits[0], waits[0] / n]]
    )
    report.emit(args.json)


if __name__ == "__main__":
    main()
