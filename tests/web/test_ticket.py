"""The ticket page and its forms: edit in place, reply and note, related tickets, SLA panel, bad input."""

from __future__ import annotations

import re

import pytest

from deskbase.core.context import SYSTEM
from tests.web.conftest import AGENT, WS, Console, needs_sla


def versions(console: Console) -> dict[str, int]:
    """Every ticket's version and the workspace's last change: "nothing written" means none of these moved."""
    out = {k: console.core.records.get(WS, "tickets", v)["version"] for k, v in console.seed.tickets.items()}
    out["_last_seq"] = console.core.last_seq(WS)
    return out


def test_the_page_shows_every_panel(console: Console) -> None:
    r = console.get(console.ticket_url("export"))
    assert r.status_code == 200
    html = r.text
    assert 'value="Export to CSV fails"' in html
    # the conversation in order, each kind labelled in text and styled apart; the description opens it
    kinds = re.findall(r'<li class="msg msg-(\w+)( msg-opening)?"', html)
    assert kinds == [("customer", " msg-opening"), ("customer", ""), ("agent", ""), ("note", "")]
    assert '<div class="msg-body">The export times out.</div>' in html
    assert "Internal note" in html and "Agent reply" in html and ">Customer<" in html
    # the customer through submitted_by, with plan, company and their other tickets
    assert "Ana Garcia" in html and "Globex" in html and "plan-enterprise" in html
    assert "Invoice with VAT id" in html
    # properties as form controls with the current values
    assert re.search(r'<option value="high" selected>High</option>', html)
    assert 'id="f-assignee" name="assignee" list="agent-list" value="agent@acme.example"' in html
    assert 'value="vip"' in html
    # composer with reply / internal note, and the timeline
    assert 'value="internal_note"' in html and "Send and next" in html
    assert "Created · status open" in html


def test_an_unknown_ticket_is_a_404_page(console: Console) -> None:
    r = console.get(f"/w/{WS}/tickets/nope")
    assert r.status_code == 404 and "Not found" in r.text


def test_edit_a_property_in_place(console: Console) -> None:
    r = console.post(
        console.ticket_url("export", "/edit"),
        {"panel": "props", "status": "in_progress", "priority": "urgent"},
        htmx=True,
    )
    assert r.status_code == 200
    data = console.ticket("export")["data"]
    assert (data["status"], data["priority"]) == ("in_progress", "urgent")
    # htmx gets only the panels that changed, each swapped by id
    assert 'id="ticket-meta" class="ticket-meta" hx-swap-oob="true"' in r.text
    assert 'id="props"' in r.text and 'id="composer"' not in r.text and 'id="ticket-head"' not in r.text
    assert "Saved priority, status" in r.text
    with console.core.db.read() as conn:
        source = conn.exec_driver_sql("SELECT source FROM changes ORDER BY seq DESC LIMIT 1").scalar()
    assert source == "console"  # the change log names the channel


def test_edit_without_javascript_redirects_back(console: Console) -> None:
    r = console.post(
        console.ticket_url("dark", "/edit"),
        {
            "panel": "props",
            "assignee": "  zoe@acme.example ",
            "tags": "ui, ux, ui, ",
            "category": "",
            "channel": "chat",
        },
    )
    assert (r.status_code, r.headers["location"]) == (303, console.ticket_url("dark"))
    data = console.ticket("dark")["data"]
    assert data["assignee"] == "zoe@acme.example" and data["tags"] == ["ui", "ux"]
    assert "category" not in data and data["channel"] == "chat"


def test_the_subject_is_edited_in_place_the_description_is_not(console: Console) -> None:
    """The description is the customer's opening message: the console shows it, it does not rewrite it."""
    r = console.post(
        console.ticket_url("dark", "/edit"),
        {"panel": "head", "subject": "Dark theme", "description": "For night shifts."},
        htmx=True,
    )
    assert r.status_code == 200 and 'id="ticket-head"' not in r.text  # the form being typed in stays
    data = console.ticket("dark")["data"]
    assert data["subject"] == "Dark theme" and "description" not in data


