"""The collection browser: any collection, including ones users create, with its icon, colour and fields."""

from __future__ import annotations

from deskbase.core.context import SYSTEM
from tests.web.conftest import WS, Console


def add_assets(console: Console) -> str:
    schema = {
        "type": "object",
        "required": ["name"],
        "properties": {
            "name": {"type": "string"},
            "serial": {"type": "string"},
            "ports": {"type": "integer"},
        },
    }
    console.core.collections.upsert(
        WS,
        "assets",
        {
            "name": "Assets",
            "description": "Hardware we support",
            "icon": "server",
            "color": "#0ea5e9",
            "json_schema": schema,
        },
        SYSTEM,
    )
    rec, _ = console.core.records.create(
        WS, "assets", {"data": {"name": "Router", "serial": "R-1", "ports": 8}}, SYSTEM
    )
    return str(rec["id"])


def test_every_collection_is_listed_with_icon_and_colour(console: Console) -> None:
    add_assets(console)
    r = console.get(f"/w/{WS}/collections")
    assert r.status_code == 200
    for name in ("Tickets", "Customers", "Responses", "Assets"):
        assert f'<span class="card-name">{name}</span>' in r.text
    assert "--c: #ef4444" in r.text and "--c: #0ea5e9" in r.text
    assert "<svg" in r.text and '<span class="icon-letter">S</span>' in r.text  # a known icon, and a fallback
    assert (
        "4 records · 11 fields" in r.text
    )  # the seed's 8, deskbase's attachments, the email channel's mail and the team


def test_a_user_created_collection_shows_its_fields_as_columns(console: Console) -> None:
    rid = add_assets(console)
    r = console.get(f"/w/{WS}/collections/assets")
    assert r.status_code == 200
    assert '<th scope="col">name</th><th scope="col">serial</th><th scope="col">ports</th>' in r.text
    assert "<td>Router</td><td>R-1</td><td>8</td>" in r.text and "1 record" in r.text
    page = console.get(f"/w/{WS}/collections/assets/{rid}")
    assert (
        page.status_code == 200
        and "<dt>serial</dt><dd>R-1</dd>" in page.text
        and "&#34;ports&#34;: 8" in page.text
    )


def test_filter_records_and_explain_a_bad_filter(console: Console) -> None:
    r = console.get(f"/w/{WS}/collections/customers?field=data.plan&op=eq&value=free")
    assert "Ben Smith" in r.text and "Ana Garcia" not in r.text and "1 record" in r.text
    r = console.get(f"/w/{WS}/collections/customers?field=data.bad-name&op=eq&value=x")
    assert r.status_code == 200 and 'id="cf-error" role="alert"' in r.text and "invalid field" in r.text


def test_a_ticket_record_links_to_the_ticket_view_and_its_relationships(console: Console) -> None:
    tid = console.seed.tickets["export"]
    r = console.get(f"/w/{WS}/collections/tickets/{tid}")
    assert f'href="/w/{WS}/tickets/{tid}"' in r.text
    assert "submitted_by →" in r.text and "has_response →" in r.text


def test_missing_collections_and_records_are_404s(console: Console) -> None:
    assert console.get(f"/w/{WS}/collections/nope").status_code == 404
    assert console.get(f"/w/{WS}/collections/tickets/nope").status_code == 404


def test_pages_of_records(console: Console) -> None:
    for i in range(55):
        console.core.records.create(
            WS, "customers", {"data": {"name": f"C{i}", "email": f"c{i}@x.example"}}, SYSTEM
        )
    r = console.get(f"/w/{WS}/collections/customers")
    assert "57 records" in r.text and "Next page →" in r.text
