"""SLA upkeep per write: in-process `add_response` and a status PATCH on a ticket with 5 vs 400 messages, each
measured on the incremental path (the stored checkpoint continued) and, in the same run, on the replay path
(the checkpoint dropped before each write, so the write replays the ticket's whole history as every write did
before checkpoints). Target: 400-message cost / 5-message cost <= 1.3 on the incremental path.

Besides the whole write, the SLA hook's own time inside it is measured (a timer around the in-transaction
hook, attribution only), because the core's part of a write has costs of its own that grow with the ticket.

    .venv/bin/python bench/sla_write_cost.py [--size RUNS] [--json]
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

from common import Report, log, open_core, parser, scratch, size_of, time_ms
from sqlalchemy import update

from deskbase.core.context import SYSTEM
from deskbase.support import tables as ts
from deskbase.support.service import SlaService
from deskbase.support.tickets import add_response

WS = "bench"
AUTHORS = ("ana@example.com", "agent@example.com")
PATHS = ("replay (before)", "incremental (after)")


class HookTimer:
    """Wraps the SLA service's in-transaction hook and adds up the time spent in it."""

    def __init__(self, core: Any) -> None:
        hooks = core.hooks.in_transaction
        inner = core.extensions[SlaService]._on_changes
        self.ms = 0.0

        def timed(tx: Any, changes: list[Any]) -> None:
            t0 = time.perf_counter()
            try:
                inner(tx, changes)
            finally:
                self.ms += (time.perf_counter() - t0) * 1000.0

        hooks[hooks.index(inner)] = timed

    def around(self, fn: Callable[[], Any]) -> tuple[float, float]:
        self.ms = 0.0
        total, _ = time_ms(fn)
        return total, self.ms


def ticket_with(core: Any, messages: int) -> str:
    rec, _ = core.records.create(
        WS, "tickets", {"data": {"subject": "write cost", "status": "open", "priority": "high"}}, SYSTEM
    )
    for n in range(messages):
        add_response(core, WS, rec["id"], {"body": f"message {n}", "author": AUTHORS[n % 2]}, SYSTEM)
    return str(rec["id"])


def drop_checkpoint(core: Any, tid: str) -> None:
    st = ts.sla_tickets
    with core.db.tx() as tx:
        tx.conn.execute(
            update(st).where(st.c.workspace_id == WS, st.c.ticket_id == tid).values(checkpoint=None)
        )


def measure(
    core: Any, timer: HookTimer, tickets: dict[int, str], runs: int, replay: bool
) -> dict[int, dict[str, tuple[float, float]]]:
    """Median (write ms, SLA hook ms) of add_response and of a status PATCH (open <-> in_progress) per ticket
    size; sizes take turns, so a busy neighbour skews both alike."""
    out: dict[int, dict[str, list[tuple[float, float]]]] = {
        size: {"add_response": [], "status PATCH": []} for size in tickets
    }
    for n in range(runs):
        status = "in_progress" if n % 2 == 0 else "open"
        for size, tid in tickets.items():
            if replay:
                drop_checkpoint(core, tid)
            body = {"body": f"reply {n}", "author": AUTHORS[n % 2]}
            out[size]["add_response"].append(
                timer.around(lambda b=body, i=tid: add_response(core, WS, i, b, SYSTEM))  # type: ignore[misc]
            )
            if replay:
                drop_checkpoint(core, tid)
            data = {"data": {"status": status}}
            out[size]["status PATCH"].append(
                timer.around(lambda d=data, i=tid: core.records.patch(WS, "tickets", i, d, SYSTEM))  # type: ignore[misc]
            )
    return {
        size: {
            k: (statistics.median(x for x, _ in v), statistics.median(y for _, y in v)) for k, v in w.items()
        }
        for size, w in out.items()
    }


def main() -> None:
    args = parser(__doc__.splitlines()[0], 40, 200).parse_args()
    runs = size_of(args)
    report = Report("sla_write_cost", {"runs": runs, "messages": [5, 400]})
    with scratch("sla_write_cost", args.keep) as data:
        core = open_core(data, synchronous="NORMAL", workspace=WS)
        timer = HookTimer(core)
        log("building a 5-message and a 400-message ticket")
        tickets = {5: ticket_with(core, 5), 400: ticket_with(core, 400)}
        figures: dict[tuple[str, int], dict[str, tuple[float, float]]] = {}
        for path in PATHS:
            log(f"{path}: {runs} writes of each kind on each ticket")
            measure(core, timer, tickets, 3, path == PATHS[0])  # warm-up
            for size, got in measure(core, timer, tickets, runs, path == PATHS[0]).items():
                figures[(path, size)] = got
        rows: list[list[Any]] = []
        for path in PATHS:
            for write in ("add_response", "status PATCH"):
                (w5, h5), (w400, h400) = figures[(path, 5)][write], figures[(path, 400)][write]
                rows.append([path, write, w5, w400, w400 / w5, h5, h400, h400 / h5])
        report.table(
            "in-process write cost (median ms, SQLite synchronous=NORMAL)",
            ["path", "write", "write @5", "write @400", "ratio", "SLA hook @5", "SLA hook @400", "ratio"],
            rows,
        )
        for write in ("add_response", "status PATCH"):
            (w5, h5), (w400, h400) = figures[(PATHS[1], 5)][write], figures[(PATHS[1], 400)][write]
            report.check(f"{write} 400/5 messages, whole write (incremental)", w400 / w5, "<=", 1.3)
            report.check(f"{write} 400/5 messages, SLA hook (incremental)", h400 / h5, "<=", 1.3)
        core.close()
    report.emit(args.json)


if __name__ == "__main__":
    main()
