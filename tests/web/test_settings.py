"""Per-user settings: single-key shortcuts on/off and who "me" is, kept per token in the core."""

from __future__ import annotations

from tests.web.conftest import AGENT, WS, Console


def test_turn_shortcuts_off_and_set_who_i_am(console: Console) -> None:
    page = console.get(f"/w/{WS}/queue")
    assert 'data-shortcuts="on"' in page.text
    r = console.post("/settings", {"me": AGENT, "back": f"/w/{WS}/queue"})  # the checkbox unticked: off
    assert r.status_code == 303 and r.headers["location"].startswith("/settings?saved=1")
    assert "Saved." in console.get(r.headers["location"]).text
    page = console.get(f"/w/{WS}/queue")
    assert 'data-shortcuts="off"' in page.text and "Export to CSV fails" in page.text
    actor = console.core.tokens.authenticate(console.token)
    assert console.core.preferences.get(actor.id) == {"shortcuts": False, "me": AGENT}
    # the setting follows the token to a new session (another browser)
    console.client.cookies.clear()
    console.sign_in()
    assert 'data-shortcuts="off"' in console.get(f"/w/{WS}/queue").text
    console.post("/settings", {"shortcuts": "on", "me": ""})
    assert console.core.preferences.get(actor.id) == {"shortcuts": True}


def test_replies_are_signed_with_my_name(console: Console) -> None:
    console.post("/settings", {"shortcuts": "on", "me": AGENT})
    console.post(console.ticket_url("login", "/reply"), {"body": "On it."})
    from deskbase.core.scope import ReadScope
    from deskbase.support.tickets import conversation

    msgs = conversation(console.core, ReadScope.unrestricted(WS), console.seed.tickets["login"])
    assert msgs[-1]["data"]["author"] == AGENT


def test_too_long_a_name_is_refused_inline(console: Console) -> None:
    r = console.post("/settings", {"me": "x" * 201})
    assert r.status_code == 422 and 'id="err-me" role="alert"' in r.text


def test_the_back_link_stays_on_the_site(console: Console) -> None:
    r = console.get("/settings?back=https://evil.example/")
    assert 'href="https://evil.example/"' not in r.text
