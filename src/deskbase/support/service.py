"""Keeps SLA state and response metrics current: evaluation inside every write transaction that affects a
ticket, a scheduler that records warnings and breaches at their due instants and runs escalations once, and
the reads adapters need (a ticket's clocks, queue chips, at-risk lists, attainment, what-if simulation).

Evaluation is the pure `evaluate()`; this module only gathers its inputs (the ticket's versions from the
change log, its classified messages, the submitting customer, the policy/calendar timeline) and stores its
outputs in derived tables (`sla_tickets`, `sla_instances`, `sla_events`) versioned by the change that caused
them, which is how they reach the SQL replica.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, func, insert, literal_column, or_, select, update
from sqlalchemy.engine import Connection

from deskbase.core import bulk
from deskbase.core import tables as t
from deskbase.core.app import Deskbase
from deskbase.core.changelog import Change
from deskbase.core.clock import iso, parse_iso
from deskbase.core.context import Actor
from deskbase.core.db import Tx
from deskbase.core.errors import InvalidFilter, NotFound
from deskbase.core.filters import Compiler, decode_cursor, encode_cursor
from deskbase.core.schemas import x_search_fields
from deskbase.core.writer import record_from_row
from deskbase.support.calendar import Calendar, calendar_24x7
from deskbase.support.evaluate import Evaluation, Message, PolicyEra, TicketFacts, TicketVersion, evaluate
from deskbase.support.policy import Policy
from deskbase.support.policy import select as select_policy
from deskbase.support.sla_config import ConfigVersion, SlaConfig, version_from_row
from deskbase.support.tickets import classify, message_time

log = logging.getLogger(__name__)
SLA_ACTOR = Actor(id="system:sla", name="SLA scheduler", is_admin=True)
RUNNING = frozenset({"active", "paused", "warning", "breached_active"})
UTC24 = calendar_24x7("UTC")
AT_RISK = timedelta(hours=2)
MAX_WINDOWS = 3


@dataclass
class Gathered:
    """Everything `evaluate` needs about one ticket, read in one connection."""

    facts: TicketFacts
    customer_versions: list[tuple[datetime, dict[str, Any]]]


class SlaService:
    def __init__(self, core: Deskbase) -> None:
        self.core = core
        self.config = SlaConfig(core)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        core.hooks.on_change_in_tx(self._on_changes)
        core.hooks.on_read("tickets", self._on_ticket_read)

    # ---- gathering facts --------------------------------------------------------------------------
    def gather(self, conn: Connection, workspace_id: str, ticket_id: str) -> Gathered | None:
        return self.gather_many(conn, workspace_id, [ticket_id]).get(ticket_id)

    def gather_many(self, conn: Connection, workspace_id: str, ticket_ids: list[str]) -> dict[str, Gathered]:
        """Facts of many tickets in a handful of queries (chunked IN lists), never one round trip per ticket."""
        ch, rel = t.changes, t.relationships
        versions: dict[str, list[TicketVersion]] = defaultdict(list)
        links: dict[str, list[Any]] = defaultdict(list)
        for chunk in _chunks(ticket_ids):
            for r in conn.execute(
                select(ch.c.entity_id, ch.c.at, ch.c.data)
                .where(
                    ch.c.workspace_id == workspace_id,
                    ch.c.entity == "record",
                    ch.c.collection == "tickets",
                    ch.c.entity_id.in_(chunk),
                )
                .order_by(ch.c.seq)
            ):
                img = r.data or {}
                versions[r.entity_id].append(
                    TicketVersion(r.at, img.get("data") or {}, bool(img.get("deleted")))
                )
            for x in conn.execute(
                select(rel).where(
                    rel.c.workspace_id == workspace_id,
                    rel.c.source_collection == "tickets",
                    rel.c.source_id.in_(chunk),
                    rel.c.rel_type.in_(("has_response", "submitted_by")),
                )
            ):
                links[x.source_id].append(x)
        customer_of: dict[str, str] = {}
        response_ids: list[str] = []
        for tid, xs in links.items():
            live = [x for x in xs if x.rel_type == "submitted_by" and not x.deleted]
            if live:
                customer_of[tid] = live[0].target_id
            response_ids += [x.target_id for x in xs if x.rel_type == "has_response"]
        customers = self._records(conn, workspace_id, "customers", sorted(set(customer_of.values())))
        customer_versions: dict[str, list[tuple[datetime, dict[str, Any]]]] = defaultdict(list)
        for chunk in _chunks(list(customers)):
            for r in conn.execute(
                select(ch.c.entity_id, ch.c.at, ch.c.data)
                .where(
                    ch.c.workspace_id == workspace_id,
                    ch.c.entity == "record",
                    ch.c.collection == "customers",
                    ch.c.entity_id.in_(chunk),
                )
                .order_by(ch.c.seq)
            ):
                customer_versions[r.entity_id].append((r.at, (r.data or {}).get("data") or {}))
        responses = self._records(conn, workspace_id, "responses", response_ids)
        match = self._author_match(conn, workspace_id) if responses else []
        out: dict[str, Gathered] = {}
        for tid in ticket_ids:
            if not versions.get(tid):
                continue
            row = customers.get(customer_of.get(tid, ""))
            customer = record_from_row(row).public() if row is not None and not row.deleted else None
            messages: list[Message] = []
            for link in links.get(tid, []):
                rr = responses.get(link.target_id) if link.rel_type == "has_response" else None
                if rr is None:
                    continue
                resp = record_from_row(rr).public()
                removed = [
                    d
                    for d in (
                        rr.updated_at if rr.deleted else None,
                        link.updated_at if link.deleted else None,
                    )
                    if d is not None
                ]
                kind = classify(resp, customer, match)
                messages.append(
                    Message(
                        rr.id,
                        message_time(resp),
                        kind,  # type: ignore[arg-type]
                        resp["data"].get("author"),
                        min(removed) if removed else None,
                    )
                )
            messages.sort(key=lambda m: (m.at, m.id))
            out[tid] = Gathered(
                TicketFacts(
                    tid, tuple(versions[tid]), tuple(messages), customer["data"] if customer else None
                ),
                customer_versions.get(customer["id"], []) if customer else [],
            )
        return out

    def _records(
        self, conn: Connection, workspace_id: str, collection: str, ids: list[str]
    ) -> dict[str, Any]:
        rec = t.records
        out: dict[str, Any] = {}
        for chunk in _chunks(ids):
            for r in conn.execute(
                select(rec).where(
                    rec.c.workspace_id == workspace_id, rec.c.collection == collection, rec.c.id.in_(chunk)
                )
            ):
                out[r.id] = r
        return out

    def _author_match(self, conn: Connection, workspace_id: str) -> list[str]:
        settings = conn.execute(
            select(t.workspaces.c.settings).where(t.workspaces.c.id == workspace_id)
        ).scalar()
        return list((settings or {}).get("customer_author_match") or ["email", "id"])

    # ---- the policy timeline ----------------------------------------------------------------------
    def timeline(
        self,
        workspace_id: str,
        g: Gathered,
        configs: list[ConfigVersion] | None = None,
        override: Policy | None = None,
    ) -> tuple[list[PolicyEra], list[dict[str, Any]]]:
        """Policy/calendar eras from the ticket's creation: a new era wherever configuration or the customer
        changes; each era's policy is the first in order matching the ticket and customer as they were then."""
        configs = self.config.versions(workspace_id) if configs is None else configs
        created = g.facts.versions[0].at
        bounds = {created} | {v.effective_from for v in configs if v.effective_from > created}
        bounds |= {at for at, _ in g.customer_versions if at > created}
        eras: list[PolicyEra] = []
        explanation: list[dict[str, Any]] = []
        for b in sorted(bounds):
            state: dict[tuple[str, str], ConfigVersion] = {}
            for v in configs:
                if v.effective_from <= b:
                    key = (v.kind, v.id)
                    cur = state.get(key)
                    if cur is None or (v.effective_from, v.version) >= (cur.effective_from, cur.version):
                        state[key] = v
            ticket = next((v.data for v in reversed(g.facts.versions) if v.at <= b), g.facts.versions[0].data)
            customer = next(
                (d for at, d in reversed(g.customer_versions) if at <= b),
                g.customer_versions[0][1] if g.customer_versions else None,
            )
            if override is not None:
                policies = [override]
            else:
                policies = [
                    self.config.policy(workspace_id, v)
                    for v in sorted(
                        (v for (k, _), v in state.items() if k == "policy" and not v.deleted),
                        key=lambda v: (v.position, v.id),
                    )
                ]
            chosen = select_policy(policies, ticket, customer)
            explanation = chosen.explanation
            cal: Calendar = UTC24
            if chosen.policy is not None:
                cv = state.get(("calendar", chosen.policy.calendar_id))
                if cv is not None and not cv.deleted:
                    cal = self.config.calendar(workspace_id, cv)
            if eras and eras[-1].policy == chosen.policy and eras[-1].calendar is cal:
                continue
            eras.append(PolicyEra(b, chosen.policy, cal))
        return eras, explanation

    def evaluate(
        self,
        conn: Connection,
        workspace_id: str,
        ticket_id: str,
        now: datetime,
        configs: list[ConfigVersion] | None = None,
    ) -> tuple[Evaluation, list[dict[str, Any]]] | None:
        return self.evaluate_many(conn, workspace_id, [ticket_id], now, configs).get(ticket_id)

    def evaluate_many(
        self,
        conn: Connection,
        workspace_id: str,
        ticket_ids: list[str],
        now: datetime,
        configs: list[ConfigVersion] | None = None,
    ) -> dict[str, tuple[Evaluation, list[dict[str, Any]]]]:
        configs = self.config_versions_in(conn, workspace_id) if configs is None else configs
        out = {}
        for tid, g in self.gather_many(conn, workspace_id, ticket_ids).items():
            eras, explanation = self.timeline(workspace_id, g, configs)
            out[tid] = (evaluate(g.facts, eras, now), explanation)
        return out

    # ---- persistence ------------------------------------------------------------------------------
    def persist(
        self, conn: Connection, workspace_id: str, ticket_id: str, ev: Evaluation, version: int, now: datetime
    ) -> None:
        self.persist_many(conn, workspace_id, {ticket_id: ev}, version, now)

    def persist_many(
        self,
        conn: Connection,
        workspace_id: str,
        evaluations: dict[str, Evaluation],
        version: int,
        now: datetime,
    ) -> None:
        """Store evaluations (a few statements per 500 tickets); instances and events that no longer exist
        become tombstones, so the replica learns of them too."""
        ids = list(evaluations)
        st, si, se, done_t = t.sla_tickets, t.sla_instances, t.sla_events, t.sla_escalations
        old_inst: dict[str, set[tuple[str, int, int]]] = defaultdict(set)
        old_ev: dict[str, set[str]] = defaultdict(set)
        done: dict[str, set[str]] = defaultdict(set)
        for all_chunk in _chunks(ids):
            # Tickets evaluated for the first time (every new ticket) have nothing to look up or replace.
            chunk = list(
                conn.execute(
                    select(st.c.ticket_id).where(
                        st.c.workspace_id == workspace_id, st.c.ticket_id.in_(all_chunk)
                    )
                ).scalars()
            )
            if not chunk:
                continue
            for r in conn.execute(
                select(si.c.ticket_id, si.c.metric, si.c.cycle, si.c.restarts).where(
                    si.c.workspace_id == workspace_id, si.c.ticket_id.in_(chunk), si.c.deleted.is_(False)
                )
            ):
                old_inst[r.ticket_id].add((r.metric, r.cycle, r.restarts))
            for r in conn.execute(
                select(se.c.ticket_id, se.c.event_key).where(
                    se.c.workspace_id == workspace_id, se.c.ticket_id.in_(chunk), se.c.deleted.is_(False)
                )
            ):
                old_ev[r.ticket_id].add(r.event_key)
            if any(e.kind == "escalate" for tid in chunk for e in evaluations[tid].events):
                for r in conn.execute(
                    select(done_t.c.ticket_id, done_t.c.step_key).where(
                        done_t.c.workspace_id == workspace_id, done_t.c.ticket_id.in_(chunk)
                    )
                ):
                    done[r.ticket_id].add(r.step_key)
            for table in (st, si, se):
                conn.execute(
                    delete(table).where(table.c.workspace_id == workspace_id, table.c.ticket_id.in_(chunk))
                )
        ticket_rows, inst_rows, ev_rows = [], [], []
        for tid, ev in evaluations.items():
            running = [i for i in ev.instances if i.state in RUNNING]
            due = min(running, key=lambda i: i.target_at) if running else None
            pending = any(e.kind == "escalate" and step_key(e) not in done[tid] for e in ev.events)
            first = ev.instances[0] if ev.instances else None
            ticket_rows.append(
                {
                    "workspace_id": workspace_id,
                    "ticket_id": tid,
                    "policy_id": first.policy_id if first else None,
                    "policy_version": first.policy_version if first else None,
                    "running": len(running),
                    "breached": sum(i.state == "breached_active" for i in running),
                    "due_at": due.target_at if due else None,
                    "due_metric": due.metric if due else None,
                    "next_due": now if pending else ev.next_due,
                    "metrics": ev.metrics.to_dict(),
                    "version": version,
                    "evaluated_at": now,
                }
            )
            for i in ev.instances:
                old_inst[tid].discard((i.metric, i.cycle, i.restarts))
                inst_rows.append(
                    {
                        "workspace_id": workspace_id,
                        "ticket_id": tid,
                        "metric": i.metric,
                        "cycle": i.cycle,
                        "restarts": i.restarts,
                        "state": i.state,
                        "running": i.state in RUNNING,
                        "target_at": i.target_at,
                        "completed_at": i.completed_at,
                        "data": i.to_dict(),
                        "deleted": False,
                        "version": version,
                    }
                )
            for m, cy, rs in old_inst[tid]:
                inst_rows.append(
                    {
                        "workspace_id": workspace_id,
                        "ticket_id": tid,
                        "metric": m,
                        "cycle": cy,
                        "restarts": rs,
                        "state": "cancelled",
                        "running": False,
                        "target_at": now,
                        "completed_at": None,
                        "data": {},
                        "deleted": True,
                        "version": version,
                    }
                )
            for n, e in enumerate(ev.events):
                key = event_key(n, e.metric, e.cycle, e.kind)
                old_ev[tid].discard(key)
                ev_rows.append(
                    {
                        "workspace_id": workspace_id,
                        "ticket_id": tid,
                        "event_key": key,
                        "metric": e.metric,
                        "cycle": e.cycle,
                        "kind": e.kind,
                        "at": e.at,
                        "details": dict(e.details),
                        "deleted": False,
                        "version": version,
                    }
                )
            for key in old_ev[tid]:
                ev_rows.append(
                    {
                        "workspace_id": workspace_id,
                        "ticket_id": tid,
                        "event_key": key,
                        "metric": "",
                        "cycle": 0,
                        "kind": "",
                        "at": now,
                        "details": {},
                        "deleted": True,
                        "version": version,
                    }
                )
        for table, rows in ((st, ticket_rows), (si, inst_rows), (se, ev_rows)):
            bulk.insert_dicts(conn, table, rows)

    def _pending_escalations(
        self, conn: Connection, workspace_id: str, ticket_id: str, ev: Evaluation
    ) -> list[Any]:
        steps = [e for e in ev.events if e.kind == "escalate"]
        if not steps:
            return []
        done = set(
            conn.execute(
                select(t.sla_escalations.c.step_key).where(
                    t.sla_escalations.c.workspace_id == workspace_id,
                    t.sla_escalations.c.ticket_id == ticket_id,
                )
            ).scalars()
        )
        return [e for e in steps if step_key(e) not in done]

    # ---- the write hook ---------------------------------------------------------------------------
    def _on_changes(self, tx: Tx, changes: list[Change]) -> None:
        """Re-evaluate every ticket a write touched, inside the write's own transaction."""
        affected: dict[str, set[str]] = defaultdict(set)
        version: dict[str, int] = {}
        responses: dict[str, set[str]] = defaultdict(set)
        customers: dict[str, set[str]] = defaultdict(set)
        config_changed: set[str] = set()
        for c in changes:
            ws = c.workspace_id
            version[ws] = max(version.get(ws, 0), c.seq)
            if c.entity == "record" and c.collection == "tickets":
                affected[ws].add(c.entity_id)
            elif c.entity == "record" and c.collection == "responses":
                responses[ws].add(c.entity_id)
            elif c.entity == "record" and c.collection == "customers":
                customers[ws].add(c.entity_id)
            elif c.entity == "relationship" and c.collection in ("has_response", "submitted_by"):
                img = c.data or {}
                if img.get("source_collection") == "tickets":
                    affected[ws].add(img["source_id"])
            elif c.entity in ("sla_policy", "sla_calendar"):
                config_changed.add(ws)
        conn = tx.conn
        rel = t.relationships
        for ws, ids in responses.items():
            affected[ws] |= set(
                conn.execute(
                    select(rel.c.source_id).where(
                        rel.c.workspace_id == ws,
                        rel.c.rel_type == "has_response",
                        rel.c.target_collection == "responses",
                        rel.c.target_id.in_(list(ids)),
                    )
                ).scalars()
            )
        for ws, ids in customers.items():
            st = t.sla_tickets
            affected[ws] |= set(
                conn.execute(
                    select(rel.c.source_id)
                    .join(
                        st, and_(st.c.workspace_id == rel.c.workspace_id, st.c.ticket_id == rel.c.source_id)
                    )
                    .where(
                        rel.c.workspace_id == ws,
                        rel.c.rel_type == "submitted_by",
                        rel.c.target_id.in_(list(ids)),
                        rel.c.deleted.is_(False),
                        st.c.running > 0,
                    )
                ).scalars()
            )
        now = self.core.clock.now()
        for ws in config_changed:
            # Running clocks re-base on the new version: the scheduler re-evaluates them right away.
            conn.execute(
                update(t.sla_tickets)
                .where(t.sla_tickets.c.workspace_id == ws, t.sla_tickets.c.running > 0)
                .values(next_due=now)
            )
        for ws, ids in affected.items():
            configs = self.config_versions_in(conn, ws)
            results = self.evaluate_many(conn, ws, sorted(ids), now, configs)
            self.persist_many(conn, ws, {tid: r[0] for tid, r in results.items()}, version[ws], now)

    def config_versions_in(self, conn: Connection, workspace_id: str) -> list[ConfigVersion]:
        c = t.sla_config.c
        return [
            version_from_row(r)
            for r in conn.execute(
                select(t.sla_config).where(c.workspace_id == workspace_id).order_by(c.version)
            )
        ]

    # ---- reads ------------------------------------------------------------------------------------
    def ticket_view(self, workspace_id: str, ticket_id: str) -> dict[str, Any]:
        """A ticket's SLA instances, events, metrics and the policy that applies — evaluated now, exactly."""
        now = self.core.clock.now()
        with self.core.db.read() as conn:
            result = self.evaluate(
                conn, workspace_id, ticket_id, now, self.config_versions_in(conn, workspace_id)
            )
        if result is None:
            raise NotFound(f"ticket {ticket_id!r} not found", {"id": ticket_id})
        ev, explanation = result
        policy = None
        matched = [e for e in explanation if e["matched"]]
        if matched:
            pv = self.config.get(workspace_id, "policy", matched[0]["policy_id"])
            cal_id = (pv.definition or {}).get("calendar_id")
            cal_tz = None
            with contextlib.suppress(NotFound):
                cal_tz = (self.config.get(workspace_id, "calendar", cal_id).definition or {}).get("timezone")
            policy = {
                "id": pv.id,
                "name": (pv.definition or {}).get("name"),
                "version": pv.version,
                "calendar_id": cal_id,
                "calendar_timezone": cal_tz,
            }
        return {
            "sla": [i.to_dict() for i in ev.instances],
            "events": [e.to_dict() for e in ev.events],
            "metrics": ev.metrics.to_dict(),
            "policy": policy,
            "explanation": explanation,
            "next_due": iso(ev.next_due) if ev.next_due else None,
        }

    def _on_ticket_read(self, workspace_id: str, record: dict[str, Any]) -> dict[str, Any]:
        view = self.ticket_view(workspace_id, record["id"])
        return {"sla": view["sla"], "metrics": view["metrics"]}

    def clocks(self, workspace_id: str, ticket_ids: list[str]) -> dict[str, dict[str, Any]]:
        """The most urgent running clock of each ticket (for queue chips), from stored state: one query on the
        primary key (ticket ids), running ones picked here so the planner cannot prefer the due-date index."""
        if not ticket_ids:
            return {}
        si = t.sla_instances
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

    def queue(
        self,
        workspace_id: str,
        view: str,
        filters: dict[str, Any],
        limit: int,
        cursor: str | None,
        count: bool = True,
    ) -> dict[str, Any]:
        """Tickets ordered by their most urgent running clock (tickets without one last, by id), for the console:
        views `at_risk` (a clock due within 2 h, breached included) and `breached`, or any other view's filter
        (`filters["filter"]`, the record filter DSL) in SLA-due order. Two phases, so the (workspace, due_at)
        index drives the walk and stops at the page size: tickets with a clock, then the rest by id.
        `count` False leaves the total out (None) for callers that already know it."""
        r, st = t.records, t.sla_tickets
        now = self.core.clock.now()
        flt = filters.get("filter")
        due, last = _decode_due_cursor(cursor) if cursor else (None, None)
        in_tail = cursor is not None and due is None
        with self.core.db.read() as conn:
            # Searches on x-search fields are planned like a page of records: the walks below stop early.
            schema = conn.execute(
                select(t.collections.c.json_schema).where(
                    t.collections.c.workspace_id == workspace_id, t.collections.c.id == "tickets"
                )
            ).scalar()
            comp = Compiler(
                conn.dialect.name, x_search_fields(schema) if schema else (), conn, early_stop=True
            )
            base = [r.c.workspace_id == workspace_id, r.c.collection == "tickets", r.c.deleted.is_(False)]
            if flt:
                base.append(comp.condition(flt))
            clocked = [st.c.workspace_id == workspace_id, st.c.due_at.is_not(None)]
            if view == "at_risk":
                clocked += [st.c.due_at <= now + AT_RISK, st.c.running > 0]
            elif view == "breached":
                clocked += [st.c.due_at <= now, st.c.breached > 0]
            inner = st.join(
                r,
                and_(
                    r.c.workspace_id == st.c.workspace_id,
                    r.c.collection == "tickets",
                    r.c.id == st.c.ticket_id,
                ),
            )
            rows: list[Any] = []
            if not in_tail:
                # Walk clocks in due order through the index in windows (a subquery with its own LIMIT keeps the
                # planner from starting at the records side), keeping those whose ticket matches the filter.
                window = max(4 * limit, 200)
                pos_due, pos_id = due, last
                for attempt in range(MAX_WINDOWS + 1):
                    if len(rows) > limit:
                        break
                    after = (
                        []
                        if pos_due is None
                        else [
                            or_(st.c.due_at > pos_due, and_(st.c.due_at == pos_due, st.c.ticket_id > pos_id))
                        ]
                    )
                    if attempt == MAX_WINDOWS:
                        # A selective filter (few clocked tickets match): start from the records side.
                        rows += list(
                            conn.execute(
                                select(r, st.c.due_at.label("sla_due_at"))
                                .select_from(inner)
                                .where(*clocked, *base, *after)
                                .order_by(st.c.due_at, r.c.id)
                                .limit(limit + 1 - len(rows))
                            )
                        )
                        break
                    cand = (
                        select(st.c.ticket_id, st.c.due_at)
                        .where(*clocked, *after)
                        .order_by(st.c.due_at, st.c.ticket_id)
                        .limit(window)
                        .subquery()
                    )
                    got = list(
                        conn.execute(
                            select(r, cand.c.due_at.label("sla_due_at"))
                            .select_from(
                                cand.join(
                                    r,
                                    and_(
                                        r.c.workspace_id == workspace_id,
                                        r.c.collection == "tickets",
                                        r.c.id == cand.c.ticket_id,
                                    ),
                                )
                            )
                            .where(*base)
                            .order_by(cand.c.due_at, cand.c.ticket_id)
                        )
                    )
                    rows += got
                    edge = conn.execute(
                        select(cand.c.due_at, cand.c.ticket_id)
                        .order_by(cand.c.due_at.desc(), cand.c.ticket_id.desc())
                        .limit(1)
                    ).first()
                    if edge is None:
                        break
                    pos_due, pos_id = edge
                    if conn.execute(select(func.count()).select_from(cand)).scalar_one() < window:
                        break
                rows = rows[: limit + 1]
            sla_view = view in ("at_risk", "breached")
            if not sla_view and len(rows) <= limit:
                no_clock = (
                    ~select(st.c.ticket_id)
                    .where(
                        st.c.workspace_id == r.c.workspace_id,
                        st.c.ticket_id == r.c.id,
                        st.c.due_at.is_not(None),
                    )
                    .exists()
                )
                after = [r.c.id > last] if in_tail and last else []
                rows += list(
                    conn.execute(
                        select(r, literal_column("NULL").label("sla_due_at"))
                        .where(*base, no_clock, *after)
                        .order_by(r.c.id)
                        .limit(limit + 1 - len(rows))
                    )
                )
            total: int | None = None
            if count and sla_view:
                # Unfiltered, the covering due index answers alone: a deleted or solved ticket has no
                # running clock, so it has no due instant here.
                source = (
                    select(func.count()).select_from(inner).where(*clocked, *base)
                    if flt
                    else (select(func.count()).select_from(st).where(*clocked))
                )
                total = conn.execute(source).scalar_one()
        if count and total is None:
            total = self.core.records.count(workspace_id, "tickets", flt)
        more = len(rows) > limit
        rows = rows[:limit]
        next_cursor = None
        if more and rows:
            tail = rows[-1]
            next_cursor = encode_cursor([iso(tail.sla_due_at) if tail.sla_due_at else None, tail.id])
        return {
            "data": [record_from_row(x).public() for x in rows],
            "next_cursor": next_cursor,
            "count": total,
        }

    def at_risk(self, workspace_id: str, within: timedelta, limit: int = 50) -> list[dict[str, Any]]:
        """Running clocks due before now + within (breached ones first), from the index on target_at."""
        now = self.core.clock.now()
        si = t.sla_instances
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
        si = t.sla_instances
        with self.core.db.read() as conn:
            priority = literal_column(
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
            configs = self.config_versions_in(conn, workspace_id)
            active, cand = [], []
            for g in self.gather_many(conn, workspace_id, ids).values():
                eras, _ = self.timeline(workspace_id, g, configs)
                active += [i.to_dict() for i in evaluate(g.facts, eras, now).instances]
                eras, _ = self.timeline(workspace_id, g, configs, override=policy)
                cand += [i.to_dict() for i in evaluate(g.facts, eras, now).instances]
        done = ("achieved", "breached")
        return {
            "tickets": len(ids),
            "active": summarize(i for i in active if i["state"] in done),
            "candidate": summarize(i for i in cand if i["state"] in done),
        }

    def rebuild(self, workspace_id: str, batch: int = 500) -> int:
        """Recompute every ticket's SLA state from the change log (derived state is always replayable).
        Each batch of tickets is one transaction and one `sla` change entry, so the replica follows."""
        r = t.records
        now = self.core.clock.now()
        last, total = "", 0
        while True:
            with self.core.db.read() as conn:
                ids = list(
                    conn.execute(
                        select(r.c.id)
                        .where(r.c.workspace_id == workspace_id, r.c.collection == "tickets", r.c.id > last)
                        .order_by(r.c.id)
                        .limit(batch)
                    ).scalars()
                )
            if not ids:
                return total
            with self.core.db.tx() as tx:
                change = Change(
                    workspace_id,
                    "sla",
                    "tickets",
                    "*",
                    "rebuild",
                    {"tickets": len(ids)},
                    SLA_ACTOR.id,
                    SLA_ACTOR.name,
                    now,
                )
                self.core.emit(tx, [change], run_hooks=False)
                configs = self.config_versions_in(tx.conn, workspace_id)
                results = self.evaluate_many(tx.conn, workspace_id, ids, now, configs)
                self.persist_many(
                    tx.conn, workspace_id, {tid: r[0] for tid, r in results.items()}, change.seq, now
                )
            total += len(ids)
            last = ids[-1]

    # ---- the scheduler ----------------------------------------------------------------------------
    def run_due(self, limit: int = 500) -> int:
        """Re-evaluate tickets whose next warning, breach or escalation is due (in due order, a workspace batch
        per transaction), and run due escalation steps once. Each batch is a change (`entity="sla"`), so the
        audit trail and the replica see it."""
        now = self.core.clock.now()
        st = t.sla_tickets
        with self.core.db.read() as conn:
            due = conn.execute(
                select(st.c.workspace_id, st.c.ticket_id)
                .where(st.c.next_due <= now)
                .order_by(st.c.next_due)
                .limit(limit)
            ).all()
        by_ws: dict[str, list[str]] = defaultdict(list)
        for ws, tid in due:
            by_ws[ws].append(tid)
        for ws, ids in by_ws.items():
            try:
                self._tick_many(ws, ids, now)
            except Exception:
                log.exception("SLA re-evaluation of %d tickets in %s failed", len(ids), ws)
        return len(due)

    def _tick_many(self, workspace_id: str, ticket_ids: list[str], now: datetime) -> None:
        with self.core.db.tx() as tx:
            conn = tx.conn
            results = self.evaluate_many(conn, workspace_id, ticket_ids, now)
            gone = [tid for tid in ticket_ids if tid not in results]
            if gone:
                conn.execute(
                    delete(t.sla_tickets).where(
                        t.sla_tickets.c.workspace_id == workspace_id, t.sla_tickets.c.ticket_id.in_(gone)
                    )
                )
            if not results:
                return
            change = Change(
                workspace_id,
                "sla",
                "tickets",
                ticket_ids[0] if len(ticket_ids) == 1 else "*",
                "evaluate",
                {
                    "tickets": sorted(results)[:100],
                    "count": len(results),
                    "events": [
                        dict(e.to_dict(), ticket_id=tid)
                        for tid, (ev, _) in results.items()
                        for e in ev.events
                        if e.at > now - timedelta(minutes=5)
                    ][-50:],
                },
                SLA_ACTOR.id,
                SLA_ACTOR.name,
                now,
            )
            self.core.emit(tx, [change], run_hooks=False)
            plain: dict[str, Evaluation] = {}
            for tid, (ev, _) in results.items():
                pending = (
                    self._pending_escalations(conn, workspace_id, tid, ev)
                    if any(e.kind == "escalate" for e in ev.events)
                    else []
                )
                if not pending:
                    plain[tid] = ev
                    continue
                for e in pending:
                    conn.execute(
                        insert(t.sla_escalations).values(
                            workspace_id=workspace_id, ticket_id=tid, step_key=step_key(e), done_at=now
                        )
                    )
                patch = escalation_patch(pending, self._ticket_data(conn, workspace_id, tid))
                if patch:
                    from deskbase.core.writer import UnitOfWork

                    uow = UnitOfWork(self.core, tx, workspace_id, SLA_ACTOR)
                    uow.patch_record("tickets", tid, patch, None)
                    uow.flush()  # the in-transaction hook re-evaluates and stores this ticket
                else:
                    plain[tid] = ev
            self.persist_many(conn, workspace_id, plain, change.seq, now)

    def _ticket_data(self, conn: Connection, workspace_id: str, ticket_id: str) -> dict[str, Any]:
        row = conn.execute(
            select(t.records.c.data).where(
                t.records.c.workspace_id == workspace_id,
                t.records.c.collection == "tickets",
                t.records.c.id == ticket_id,
            )
        ).scalar()
        return row or {}

    def next_wakeup(self) -> datetime | None:
        st = t.sla_tickets
        with self.core.db.read() as conn:
            return conn.execute(
                select(st.c.next_due).where(st.c.next_due.is_not(None)).order_by(st.c.next_due).limit(1)
            ).scalar()

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._loop, name="deskbase-sla", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        with self.core.commit_signal:
            self.core.commit_signal.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def _loop(self) -> None:
        """Sleep until the earliest due instant (so breaches are recorded on time), or until a commit."""
        while not self._stop.is_set():
            try:
                self.run_due()
                nxt = self.next_wakeup()
            except Exception:
                log.exception("SLA scheduler step failed")
                nxt = None
            wait = 1.0 if nxt is None else max(0.0, min(1.0, (nxt - self.core.clock.now()).total_seconds()))
            if wait > 0:
                with self.core.commit_signal:
                    self.core.commit_signal.wait(timeout=wait)


def _decode_due_cursor(cursor: str) -> tuple[datetime | None, str]:
    values = decode_cursor(cursor, 2)
    if not isinstance(values[1], str) or not (values[0] is None or isinstance(values[0], str)):
        raise InvalidFilter("invalid cursor", {"cursor": cursor})
    try:
        return (parse_iso(values[0]) if values[0] else None), values[1]
    except ValueError as exc:
        raise InvalidFilter("invalid cursor", {"cursor": cursor}) from exc


def _chunks(items: list[str], size: int = 500) -> Iterable[list[str]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def event_key(position: int, metric: str, cycle: int, kind: str) -> str:
    """Events only ever grow as time passes (replay = live), so a position in the list is a stable key."""
    return f"{position}:{metric}:{cycle}:{kind}"


def step_key(e: Any) -> str:
    return f"{e.metric}:{e.cycle}:{e.details.get('restart', 0)}:{e.details.get('step')}"


def escalation_patch(pending: Iterable[Any], ticket: dict[str, Any]) -> dict[str, Any]:
    """The merge patch the pending escalation steps ask for (set priority/assignee, add tags)."""
    patch: dict[str, Any] = {}
    tags = list(ticket.get("tags") or [])
    for e in pending:
        actions = e.details.get("actions") or {}
        if actions.get("set_priority"):
            patch["priority"] = actions["set_priority"]
        if actions.get("set_assignee"):
            patch["assignee"] = actions["set_assignee"]
        for tag in actions.get("add_tags") or []:
            if tag not in tags:
                tags.append(tag)
    if tags != list(ticket.get("tags") or []):
        patch["tags"] = tags
    return {k: v for k, v in patch.items() if ticket.get(k) != v}


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
