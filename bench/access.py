"""What a user's access costs to read when it is not cached (once a second per user and process): the status
and role grants, and the two reads that decide whether a workspace makes them set up two-step sign-in (the
`require_two_factor` settings of their workspaces, and whether their factor is on). In process, on SQLite,
for a user in 1 and in `--size` workspaces (every other one requiring it).

    .venv/bin/python bench/access.py [--size N] [--runs N] [--json]
"""

from __future__ import annotations

from typing import Any

import orjson
from common import busy_cpu, log, machine, open_core, parser, repeat_ms, scratch, size_of, summary

from deskbase.core.context import SYSTEM
from deskbase.core.user_access import has_two_factor, requiring_two_factor


def measure(core: Any, user_id: str, runs: int) -> dict[str, dict[str, float]]:
    def full() -> Any:
        core.people.access.forget(user_id)
        return core.people.access.get(user_id)

    def two_step() -> Any:
        with core.db.read() as conn:
            return requiring_two_factor(conn, user_id), has_two_factor(conn, user_id)

    return {
        "access read (uncached)": summary(repeat_ms(full, runs)),
        "of which two-step": summary(repeat_ms(two_step, runs)),
    }


def main() -> None:
    p = parser(__doc__ or "", default_size=50, full_size=500)
    p.add_argument("--runs", type=int, default=2000)
    args = p.parse_args()
    size = size_of(args)
    busy = busy_cpu()
    out: dict[str, Any] = {"machine": machine(), "busy_before": busy, "runs": args.runs, "results": {}}
    with scratch("access", args.keep) as data:
        core = open_core(data, workspace=None)
        for n in range(size):
            settings = {"require_two_factor": True} if n % 2 else None
            core.workspaces.put(f"w{n:04d}", f"W{n}", settings, SYSTEM)
        for count in (1, size):
            user = core.people.create(SYSTEM, {"email": f"u{count}@bench.example"})
            for n in range(count):
                core.members.put(SYSTEM, f"w{n:04d}", user["id"], "agent")
            log(f"user in {count} workspace(s)")
            out["results"][f"{count} workspaces"] = measure(core, user["id"], args.runs)
        core.close()
    if args.json:
        print(orjson.dumps(out, option=orjson.OPT_INDENT_2).decode())
        return
    print(f"machine {out['machine']}  busy before: {busy:.0%}  runs: {args.runs}")
    for who, rows in out["results"].items():
        for name, s in rows.items():
            print(f"{who:>15}  {name:<24} median {s['median_ms']:.3f} ms  p99 {s['p99_ms']:.3f} ms")


if __name__ == "__main__":
    main()
