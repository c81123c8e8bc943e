"""SLA state through the real store (SQLite and PostgreSQL): whatever path each write took (a checkpoint
continued or a replay), a ticket's stored rows and its read equal a rebuild from the change log."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import event, select

from deskbase.core.app import Deskbase
from deskbase.core.clock import FixedClock, iso
from deskbase.core.context import SYSTEM
from deskbase.support import sla_facts
from deskbase.support import tables as ts
from deskbase.support.evaluate import evaluate
from deskbase.support.service import SlaService
from deskbase.support.tickets import add_response


def stored(core: Deskbase, ws: str, tid: str) -> dict[str, Any]:
    """The ticket's live SLA rows, without versions and evaluation times."""
    si, se, st = ts.sla_instances, ts.sla_events, ts.sla_tickets
    with core.db.read() as conn:
        inst = conn.execute(
            select(si.c.metric, si.c.cycle, si.c.restarts, si.c.state, si.c.running, si.c.target_at)
            .add_columns(si.c.completed_at, si.c.data, si.c.position)
            .where(si.c.workspace_id == ws, si.c.ticket_id == tid, si.c.deleted.is_(False))
            .order_by(si.c.position)
        ).all()
        events = conn.execute(
            select(se.c.event_key, se.c.at, se.c.details)
            .where(se.c.workspace_id == ws, se.c.ticket_id == tid, se.c.deleted.is_(False))
            .order_by(se.c.event_key)
        ).all()
        ticket = conn.execute(
            select(st.c.policy_id, st.c.policy_version, st.c.running, st.c.breached, st.c.due_at)
            .add_columns(st.c.due_metric, st.c.next_due, st.c.metrics)
            .where(st.c.workspace_id == ws, st.c.ticket_id == tid)
        ).one()
    return {
        "instances": [tuple(r) for r in inst],
        "events": [tuple(r) for r in events],
        "ticket": tuple(ticket),
    }


def replayed_view(core: Deskbase, ws: str, tid: str) -> dict[str, Any]:
    """The pure evaluation of the ticket's whole history at now: what every read returned before checkpoints."""
    sla = core.extensions[SlaService]
    with core.db.read() as conn:
        configs = sla_facts.config_versions_in(conn, ws)
        g = sla_facts.gather_many(conn, ws, [tid])[tid]
        ev = evaluate(g.facts, sla_facts.timeline(sla.config, ws, g, configs).eras, core.clock.now())
    return {
        "sla": [i.to_dict() for i in ev.instances],
        "metrics": ev.metrics.to_dict(),
        "events": ev.to_dict()["events"],
    }


def assert_current(core: Deskbase, ws: str, tid: str) -> None:
    sla = core.extensions[SlaService]
    view = sla.ticket_view(ws, tid)
    expected = replayed_view(core, ws, tid)
    assert {k: view[k] for k in expected} == expected
    before = stored(core, ws, tid)
    sla.rebuild(ws)
    assert stored(core, ws, tid) == before


def ticket(core: Deskbase, ws: str, **data: Any) -> str:
    body = {"subject": "VPN down", "status": "open", "priority": "high", **data}
    return str(core.records.create(ws, "tickets", {"data": body}, SYSTEM)[0]["id"])


def customer(core: Deskbase, ws: str, tid: str, email: str) -> str:
    cid = str(
        core.records.create(ws, "customers", {"data": {"name": "Ana", "email": email}}, SYSTEM)[0]["id"]
    )
    link = {"collection": "tickets", "id": tid}, {"collection": "customers", "id": cid}
    core.relationships.upsert(ws, {"rel_type": "submitted_by", "source": link[0], "target": link[1]}, SYSTEM)
    return cid


def vip_policy(core: Deskbase, ws: str) -> SlaService:
    """A first policy for enterprise customers (a 5-minute first response): the customer link counts."""
    sla = core.extensions[SlaService]
    vip = dict(sla.config.get(ws, "policy", "default").definition or {})
    vip["match"] = {"field": "customer.plan", "op": "eq", "value": "enterprise"}
    vip["targets"] = {**vip["targets"], "first_response": {"high": {"seconds": 300, "business": False}}}
    sla.config.put(ws, "policy", "vip", vip, SYSTEM, position=0)
    return sla


