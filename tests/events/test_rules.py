"""The pure rules, table-tested: retry outcomes, Retry-After, the SSRF policy, the Python filter back end."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from deskbase.core import filterlang
from deskbase.events import retry, ssrf

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
SCHEDULE = (5.0, 300.0, 1800.0)


@dataclass
class Case:
    id: str
    status: int | None
    attempts: int
    expected: str
    wait: float | None = None
    disable: bool = False
    jitter: float = 0.0
    retry_after: float | None = None
    failing_since: datetime | None = None


CASES = [
    Case("2xx delivers", 204, 1, "delivered"),
    Case("500 retries after the first wait", 500, 1, "failed", 5),
    Case("3xx is a failure (no redirects)", 301, 2, "failed", 300),
    Case("no answer retries", None, 1, "failed", 5),
    Case("jitter adds up to 10%", 500, 2, "failed", 330, jitter=1.0),
    Case("a longer Retry-After wins", 503, 1, "failed", 120, retry_after=120),
    Case("a shorter Retry-After does not", 503, 2, "failed", 300, retry_after=1),
    Case("after the last wait: exhausted", 500, 4, "exhausted"),
    Case("410 disables", 410, 1, "failed", None, disable=True),
    Case("five days failing disables", 500, 2, "failed", None, True, failing_since=NOW - timedelta(days=5)),
    Case("four days failing retries", 500, 2, "failed", 300, failing_since=NOW - timedelta(days=4)),
]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_outcomes(case: Case) -> None:
    out = retry.outcome(
        case.status, case.attempts, SCHEDULE, NOW, case.jitter, case.retry_after, case.failing_since
    )
    assert out.status == case.expected
    assert (out.disable is not None) is case.disable
    wait = None if out.next_attempt_at is None else (out.next_attempt_at - NOW).total_seconds()
    assert wait == case.wait


def test_schedule_and_retry_after_parsing() -> None:
    assert retry.parse_schedule("5, 300,1800") == (5.0, 300.0, 1800.0)
    assert retry.parse_schedule("") == ()
    with pytest.raises(ValueError):
        retry.parse_schedule("5,soon")
    assert retry.retry_after_seconds("120", NOW) == 120
    assert retry.retry_after_seconds("Mon, 02 Mar 2026 09:01:00 GMT", NOW) == 60
    assert retry.retry_after_seconds("tomorrow", NOW) is None
    assert retry.retry_after_seconds("99999999", NOW) == retry.MAX_RETRY_AFTER


ALLOWED = ssrf.parse_networks("127.0.0.0/8")


@pytest.mark.parametrize(
    ("address", "allowed", "refused"),
    [
        ("93.184.215.14", (), None),
        ("2606:2800:21f:cb07:6820:80da:af6b:8b2c", (), None),
        ("127.0.0.1", (), "loopback"),
        ("::1", (), "loopback"),
        ("10.1.2.3", (), "private"),
        ("192.168.0.10", (), "private"),
        ("172.16.5.5", (), "private"),
        ("fd00::1", (), "private"),
        ("169.254.169.254", (), "link-local"),
        ("fe80::1", (), "link-local"),
        ("224.0.0.1", (), "multicast"),
        ("0.0.0.0", (), "unspecified"),
        ("100.64.0.1", (), "shared"),
        ("::ffff:127.0.0.1", (), "loopback"),
        ("::ffff:10.0.0.1", (), "private"),
        ("127.0.0.1", ALLOWED, None),
        ("::ffff:127.0.0.1", ALLOWED, None),
        ("10.0.0.1", ALLOWED, "private"),
    ],
)
def test_ssrf_policy(address: str, allowed: Any, refused: str | None) -> None:
    reason = ssrf.refusal(address, allowed)
    assert (reason is None) is (refused is None)
    if refused:
        assert refused in str(reason)


DOC = {"priority": "high", "n": 3, "tags": ["vip", "eu"], "flag": True, "nested": {"plan": "pro"}}


@pytest.mark.parametrize(
    ("node", "expected"),
    [
        ({"field": "priority", "op": "eq", "value": "high"}, True),
        ({"field": "n", "op": "eq", "value": "3"}, False),
        ({"field": "flag", "op": "eq", "value": 1}, False),
        ({"field": "missing", "op": "neq", "value": "x"}, True),
        ({"field": "n", "op": "gt", "value": 2}, True),
        ({"field": "priority", "op": "gt", "value": 2}, False),
        ({"field": "priority", "op": "in", "value": ["low", "high"]}, True),
        ({"field": "missing", "op": "not_in", "value": ["x"]}, True),
        ({"field": "priority", "op": "like", "value": "h%"}, True),
        ({"field": "priority", "op": "like", "value": "H%"}, False),
        ({"field": "priority", "op": "ilike", "value": "H_GH"}, True),
        ({"field": "tags", "op": "has", "value": "vip"}, True),
        ({"field": "missing", "op": "is_null"}, True),
        ({"field": "nested.plan", "op": "is_not_null"}, True),
        (
            {"or": [{"field": "n", "op": "lt", "value": 0}, {"field": "flag", "op": "eq", "value": True}]},
            True,
        ),
        (
            {"and": [{"field": "n", "op": "lt", "value": 0}, {"field": "flag", "op": "eq", "value": True}]},
            False,
        ),
    ],
)
def test_python_back_end(node: dict[str, Any], expected: bool) -> None:
    tree = filterlang.parse(node, lambda raw, _p: tuple(raw.split(".")), filterlang.PYTHON_OPS)
    assert filterlang.matches(tree, lambda path: filterlang.path_value(DOC, path)) is expected


@pytest.mark.parametrize(
    ("node", "pointer"),
    [
        ({"field": "a", "op": "almost", "value": 1}, "/op"),
        ({"field": "a", "op": "eq"}, "/value"),
        ({"field": "a", "op": "eq", "value": float("nan")}, "/value"),
        ({"field": "a", "op": "in", "value": ["x", {"y": 1}]}, "/value/1"),
        ({"field": "a", "op": "search", "value": "x"}, "/op"),
        ({"and": [{"field": "a", "op": "is_null", "value": 3}]}, "/and/0/value"),
        ({"or": []}, "/or"),
    ],
)
def test_one_validator_names_the_place(node: dict[str, Any], pointer: str) -> None:
    with pytest.raises(filterlang.FilterError) as err:
        filterlang.parse(node, lambda raw, _p: raw, filterlang.PYTHON_OPS)
    assert err.value.pointer == pointer
