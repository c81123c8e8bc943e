"""SLA engine at scale: full replay of every ticket's SLA state from the change log (tickets/s), `/sla/at-risk`
latency, and how late the live scheduler records a breach after its due instant.

Tickets come from the demo generator (customers on plans, conversations with customer/agent replies and
internal notes, status histories), loaded in import mode, so each replayed ticket has a realistic history.

    .venv/bin/python bench/sla.py [--size N] [--full] [--json]
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

from common import Report, log, open_core, parser, repeat_ms, scratch, size_of, summary

from deskbase.core.context import SYSTEM
from deskbase.support import demo
from deskbase.support.service import SlaService
from deskbase.support.tickets import add_response

WS = "bench"


def main() -> None:
    args = parser(__doc__.splitlines()[0], 10_000, 1_000_000).parse_args()
    n = size_of(args)
    report = Report("sla", {"tickets": n})
    with scratch("sla", args.keep) as data:
        core = open_core(data, synchronous="NORMAL", workspace=None)
        core.workspaces.put(WS, "Bench", {"timezone": "Europe/Madrid"}, SYSTEM)
        log(f"loading {n:,} demo tickets (import mode, SLA evaluated in each write transaction)")
        t0 = time.perf_counter()
        demo.load(core, WS, SYSTEM, demo.DemoSize(tickets=n, customers=max(50, n // 5), weeks=8))
        load_s = time.perf_counter() - t0
        sla = core.extensions[SlaService]
        log("replaying every ticket's SLA state from the change log")
        t0 = time.perf_counter()
        replayed = sla.rebuild(WS)
        replay_s = time.perf_counter() - t0
        rate = replayed / replay_s
        report.table(
            "load and replay",
            ["step", "tickets", "seconds", "tickets/s"],
            [
                ["import with live SLA", n, load_s, n / load_s],
                ["full replay (rebuild)", replayed, replay_s, rate],
            ],
        )
        report.check("SLA replay of 1M tickets (minutes, extrapolated)", 1_000_000 / rate / 60, "<=", 5)
        runs = repeat_ms(lambda: sla.at_risk(WS, timedelta(hours=2), 50), 300)
        s = summary(runs)
        report.table(
            "/sla/at-risk (core, limit 50)", ["median ms", "p99 ms"], [[s["median_ms"], s["p99_ms"]]]
        )
        report.check("at-risk median ms", s["median_ms"], "<=", 20)

        log("live scheduler: breach latency after the due instant (real clock)")
        cal = {
            "name": "24x7",
            "timezone": "UTC",
            "weekly": {d: [["00:00", "24:00"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")},
        }
        sla.config.put(WS, "calendar", "always", cal, SYSTEM)
        sla.config.put(
            WS,
            "policy",
            "fast",
            {
                "name": "fast",
                "calendar_id": "always",
                "match": {"field": "ticket.subject", "op": "eq", "value": "latency probe"},
                "targets": {"first_response": {"low": {"seconds": 2, "business": False}}},
            },
            SYSTEM,
            position=0,
        )
        sla.start()
        lags = []
        try:
            for _ in range(5):
                rec, _ = core.records.create(
                    WS,
                    "tickets",
                    {"data": {"subject": "latency probe", "status": "open", "priority": "low"}},
                    SYSTEM,
                )
                due = datetime.fromisoformat(rec["created_at"].replace("Z", "+00:00")) + timedelta(seconds=2)
                while True:
                    time.sleep(0.02)

                    stored = sla.clocks(WS, [rec["id"]]).get(rec["id"], {})
                    if stored.get("state") == "breached_active" or datetime.now(UTC) > due + timedelta(
                        seconds=10
                    ):
                        lags.append((datetime.now(UTC) - due).total_seconds())
                        break
                add_response(core, WS, rec["id"], {"body": "ok"}, SYSTEM)
        finally:
            sla.stop()
        ls = summary([x * 1000 for x in lags])
        report.table(
            "breach recorded after due (stored state, polled every 20 ms)",
            ["median ms", "max ms"],
            [[ls["median_ms"], max(lags) * 1000]],
        )
        report.check("breach recorded after due (s, max)", max(lags), "<=", 1.0)
        core.close()
    report.emit(args.json)


if __name__ == "__main__":
    main()