def test_a_conversation_equals_its_replay_after_every_write(
    core: Deskbase, ws: str, clock: FixedClock
) -> None:
    """Replies, a pause, a reopen, a priority change, time passing over warnings and breaches."""
    tid = ticket(core, ws)
    customer(core, ws, tid, "ana@x.io")
    steps: list[tuple[timedelta, Any]] = [
        (
            timedelta(minutes=30),
            lambda: add_response(core, ws, tid, {"body": "hi", "author": "agent@x.io"}, SYSTEM),
        ),
        (
            timedelta(minutes=5),
            lambda: core.records.patch(ws, "tickets", tid, {"data": {"status": "waiting"}}, SYSTEM),
        ),
        (
            timedelta(hours=20),
            lambda: add_response(core, ws, tid, {"body": "?", "author": "ana@x.io"}, SYSTEM),
        ),
        (
            timedelta(minutes=1),
            lambda: core.records.patch(ws, "tickets", tid, {"data": {"status": "open"}}, SYSTEM),
        ),
        (
            timedelta(hours=3),
            lambda: core.records.patch(ws, "tickets", tid, {"data": {"priority": "urgent"}}, SYSTEM),
        ),
        (
            timedelta(hours=5),
            lambda: add_response(core, ws, tid, {"body": "note", "type": "internal_note"}, SYSTEM),
        ),
        (
            timedelta(minutes=2),
            lambda: add_response(core, ws, tid, {"body": "fixed", "author": "bob@x.io"}, SYSTEM),
        ),
        (
            timedelta(minutes=1),
            lambda: core.records.patch(ws, "tickets", tid, {"data": {"status": "resolved"}}, SYSTEM),
        ),
        (
            timedelta(days=2),
            lambda: add_response(core, ws, tid, {"body": "again", "author": "ana@x.io"}, SYSTEM),
        ),
        (
            timedelta(seconds=1),
            lambda: core.records.patch(ws, "tickets", tid, {"data": {"status": "open"}}, SYSTEM),
        ),
        (
            timedelta(days=3),
            lambda: core.records.patch(ws, "tickets", tid, {"data": {"assignee": "bob"}}, SYSTEM),
        ),
    ]
    for wait, write in steps:
        clock.advance(seconds=wait.total_seconds())
        write()
        view = core.extensions[SlaService].ticket_view(ws, tid)
        assert {k: view[k] for k in ("sla", "metrics", "events")} == replayed_view(core, ws, tid)
    assert_current(core, ws, tid)


def test_backdated_removed_and_reclassified_inputs_equal_their_replay(
    core: Deskbase, ws: str, clock: FixedClock
) -> None:
    tid = ticket(core, ws)
    cid = customer(core, ws, tid, "ana@x.io")
    clock.advance(hours=2)
    add_response(core, ws, tid, {"body": "hi", "author": "agent@x.io"}, SYSTEM)
    clock.advance(hours=1)
    # stamped before the reply already folded: the past changes
    early = iso(clock.now() - timedelta(hours=2, minutes=30))
    add_response(core, ws, tid, {"body": "early", "author": "ana@x.io", "timestamp": early}, SYSTEM)
    assert_current(core, ws, tid)
    clock.advance(minutes=10)
    reply = add_response(core, ws, tid, {"body": "later", "author": "agent@x.io"}, SYSTEM)
    clock.advance(minutes=10)
    core.records.delete(ws, "responses", reply["id"], SYSTEM)
    assert_current(core, ws, tid)
    clock.advance(minutes=10)
    # the customer's address changes: "agent@x.io" replies become the customer's
    core.records.patch(ws, "customers", cid, {"data": {"email": "agent@x.io"}}, SYSTEM)
    clock.advance(minutes=10)
    core.records.patch(ws, "tickets", tid, {"data": {"priority": "low"}}, SYSTEM)
    assert_current(core, ws, tid)