def test_unchanged_fields_write_nothing(console: Console) -> None:
    before = versions(console)
    r = console.post(
        console.ticket_url("export", "/edit"),
        {"panel": "props", "status": "open", "priority": "high"},
        htmx=True,
    )
    assert r.status_code == 200 and "No changes" in r.text
    assert versions(console) == before


@pytest.mark.parametrize("htmx", [True, False])
def test_an_invalid_enum_value_is_shown_inline_and_writes_nothing(console: Console, htmx: bool) -> None:
    before = versions(console)
    r = console.post(
        console.ticket_url("export", "/edit"), {"panel": "props", "priority": "whenever"}, htmx=htmx
    )
    assert r.status_code == (200 if htmx else 422)  # htmx: the form with its messages is the answer
    assert 'id="err-priority" role="alert"' in r.text and "is not one of" in r.text
    assert '<option value="whenever" selected>whenever</option>' in r.text  # the input is kept to fix
    assert versions(console) == before
    if htmx:
        assert 'id="props" class="panel" aria-labelledby="props-h" hx-swap-oob="true"' in r.text
    else:
        assert "<html" in r.text


@pytest.mark.parametrize("htmx", [True, False])
def test_an_empty_subject_is_shown_inline_and_writes_nothing(console: Console, htmx: bool) -> None:
    before = versions(console)
    r = console.post(console.ticket_url("export", "/edit"), {"panel": "head", "subject": "   "}, htmx=htmx)
    assert r.status_code == (200 if htmx else 422)
    assert 'id="err-subject" role="alert">Subject can&#39;t be empty.' in r.text
    assert 'aria-invalid="true"' in r.text
    assert versions(console) == before


def test_a_post_without_the_csrf_token_is_refused_and_writes_nothing(console: Console) -> None:
    before = versions(console)
    r = console.post(console.ticket_url("export", "/edit"), {"status": "closed"}, csrf=False)
    assert r.status_code == 403 and "did not come from this console" in r.text
    r = console.client.post(
        console.ticket_url("export", "/edit"),
        data={"status": "closed", "csrf": "x.y"},
        follow_redirects=False,
    )
    assert r.status_code == 403
    assert versions(console) == before


def test_reply_goes_through_the_core_and_clears_the_composer(console: Console) -> None:
    r = console.post(
        console.ticket_url("login", "/reply"), {"type": "reply", "body": "Try clearing cookies."}, htmx=True
    )
    assert r.status_code == 200
    assert (
        "Reply sent." in r.text
        and 'id="composer-body"' in r.text
        and "Try clearing cookies.</textarea>" not in r.text
    )
    from deskbase.core.scope import ReadScope
    from deskbase.support.tickets import conversation

    msgs = conversation(console.core, ReadScope.unrestricted(WS), console.seed.tickets["login"])
    assert [(m["kind"], m["data"]["body"], m["data"]["author"]) for m in msgs] == [
        ("agent", "Try clearing cookies.", "admin")
    ]
    assert '<li class="msg msg-agent"' in r.text


def test_an_internal_note_with_a_status_change(console: Console) -> None:
    r = console.post(
        console.ticket_url("export", "/reply"),
        {"type": "internal_note", "body": "Ping infra.", "status": "waiting"},
    )
    assert r.status_code == 303 and r.headers["location"].endswith("#conversation")
    page = console.get(console.ticket_url("export")).text
    notes = re.findall(r'<li class="msg msg-note".*?<div class="msg-body">([^<]*)</div>', page, re.S)
    assert notes == ["Engineering knows.", "Ping infra."]
    assert console.ticket("export")["data"]["status"] == "waiting"


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"type": "reply", "body": "  "}, "Write a message first."),
        ({"type": "email", "body": "Hi"}, "Choose reply or internal note."),
        ({"type": "reply", "body": "Hi", "status": "snoozed"}, "is not a status"),
    ],
)
def test_bad_replies_are_refused_inline_and_write_nothing(console: Console, form: dict, message: str) -> None:
    before = versions(console)
    r = console.post(console.ticket_url("export", "/reply"), form, htmx=True)
    assert message in r.text and 'id="composer-error"' in r.text
    assert 'id="conversation"' not in r.text
    assert versions(console) == before


