"""MCP tool-call latency: `search_tickets` and `get_ticket` over `/mcp` beside the REST routes, same server,
same client, same run.

The store holds `--size` demo tickets (customers, conversations, status histories; 10k, 100k with `--full`),
loaded with the SLA hook detached and then replayed (`sla.rebuild`: the same state, faster). One real uvicorn
process (bench/launcher.py, replicator off) answers one keep-alive httpx client making sequential calls,
interleaved round-robin after a warm-up, so every row sees the same machine state:

- REST route: `GET …/records/tickets?filter&sort&limit=25` and `GET …/tickets/by-number/{n}` (the ticket with
  its SLA clocks and metrics) — the baselines of the ratios;
- MCP tool call, JSON-RPC POST with the 2025-11-25 (handshake-era) and the 2026-07-28 headers: the same
  question answered as the tool answers it (search rows also carry each ticket's customer and most urgent
  SLA clock; get_ticket also the customer, the last 20 messages and related tickets);
- MCP `query_records` / `get_record` on tickets: the routes' own work behind the protocol, so the ratio is
  the protocol's cost alone;
- REST route with `include` (sideloading, the same core function the tools call): the page with each
  ticket's customer and SLA summary, the ticket with its customer, conversation and related tickets — the
  same information as the tool in one request, the fair baseline for the tools' cost;
- REST, the same information without `include`: the requests a REST client makes for what the tool returns
  (the ticket, its responses, its customer link and record, its related links) — for attribution.

Also in-process (no HTTP): the tool function itself, to tell protocol cost from the work the tool adds.

    .venv/bin/python bench/mcp_calls.py [--size|--tickets N] [--full] [--runs R] [--json] [--keep] [--data-dir DIR]

(Not `bench/mcp.py`: bench/ is first on a bench script's sys.path, so a file of that name would shadow the
MCP SDK's `mcp` package for every benchmark that starts a server.)
"""

from __future__ import annotations

import random
import statistics
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import orjson
from common import Report, detach_sla, log, open_core, parser, percentile, scratch, server, size_of, token_of
from query import interleave

from deskbase.core.context import SYSTEM
from deskbase.support import demo
from deskbase.support.service import SlaService

WS = "mcp-bench"
LIMIT = 25
OPEN = {"field": "data.status", "op": "in", "value": ["open", "in_progress"]}
NEWEST = [{"field": "updated_at", "direction": "desc"}]
HANDSHAKE, MODERN = "2025-11-25", "2026-07-28"
SEARCH_INCLUDE = "customer,sla"
#: What get_ticket adds to the route's read (the SLA clocks come with the read itself).
GET_INCLUDE = "customer,conversation,related"