def test_a_policy_change_is_read_at_once(core: Deskbase, ws: str, clock: FixedClock) -> None:
    """Configuration re-bases running clocks: a read after it needs no scheduler run to see the new target."""
    tid = ticket(core, ws)
    clock.advance(minutes=10)
    sla = core.extensions[SlaService]
    definition = dict(sla.config.get(ws, "policy", "default").definition or {})
    definition["targets"] = {
        **definition["targets"],
        "first_response": {"high": {"seconds": 600, "business": False}},
    }
    sla.config.put(ws, "policy", "default", definition, SYSTEM)
    clock.advance(minutes=20)
    view = sla.ticket_view(ws, tid)
    assert {k: view[k] for k in ("sla", "metrics", "events")} == replayed_view(core, ws, tid)
    add_response(core, ws, tid, {"body": "hi", "author": "agent@x.io"}, SYSTEM)
    assert_current(core, ws, tid)


def test_rows_that_did_not_change_keep_their_version(core: Deskbase, ws: str, clock: FixedClock) -> None:
    """A completed instance and past events are not rewritten by later writes (the replica sees no churn)."""
    tid = ticket(core, ws)
    clock.advance(minutes=30)
    add_response(core, ws, tid, {"body": "hi", "author": "agent@x.io"}, SYSTEM)
    si, se = ts.sla_instances, ts.sla_events

    def versions() -> tuple[dict[str, int], dict[str, int]]:
        with core.db.read() as conn:
            inst = conn.execute(
                select(si.c.metric, si.c.running, si.c.version).where(si.c.ticket_id == tid)
            ).all()
            ev = conn.execute(select(se.c.event_key, se.c.version).where(se.c.ticket_id == tid)).all()
        return {f"{m}:{'running' if r else 'done'}": v for m, r, v in inst}, dict(ev)

    inst1, ev1 = versions()
    clock.advance(minutes=30)
    core.records.patch(ws, "tickets", tid, {"data": {"assignee": "bob"}}, SYSTEM)
    clock.advance(minutes=30)
    core.records.patch(ws, "tickets", tid, {"data": {"status": "in_progress"}}, SYSTEM)
    inst2, ev2 = versions()
    assert inst2["first_response:done"] == inst1["first_response:done"]
    assert inst2["resolution:running"] > inst1["resolution:running"]  # its elapsed time moved on
    assert {k: ev2[k] for k in ev1} == ev1


def test_tickets_made_by_the_write_in_hand_equal_their_replay(
    core: Deskbase, ws: str, clock: FixedClock
) -> None:
    """A ticket made by a write is folded from that write's versions without reading them back: whatever else
    the same write did to it (a later version, a customer link, a message, a delete) and a later revival of
    its id, its rows equal a rebuild from the change log. A policy for enterprise customers makes the customer
    link count."""
    sla = vip_policy(core, ws)
    clock.advance(minutes=1)
    customer = {"name": "Ana", "email": "ana@x.io", "plan": "enterprise"}
    cid = core.records.create(ws, "customers", {"data": customer}, SYSTEM)[0]["id"]
    data = {"subject": "VPN down", "status": "open", "priority": "high"}
    ops: list[dict[str, Any]] = [
        {"type": "upsert_record", "collection": "tickets", "ref": "a", "data": data},
        {"type": "patch_record", "collection": "tickets", "id": "$ref:a", "data": {"status": "waiting"}},
        {"type": "upsert_record", "collection": "tickets", "ref": "b", "data": data},
        {
            "type": "upsert_relationship",
            "rel_type": "submitted_by",
            "source": {"collection": "tickets", "id": "$ref:b"},
            "target": {"collection": "customers", "id": cid},
        },
        {"type": "upsert_record", "collection": "tickets", "ref": "c", "data": data},
        {"type": "delete_record", "collection": "tickets", "id": "$ref:c"},
        {"type": "upsert_record", "collection": "tickets", "ref": "d", "data": data},
        {
            "type": "upsert_record",
            "collection": "responses",
            "ref": "r",
            "data": {"body": "hi", "type": "reply"},
        },
        {
            "type": "upsert_relationship",
            "rel_type": "has_response",
            "source": {"collection": "tickets", "id": "$ref:d"},
            "target": {"collection": "responses", "id": "$ref:r"},
        },
    ]
    results = core.batch.run(ws, ops, SYSTEM)["results"]
    made = [results[i]["record"]["id"] for i in (0, 2, 4, 6)]
    before = {tid: stored(core, ws, tid) for tid in made}
    for tid in made:  # every one before the rebuild below rewrites them all
        view = sla.ticket_view(ws, tid)
        expected = replayed_view(core, ws, tid)
        assert {k: view[k] for k in expected} == expected
    sla.rebuild(ws)
    assert {tid: stored(core, ws, tid) for tid in made} == before
    deleted = results[4]["record"]["id"]
    clock.advance(minutes=10)
    core.records.create(ws, "tickets", {"id": deleted, "data": {**data, "priority": "low"}}, SYSTEM)
    assert_current(core, ws, deleted)


