"""Agent console: server time of every page (the `Server-Timing: app;dur` header) on a demo workspace, on the
first visit right after a restart (racing the server's warm-up: the worst case) and in steady state.

Tickets come from the demo generator (customers, conversations, status histories), loaded with the SLA hook
detached and then replayed (`sla.rebuild`: the same state, minutes faster). A first server start lets the
SQL replica catch up; the measured one is the restart after it, as after `make run` on an existing store.
The baseline is the settings page (session, token check, template; no data), measured in the same process.

    .venv/bin/python bench/console.py [--size N] [--full] [--json] [--keep] [--data-dir DIR] [--only LABEL]
                                      [--search-cpu]

`--data-dir` reuses a store built earlier with `--keep` (the load takes minutes at 100k). `--search-cpu` also
times the search itself as CPU time of this process (`Finder.find` and the queue box's `ticket_condition`), which a
shared machine distorts far less than wall time.
"""

from __future__ import annotations

import re
import statistics
import time
from pathlib import Path
from typing import Any

from common import Report, detach_sla, log, open_core, parser, percentile, scratch, size_of

from deskbase.analytics.service import Analytics
from deskbase.core.context import SYSTEM
from deskbase.core.errors import ReplicaLagging
from deskbase.support import demo
from deskbase.support.service import SlaService

WS = "my-support"
STEADY_RUNS = 15
#: Searches timed by `--search-cpu`: demo names and subject/message words, each common in some field.
CPU_QUERIES = ("Sam Rossi", "Card export", "Card Rossi", "Card declined", "export", "sam@")
CPU_RUNS = 5


