"""The console's SLA queue: tickets in the order of their most urgent running clock, read from the stored
`sla_tickets` rows through the (workspace, due_at) index, with a keyset cursor."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, literal_column, or_, select

from deskbase.core import tables as t
from deskbase.core.app import Deskbase
from deskbase.core.clock import iso, parse_iso
from deskbase.core.entity_state import record_from_row
from deskbase.core.errors import InvalidFilter
from deskbase.core.filters import Compiler, decode_cursor, encode_cursor
from deskbase.core.schemas import x_search_fields
from deskbase.support import tables as ts

#: "At risk": a running clock, not paused and not breached, due within this (or `filters["within"]` minutes)
AT_RISK = timedelta(hours=2)
MAX_WINDOWS = 3
#: the states of a clock that is counting down towards a breach it has not reached (paused clocks can't breach)
COUNTING = ("active", "warning")


def at_risk_window(filters: dict[str, Any]) -> timedelta:
    """How far ahead At risk looks: `filters["within"]` minutes (1 to 120, as the console parses it), else 2 h."""
    within = str(filters.get("within") or "")
    return timedelta(minutes=int(within)) if within.isdigit() and 0 < int(within) <= 120 else AT_RISK


class SlaQueue:
    def __init__(self, core: Deskbase) -> None:
        self.core = core

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
        views `at_risk` (a clock counting down, not paused and not breached, due within 2 h or
        `filters["within"]` minutes) and `breached`, or any other view's filter
        (`filters["filter"]`, the record filter DSL) in SLA-due order. Two phases, so the (workspace, due_at)
        index drives the walk and stops at the page size: tickets with a clock, then the rest by id.
        `count` False leaves the total out (None) for callers that already know it."""
        r, st = t.records, ts.sla_tickets
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
                # Not breached (breached is its own view) and not paused: a paused clock's due instant is
                # where it would run out if it ran on, so it may lie in the past without being a breach.
                si = ts.sla_instances
                counting = (
                    select(si.c.ticket_id)
                    .where(
                        si.c.workspace_id == st.c.workspace_id,
                        si.c.ticket_id == st.c.ticket_id,
                        si.c.running.is_(True),
                        si.c.state.in_(COUNTING),
                    )
                    .exists()
                )
                clocked += [
                    st.c.due_at > now,
                    st.c.due_at <= now + at_risk_window(filters),
                    st.c.running > 0,
                    st.c.breached == 0,
                    counting,
                ]
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


def _decode_due_cursor(cursor: str) -> tuple[datetime | None, str]:
    values = decode_cursor(cursor, 2)
    if not isinstance(values[1], str) or not (values[0] is None or isinstance(values[0], str)):
        raise InvalidFilter("invalid cursor", {"cursor": cursor})
    try:
        return (parse_iso(values[0]) if values[0] else None), values[1]
    except ValueError as exc:
        raise InvalidFilter("invalid cursor", {"cursor": cursor}) from exc
