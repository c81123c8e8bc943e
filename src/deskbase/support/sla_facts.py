"""A ticket's SLA inputs, read from the primary store: its versions (change log), its classified messages, its
customer, and the policy/calendar timeline, for many tickets in a handful of chunked queries.

Full replays read all of this; the incremental write path reads only the new input and the stored era
references (`era_refs` / `resolve_eras`), which name config versions so a checkpoint can be continued
under exactly the eras it was folded under.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.engine import Connection
from sqlalchemy.sql.elements import BindParameter

from deskbase.core import tables as t
from deskbase.core.entity_state import RecordState, record_from_row
from deskbase.support import tables as ts
from deskbase.support.calendar import Calendar, calendar_24x7
from deskbase.support.evaluate import Message, PolicyEra, TicketFacts, TicketVersion
from deskbase.support.policy import Policy
from deskbase.support.policy import select as select_policy
from deskbase.support.sla_config import DEFAULT_AUTHOR_MATCH, ConfigVersion, SlaConfig, version_from_row
from deskbase.support.tickets import classify, message_time

UTC24 = calendar_24x7("UTC")
EraRef = list[Any]  # [effective_from isoformat, [policy id, version] | None, [calendar id, version] | None]


@dataclass
class Gathered:
    """Everything `evaluate` needs about one ticket, read in one connection."""

    facts: TicketFacts
    customer_versions: list[tuple[datetime, dict[str, Any]]]


@dataclass
class Timeline:
    """The ticket's policy eras, the last selection's explanation, and references to the config versions."""

    eras: list[PolicyEra]
    explanation: list[dict[str, Any]]
    refs: list[EraRef]


def chunks(items: list[str], size: int = 500) -> Iterable[list[str]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


# Statements built once: building a select per call costs more Python than the query costs SQLite.
_ch, _rel, _rec = t.changes, t.relationships, t.records
_WS: BindParameter[str] = bindparam("ws")
_IDS: BindParameter[list[str]] = bindparam("ids", expanding=True)
_CONFIG = select(ts.sla_config).where(ts.sla_config.c.workspace_id == _WS).order_by(ts.sla_config.c.version)
_AUTHOR_MATCH = select(t.workspaces.c.settings).where(t.workspaces.c.id == _WS)
_RECORDS = select(_rec).where(
    _rec.c.workspace_id == _WS, _rec.c.collection == bindparam("coll"), _rec.c.id.in_(_IDS)
)
_VERSIONS = (
    select(_ch.c.entity_id, _ch.c.at, _ch.c.data)
    .where(
        _ch.c.workspace_id == _WS,
        _ch.c.entity == "record",
        _ch.c.collection == bindparam("coll"),
        _ch.c.entity_id.in_(_IDS),
    )
    .order_by(_ch.c.seq)
)
_TICKET_LINKS = select(_rel).where(
    _rel.c.workspace_id == _WS,
    _rel.c.source_collection == "tickets",
    _rel.c.source_id.in_(_IDS),
    _rel.c.rel_type.in_(("has_response", "submitted_by")),
)
_CUSTOMER_LINK = select(_rel.c.target_id).where(
    _rel.c.workspace_id == _WS,
    _rel.c.source_collection == "tickets",
    _rel.c.source_id == bindparam("ticket"),
    _rel.c.rel_type == "submitted_by",
    _rel.c.deleted.is_(False),
)


def config_versions_in(conn: Connection, workspace_id: str) -> list[ConfigVersion]:
    return [version_from_row(r) for r in conn.execute(_CONFIG, {"ws": workspace_id})]


def config_mark(configs: list[ConfigVersion]) -> list[int]:
    """Identifies the workspace's configuration: versions are change seqs, so any new version moves it."""
    return [len(configs), max((v.version for v in configs), default=0)]


