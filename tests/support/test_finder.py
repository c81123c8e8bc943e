"""The one search box: numbers, ids, emails, words and message text, ranked and grouped, on both stores."""

from __future__ import annotations

from typing import Any

from deskbase.core.app import Deskbase
from deskbase.core.context import SYSTEM
from deskbase.core.scope import ReadScope
from deskbase.support import tickets
from deskbase.support.finder import Finder, rank_text, words_of


def _make(core: Deskbase, ws: str) -> dict[str, Any]:
    def rec(ws: str, coll: str, body: dict[str, Any], actor: Any) -> dict[str, Any]:
        return core.records.create(ws, coll, body, actor)[0]

    ben = rec(
        ws,
        "customers",
        {"data": {"name": "Ben Silva", "email": "ben@silva.io", "company": "Okta Corp"}},
        SYSTEM,
    )
    other = rec(ws, "customers", {"data": {"name": "Benjamin Lee", "email": "bl@x.io"}}, SYSTEM)
    sso = rec(
        ws,
        "tickets",
        {"data": {"subject": "Please add SSO with Okta", "status": "open", "priority": "low"}},
        SYSTEM,
    )
    bill = rec(
        ws, "tickets", {"data": {"subject": "Billing question", "status": "open", "priority": "low"}}, SYSTEM
    )
    tickets.add_response(core, ws, bill["id"], {"body": "The invoice for March is wrong"}, SYSTEM)
    return {"ben": ben, "other": other, "sso": sso, "bill": bill}


def _ids(found: dict[str, Any], coll: str) -> list[str]:
    return [h.id for h in found.get(coll, [])]


def test_words_names_emails_numbers_ids_and_messages(core: Deskbase, ws: str) -> None:
    r = _make(core, ws)
    find = Finder(core).find
    scope = ReadScope(SYSTEM, ws)
    assert _ids(find(scope, "sso okta"), "tickets") == [r["sso"]["id"]]
    found = find(scope, "Ben Silva")
    assert _ids(found, "customers") == [r["ben"]["id"]]
    found = find(scope, "ben")  # a word first, then where it is only a prefix
    assert _ids(found, "customers") == [r["ben"]["id"], r["other"]["id"]]
    assert [h.rank for h in found["customers"]] == [1, 1]
    found = find(scope, "ben@silva.io")
    assert found["customers"][0].id == r["ben"]["id"] and found["customers"][0].rank == 0
    assert _ids(find(scope, "okta"), "customers") == [r["ben"]["id"]]  # company
    number = r["bill"]["number"]
    assert _ids(find(scope, f"#{number}"), "tickets") == [r["bill"]["id"]]
    assert find(scope, str(number))["tickets"][0].rank == 0
    assert _ids(find(scope, r["sso"]["id"]), "tickets") == [r["sso"]["id"]]
    hit = find(scope, "invoice march")["tickets"][0]
    assert hit.id == r["bill"]["id"] and hit.matched == ["message"] and "invoice" in hit.snippet
    assert "responses" not in find(scope, "invoice")  # messages are found as their tickets
    assert find(scope, "zzz-nothing") == {}
    assert find(scope, "  ") == {}


def test_scope_hides_collections_and_messages(core: Deskbase, ws: str) -> None:
    r = _make(core, ws)
    raw, _ = core.tokens.create(
        "tickets-only",
        [{"scope": {"workspaces": [ws], "collections": ["tickets"]}, "permissions": ["read:records"]}],
    )
    actor = core.tokens.authenticate(raw)
    found = Finder(core).find(ReadScope(actor, ws), "okta")
    assert set(found) == {"tickets"}  # not the customer whose company matches
    assert Finder(core).find(ReadScope(actor, ws), "invoice") == {}  # messages need responses and links
    core.workspaces.put("other", "Other", None, SYSTEM)
    core.templates.apply("other", "support", SYSTEM)
    assert Finder(core).find(ReadScope(SYSTEM, "other"), "okta") == {}
    assert r


def test_rank_text() -> None:
    words = words_of("sso ok")
    assert rank_text("SSO OK", "sso ok", words) == 0
    assert rank_text("Please add SSO with Okta", "sso ok", words) == 1
    assert rank_text("Lasso token", "sso ok", words) == 2
    assert rank_text("Lasso", "sso ok", words) is None
