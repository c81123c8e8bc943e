"""SLA reads: a ticket's clocks, events and metrics served from its stored state, queue chips, at-risk lists,
attainment, and what-if simulation.

A ticket read continues the stored checkpoint to ``now`` with no new input: the running clocks' countdowns
cost a few calendar steps per open clock, however long the history. Completed instances and earlier events
are final, so they are read as stored. When there is nothing to continue (no checkpoint yet, configuration
or classification changed since, an input after the checkpoint's instant pending) the read replays the
history, exactly as every read did before checkpoints.
"""

from __future__ import annotations

import contextlib
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, literal_column, select
from sqlalchemy.engine import Connection

from deskbase.core import tables as t
from deskbase.core.app import Deskbase
from deskbase.core.clock import iso
from deskbase.core.errors import NotFound
from deskbase.support import tables as ts
from deskbase.support.evaluate import Fold, evaluate, fold, resume
from deskbase.support.policy import Policy
from deskbase.support.sla_config import SlaConfig
from deskbase.support.sla_facts import (
    author_match,
    config_mark,
    config_versions_in,
    gather_many,
    resolve_eras,
    timeline,
)
from deskbase.support.sla_state import load


class SlaReads:
    def __init__(self, core: Deskbase, config: SlaConfig) -> None:
        self.core = core
        self.config = config

    def continued(
        self, conn: Connection, workspace_id: str, ticket_id: str, now: datetime
    ) -> tuple[Fold, Any] | None:
        """The stored checkpoint continued to ``now`` (and the stored extras), or None when it cannot stand."""
        row = load(conn, workspace_id, [ticket_id]).get(ticket_id)
        saved = row.saved if row is not None else None
        if saved is None:
            return None
        configs = config_versions_in(conn, workspace_id)
        if saved.config != config_mark(configs) or saved.match != author_match(conn, workspace_id):
            return None
        eras = resolve_eras(self.config, workspace_id, saved.eras, configs)
        if eras is None:
            return None
        try:
            return resume(saved.checkpoint(), [], [], eras, now), saved
        except ValueError:
            return None

    def ticket_view(self, workspace_id: str, ticket_id: str) -> dict[str, Any]:
        """A ticket's SLA instances, events, metrics and the policy that applies, at now, exactly."""
        view, f, explanation = self._view(workspace_id, ticket_id, events=True)
        view["policy"] = self._policy(workspace_id, explanation)
        view["explanation"] = explanation
        view["next_due"] = iso(f.next_due) if f.next_due else None
        return view

    def ticket_state(self, workspace_id: str, ticket_id: str) -> dict[str, Any]:
        """What a ticket read carries: its SLA instances and metrics at now."""
        view, _, _ = self._view(workspace_id, ticket_id, events=False)
        return view

    def _view(
        self, workspace_id: str, ticket_id: str, *, events: bool
    ) -> tuple[dict[str, Any], Fold, list[dict[str, Any]]]:
        now = self.core.clock.now()
        with self.core.db.read() as conn:
            hit = self.continued(conn, workspace_id, ticket_id, now)
            if hit is not None:
                f, saved = hit
                before = saved.checkpoint().instances_before
                view = self._stored(conn, workspace_id, ticket_id, f, before, events)
                explanation = saved.explanation
            else:
                configs = config_versions_in(conn, workspace_id)
                g = gather_many(conn, workspace_id, [ticket_id]).get(ticket_id)
                if g is None:
                    raise NotFound(f"ticket {ticket_id!r} not found", {"id": ticket_id})
                tl = timeline(self.config, workspace_id, g, configs)
                f = fold(g.facts, tl.eras, now)
                view = {"sla": [i.to_dict() for _, i in f.instances]}
                if events:
                    view["events"] = [e.to_dict() for e in f.events]
                explanation = tl.explanation
        view["metrics"] = f.metrics.to_dict()
        return view, f, explanation

    def _stored(
        self, conn: Connection, workspace_id: str, ticket_id: str, f: Fold, before: int, events: bool
    ) -> dict[str, Any]:
        si, se = ts.sla_instances, ts.sla_events
        by_position: dict[int, dict[str, Any]] = {
            r.position: r.data
            for r in conn.execute(
                select(si.c.position, si.c.data).where(
                    si.c.workspace_id == workspace_id,
                    si.c.ticket_id == ticket_id,
                    si.c.deleted.is_(False),
                    si.c.position < before,
                )
            )
        }
        by_position.update((p, i.to_dict()) for p, i in f.instances)
        out: dict[str, Any] = {"sla": [by_position[p] for p in sorted(by_position)]}
        if events:
            earlier: list[tuple[int, dict[str, Any]]] = []
            for r in conn.execute(
                select(se).where(
                    se.c.workspace_id == workspace_id, se.c.ticket_id == ticket_id, se.c.deleted.is_(False)
                )
            ):
                position = int(r.event_key.split(":", 1)[0])
                if position < f.offset:
                    earlier.append(
                        (
                            position,
                            {
                                "metric": r.metric,
                                "cycle": r.cycle,
                                "kind": r.kind,
                                "at": iso(r.at),
                                "details": r.details,
                            },
                        )
                    )
            earlier.sort(key=lambda pe: pe[0])
            out["events"] = [e for _, e in earlier] + [e.to_dict() for e in f.events]
        return out

    def _policy(self, workspace_id: str, explanation: list[dict[str, Any]]) -> dict[str, Any] | None:
        matched = [e for e in explanation if e["matched"]]
        if not matched:
            return None
        pv = self.config.get(workspace_id, "policy", matched[0]["policy_id"])
        cal_id = (pv.definition or {}).get("calendar_id")
        cal_tz = None
        with contextlib.suppress(NotFound):
            cal_tz = (self.config.get(workspace_id, "calendar", str(cal_id)).definition or {}).get("timezone")
        return {
            "id": pv.id,
            "name": (pv.definition or {}).get("name"),
            "version": pv.version,
            "calendar_id": cal_id,
            "calendar_timezone": cal_tz,
        }

    def clocks(self, workspace_id: str, ticket_ids: list[str]) -> dict[str, dict[str, Any]]:
        """The most urgent running clock of each ticket (for queue chips), from stored state: one query on the
        primary key (ticket ids), running ones picked here so the planner cannot prefer the due-date index."""
        if not ticket_ids:
            return {}
        si = ts.sla_instances
        with self.core.db.read() as conn:
            rows = conn.execute(
                select(si.c.ticket_id, si.c.running, si.c.target_at, si.c.data).where(
                    si.c.workspace_id == workspace_id, si.c.ticket_id.in_(ticket_ids), si.c.deleted.is_(False)
                )
            ).all()
        out: dict[str, tuple[datetime, dict[str, Any]]] = {}
        for r in rows:
            if r.running and (r.ticket_id not in out or r.target_at < out[r.ticket_id][0]):
                out[r.ticket_id] = (r.target_at, r.data)
        return {tid: data for tid, (_, data) in out.items()}

    def at_risk(self, workspace_id: str, within: timedelta, limit: int = 50) -> list[dict[str, Any]]:
        """Running clocks due before now + within (breached ones first), from the index on target_at."""
        now = self.core.clock.now()
        si = ts.sla_instances
        with self.core.db.read() as conn:
            rows = conn.execute(
                select(si.c.ticket_id, si.c.data)
                .where(
                    si.c.workspace_id == workspace_id,
                    si.c.running.is_(True),
                    si.c.deleted.is_(False),
                    si.c.target_at <= now + within,
                )
                .order_by(si.c.target_at)
                .limit(limit)
            ).all()
        return [{"ticket_id": r.ticket_id, **r.data} for r in rows]

    def attainment(self, workspace_id: str, start: datetime, end: datetime) -> list[dict[str, Any]]:
        """Instances completed in [start, end) per metric and priority: achieved share (cancelled excluded).
        An index range on (workspace, completed_at), aggregated by the database."""
        si = ts.sla_instances
        with self.core.db.read() as conn:
            priority: Any = literal_column(
                "sla_instances.data ->> 'priority'"
                if conn.dialect.name == "postgresql"
                else "json_extract(sla_instances.data, '$.priority')"
            )
            rows = conn.execute(
                select(si.c.metric, priority.label("priority"), si.c.state, func.count())
                .where(
                    si.c.workspace_id == workspace_id,
                    si.c.completed_at >= start,
                    si.c.completed_at < end,
                    si.c.deleted.is_(False),
                    si.c.state.in_(("achieved", "breached")),
                )
                .group_by(si.c.metric, priority, si.c.state)
            ).all()
        return summarize(({"metric": m, "priority": p, "state": s}, n) for m, p, s, n in rows)

    def simulate(
        self, workspace_id: str, candidate: dict[str, Any], start: datetime, end: datetime, limit: int = 5000
    ) -> dict[str, Any]:
        """Evaluate a candidate policy over past tickets created in [start, end) beside the active policies."""
        self.config._validate(workspace_id, "policy", candidate.get("id") or "candidate", candidate)
        policy = Policy.from_dict({**candidate, "id": candidate.get("id") or "candidate", "version": 0})
        now = self.core.clock.now()
        r = t.records
        with self.core.db.read() as conn:
            ids = list(
                conn.execute(
                    select(r.c.id)
                    .where(
                        r.c.workspace_id == workspace_id,
                        r.c.collection == "tickets",
                        r.c.deleted.is_(False),
                        r.c.created_at >= start,
                        r.c.created_at < end,
                    )
                    .order_by(r.c.created_at)
                    .limit(limit)
                ).scalars()
            )
            configs = config_versions_in(conn, workspace_id)
            active, cand = [], []
            for g in gather_many(conn, workspace_id, ids).values():
                eras = timeline(self.config, workspace_id, g, configs).eras
                active += [i.to_dict() for i in evaluate(g.facts, eras, now).instances]
                eras = timeline(self.config, workspace_id, g, configs, override=policy).eras
                cand += [i.to_dict() for i in evaluate(g.facts, eras, now).instances]
        done = ("achieved", "breached")
        return {
            "tickets": len(ids),
            "active": summarize(i for i in active if i["state"] in done),
            "candidate": summarize(i for i in cand if i["state"] in done),
        }


def summarize(instances: Iterable[dict[str, Any] | tuple[dict[str, Any], int]]) -> list[dict[str, Any]]:
    """Achieved vs breached per (metric, priority); items are instances or (instance, count) pairs."""
    counts: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    for item in instances:
        inst, n = item if isinstance(item, tuple) else (item, 1)
        c = counts[(inst["metric"], inst["priority"])]
        c[0 if inst["state"] == "achieved" else 1] += n
    return [
        {
            "metric": m,
            "priority": p,
            "total": a + b,
            "achieved": a,
            "breached": b,
            "attainment": round(a / (a + b), 4) if a + b else None,
        }
        for (m, p), (a, b) in sorted(counts.items(), key=lambda kv: (kv[0][0], str(kv[0][1])))
    ]