def records(conn: Connection, workspace_id: str, collection: str, ids: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for chunk in chunks(ids):
        for r in conn.execute(_RECORDS, {"ws": workspace_id, "coll": collection, "ids": chunk}):
            out[r.id] = r
    return out


def author_match(conn: Connection, workspace_id: str) -> list[str]:
    settings = conn.execute(_AUTHOR_MATCH, {"ws": workspace_id}).scalar()
    return list((settings or {}).get("customer_author_match") or DEFAULT_AUTHOR_MATCH)


def customer_of(conn: Connection, workspace_id: str, ticket_id: str) -> dict[str, Any] | None:
    """The ticket's live submitting customer as a public record (how the full read classifies messages)."""
    target = conn.execute(_CUSTOMER_LINK, {"ws": workspace_id, "ticket": ticket_id}).first()
    if target is None:
        return None
    row = records(conn, workspace_id, "customers", [target[0]]).get(target[0])
    return record_from_row(row).public() if row is not None and not row.deleted else None


def message(
    row: Any, link_removed: datetime | None, customer: dict[str, Any] | None, match: list[str]
) -> Message:
    """A response row as the fold sees it: classified, at its send time, removed if it or its link is gone."""
    return message_of(record_from_row(row), link_removed, customer, match)


def message_of(
    st: RecordState, link_removed: datetime | None, customer: dict[str, Any] | None, match: list[str]
) -> Message:
    """`message` of a response as a unit of work holds it."""
    resp = st.public()
    removed = [d for d in (st.updated_at if st.deleted else None, link_removed) if d is not None]
    return Message(
        st.id,
        message_time(resp),
        classify(resp, customer, match),  # type: ignore[arg-type]
        resp["data"].get("author"),
        min(removed) if removed else None,
    )


def gathered_in_hand(
    in_hand: Mapping[tuple[str, str], RecordState],
    ticket_id: str,
    versions: list[TicketVersion],
    customer_id: str | None,
    response_ids: list[str],
    match: list[str],
) -> Gathered | None:
    """What `gather_many` would read back for a ticket the write in hand made, with the customer and the
    messages it linked to it, taken from that write's own record states; None when one is not in hand.

    The write made the ticket, so every version and link of it is the write's own. The customer may be older;
    its versions matter to the timeline only from the ticket's creation on, so one in hand that last changed
    no later than that is exactly its current data (a later change: read the log)."""
    customer: dict[str, Any] | None = None
    customer_versions: list[tuple[datetime, dict[str, Any]]] = []
    if customer_id is not None:
        st = in_hand.get(("customers", customer_id))
        if st is None or st.updated_at > versions[0].at:
            return None
        if not st.deleted:
            customer = st.public()
            customer_versions = [(st.updated_at, st.data)]
    messages: list[Message] = []
    for rid in response_ids:
        resp = in_hand.get(("responses", rid))
        if resp is None:
            return None
        messages.append(message_of(resp, None, customer, match))
    messages.sort(key=lambda m: (m.at, m.id))
    facts = TicketFacts(ticket_id, tuple(versions), tuple(messages), customer["data"] if customer else None)
    return Gathered(facts, customer_versions)


def gather_many(conn: Connection, workspace_id: str, ticket_ids: list[str]) -> dict[str, Gathered]:
    """Facts of many tickets in a handful of queries (chunked IN lists), never one round trip per ticket."""
    versions: dict[str, list[TicketVersion]] = defaultdict(list)
    links: dict[str, list[Any]] = defaultdict(list)
    for chunk in chunks(ticket_ids):
        for r in conn.execute(_VERSIONS, {"ws": workspace_id, "coll": "tickets", "ids": chunk}):
            img = r.data or {}
            versions[r.entity_id].append(TicketVersion(r.at, img.get("data") or {}, bool(img.get("deleted"))))
        for x in conn.execute(_TICKET_LINKS, {"ws": workspace_id, "ids": chunk}):
            links[x.source_id].append(x)
    customer_of: dict[str, str] = {}
    response_ids: list[str] = []
    for tid, xs in links.items():
        live = [x for x in xs if x.rel_type == "submitted_by" and not x.deleted]
        if live:
            customer_of[tid] = live[0].target_id
        response_ids += [x.target_id for x in xs if x.rel_type == "has_response"]
    customers = records(conn, workspace_id, "customers", sorted(set(customer_of.values())))
    customer_versions: dict[str, list[tuple[datetime, dict[str, Any]]]] = defaultdict(list)
    for chunk in chunks(list(customers)):
        for r in conn.execute(_VERSIONS, {"ws": workspace_id, "coll": "customers", "ids": chunk}):
            customer_versions[r.entity_id].append((r.at, (r.data or {}).get("data") or {}))
    responses = records(conn, workspace_id, "responses", response_ids)
    match = author_match(conn, workspace_id) if responses else []
    out: dict[str, Gathered] = {}
    for tid in ticket_ids:
        if not versions.get(tid):
            continue
        row = customers.get(customer_of.get(tid, ""))
        customer = record_from_row(row).public() if row is not None and not row.deleted else None
        messages = [
            message(rr, link.updated_at if link.deleted else None, customer, match)
            for link in links.get(tid, [])
            if link.rel_type == "has_response" and (rr := responses.get(link.target_id)) is not None
        ]
        messages.sort(key=lambda m: (m.at, m.id))
        out[tid] = Gathered(
            TicketFacts(tid, tuple(versions[tid]), tuple(messages), customer["data"] if customer else None),
            customer_versions.get(customer["id"], []) if customer else [],
        )
    return out


def timeline(
    config: SlaConfig,
    workspace_id: str,
    g: Gathered,
    configs: list[ConfigVersion],
    override: Policy | None = None,
) -> Timeline:
    """Policy/calendar eras from the ticket's creation: a new era wherever configuration or the customer
    changes; each era's policy is the first in order matching the ticket and customer as they were then."""
    created = g.facts.versions[0].at
    bounds = {created} | {v.effective_from for v in configs if v.effective_from > created}
    bounds |= {at for at, _ in g.customer_versions if at > created}
    eras: list[PolicyEra] = []
    refs: list[EraRef] = []
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
                config.policy(workspace_id, v)
                for v in sorted(
                    (v for (k, _), v in state.items() if k == "policy" and not v.deleted),
                    key=lambda v: (v.position, v.id),
                )
            ]
        chosen = select_policy(policies, ticket, customer)
        explanation = chosen.explanation
        cal: Calendar = UTC24
        cal_ref = None
        if chosen.policy is not None:
            cv = state.get(("calendar", chosen.policy.calendar_id))
            if cv is not None and not cv.deleted:
                cal, cal_ref = config.calendar(workspace_id, cv), [cv.id, cv.version]
        if eras and eras[-1].policy == chosen.policy and eras[-1].calendar is cal:
            continue
        eras.append(PolicyEra(b, chosen.policy, cal))
        p = chosen.policy
        refs.append([b.isoformat(), None if p is None else [p.id, p.version], cal_ref])
    return Timeline(eras, explanation, refs)


def resolve_eras(
    config: SlaConfig, workspace_id: str, refs: list[EraRef], configs: list[ConfigVersion]
) -> list[PolicyEra] | None:
    """The stored eras as objects again (cached by the config service), or None if a version is gone."""
    by_key = {(v.kind, v.id, v.version): v for v in configs}
    eras = []
    for at, p, c in refs:
        pv = None if p is None else by_key.get(("policy", p[0], p[1]))
        cv = None if c is None else by_key.get(("calendar", c[0], c[1]))
        if (p is not None and pv is None) or (c is not None and cv is None):
            return None
        eras.append(
            PolicyEra(
                datetime.fromisoformat(at),
                None if pv is None else config.policy(workspace_id, pv),
                UTC24 if cv is None else config.calendar(workspace_id, cv),
            )
        )
    return eras
