"""The console's people pickers and Settings → Teams: the ticket's assignee picker (agents, online first,
with their open load; free text where the workspace has no members), the team picker, "My team's open",
and the forms that add, change and delete teams."""

from __future__ import annotations

import re

from deskbase.core.context import SYSTEM
from tests.web.conftest import WS, Console


def person(c: Console, email: str, name: str, role: str = "agent") -> str:
    uid = str(c.core.people.create(SYSTEM, {"email": email, "name": name})["id"])
    c.core.members.put(SYSTEM, WS, uid, role)
    return uid


def options(html: str, select_id: str) -> list[str]:
    block = re.search(rf'<select id="{select_id}".*?</select>', html, re.S)
    assert block, f"no #{select_id}"
    return [
        re.sub(r"\s+", " ", o).strip() for o in re.findall(r"<option[^>]*>([^<]*)</option>", block.group(0))
    ]


def test_the_assignee_is_free_text_until_the_workspace_has_members(console: Console) -> None:
    html = console.get(console.ticket_url("export")).text
    assert 'id="f-assignee" name="assignee" list="agent-list"' in html and 'id="f-team"' not in html


def test_the_assignee_picker_lists_agents_online_first_with_their_load(console: Console) -> None:
    zoe = person(console, "zoe@acme.example", "Zoe Adams")
    person(console, "yan@acme.example", "Yan Bell")
    person(console, "lia@acme.example", "Lia Light", role="light_agent")
    console.core.sessions.open(None, zoe)
    console.core.records.create(
        WS,
        "tickets",
        {"data": {"subject": "x", "status": "open", "priority": "low", "assignee": "zoe@acme.example"}},
        SYSTEM,
    )
    html = console.get(console.ticket_url("export")).text
    shown = options(html, "f-assignee")
    # the seeded ticket's assignee is no agent here: kept, and marked
    assert shown[:2] == ["Unassigned", "agent@acme.example (not an agent)"]
    assert shown[2:] == ["Zoe Adams · online · 1 open", "Yan Bell · offline · 0 open"]
    r = console.post(
        console.ticket_url("export", "/edit"), {"panel": "props", "assignee": "yan@acme.example"}
    )
    assert r.status_code in (200, 303), r.text
    assert console.ticket("export")["data"]["assignee"] == "yan@acme.example"
    r = console.post(
        console.ticket_url("export", "/edit"), {"panel": "props", "assignee": "lia@acme.example"}
    )
    assert r.status_code == 422
    assert "not an agent of the workspace" in r.text
    assert console.ticket("export")["data"]["assignee"] == "yan@acme.example"


def test_settings_teams_add_change_delete_and_my_teams_queue(console: Console) -> None:
    ann = person(console, "ann@acme.example", "Ann Agent")
    person(console, "bob@acme.example", "Bob Agent")
    page = console.get(f"/w/{WS}/settings/teams")
    assert page.status_code == 200 and "No teams yet" in page.text
    assert f'href="/w/{WS}/settings/teams"' in page.text
    base = f"/w/{WS}/settings/teams"
    bad = console.post(
        base, {"id": "billing", "name": "Billing", "rule": "round_robin", "members": "nobody@x.example"}
    )
    assert bad.status_code == 422 and "Member 1: not a member of the workspace" in bad.text
    made = console.post(
        base,
        {
            "id": "billing",
            "name": "Billing",
            "rule": "round_robin",
            "members": "ann@acme.example\nbob@acme.example:4",
        },
    )
    assert made.status_code == 303 and made.headers["location"] == f"{base}?saved=billing"
    team = console.core.teams.get(WS, "billing")
    assert [(m["email"], m["capacity"]) for m in team["members"]] == [
        ("ann@acme.example", None),
        ("bob@acme.example", 4),
    ]
    taken = console.post(base, {"id": "billing", "name": "Again", "rule": "manual", "members": ""})
    assert taken.status_code == 422 and "exists already" in taken.text
    bad_cap = console.post(
        f"{base}/billing", {"name": "Billing", "rule": "manual", "members": "ann@acme.example:lots"}
    )
    assert bad_cap.status_code == 422 and "capacity, a whole number" in bad_cap.text
    assert (
        console.post(
            f"{base}/billing", {"name": "Billing 2", "rule": "least_loaded", "members": "bob@acme.example"}
        ).status_code
        == 303
    )
    assert console.core.teams.get(WS, "billing")["rule"] == "least_loaded"
    # the ticket page offers the team; "My team's open" lists the tickets of the signed-in person's teams
    console.core.teams.put(SYSTEM, WS, "billing", {"name": "Billing", "rule": "manual", "members": [ann]})
    assert options(console.get(console.ticket_url("export")).text, "f-team") == ["—", "Billing"]
    console.post(console.ticket_url("export", "/edit"), {"panel": "props", "team": "billing"})
    assert console.ticket("export")["data"]["team"] == "billing"
    raw, _ = console.core.tokens.create(
        "ann-laptop", [{"scope": {"workspaces": ["*"]}, "permissions": ["*"]}], user_id=ann
    )
    console.client.cookies.clear()
    assert console.sign_in(raw).status_code == 303
    queue = console.get(f"/w/{WS}/queue?view=team").text
    assert "My team&#39;s open" in queue or "My team's open" in queue
    assert "Export to CSV fails" in queue and "Invoice with VAT id" not in queue
    # deleting: the page is an admin's
    assert console.get(f"/w/{WS}/settings/teams").status_code == 403
    console.client.cookies.clear()
    console.sign_in()
    assert console.post(f"{base}/billing/delete", {}).status_code == 303
    assert console.core.teams.list(WS) == []