def test_send_and_next_moves_to_the_next_ticket(console: Console) -> None:
    nxt = console.ticket_url("dark")
    r = console.post(console.ticket_url("login", "/reply"), {"body": "Done.", "next": nxt}, htmx=True)
    assert r.headers["HX-Redirect"] == nxt
    r = console.post(
        console.ticket_url("login", "/reply"), {"body": "Again.", "next": "https://evil.example/"}
    )
    assert r.headers["location"] == console.ticket_url("login") + "#conversation"


def test_link_and_unlink_a_related_ticket(console: Console) -> None:
    other = console.seed.tickets["login"]
    r = console.post(console.ticket_url("export", "/related"), {"ticket": other}, htmx=True)
    assert r.status_code == 200 and "Login loop after reset" in r.text and 'id="related"' in r.text
    # both tickets show the link
    assert "Export to CSV fails" in console.get(console.ticket_url("login")).text.split('id="related"')[1]
    rel_id = re.search(r"/related/([^/]+)/unlink", r.text)
    assert rel_id
    again = console.post(
        console.ticket_url("login", "/related"), {"ticket": console.seed.tickets["export"]}, htmx=True
    )
    assert "already linked" in again.text
    r = console.post(console.ticket_url("login", f"/related/{rel_id.group(1)}/unlink"), htmx=True)
    assert r.status_code == 200 and "None yet." in r.text
    assert console.core.relationships.of_record(WS, "tickets", other, "related_to", "both")["data"] == []


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("", "Enter or pick the ticket"),
        ("SELF", "can&#39;t be related to itself"),
        ("nope", "no such ticket"),
    ],
)
def test_bad_links_are_refused_inline_and_write_nothing(console: Console, target: str, message: str) -> None:
    before = versions(console)
    ticket = console.seed.tickets["export"] if target == "SELF" else target
    r = console.post(console.ticket_url("export", "/related"), {"ticket": ticket})
    assert r.status_code == 422 and message in r.text
    assert versions(console) == before


def test_unlinking_someone_elses_link_is_a_404(console: Console) -> None:
    submitted = console.core.relationships.of_record(
        WS, "tickets", console.seed.tickets["export"], "submitted_by"
    )["data"][0]
    r = console.post(console.ticket_url("export", f"/related/{submitted['id']}/unlink"))
    assert r.status_code == 404
    assert console.core.relationships.get(WS, submitted["id"])["deleted"] is False


def test_related_search_offers_other_tickets(console: Console) -> None:
    r = console.get(console.ticket_url("export", "/related/search?ticket=log"), htmx=True)
    login = console.core.records.get(WS, "tickets", console.seed.tickets["login"])
    assert f'#{login["number"]}</span> <span class="match-subject">Login loop after reset' in r.text
    assert "Export to CSV" not in r.text
    r = console.get(console.ticket_url("export", "/related/search?ticket=zzz"), htmx=True)
    assert "No other ticket matches" in r.text
    # a number finds its ticket, with or without '#'
    for q in (f"%23{login['number']}", str(login["number"])):
        r = console.get(console.ticket_url("export", f"/related/search?ticket={q}"), htmx=True)
        assert f'#{login["number"]}</span> <span class="match-subject">Login loop after reset' in r.text


