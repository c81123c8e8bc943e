"""Hook mappings and signature verification, table-tested as pure functions (the oracle for signatures is
the third-party `standardwebhooks` package)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook

from deskbase.events import mapping, signing

DOC = {"a": {"b/c": 1, "m~n": 2, "list": ["x", {"y": None}], "": "empty key"}, "n": 0, "z": False}


@pytest.mark.parametrize(
    ("pointer", "value"),
    [
        ("", DOC),
        ("/n", 0),
        ("/z", False),
        ("/a/b~1c", 1),
        ("/a/m~0n", 2),
        ("/a/list/0", "x"),
        ("/a/list/1/y", None),
        ("/a/", "empty key"),
        ("/a/list/2", mapping.MISSING),
        ("/a/list/01", mapping.MISSING),
        ("/a/list/-", mapping.MISSING),
        ("/missing", mapping.MISSING),
        ("/n/deeper", mapping.MISSING),
    ],
)
def test_resolve_follows_rfc_6901(pointer: str, value: Any) -> None:
    assert mapping.resolve(DOC, pointer) == value or mapping.resolve(DOC, pointer) is value


@dataclass
class Case:
    id: str
    mapping: Any
    external_id: Any
    pointers: list[str]


CHECKS = [
    Case("fine", {"a": "/x", "b": {"const": [1]}, "c": ""}, "/id", []),
    Case("not an object", ["/x"], None, ["/mapping"]),
    Case("empty", {}, None, ["/mapping"]),
    Case("relative pointer", {"a": "x"}, None, ["/mapping/a"]),
    Case("number as pointer", {"a": 3}, None, ["/mapping/a"]),
    Case("bad escape", {"a": "/~x"}, None, ["/mapping/a"]),
    Case("const plus", {"a": {"const": 1, "b": 2}}, None, ["/mapping/a"]),
    Case("empty field name", {"": "/x"}, None, ["/mapping/"]),
    Case("escaped field name", {"x/y": "z"}, None, ["/mapping/x~1y"]),
    Case("bad external id", {"a": "/x"}, "id", ["/external_id"]),
]


@pytest.mark.parametrize("case", CHECKS, ids=[c.id for c in CHECKS])
def test_check_names_every_bad_setting(case: Case) -> None:
    assert [e["pointer"] for e in mapping.check(case.mapping, case.external_id)] == case.pointers


def test_apply_fills_fields_leaves_out_missing_ones_and_reports_a_bad_external_id() -> None:
    rules = {"s": "/a/list/0", "k": {"const": "fixed"}, "gone": "/nope", "null": "/a/list/1/y"}
    got, errors = mapping.apply(rules, "/n", DOC)
    assert got.data == {"s": "x", "k": "fixed", "null": None}
    assert got.external_id == "0" and got.unresolved == {"gone": "/nope"} and errors == []
    for ext in ("/z", "/a", "/nope", "/a/list/1/y"):
        _, errors = mapping.apply(rules, ext, DOC)
        assert [e["pointer"] for e in errors] == ["/external_id"], ext
    _, errors = mapping.apply(rules, "/id", {"id": "x" * 257})
    assert [e["pointer"] for e in errors] == ["/external_id"]


SECRET = signing.new_secret()
BODY = b'{"hello": "world"}'
NOW = 1_772_442_843


def signed(msg_id: str = "msg_1", at: int = NOW, body: bytes = BODY, secret: str = SECRET) -> dict[str, str]:
    when = datetime.fromtimestamp(at, UTC)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(at),
        "webhook-signature": Webhook(secret).sign(msg_id, when, body),
    }


REFUSALS = {
    "no headers": ({}, BODY),
    "no signature": ({k: v for k, v in signed().items() if k != "webhook-signature"}, BODY),
    "other secret": (signed(secret=signing.new_secret()), BODY),
    "other body": (signed(), BODY + b" "),
    "301 seconds early": (signed(at=NOW + 301), BODY),
    "301 seconds late": (signed(at=NOW - 301), BODY),
    "not a number": ({**signed(), "webhook-timestamp": "12a"}, BODY),
    "v2 scheme": (
        {**signed(), "webhook-signature": signed()["webhook-signature"].replace("v1,", "v2,")},
        BODY,
    ),
    "long id": (signed(msg_id="m" * 257), BODY),
}


@pytest.mark.parametrize("name", list(REFUSALS))
def test_verify_refuses(name: str) -> None:
    headers, body = REFUSALS[name]
    with pytest.raises(signing.Refused):
        signing.verify([SECRET], headers, body, NOW)


def test_verify_accepts_any_listed_signature_by_any_valid_secret_within_tolerance() -> None:
    assert signing.verify([SECRET], signed(at=NOW - 300), BODY, NOW) == "msg_1"
    new, previous = signing.new_secret(), SECRET
    rotating = signing.headers([new, previous], "m", NOW, BODY)  # two signatures, as our own sender rotates
    assert signing.verify([previous], rotating, BODY, NOW) == "m"
    assert signing.verify([new, previous], signing.headers([previous], "m", NOW, BODY), BODY, NOW) == "m"
    with pytest.raises(signing.Refused):
        signing.verify([], signed(), BODY, NOW)
