"""Settings → Integrations, inbound hooks, through the console: admins only; hooks created (URL and secret
shown once), disabled, enabled, rotated and deleted with forms; the ingest summary and the ingest log, fed
by payloads signed with the `standardwebhooks` package and POSTed to the real ingest route, on SQLite and
PostgreSQL."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import orjson
import pytest
from standardwebhooks.webhooks import Webhook

from deskbase.core.clock import FixedClock, SystemClock
from deskbase.events.service import Webhooks
from tests.web.conftest import WS, Console
from tests.web.test_integrations import open_console, text

PAGE = f"/w/{WS}/settings/integrations"
MAPPING = '{"subject": "/order/title", "status": {"const": "open"}, "priority": "/order/urgency"}'
HOSTILE = '<script>alert("owned")</script>'


@pytest.fixture
def live_clock() -> FixedClock:
    """Fixed, but at the real time: signatures more than 5 minutes off are refused."""
    return FixedClock(SystemClock().now())


@pytest.fixture
def admin(tmp_path: Path, live_clock: FixedClock) -> Iterator[Console]:
    yield from open_console(tmp_path, live_clock)


@pytest.fixture
def store_admin(tmp_path: Path, live_clock: FixedClock, store_url: str) -> Iterator[Console]:
    yield from open_console(tmp_path, live_clock, store_url)


def create(c: Console, hid: str, **fields: str) -> Any:
    data = {"id": hid, "collection": "tickets", "mapping": MAPPING, "external_id": "/order/id", **fields}
    return c.post(f"{PAGE}/hooks", data)


def created(html: str, hid: str) -> tuple[str, str | None]:
    """The ingest URL and the secret the page shows once."""
    url = re.search(rf'<code id="hook-url-{hid}" class="trigger-url">([^<]+)</code>', html)
    secret = re.search(rf'<code id="hook-secret-{hid}">(whsec_[^<]+)</code>', html)
    assert url, "no ingest URL on the page"
    return url.group(1), secret.group(1) if secret else None


def send(c: Console, url: str, secret: str | None, payload: Any, msg_id: str) -> Any:
    """POST to the ingest URL as a Standard Webhooks sender does (no session, no token)."""
    body = orjson.dumps(payload)
    headers = {"content-type": "application/json"}
    if secret is not None:
        now = datetime.now(UTC)
        headers |= {
            "webhook-id": msg_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": Webhook(secret).sign(msg_id, now, body),
        }
    return c.client.post(url.removeprefix("http://testserver"), content=body, headers=headers)


def order(oid: str, title: str = "Broken widget", urgency: str = "high") -> dict[str, Any]:
    return {"order": {"id": oid, "title": title, "urgency": urgency}}


def log(c: Console, hid: str, status: str | None = None) -> list[dict[str, Any]]:
    return list(c.core.extensions[Webhooks].ingest.log(WS, hid, None, 1000, status)["data"])


def ingest_ids(html: str) -> list[str]:
    return re.findall(r'<li class="ingest" id="ingest-([^"]+)"', html)


# ---- create, ingest, the summary ------------------------------------------------------------------
def test_create_shows_url_and_secret_once_and_a_signed_post_shows_as_the_last_ingest(
    store_admin: Console,
) -> None:
    c = store_admin
    page = c.get(PAGE)
    assert page.status_code == 200 and "Inbound hooks" in page.text and "No hooks yet." in page.text
    assert '<option value="tickets">tickets</option>' in page.text
    r = create(c, "shop", description="From the shop")
    assert r.status_code == 201, text(r.text)
    url, secret = created(r.text, "shop")
    assert secret and 'data-copy="hook-secret-shop"' in r.text and 'data-copy="hook-url-shop"' in r.text
    assert r.headers["cache-control"] == "no-store" and "it is not shown again" in r.text
    hook = c.core.extensions[Webhooks].hooks.get(WS, "shop")
    assert url == "http://testserver" + hook["ingest_path"]
    again = c.get(PAGE).text
    assert secret not in again and "whsec_" not in again
    row = text(again)
    assert url in row and "From the shop" in row and "signed (Standard Webhooks)" in row
    assert "Last ingest none yet" in row and "0 refused" in row
    sent = send(c, url, secret, order("A-1"), "msg_1")
    assert sent.status_code == 201, sent.text
    record_id = sent.json()["record_id"]
    row = text(c.get(PAGE).text)
    assert "Last ingest ✓ Created" in row
    detail = c.get(f"{PAGE}/hooks/shop")
    assert detail.status_code == 200 and ingest_ids(detail.text) == [e["id"] for e in log(c, "shop")]
    assert f'<a href="/w/{WS}/tickets/{record_id}">record {record_id}</a>' in detail.text
    assert "<code>msg_1</code>" in detail.text


def test_refused_counts_link_to_the_log_filtered_to_as_many_rows(store_admin: Console) -> None:
    c = store_admin
    url, secret = created(create(c, "shop").text, "shop")
    assert send(c, url, secret, order("A-1"), "ok-1").status_code == 201
    for i in range(2):  # a priority the schema refuses: verified, so logged with its error
        assert send(c, url, secret, order(f"B-{i}", urgency=HOSTILE), f"bad-{i}").status_code == 422
    page = c.get(PAGE).text
    link = f"{PAGE}/hooks/shop?status=failed"
    assert f'<a href="{link}" class="count-link count-failed">2 refused</a>' in page
    assert "Last ingest ✗ Refused (validation_failed)" in text(page)
    listed = c.get(link).text
    assert ingest_ids(listed) == [e["id"] for e in log(c, "shop", "failed")] and len(ingest_ids(listed)) == 2
    assert listed.count("<strong>validation_failed</strong>") == 2
    assert HOSTILE not in listed and "<script>alert" not in listed
    assert listed.count("&lt;script&gt;alert(") == 2  # the details, as text
    assert len(ingest_ids(c.get(f"{PAGE}/hooks/shop?status=created").text)) == 1
    # the retry with the same webhook id goes through once the payload fits; the count follows the log
    assert send(c, url, secret, order("B-0"), "bad-0").status_code == 201
    assert "3 refused</a>" not in c.get(PAGE).text and "2 refused</a>" in c.get(PAGE).text
    assert len(ingest_ids(c.get(link).text)) == len(log(c, "shop", "failed")) == 2


def test_bad_input_is_shown_beside_its_field_and_nothing_is_created(admin: Console) -> None:
    r = create(admin, "shop", mapping='{"subject": ', collection="")
    assert r.status_code == 422
    assert 'id="err-mapping" role="alert"' in r.text and "not JSON" in r.text
    r = create(admin, "shop", collection="nope", external_id="order/id")
    assert r.status_code == 422
    assert 'id="err-collection"' in r.text or 'id="err-external_id"' in r.text
    r = create(admin, "shop", mapping='{"subject": "no-slash"}')
    assert r.status_code == 422 and 'id="err-mapping"' in r.text and "subject:" in text(r.text)
    assert 'value="/order/id"' in r.text  # what was typed stays in the form
    r = create(admin, "Bad Id")
    assert r.status_code == 422 and 'id="err-id"' in r.text
    r = create(admin, "shop", description="x" * 2001)
    assert r.status_code == 422 and 'id="err-description"' in r.text
    assert admin.core.extensions[Webhooks].hooks.list(WS) == []
    assert create(admin, "shop").status_code == 201
    taken = create(admin, "shop", collection="customers")
    assert taken.status_code == 422 and "exists already" in taken.text
    assert admin.core.extensions[Webhooks].hooks.get(WS, "shop")["collection"] == "tickets"


# ---- enable, rotate, delete -------------------------------------------------------------------------
def test_disable_enable_rotate_and_delete(admin: Console) -> None:
    hooks = admin.core.extensions[Webhooks].hooks
    url, first = created(create(admin, "shop").text, "shop")
    r = admin.post(f"{PAGE}/hooks/shop/enabled", {"next": PAGE + "#hooks"})
    assert r.status_code == 303 and r.headers["location"] == PAGE + "#hooks"
    assert hooks.get(WS, "shop")["enabled"] is False and "Disabled" in text(admin.get(PAGE).text)
    assert send(admin, url, first, order("A-1"), "m1").status_code == 404
    r = admin.post(f"{PAGE}/hooks/shop/enabled", {"enabled": "on", "next": "https://evil.example/"})
    assert r.headers["location"] == f"{PAGE}/hooks/shop"  # only local paths are followed
    assert hooks.get(WS, "shop")["enabled"] is True
    rotated = admin.post(f"{PAGE}/hooks/shop/rotate-secret")
    assert rotated.status_code == 200 and "previous one keeps verifying for 24 hours" in rotated.text
    same_url, new = created(rotated.text, "shop")
    assert same_url == url and new and new != first
    assert send(admin, url, new, order("A-1"), "m2").status_code == 201
    assert send(admin, url, first, order("A-2"), "m3").status_code == 201  # the old one, within the day
    assert "the previous secret verifies until" in text(admin.get(PAGE).text)
    refused = admin.post(f"{PAGE}/hooks/shop/delete", {"confirm": "sho"})
    assert refused.status_code == 422 and "Not deleted" in refused.text
    assert admin.post(f"{PAGE}/hooks/nope/delete", {"confirm": "nope"}).status_code == 404
    gone = admin.post(f"{PAGE}/hooks/shop/delete", {"confirm": "shop"})
    assert gone.status_code == 303
    assert "Deleted hook shop with its ingest log" in admin.get(gone.headers["location"]).text
    assert hooks.list(WS) == [] and admin.get(f"{PAGE}/hooks/shop").status_code == 404
    assert send(admin, url, new, order("A-3"), "m4").status_code == 404


def test_an_unverified_hook_warns_and_has_no_secret_to_rotate(admin: Console) -> None:
    r = create(admin, "open", verify="none")
    assert r.status_code == 201
    url, secret = created(r.text, "open")
    assert secret is None and "verifies nothing" in r.text
    assert "not verified" in text(admin.get(PAGE).text)
    assert f"{PAGE}/hooks/open/rotate-secret" not in admin.get(PAGE).text
    refused = admin.post(f"{PAGE}/hooks/open/rotate-secret")
    assert refused.status_code == 409 and "no secret to rotate" in refused.text
    assert send(admin, url, None, order("A-1"), "m1").status_code == 201


# ---- the log ----------------------------------------------------------------------------------------
def test_the_log_pages_by_cursor_and_explains_a_bad_filter(admin: Console) -> None:
    url, secret = created(create(admin, "shop").text, "shop")
    for i in range(55):
        assert send(admin, url, secret, order(f"A-{i}"), f"m{i}").status_code == 201
    first = admin.get(f"{PAGE}/hooks/shop").text
    older = re.search(r'<a href="([^"]+cursor=[^"]+)">Older ingests</a>', first)
    assert older and len(ingest_ids(first)) == 50
    second = admin.get(older.group(1).replace("&amp;", "&")).text
    assert len(ingest_ids(second)) == 5 and "Newest ingests" in second
    assert set(ingest_ids(first)) | set(ingest_ids(second)) == {e["id"] for e in log(admin, "shop")}
    bad = admin.get(f"{PAGE}/hooks/shop?status=lost")
    assert bad.status_code == 200 and "status is one of" in bad.text and len(ingest_ids(bad.text)) == 50
    spoiled = admin.get(f"{PAGE}/hooks/shop?cursor={quote('nonsense')}")
    assert spoiled.status_code == 200 and 'class="form-error"' in spoiled.text


# ---- who may see it ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "grants",
    [
        [{"scope": {"workspaces": [WS]}, "permissions": ["read:records", "write:records"]}],
        [
            {"scope": {"workspaces": [WS]}, "permissions": ["read:records"]},
            {"scope": {"workspaces": [WS], "collections": ["tickets"]}, "permissions": ["admin"]},
        ],
    ],
    ids=["agent", "admin-of-some-collections"],
)
def test_others_get_the_403_page_and_change_nothing(admin: Console, grants: list[dict[str, Any]]) -> None:
    url, _ = created(create(admin, "shop").text, "shop")
    raw, _ = admin.core.tokens.create("agent", grants)
    admin.client.cookies.clear()
    assert admin.sign_in(raw).status_code == 303
    for path in (PAGE, f"{PAGE}/hooks/shop"):
        r = admin.get(path)
        assert r.status_code == 403 and "Not allowed" in r.text, path
        assert url not in r.text and "whsec_" not in r.text
    for path in ("hooks/shop/enabled", "hooks/shop/delete", "hooks/shop/rotate-secret"):
        assert admin.post(f"{PAGE}/{path}", {"confirm": "shop"}).status_code == 403, path
    assert create(admin, "evil").status_code == 403
    hooks = admin.core.extensions[Webhooks].hooks.list(WS)
    assert [(h["id"], h["enabled"], h["version"]) for h in hooks] == [("shop", True, 1)]


def test_a_form_without_the_csrf_token_changes_nothing(admin: Console) -> None:
    r = admin.post(f"{PAGE}/hooks", {"id": "shop", "collection": "tickets", "mapping": MAPPING}, csrf=False)
    assert r.status_code == 403
    assert admin.core.extensions[Webhooks].hooks.list(WS) == []