def build_store(data: Path, n: int) -> None:
    core = open_core(data, synchronous="OFF", workspace=None)
    core.workspaces.put(WS, "Console bench", None, SYSTEM)
    hook = core.extensions[SlaService]._on_changes
    if not detach_sla(core):
        raise SystemExit("the SLA hook was not found")
    log(f"loading {n:,} demo tickets (SLA hook detached)")
    demo.load(core, WS, SYSTEM, demo.DemoSize(tickets=n, customers=max(50, n // 5), weeks=26))
    core.hooks.in_transaction.append(hook)
    log("replaying SLA state")
    core.extensions[SlaService].rebuild(WS)
    core.close()


def pages(core: Any) -> list[tuple[str, str, bool]]:
    """(label, path, htmx) of every page and fragment an agent or lead opens."""
    q = f"/w/{WS}/queue"
    ticket = core.records.query(WS, "tickets", {"field": "data.status", "op": "eq", "value": "open"}, limit=1)
    tid = ticket["data"][0]["id"]
    out = [
        ("queue: my open (default)", q, False),
        ("queue: unassigned", f"{q}?view=unassigned", False),
        ("queue: all open", f"{q}?view=open", False),
        ("queue: waiting", f"{q}?view=waiting", False),
        ("queue: at risk", f"{q}?view=at_risk", False),
        ("queue: breached", f"{q}?view=breached", False),
        ("queue: all tickets", f"{q}?view=all", False),
        ("queue: all, recently updated", f"{q}?view=all&sort=updated", False),
        ("queue: open, priority urgent", f"{q}?view=open&priority=urgent", False),
        ("queue: all, category billing, channel chat", f"{q}?view=all&category=billing&channel=chat", False),
        ("queue: all, search 'export' (one common word, every field)", f"{q}?view=all&q=export", False),
        ("ticket page", f"/w/{WS}/tickets/{tid}", False),
        ("new ticket form", f"/w/{WS}/tickets/new", False),
        ("dashboard", f"/w/{WS}/dashboard", False),
    ]
    for name in ("open_tickets_by_priority", "tickets_by_category_and_channel", "agent_workload"):
        out.append((f"report: {name}", f"/w/{WS}/dashboard/reports/{name}", True))
    out.append(
        ("report: tickets_by_customer_plan", f"/w/{WS}/dashboard/reports/tickets_by_customer_plan", True)
    )
    for period in ("7d", "30d", "90d"):
        out.append((f"SLA attainment {period}", f"/w/{WS}/dashboard/attainment?period={period}", True))
    out.append(("live strip", f"/w/{WS}/dashboard/strip", True))
    from deskbase.web.dashboard import PANELS

    for panel in PANELS:
        out.append((f"lead panel: {panel.id} 30d", f"/w/{WS}/dashboard/panels/{panel.id}?period=30d", True))
    out += [
        ("collections", f"/w/{WS}/collections", False),
        ("collection: tickets", f"/w/{WS}/collections/tickets", False),
        ("collection: customers", f"/w/{WS}/collections/customers", False),
    ]
    return out + search_pages(core, ticket["data"][0])


def search_pages(core: Any, ticket: dict[str, Any]) -> list[tuple[str, str, bool]]:
    """The one search (a number, an email, a name, subject words, a message phrase) and a customer's page."""
    from urllib.parse import quote

    from deskbase.core.scope import ReadScope
    from deskbase.support.tickets import conversation, customer_of

    s = f"/w/{WS}/search?q="
    customer = customer_of(core, ReadScope.unrestricted(WS), ticket["id"])
    assert customer is not None, "the demo ticket has no customer"
    words = " ".join(str(ticket["data"]["subject"]).split()[:2])
    message = conversation(core, ReadScope.unrestricted(WS), ticket["id"])
    phrase = " ".join(str(message[0]["data"]["body"]).split()[:2]) if message else "export"
    word = next((w for w in str(ticket["data"]["subject"]).split() if len(w) >= 4), "export")
    person = str(customer["data"]["name"]).split()[-1]
    said = next((w for w in phrase.split() if len(w) >= 4), "export")
    return [
        ("search: ticket number", s + quote(f"#{ticket['number']}"), False),
        ("search: email", s + quote(customer["data"]["email"]), False),
        ("search: customer name", s + quote(customer["data"]["name"]), False),
        (f"search: subject words '{words}'", s + quote(words), False),
        (f"search: message words '{phrase}'", s + quote(phrase), False),
        ("search: typing (htmx results)", s + quote(words), True),
        (
            f"search: across fields '{word} {person}' (subject, customer)",
            s + quote(f"{word} {person}"),
            False,
        ),
        (f"search: across fields '{word} {said}' (subject, message)", s + quote(f"{word} {said}"), False),
        (
            f"queue: all, search '{word} {person}' (subject, customer)",
            f"/w/{WS}/queue?view=all&q={quote(f'{word} {person}')}",
            False,
        ),
        ("customer page", f"/w/{WS}/customers/{customer['id']}", False),
    ]


class Browser:
    """Cookies kept, signed in through the sign-in form (with its CSRF token), as a browser does."""

    def __init__(self, client: Any) -> None:
        self.client = client

    def sign_in(self, token: str) -> None:
        self.client.get("/signin")
        form = {"token": token, "csrf": self.client.cookies.get("deskbase_csrf"), "next": "/"}
        if self.client.post("/signin", data=form, follow_redirects=False).status_code != 303:
            raise SystemExit("sign-in failed")

    def get(self, path: str, htmx: bool = False) -> Any:
        headers = {"HX-Request": "true"} if htmx else {}
        return self.client.get(path, headers=headers, follow_redirects=False)


def server_ms(response: Any) -> float:
    m = re.search(r"dur=([\d.]+)", response.headers.get("server-timing", ""))
    if response.status_code != 200 or not m:
        raise SystemExit(f"{response.request.url}: HTTP {response.status_code}")
    return float(m.group(1))


def measure(data: Path, n: int, report: Report, only: tuple[str, ...] = ()) -> None:
    from fastapi.testclient import TestClient

    from deskbase.config import Settings
    from deskbase.server import build

    core, app = build(Settings(data_dir=str(data), sla_scheduler=False))
    core.templates.apply(
        WS, "support", SYSTEM
    )  # as `make run` does: a store from an older release catches up
    with TestClient(app):
        log("first start: waiting for the SQL replica to catch up")
        t0 = time.perf_counter()
        while True:  # on a busy machine one wait_for may time out before the replica is there: wait on
            try:
                app.state.core.extensions[Analytics].sql(WS, "SELECT 1", {})
                break
            except ReplicaLagging as exc:
                log(f"still catching up: {exc.message}")
        log(f"replica ready after {time.perf_counter() - t0:.0f} s; restarting")
    core, app = build(Settings(data_dir=str(data), sla_scheduler=False))
    raw, _ = core.tokens.ensure_admin_token(data)
    todo = [p for p in pages(core) if not only or p[0].startswith(only)]
    with TestClient(app) as client:
        c = Browser(client)
        c.sign_in(raw)
        first = {label: server_ms(c.get(path, htmx=htmx)) for label, path, htmx in todo}
        base = [server_ms(c.get("/settings")) for _ in range(STEADY_RUNS)]
        rows = []
        worst = 0.0
        for label, path, htmx in todo:
            runs = [server_ms(c.get(path, htmx=htmx)) for _ in range(STEADY_RUNS)]
            med, p95 = statistics.median(runs), percentile(runs, 95)
            worst = max(worst, first[label], p95)
            rows.append([label, first[label], med, p95, med / statistics.median(base)])
        rows.append(["baseline: settings page", base[0], statistics.median(base), percentile(base, 95), 1.0])
    report.table(
        f"console server time at {n:,} tickets (ms)",
        ["page", "first visit", "median", "p95", "x baseline"],
        rows,
    )
    report.check("slowest console page, first visit or p95 (ms)", worst, "<=", 200)


def search_cpu(data: Path, report: Report) -> None:
    """CPU milliseconds (median of CPU_RUNS) of the search page's and the queue box's ticket search."""
    from deskbase.core.scope import ReadScope
    from deskbase.support.finder import Finder, ticket_condition

    core = open_core(data, workspace=None)
    scope = ReadScope.unrestricted(WS)
    rows = []
    for q in CPU_QUERIES:
        find, box = [], []
        for _ in range(CPU_RUNS):
            t0 = time.process_time()
            Finder(core).find(scope, q)
            t1 = time.process_time()
            cond, complete = ticket_condition(core, scope, q)
            find.append((t1 - t0) * 1000)
            box.append((time.process_time() - t1) * 1000)
        ids = cond.get("value") if cond.get("op") == "in" else []
        rows.append(
            [
                q,
                statistics.median(find),
                statistics.median(box),
                f"{len(ids):,}{'' if complete else ', partial'}",
            ]
        )
    core.close()
    report.table(
        "search CPU time (ms, median)",
        ["query", "search page (Finder.find)", "queue box (ticket_condition)", "tickets"],
        rows,
    )


def main() -> None:
    p = parser(__doc__.splitlines()[0], 10_000, 100_000)
    p.add_argument("--data-dir", type=Path, default=None, help="reuse a store built earlier with --keep")
    p.add_argument("--only", action="append", default=[], help="measure the pages whose label starts so")
    p.add_argument("--search-cpu", action="store_true", help="also time the search as CPU time")
    args = p.parse_args()
    n = size_of(args)
    report = Report("console", {"tickets": n})
    if args.data_dir is not None:
        measure(args.data_dir, n, report, tuple(args.only))
        if args.search_cpu:
            search_cpu(args.data_dir, report)
    else:
        with scratch("console", args.keep) as data:
            build_store(data, n)
            measure(data, n, report, tuple(args.only))
            if args.search_cpu:
                search_cpu(data, report)
    report.emit(args.json)


if __name__ == "__main__":
    main()
