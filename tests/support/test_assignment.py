"""The assignment rules as a table: who each rule picks from a team's members, given who is an agent,
online, how loaded and how full, and whom round-robin chose last."""

from __future__ import annotations

import pytest

from deskbase.support.assignment import Candidate, choose, rotation


def m(
    user: str, online: bool = True, load: int = 0, capacity: int | None = None, agent: bool = True
) -> Candidate:
    return Candidate(user, agent, online, load, capacity)


TEAM = [m("a"), m("b"), m("c")]
CASES = [
    # rule, members, last, expected
    ("manual", TEAM, None, None),
    ("round_robin", TEAM, None, "a"),
    ("round_robin", TEAM, "a", "b"),
    ("round_robin", TEAM, "c", "a"),
    ("round_robin", TEAM, "gone", "a"),
    ("round_robin", [m("a"), m("b", online=False), m("c")], "a", "c"),
    ("round_robin", [m("a"), m("b", agent=False), m("c")], "a", "c"),
    ("round_robin", [m("a"), m("b", load=3, capacity=3), m("c")], "a", "c"),
    ("round_robin", [m("a", online=False), m("b", online=False)], None, None),
    ("round_robin", [], None, None),
    ("least_loaded", [m("a", load=2), m("b", load=1), m("c", load=5)], None, "b"),
    ("least_loaded", [m("a", load=2), m("b", load=1, capacity=1), m("c", load=5)], None, "a"),
    ("least_loaded", [m("a", load=1), m("b", load=1), m("c", load=1)], "a", "b"),
    ("least_loaded", [m("a", load=1), m("b", load=1), m("c", load=1)], "c", "a"),
    ("least_loaded", [m("a", load=0, online=False), m("b", load=4)], None, "b"),
    ("least_loaded", [m("a", capacity=0), m("b", load=0, capacity=0)], None, None),
]


@pytest.mark.parametrize(("rule", "members", "last", "expected"), CASES)
def test_choose(rule: str, members: list[Candidate], last: str | None, expected: str | None) -> None:
    assert choose(rule, members, last) == expected


def test_rotation_starts_after_the_last_and_wraps() -> None:
    assert [c.user_id for c in rotation(TEAM, "b")] == ["c", "a", "b"]


def test_an_unknown_rule_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        choose("fastest", TEAM, None)