def test_a_ticket_made_with_its_customer_and_message_is_folded_from_the_write(
    core: Deskbase, ws: str, clock: FixedClock
) -> None:
    """Inbound mail's first message: one write makes the customer (or finds an older one), the ticket, its
    `submitted_by` link, the customer's message and its link. The SLA hook takes all of it from the write's
    own record states (no change-log read), and the rows equal a rebuild: the policy matched on the customer,
    and the message counted as the customer's."""
    sla = vip_policy(core, ws)
    clock.advance(minutes=1)
    bo = {"name": "Bo", "email": "bo@x.io", "plan": "enterprise"}
    older = core.records.create(ws, "customers", {"data": bo}, SYSTEM)[0]["id"]
    data = {"subject": "VPN down", "status": "open", "priority": "high"}

    def first_message(customer: dict[str, Any], author: str) -> list[dict[str, Any]]:
        return [
            customer,
            {"type": "upsert_record", "collection": "tickets", "ref": "t", "data": data},
            {
                "type": "upsert_relationship",
                "rel_type": "submitted_by",
                "source": {"collection": "tickets", "id": "$ref:t"},
                "target": {"collection": "customers", "id": "$ref:c"},
            },
            {
                "type": "upsert_record",
                "collection": "responses",
                "ref": "r",
                "data": {"body": "it is down", "type": "reply", "author": author},
            },
            {
                "type": "upsert_relationship",
                "rel_type": "has_response",
                "source": {"collection": "tickets", "id": "$ref:t"},
                "target": {"collection": "responses", "id": "$ref:r"},
            },
        ]

    made = {
        "type": "upsert_record",
        "collection": "customers",
        "ref": "c",
        "data": {"name": "Ana", "email": "ana@x.io", "plan": "enterprise"},
    }
    found = {"type": "upsert_record", "collection": "customers", "ref": "c", "id": older, "data": bo}
    reads: list[str] = []

    def watch(conn: Any, cursor: Any, statement: str, *rest: Any) -> None:
        reads.append(statement)

    for customer, author in ((made, "ana@x.io"), (found, "bo@x.io")):
        clock.advance(minutes=1)
        event.listen(core.db.engine, "before_cursor_execute", watch)
        try:
            results = core.batch.run(ws, first_message(customer, author), SYSTEM)["results"]
        finally:
            event.remove(core.db.engine, "before_cursor_execute", watch)
        tid = results[1]["record"]["id"]
        assert not [s for s in reads if "FROM changes" in s]
        view = sla.ticket_view(ws, tid)
        assert [i["policy_id"] for i in view["sla"]] == ["vip"] * len(view["sla"])
        assert view["metrics"]["customer_replies"] == 1
        expected = replayed_view(core, ws, tid)
        assert {k: view[k] for k in expected} == expected
        before = stored(core, ws, tid)
        sla.rebuild(ws)
        assert stored(core, ws, tid) == before