def test_a_read_only_token_sees_no_forms_and_cannot_post(console: Console) -> None:
    raw, _ = console.core.tokens.create(
        "reader", [{"scope": {"workspaces": [WS]}, "permissions": ["read:records", "read:relationships"]}]
    )
    console.client.cookies.clear()
    console.sign_in(raw)
    page = console.get(console.ticket_url("export"))
    assert page.status_code == 200 and "can read this ticket but not reply" in page.text
    assert "Save properties" not in page.text and 'id="related-q"' not in page.text
    before = versions(console)
    for path, form in (
        ("/edit", {"status": "closed"}),
        ("/reply", {"body": "x"}),
        ("/related", {"ticket": console.seed.tickets["login"]}),
    ):
        r = console.post(console.ticket_url("export", path), form)
        assert r.status_code == 403, path
    assert versions(console) == before


def test_the_sla_panel_shows_each_running_clock(console: Console) -> None:
    needs_sla(console.core)
    r = console.get(console.ticket_url("export"))
    panel = r.text.split('id="sla-panel"')[1].split("</section>")[0]
    assert "First response" in panel and 'role="timer"' in panel and "business time left" in panel
    assert 'id="urgent-chip"' in r.text


def test_waiting_on_the_customer_pauses_the_clocks(console: Console) -> None:
    needs_sla(console.core)
    console.core.clock.advance(minutes=30)  # type: ignore[attr-defined]
    r = console.post(console.ticket_url("dark", "/edit"), {"panel": "props", "status": "waiting"}, htmx=True)
    assert r.status_code == 200
    panel = r.text.split('id="sla-panel"')[1].split("</section>")[0]
    assert "chip-paused" in panel and "paused — status is waiting" in panel
    assert 'role="timer"' not in panel  # a paused clock never ticks
    r = console.post(console.ticket_url("dark", "/edit"), {"panel": "props", "status": "open"}, htmx=True)
    panel = r.text.split('id="sla-panel"')[1].split("</section>")[0]
    assert "chip-paused" not in panel


def test_the_sla_panel_refreshes_on_its_own(console: Console) -> None:
    needs_sla(console.core)
    r = console.get(console.ticket_url("export", "/sla"), htmx=True)
    assert r.status_code == 200
    assert 'id="sla-panel"' in r.text and 'id="urgent-chip"' in r.text and r.text.count("hx-swap-oob") == 2


def test_a_breached_clock_is_red_in_the_queue_and_on_the_ticket(console: Console) -> None:
    needs_sla(console.core)
    console.core.clock.advance(days=5)  # type: ignore[attr-defined]
    console.core.records.patch(WS, "tickets", console.seed.tickets["dark"], {"assignee": AGENT}, SYSTEM)
    assert console.get(console.ticket_url("dark")).status_code == 303  # idle for days: signed out
    console.sign_in()
    page = console.get(console.ticket_url("dark"))
    assert "chip-breached" in page.text and "overdue" in page.text


def test_who_changed_what_is_shown_to_auditors_only(console: Console) -> None:
    console.core.clock.advance(minutes=1)  # type: ignore[attr-defined]
    console.post(console.ticket_url("dark", "/edit"), {"panel": "props", "priority": "high"})
    timeline = console.get(console.ticket_url("dark")).text.split('id="timeline"')[1]
    assert "priority: medium → high" in timeline and "· admin" in timeline
    raw, _ = console.core.tokens.create(
        "agent", [{"scope": {"workspaces": [WS]}, "permissions": ["read:records", "read:relationships"]}]
    )
    console.client.cookies.clear()
    console.sign_in(raw)
    timeline = console.get(console.ticket_url("dark")).text.split('id="timeline"')[1]
    assert "priority: medium → high" in timeline and "· admin" not in timeline


def test_a_nul_in_a_form_field_is_a_400_page_that_writes_nothing(console: Console) -> None:
    before = console.core.last_seq(WS)
    r = console.post(console.ticket_url("export", "/reply"), {"type": "reply", "body": "a\x00b"})
    assert r.status_code == 400 and "NUL" in r.text
    assert console.core.last_seq(WS) == before
