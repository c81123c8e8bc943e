"""What assignment costs a ticket create: in-process `core.records.create` of a ticket with no team (the
baseline), into a manual team, and into a round-robin and a least-loaded team of `--members` online agents
(the rule reads the team under its lock, who is online and each member's open load, then writes its own
version), plus a create naming an assignee (the agent check). Interleaved round-robin in one run, on one
store with `--load` open tickets already assigned to the team's members (the least-loaded count reads them
through the assignee index). And a 1,000-ticket batch into a least-loaded team beside one with no team.

    .venv/bin/python bench/assignment.py [--size RUNS] [--members N] [--load N] [--json]
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from typing import Any

from common import Report, log, open_core, parser, percentile, scratch, size_of, time_ms

from deskbase.core.context import SYSTEM

WS = "bench"
TICKET = {"subject": "Printer on fire", "status": "open", "priority": "high"}


def agents(core: Any, n: int) -> list[str]:
    emails = []
    for i in range(n):
        email = f"agent{i}@bench.example"
        uid = core.people.create(SYSTEM, {"email": email, "name": f"Agent {i}"})["id"]
        core.members.put(SYSTEM, WS, uid, "agent")
        core.sessions.open(None, uid)
        emails.append(email)
    return emails


def main() -> None:
    p = parser(__doc__.splitlines()[0], 300, 2000)
    p.add_argument("--members", type=int, default=8, help="members of each team (default 8)")
    p.add_argument(
        "--load", type=int, default=20_000, help="open tickets assigned beforehand (default 20,000)"
    )
    args = p.parse_args()
    runs = size_of(args)
    report = Report("assignment", {"runs": runs, "members": args.members, "load": args.load})
    with scratch("assignment", args.keep) as data:
        core = open_core(data, synchronous="NORMAL", workspace=WS)
        emails = agents(core, args.members)
        for rule in ("manual", "round_robin", "least_loaded"):
            core.teams.put(
                SYSTEM, WS, rule.replace("_", "-"), {"name": rule, "rule": rule, "members": emails}
            )
        log(f"loading {args.load:,} open tickets assigned to the members")
        for start in range(0, args.load, 1000):
            ops = [
                {
                    "type": "upsert_record",
                    "collection": "tickets",
                    "data": {**TICKET, "assignee": emails[i % len(emails)]},
                }
                for i in range(start, min(start + 1000, args.load))
            ]
            core.batch.run(WS, ops, SYSTEM)
        cases: dict[str, Callable[[], Any]] = {
            "no team (baseline)": lambda: core.records.create(WS, "tickets", {"data": TICKET}, SYSTEM),
            "named assignee (agent check)": lambda: core.records.create(
                WS, "tickets", {"data": {**TICKET, "assignee": emails[0]}}, SYSTEM
            ),
            "team, manual": lambda: core.records.create(
                WS, "tickets", {"data": {**TICKET, "team": "manual"}}, SYSTEM
            ),
            "team, round-robin": lambda: core.records.create(
                WS, "tickets", {"data": {**TICKET, "team": "round-robin"}}, SYSTEM
            ),
            "team, least-loaded": lambda: core.records.create(
                WS, "tickets", {"data": {**TICKET, "team": "least-loaded"}}, SYSTEM
            ),
        }
        times: dict[str, list[float]] = {k: [] for k in cases}
        log(f"{runs} creates of each kind, interleaved")
        for i in range(runs + 5):
            for name, fn in cases.items():
                ms, _ = time_ms(fn)
                if i >= 5:
                    times[name].append(ms)
        base = statistics.median(times["no team (baseline)"])
        rows = [
            [n, statistics.median(v), percentile(v, 99), statistics.median(v) / base]
            for n, v in times.items()
        ]
        report.table(
            "single ticket create, in process (ms, SQLite synchronous=NORMAL)",
            ["case", "median", "p99", "ratio to baseline"],
            rows,
        )
        batch = {}
        for name, extra in (
            ("1,000 tickets, no team", {}),
            ("1,000 tickets, least-loaded team", {"team": "least-loaded"}),
        ):
            ops = [
                {"type": "upsert_record", "collection": "tickets", "data": {**TICKET, **extra}}
                for _ in range(1000)
            ]
            batch[name], _ = time_ms(lambda ops=ops: core.batch.run(WS, ops, SYSTEM))
        first = next(iter(batch.values()))
        report.table(
            "one batch (ms)",
            ["case", "ms", "ratio to no team"],
            [[n, v, v / first] for n, v in batch.items()],
        )
        report.note(
            "the rule's work is a team lock, three reads (members, sessions, loads) and one extra version per ticket"
        )
        core.close()
    report.emit(args.json)


if __name__ == "__main__":
    main()
