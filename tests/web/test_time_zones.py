"""Issue #17 item 9: times in the viewer's time zone. A person's profile zone wins; a token's session takes the
browser's (the `deskbase_tz` cookie console.js sets), else the workspace's. Every time carries its UTC
instant on hover, and SLA due times are also given in the calendar's zone where it differs."""

from __future__ import annotations

import re
from zoneinfo import ZoneInfo

from deskbase.core.clock import parse_iso
from deskbase.core.context import SYSTEM
from tests.web.conftest import WS, Console, needs_sla


def message_times(html: str) -> list[tuple[str, str, str]]:
    """(datetime, title, text) of the conversation's times."""
    conv = html.split('id="conversation"')[1].split("</section>")[0]
    return re.findall(r'<time datetime="([^"]+)" title="([^"]+)">([^<]+)</time>', conv)


def test_a_token_session_reads_times_in_the_browsers_zone(console: Console) -> None:
    console.client.cookies.set("deskbase_tz", "America/New_York")
    times = message_times(console.get(console.ticket_url("export")).text)
    assert times
    for iso, title, text in times:
        local = parse_iso(iso).astimezone(ZoneInfo("America/New_York"))
        assert text == local.strftime("%a %d %b %Y, %H:%M") + " America/New_York"
        assert title == parse_iso(iso).astimezone(ZoneInfo("UTC")).strftime("%Y-%m-%d %H:%M:%S UTC")


def test_without_a_browser_zone_the_workspaces_zone_is_used(console: Console) -> None:
    console.core.workspaces.put(WS, None, {"timezone": "Asia/Tokyo"}, SYSTEM)
    for cookie in (None, "Not/AZone"):  # a zone that does not exist is ignored
        if cookie:
            console.client.cookies.set("deskbase_tz", cookie)
        times = message_times(console.get(console.ticket_url("export")).text)
        assert times and all(text.endswith(" Asia/Tokyo") for _, _, text in times)


def test_a_persons_own_zone_wins_over_the_browser(console: Console) -> None:
    uid = str(
        console.core.people.create(
            SYSTEM, {"email": "lu@acme.example", "name": "Lu", "time_zone": "Asia/Kolkata"}
        )["id"]
    )
    console.core.members.put(SYSTEM, WS, uid, "agent")
    raw, _ = console.core.tokens.create(
        "lu-laptop", [{"scope": {"workspaces": ["*"]}, "permissions": ["*"]}], user_id=uid
    )
    console.client.cookies.clear()
    assert console.sign_in(raw).status_code == 303
    console.client.cookies.set("deskbase_tz", "America/New_York")
    times = message_times(console.get(console.ticket_url("export")).text)
    assert times and all(text.endswith(" Asia/Kolkata") for _, _, text in times)


def test_relative_times_carry_the_local_and_utc_instant_on_hover(console: Console) -> None:
    console.client.cookies.set("deskbase_tz", "Europe/Lisbon")
    html = console.get(f"/w/{WS}/queue?view=all").text
    hovers = re.findall(r'<time datetime="[^"]+" title="([^"]+)">', html)
    assert hovers and all(
        re.search(r"Europe/Lisbon · \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$", h) for h in hovers
    )


def test_sla_due_times_are_also_given_in_the_calendars_zone(console: Console) -> None:
    sla = needs_sla(console.core)
    view = sla.ticket_view(WS, console.seed.tickets["export"])
    zone = (view.get("policy") or {}).get("calendar_timezone") or "UTC"
    other = "Pacific/Auckland" if zone != "Pacific/Auckland" else "America/Lima"
    console.client.cookies.set("deskbase_tz", other)
    panel = console.get(console.ticket_url("export")).text.split('id="sla-panel"')[1].split("</section>")[0]
    due = re.findall(r'due <time datetime="([^"]+)" title="[^"]+">([^<]+)</time>', panel)
    assert due, panel
    iso, text = due[0]
    assert text.endswith(f" {other}")
    in_calendar = parse_iso(iso).astimezone(ZoneInfo(zone)).strftime("%a %H:%M")
    assert f"({in_calendar} {zone}, the calendar's time)" in panel
    # the viewer in the calendar's own zone reads it once
    console.client.cookies.set("deskbase_tz", zone)
    same = console.get(console.ticket_url("export")).text.split('id="sla-panel"')[1].split("</section>")[0]
    assert "the calendar's time" not in same
