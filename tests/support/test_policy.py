"""SLA policies: the JSON form and its validation, the filter DSL in Python, ordered selection, the default."""

import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest

from deskbase.support.policy import (
    METRICS,
    Escalation,
    Policy,
    PolicyError,
    Target,
    default_policy,
    select,
)

BASE: dict[str, Any] = {
    "id": "standard",
    "version": 3,
    "name": "Standard",
    "calendar_id": "office",
    "targets": {"first_response": {"high": {"seconds": 14400}}},
}


def policy(**changes: Any) -> Policy:
    return Policy.from_dict({**BASE, **changes})


# --- the JSON form ---


def test_default_policy_ships_the_template_targets() -> None:
    p = default_policy("office")
    hours = {
        metric: {prio: t.seconds // 3600 for prio, t in per.items()} for metric, per in p.targets.items()
    }
    assert hours == {
        "first_response": {"urgent": 1, "high": 4, "medium": 8, "low": 24},
        "first_resolution": {"urgent": 8, "high": 24, "medium": 72, "low": 120},
        "resolution": {"urgent": 8, "high": 24, "medium": 72, "low": 120},
    }
    assert all(t.business for per in p.targets.values() for t in per.values())
    assert (p.calendar_id, p.match, p.pause_statuses, p.warn_fraction) == ("office", None, {"waiting"}, 0.75)
    assert (p.warn_before_seconds, p.escalations, p.priority_change) == (None, (), "carry")


def test_round_trip_through_json() -> None:
    full = {
        **BASE,
        "match": {"or": [{"field": "customer.plan", "op": "eq", "value": "enterprise"}]},
        "targets": {
            "first_response": {"urgent": {"seconds": 3600, "business": False}, "high": {"seconds": 14400}},
            "periodic_update": {"high": {"seconds": 7200}},
        },
        "pause_statuses": ["waiting", "on_hold"],
        "warn_fraction": None,
        "warn_before_seconds": 600,
        "escalations": [
            {"trigger": "warning", "actions": {"emit": "sla.warning"}},
            {
                "trigger": "breach+3600",
                "actions": {"add_tags": ["late"], "set_assignee": None},
                "metrics": ["resolution"],
            },
        ],
        "priority_change": "restart",
    }
    p = Policy.from_dict(full)
    wire = json.loads(json.dumps(p.to_dict()))
    assert Policy.from_dict(wire) == p
    assert wire["targets"]["first_response"]["high"] == {"seconds": 14400, "business": True}
    assert wire["pause_statuses"] == ["on_hold", "waiting"]
    assert wire["escalations"][1] == {
        "trigger": "breach+3600",
        "actions": {"add_tags": ["late"], "set_assignee": None},
        "metrics": ["resolution"],
    }
    assert Policy.from_dict(default_policy("x").to_dict()) == default_policy("x")


def test_a_policy_does_not_share_its_match_with_the_caller() -> None:
    match = {"field": "ticket.priority", "op": "eq", "value": "high"}
    p = policy(match=match)
    match["value"] = "low"
    assert p.matches({"priority": "high"}, None)
    assert p.to_dict()["match"]["value"] == "high"


@dataclass(frozen=True)
class Invalid:
    id: str
    changes: dict[str, Any]
    pointer: str


INVALID = [
    Invalid("unknown field", {"colour": "red"}, "/colour"),
    Invalid("version not an integer", {"version": "3"}, "/version"),
    Invalid("negative version", {"version": -1}, "/version"),
    Invalid("empty name", {"name": " "}, "/name"),
    Invalid("targets not an object", {"targets": []}, "/targets"),
    Invalid("unknown metric", {"targets": {"first_reply": {}}}, "/targets/first_reply"),
    Invalid(
        "target without seconds",
        {"targets": {"resolution": {"high": {}}}},
        "/targets/resolution/high/seconds",
    ),
    Invalid(
        "zero seconds",
        {"targets": {"resolution": {"high": {"seconds": 0}}}},
        "/targets/resolution/high/seconds",
    ),
    Invalid(
        "fractional seconds",
        {"targets": {"resolution": {"high": {"seconds": 1.5}}}},
        "/targets/resolution/high/seconds",
    ),
    Invalid(
        "business not a bool",
        {"targets": {"resolution": {"high": {"seconds": 60, "business": "yes"}}}},
        "/targets/resolution/high/business",
    ),
    Invalid(
        "unknown target key",
        {"targets": {"resolution": {"high": {"seconds": 60, "hours": 1}}}},
        "/targets/resolution/high/hours",
    ),
    Invalid("solved status cannot pause", {"pause_statuses": ["waiting", "resolved"]}, "/pause_statuses/1"),
    Invalid("duplicate pause status", {"pause_statuses": ["waiting", "waiting"]}, "/pause_statuses"),
    Invalid("warn fraction above one", {"warn_fraction": 1.5}, "/warn_fraction"),
    Invalid("warn fraction zero", {"warn_fraction": 0}, "/warn_fraction"),
    Invalid("warn before zero", {"warn_before_seconds": 0}, "/warn_before_seconds"),
    Invalid("unknown priority rule", {"priority_change": "reset"}, "/priority_change"),
    Invalid("escalations not a list", {"escalations": {}}, "/escalations"),
    Invalid(
        "bad trigger",
        {"escalations": [{"trigger": "late", "actions": {"emit": "x"}}]},
        "/escalations/0/trigger",
    ),
    Invalid(
        "warning+N is not a trigger",
        {"escalations": [{"trigger": "warning+60", "actions": {"emit": "x"}}]},
        "/escalations/0/trigger",
    ),
    Invalid(
        "breach+0 is not a trigger",
        {"escalations": [{"trigger": "breach+0", "actions": {"emit": "x"}}]},
        "/escalations/0/trigger",
    ),
    Invalid(
        "a warning step on a policy that never warns",
        {"warn_fraction": None, "escalations": [{"trigger": "warning", "actions": {"emit": "x"}}]},
        "/escalations/0/trigger",
    ),
    Invalid("no actions", {"escalations": [{"trigger": "breach", "actions": {}}]}, "/escalations/0/actions"),
    Invalid(
        "unknown action",
        {"escalations": [{"trigger": "breach", "actions": {"page": "x"}}]},
        "/escalations/0/actions/page",
    ),
    Invalid(
        "tags not a list",
        {"escalations": [{"trigger": "breach", "actions": {"add_tags": "late"}}]},
        "/escalations/0/actions/add_tags",
    ),
    Invalid(
        "unknown escalation metric",
        {"escalations": [{"trigger": "breach", "actions": {"emit": "x"}, "metrics": ["speed"]}]},
        "/escalations/0/metrics/0",
    ),
    Invalid("match not an object", {"match": "priority = high"}, "/match"),
    Invalid("unknown op", {"match": {"field": "priority", "op": "regex", "value": "x"}}, "/match/op"),
    Invalid(
        "search is not for policies",
        {"match": {"field": "priority", "op": "search", "value": "x"}},
        "/match/op",
    ),
    Invalid(
        "bad field path", {"match": {"field": "ticket.sub-ject", "op": "eq", "value": "x"}}, "/match/field"
    ),
    Invalid("system field", {"match": {"field": "created_at", "op": "gt", "value": "x"}}, "/match/field"),
    Invalid(
        "unknown condition key",
        {"match": {"field": "priority", "op": "eq", "value": "x", "negate": True}},
        "/match/negate",
    ),
    Invalid("eq without value", {"match": {"field": "priority", "op": "eq"}}, "/match/value"),
    Invalid("eq on an object", {"match": {"field": "priority", "op": "eq", "value": {}}}, "/match/value"),
    Invalid("in with no values", {"match": {"field": "priority", "op": "in", "value": []}}, "/match/value"),
    Invalid(
        "in with a null", {"match": {"field": "priority", "op": "in", "value": ["a", None]}}, "/match/value/1"
    ),
    Invalid("like on a number", {"match": {"field": "subject", "op": "like", "value": 3}}, "/match/value"),
    Invalid(
        "is_null with a value", {"match": {"field": "subject", "op": "is_null", "value": 1}}, "/match/value"
    ),
    Invalid("empty and", {"match": {"and": []}}, "/match/and"),
    Invalid(
        "and with other keys", {"match": {"and": [{"field": "a", "op": "is_null"}], "field": "b"}}, "/match"
    ),
    Invalid(
        "nested failure points at the leaf",
        {"match": {"and": [{"field": "a", "op": "is_null"}, {"or": [{"field": "b", "op": "?"}]}]}},
        "/match/and/1/or/0/op",
    ),
]


@pytest.mark.parametrize("case", INVALID, ids=[c.id for c in INVALID])
def test_invalid_policies_name_the_field(case: Invalid) -> None:
    with pytest.raises(PolicyError) as err:
        policy(**case.changes)
    assert err.value.field == case.pointer
    assert isinstance(err.value, ValueError)


@pytest.mark.parametrize("missing", ["id", "version", "name", "calendar_id", "targets"])
def test_required_fields(missing: str) -> None:
    with pytest.raises(PolicyError) as err:
        Policy.from_dict({k: v for k, v in BASE.items() if k != missing})
    assert err.value.field == f"/{missing}"


def test_filters_nest_at_most_eight_levels() -> None:
    node: dict[str, Any] = {"field": "priority", "op": "eq", "value": "high"}
    for _ in range(8):
        node = {"and": [node]}
    policy(match=node)
    with pytest.raises(PolicyError, match="deeper"):
        policy(match={"and": [node]})


def test_python_construction_is_validated_too() -> None:
    with pytest.raises(PolicyError) as err:
        Policy("p", 1, "P", None, "office", {"resolution": {"high": 3600}})  # type: ignore[dict-item]
    assert err.value.field == "/targets/resolution/high"
    with pytest.raises(PolicyError) as err:
        Target(-5)
    assert err.value.field == "/seconds"
    with pytest.raises(PolicyError) as err:
        Escalation("breach", {"emit": ""})
    assert err.value.field == "/actions/emit"


# --- warnings and ladders ---


@pytest.mark.parametrize(
    ("fraction", "before", "target", "expected"),
    [
        (0.75, None, 3600, timedelta(seconds=2700)),
        (0.29, None, 100, timedelta(seconds=29)),  # exact decimal: never 28.999…
        (0.5, None, 7, timedelta(seconds=3.5)),
        (None, 600, 3600, timedelta(seconds=3000)),
        (0.75, 600, 3600, timedelta(seconds=2700)),  # both set: the earlier warning wins
        (0.9, 600, 3600, timedelta(seconds=3000)),
        (None, 7200, 3600, timedelta(0)),  # warn-before longer than the target: warn at once
        (None, None, 3600, None),
    ],
)
def test_warning_after(
    fraction: float | None, before: int | None, target: int, expected: timedelta | None
) -> None:
    assert policy(warn_fraction=fraction, warn_before_seconds=before).warning_after(target) == expected


def test_ladder_keeps_each_steps_index() -> None:
    p = policy(
        escalations=[
            {"trigger": "warning", "actions": {"emit": "warned"}, "metrics": ["first_response"]},
            {"trigger": "breach", "actions": {"set_priority": "urgent"}},
            {"trigger": "breach+1800", "actions": {"set_assignee": "lead"}, "metrics": ["resolution"]},
        ]
    )
    assert [i for i, _ in p.ladder("first_response")] == [0, 1]
    assert [i for i, _ in p.ladder("resolution")] == [1, 2]
    assert [(s.kind, s.delay_seconds) for _, s in p.ladder("resolution")] == [("breach", 0), ("breach", 1800)]
    assert set(METRICS) == {
        "first_response",
        "next_response",
        "periodic_update",
        "first_resolution",
        "resolution",
    }


def test_target_lookup() -> None:
    p = default_policy("office")
    assert p.target("first_response", "urgent") == Target(3600)
    assert p.target("next_response", "urgent") is None  # not measured by the shipped policy
    assert p.target("first_response", "critical") is None
    assert p.target("first_response", None) is None


# --- matching ---

TICKET = {
    "priority": "high",
    "subject": "Login fails",
    "tags": ["sso", "vip"],
    "size": 5,
    "flag": True,
    "meta": {"region": "eu"},
}
CUSTOMER = {"plan": "enterprise", "seats": 40}


@dataclass(frozen=True)
class Match:
    id: str
    match: dict[str, Any]
    expected: bool


def leaf(field: str, op: str, value: Any = None) -> dict[str, Any]:
    return {"field": field, "op": op} | ({} if value is None else {"value": value})


MATCHES = [
    Match("eq ticket field", leaf("ticket.priority", "eq", "high"), True),
    Match("data. means ticket.", leaf("data.priority", "eq", "high"), True),
    Match("bare path means ticket", leaf("priority", "eq", "high"), True),
    Match("nested path", leaf("ticket.meta.region", "eq", "eu"), True),
    Match("customer field", leaf("customer.plan", "eq", "enterprise"), True),
    Match("eq is kind-strict (number vs string)", leaf("size", "eq", "5"), False),
    Match("eq is kind-strict (bool vs number)", leaf("flag", "eq", 1), False),
    Match("eq bool", leaf("flag", "eq", True), True),
    Match("neq", leaf("priority", "neq", "low"), True),
    Match("neq is true for a missing field", leaf("category", "neq", "bug"), True),
    Match("gt number", leaf("customer.seats", "gt", 10), True),
    Match("gte equal", leaf("size", "gte", 5), True),
    Match("lt false", leaf("size", "lt", 5), False),
    Match("lte across kinds is false", leaf("size", "lte", "9"), False),
    Match("string ordering", leaf("priority", "lt", "low"), True),
    Match("in", leaf("priority", "in", ["urgent", "high"]), True),
    Match("in miss", leaf("priority", "in", ["low"]), False),
    Match("not_in", leaf("priority", "not_in", ["low"]), True),
    Match("not_in missing field", leaf("category", "not_in", ["bug"]), True),
    Match("like is case-sensitive", leaf("subject", "like", "login%"), False),
    Match("like", leaf("subject", "like", "Login%"), True),
    Match("like underscore", leaf("subject", "like", "Login fail_"), True),
    Match("like escapes regex characters", leaf("subject", "like", "Login.fails"), False),
    Match("ilike", leaf("subject", "ilike", "%FAILS"), True),
    Match("like on a non-string", leaf("size", "like", "5"), False),
    Match("is_null missing", leaf("category", "is_null"), True),
    Match("is_null present", leaf("priority", "is_null"), False),
    Match("is_not_null", leaf("customer.plan", "is_not_null"), True),
    Match("has", leaf("tags", "has", "vip"), True),
    Match("has miss", leaf("tags", "has", "mobile"), False),
    Match("has on a non-array", leaf("priority", "has", "h"), False),
    Match("path through a non-object", leaf("priority.level", "is_null"), True),
    Match("and", {"and": [leaf("priority", "eq", "high"), leaf("customer.plan", "eq", "enterprise")]}, True),
    Match("and fails", {"and": [leaf("priority", "eq", "high"), leaf("customer.plan", "eq", "free")]}, False),
    Match("or", {"or": [leaf("priority", "eq", "low"), leaf("tags", "has", "vip")]}, True),
    Match("or fails", {"or": [leaf("priority", "eq", "low"), leaf("tags", "has", "x")]}, False),
]


@pytest.mark.parametrize("case", MATCHES, ids=[c.id for c in MATCHES])
def test_filter_dsl(case: Match) -> None:
    assert policy(match=case.match).matches(TICKET, CUSTOMER) is case.expected


def test_no_customer_means_customer_fields_are_missing() -> None:
    p = policy(match=leaf("customer.plan", "is_null"))
    assert p.matches(TICKET, None)
    assert policy(match=None).matches({}, None)


# --- ordered selection ---

VIP = policy(id="vip", name="VIP", match=leaf("customer.plan", "eq", "enterprise"))
URGENT = policy(id="urgent", name="Urgent", match=leaf("ticket.priority", "in", ["urgent", "high"]))
FALLBACK = policy(id="fallback", name="Fallback", match=None)


def test_the_first_matching_policy_wins_and_the_order_is_the_tie_break() -> None:
    # Both VIP and URGENT match this ticket: the earlier one in the list applies, whichever that is.
    assert select([VIP, URGENT, FALLBACK], TICKET, CUSTOMER).policy is VIP
    assert select([URGENT, VIP, FALLBACK], TICKET, CUSTOMER).policy is URGENT


def test_explanation_lists_each_policy_tried_and_the_failed_condition() -> None:
    chosen = select([VIP, URGENT, FALLBACK], {"priority": "low"}, {"plan": "free"})
    assert chosen.policy is FALLBACK
    assert chosen.explanation == [
        {
            "position": 0,
            "policy_id": "vip",
            "policy_version": 3,
            "name": "VIP",
            "matched": False,
            "failed": {
                "pointer": "/match",
                "condition": leaf("customer.plan", "eq", "enterprise"),
                "actual": "free",
            },
        },
        {
            "position": 1,
            "policy_id": "urgent",
            "policy_version": 3,
            "name": "Urgent",
            "matched": False,
            "failed": {
                "pointer": "/match",
                "condition": leaf("ticket.priority", "in", ["urgent", "high"]),
                "actual": "low",
            },
        },
        {
            "position": 2,
            "policy_id": "fallback",
            "policy_version": 3,
            "name": "Fallback",
            "matched": True,
            "failed": None,
        },
    ]
    json.dumps(chosen.explanation)


def test_policies_after_the_winner_are_not_tried() -> None:
    chosen = select([FALLBACK, VIP], TICKET, CUSTOMER)
    assert [e["policy_id"] for e in chosen.explanation] == ["fallback"]


def test_no_match_selects_nothing() -> None:
    chosen = select([VIP, URGENT], {"priority": "low"}, None)
    assert chosen.policy is None
    assert [e["matched"] for e in chosen.explanation] == [False, False]
    assert select([], TICKET, None).policy is None


def test_or_failure_lists_its_alternatives() -> None:
    p = policy(
        match={
            "and": [leaf("priority", "eq", "high"), {"or": [leaf("tags", "has", "x"), leaf("size", "gt", 9)]}]
        }
    )
    failed = p.explain_match(TICKET, None)
    assert failed is not None
    assert failed["pointer"] == "/match/and/1/or"
    assert [a["pointer"] for a in failed["alternatives"]] == ["/match/and/1/or/0", "/match/and/1/or/1"]