def build_store(data: Path, n: int) -> None:
    core = open_core(data, synchronous="OFF", workspace=None)
    core.workspaces.put(WS, "MCP bench", None, SYSTEM)
    hook = core.extensions[SlaService]._on_changes
    if not detach_sla(core):
        raise SystemExit("the SLA hook was not found")
    log(f"loading {n:,} demo tickets (SLA hook detached)")
    demo.load(core, WS, SYSTEM, demo.DemoSize(tickets=n, customers=max(50, n // 5), weeks=26))
    core.hooks.in_transaction.append(hook)
    log("replaying SLA state")
    core.extensions[SlaService].rebuild(WS)
    core.close()


class Rpc:
    """JSON-RPC tool calls as an MCP client sends them over streamable HTTP (stateless: no session)."""

    def __init__(self, http: httpx.Client, version: str) -> None:
        self.http = http
        self.version = version
        self.n = 0

    def call(self, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
        self.n += 1
        params: dict[str, Any] = {"name": tool, "arguments": arguments}
        headers = {
            "Accept": "application/json, text/event-stream",
            "Content-Type": "application/json",
            "Mcp-Protocol-Version": self.version,
        }
        if self.version == MODERN:
            params["_meta"] = {
                "io.modelcontextprotocol/protocolVersion": MODERN,
                "io.modelcontextprotocol/clientCapabilities": {},
            }
            headers |= {"Mcp-Method": "tools/call", "Mcp-Name": tool}
        body = {"jsonrpc": "2.0", "id": self.n, "method": "tools/call", "params": params}
        resp = self.http.post("/mcp", content=orjson.dumps(body), headers=headers)
        result = orjson.loads(resp.content).get("result") or {}
        if resp.status_code != 200 or result.get("isError") is not False:
            raise SystemExit(f"{tool}: HTTP {resp.status_code} {resp.text[:300]}")
        return result["structuredContent"]  # type: ignore[no-any-return]


def rest(http: httpx.Client, path: str, **params: Any) -> Any:
    resp = http.get(f"/v1/workspaces/{WS}{path}", params=params or None)
    if resp.status_code != 200:
        raise SystemExit(f"GET {path}: HTTP {resp.status_code} {resp.text[:300]}")
    return resp.json()


def rest_ticket_story(http: httpx.Client, number: int) -> None:
    """What get_ticket answers, asked of the REST API one resource at a time."""
    t = rest(http, f"/tickets/by-number/{number}")
    tid = t["id"]
    rest(http, f"/tickets/{tid}/responses")
    link = rest(http, f"/records/tickets/{tid}/relationships", type="submitted_by")["data"]
    if link:
        rest(http, f"/records/customers/{link[0]['target']['id']}")
    rest(http, f"/records/tickets/{tid}/relationships", type="related_to", direction="both")


def cases(
    port: int, token: str, numbers: list[int], ids: dict[int, str]
) -> tuple[dict[str, Callable[[], Any]], httpx.Client]:
    http = httpx.Client(
        base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {token}"}, timeout=60
    )
    old, new = Rpc(http, HANDSHAKE), Rpc(http, MODERN)
    pick = random.Random(11)
    search_args = {"workspace": WS, "filter": OPEN, "limit": LIMIT}
    filt, sort = orjson.dumps(OPEN).decode(), orjson.dumps(NEWEST).decode()

    def number() -> int:
        return pick.choice(numbers)

    query_args = {"workspace": WS, "collection": "tickets", "filter": OPEN, "sort": NEWEST, "limit": LIMIT}

    def ticket_id() -> str:
        return ids[number()]

    return {
        "search: REST route": lambda: rest(http, "/records/tickets", filter=filt, sort=sort, limit=LIMIT),
        "search: REST route + include=customer,sla": lambda: rest(
            http, "/records/tickets", filter=filt, sort=sort, limit=LIMIT, include=SEARCH_INCLUDE
        ),
        "search: MCP 2025-11-25": lambda: old.call("search_tickets", search_args),
        "search: MCP 2026-07-28": lambda: new.call("search_tickets", search_args),
        "search: MCP query_records (the route's work)": lambda: new.call("query_records", query_args),
        "get: REST route": lambda: rest(http, f"/tickets/by-number/{number()}"),
        "get: REST route + include=customer,conversation,related": lambda: rest(
            http, f"/tickets/by-number/{number()}", include=GET_INCLUDE
        ),
        "get: MCP 2025-11-25": lambda: old.call("get_ticket", {"workspace": WS, "ticket": number()}),
        "get: MCP 2026-07-28": lambda: new.call("get_ticket", {"workspace": WS, "ticket": number()}),
        "get: MCP get_record (the route's work)": lambda: new.call(
            "get_record", {"workspace": WS, "collection": "tickets", "id": ticket_id()}
        ),
        "get: REST, same information (5 requests)": lambda: rest_ticket_story(http, number()),
    }, http


def in_process(data: Path, numbers: list[int], runs: int) -> dict[str, list[float]]:
    """The tool functions without HTTP (what the tool adds to the REST route's work)."""
    from deskbase.compose import open_core as open_server_core
    from deskbase.config import Settings
    from deskbase.mcp import tickets
    from deskbase.mcp.calls import Caller

    core = open_server_core(Settings(data_dir=str(data), replicate=False))
    pick = random.Random(12)
    caller = Caller(core, SYSTEM)
    search = tickets.SearchTickets.model_validate({"workspace": WS, "filter": OPEN, "limit": LIMIT})
    try:
        return interleave(
            {
                "search: core.records.query (REST route's call)": lambda: core.records.query(
                    WS, "tickets", OPEN, NEWEST, LIMIT
                ),
                "search: search_tickets tool function": lambda: tickets.search_tickets(caller, search),
                "get: by_number + enrich (REST route's calls)": lambda: core.hooks.enrich(
                    WS, core.records.by_number(WS, "tickets", pick.choice(numbers))
                ),
                "get: get_ticket tool function": lambda: tickets.get_ticket(
                    caller,
                    tickets.GetTicket.model_validate({"workspace": WS, "ticket": pick.choice(numbers)}),
                ),
            },
            runs,
        )
    finally:
        core.close()


def measure(data: Path, n: int, runs: int, report: Report) -> None:
    core = open_core(data, workspace=None)
    last = core.records.query(WS, "tickets", sort=[{"field": "number", "direction": "desc"}], limit=1)
    top = int(last["data"][0]["number"])
    numbers = random.Random(5).sample(range(1, top + 1), min(500, top))
    ids = {n: core.records.by_number(WS, "tickets", n)["id"] for n in numbers}
    core.close()
    with server("deskbase", data_dir=data) as port:
        token = token_of(data)
        todo, http = cases(port, token, numbers, ids)
        log(f"{runs} interleaved runs of {len(todo)} cases")
        times = interleave(todo, runs)
        http.close()
    med = {k: statistics.median(v) for k, v in times.items()}
    include = {
        "search": f"search: REST route + include={SEARCH_INCLUDE}",
        "get": f"get: REST route + include={GET_INCLUDE}",
    }
    rows = []
    for name, ms in times.items():
        tool = name.split(":")[0]
        ratios = [med[name] / med[f"{tool}: REST route"], med[name] / med[include[tool]]]
        rows.append([name, med[name], percentile(ms, 99), *ratios])
    report.table(
        f"sequential calls over HTTP at {n:,} tickets (ms)",
        ["call", "median", "p99", "x REST route", "x REST + include"],
        rows,
    )
    local = in_process(data, numbers, runs)
    report.table(
        "in process, no HTTP (ms)",
        ["call", "median", "p99"],
        [[k, statistics.median(v), percentile(v, 99)] for k, v in local.items()],
    )
    for tool, short in (("search", "search_tickets"), ("get", "get_ticket")):
        for version in (HANDSHAKE, MODERN):
            ratio = med[f"{tool}: MCP {version}"] / med[include[tool]]
            report.check(f"{short} via MCP {version} / REST route with include (median)", ratio, "<=", 1.2)
            ratio = med[f"{tool}: MCP {version}"] / med[f"{tool}: REST route"]
            report.note(f"{short} via MCP {version} / plain REST route (median, answers less): {ratio:.2f}")
    for tool, short in (("search", "query_records"), ("get", "get_record")):
        ratio = med[f"{tool}: MCP {short} (the route's work)"] / med[f"{tool}: REST route"]
        report.check(f"{short} via MCP (the route's work) / REST route (median)", ratio, "<=", 1.2)
    report.note(
        "the tools answer more than the routes: search rows carry each ticket's customer and most urgent "
        "SLA clock, get_ticket the customer, conversation and related tickets; the REST rows with include "
        "answer the same in one request (the 5-request row is that without include); the in-process table "
        "separates that work from protocol cost"
    )


def main() -> None:
    p = parser(__doc__.splitlines()[0], 10_000, 100_000)
    p.add_argument("--tickets", dest="size", type=int, help="alias of --size")
    p.add_argument("--runs", type=int, default=200, help="measured calls per case (default 200)")
    p.add_argument("--data-dir", type=Path, default=None, help="reuse a store built earlier with --keep")
    args = p.parse_args()
    n = size_of(args)
    report = Report("mcp", {"tickets": n, "runs": args.runs})
    if args.data_dir is not None:
        measure(args.data_dir, n, args.runs, report)
    else:
        with scratch("mcp", args.keep) as data:
            build_store(data, n)
            measure(data, n, args.runs, report)
    report.emit(args.json)


if __name__ == "__main__":
    main()
