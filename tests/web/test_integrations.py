"""Settings → Integrations through the console: admins only, triggers created, tested, disabled, rotated and
deleted with forms, the delivery log with its attempts, Retry and Replay — against a real HTTP receiver on
127.0.0.1 with the dispatcher running, on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from standardwebhooks.webhooks import Webhook

from deskbase.config import Settings
from deskbase.core.clock import FixedClock, SystemClock
from deskbase.core.context import SYSTEM
from deskbase.events.service import Webhooks
from deskbase.server import build
from tests.events.receiver import Received, Receiver, receiving
from tests.events.test_delivery import until
from tests.web.conftest import WS, Console, seed_workspace

PAGE = f"/w/{WS}/settings/integrations"
HOSTILE = b'<script>alert("owned")</script><img src=x onerror=alert(1)>'


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with receiving() as r:
        yield r


def open_console(tmp_path: Path, clock: FixedClock, store_url: str | None = None) -> Iterator[Console]:
    settings = Settings(
        reply_hold_seconds=0,
        data_dir=str(tmp_path),
        replicate=False,
        sla_scheduler=False,
        webhook_allow_networks="127.0.0.0/8",
        webhook_retry_schedule="10",  # one retry: a first failure is `failed`, a second one `exhausted`
        webhook_timeout_seconds=5.0,
        **({"database_url": store_url} if store_url else {}),
    )
    core, app = build(settings, clock)
    raw, _ = core.tokens.ensure_admin_token(tmp_path)
    seed = seed_workspace(core)
    with TestClient(app) as client:
        assert app.state.console.warmed()
        c = Console(client, core, raw, seed)
        assert c.sign_in().status_code == 303
        yield c


@pytest.fixture
def live_clock() -> FixedClock:
    """Fixed, but at the real time: Standard Webhooks verifiers refuse timestamps more than 5 minutes off."""
    return FixedClock(SystemClock().now())


@pytest.fixture
def admin(tmp_path: Path, live_clock: FixedClock) -> Iterator[Console]:
    yield from open_console(tmp_path, live_clock)


@pytest.fixture
def store_admin(tmp_path: Path, live_clock: FixedClock, store_url: str) -> Iterator[Console]:
    yield from open_console(tmp_path, live_clock, store_url)


def text(html: str) -> str:
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def create(c: Console, tid: str, url: str, **fields: Any) -> Any:
    """Post the "add a trigger" form (events as repeated fields, as the checkboxes send them)."""
    events = fields.pop("events", ["record.created"])
    data = [("id", tid), ("url", url), ("csrf", c.csrf()), *[("events", e) for e in events]]
    data += [(k, v) for k, v in fields.items()]
    body = "&".join(f"{k}={_q(v)}" for k, v in data)
    return c.client.post(
        f"{PAGE}/triggers",
        content=body,
        headers={"content-type": "application/x-www-form-urlencoded"},
        follow_redirects=False,
    )


def _q(v: str) -> str:
    from urllib.parse import quote

    return quote(v, safe="")


def ticket(c: Console, subject: str = "Printer on fire") -> str:
    r = c.core.records.create(
        WS, "tickets", {"data": {"subject": subject, "status": "open", "priority": "high"}}, SYSTEM
    )
    return str(r[0]["id"])


def log(c: Console, tid: str, status: str | None = None) -> list[dict[str, Any]]:
    hooks = c.core.extensions[Webhooks]
    return list(hooks.deliveries(WS, tid, None, 1000, status)["data"])


def subject_of(r: Received) -> Any:
    return r.json["data"]["record"]["data"]["subject"]


def delivery_ids(html: str) -> list[str]:
    return re.findall(r'<li class="delivery" id="delivery-([^"]+)"', html)


# ---- who may see it --------------------------------------------------------------------------------
def test_admins_reach_it_from_the_nav_and_from_settings(admin: Console) -> None:
    queue = admin.get(f"/w/{WS}/queue").text
    assert f'href="{PAGE}"' in queue
    settings = admin.get("/settings").text
    assert f'<a href="{PAGE}">Integrations of Acme Support</a>' in settings
    page = admin.get(PAGE)
    assert page.status_code == 200
    assert "Outbound triggers (webhooks)" in page.text and "No triggers yet." in page.text
    assert 'aria-current="page">Integrations</a>' in page.text


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
def test_others_see_no_link_and_get_the_403_page(
    admin: Console, receiver: Receiver, grants: list[dict[str, Any]]
) -> None:
    assert create(admin, "crm", receiver.url).status_code == 201
    raw, _ = admin.core.tokens.create("agent", grants)
    admin.client.cookies.clear()
    assert admin.sign_in(raw).status_code == 303
    assert PAGE not in admin.get(f"/w/{WS}/queue").text
    assert "Integrations of" not in admin.get("/settings").text
    for path in (PAGE, f"{PAGE}/triggers/crm"):
        r = admin.get(path)
        assert r.status_code == 403 and "Not allowed" in r.text, path
        assert "whsec_" not in r.text and receiver.url not in r.text
    for path in ("triggers/crm/test", "triggers/crm/delete", "triggers/crm/rotate-secret"):
        assert admin.post(f"{PAGE}/{path}", {"confirm": "crm"}).status_code == 403
    assert create(admin, "evil", receiver.url).status_code == 403
    assert [t["id"] for t in admin.core.extensions[Webhooks].triggers.list(WS)] == ["crm"]
    assert log(admin, "crm") == []


def test_a_form_without_the_csrf_token_changes_nothing(admin: Console, receiver: Receiver) -> None:
    r = admin.post(f"{PAGE}/triggers", {"id": "crm", "url": receiver.url, "events": "*"}, csrf=False)
    assert r.status_code == 403
    assert admin.core.extensions[Webhooks].triggers.list(WS) == []


# ---- create, test, the log ---------------------------------------------------------------------------
def test_create_shows_the_secret_once_and_a_test_event_arrives_signed_with_it(
    store_admin: Console, receiver: Receiver
) -> None:
    c = store_admin
    r = create(c, "crm", receiver.url + "/in", collections="tickets", description="To the CRM")
    assert r.status_code == 201, text(r.text)
    secret = re.search(r'<code id="secret-crm">(whsec_[^<]+)</code>', r.text)
    assert secret and 'data-copy="secret-crm"' in r.text and "it is not shown again" in r.text
    assert r.headers["cache-control"] == "no-store"
    again = c.get(PAGE).text
    assert secret.group(1) not in again and "whsec_" not in again
    row = text(again)
    assert "crm" in row and "Enabled" in row and f"{receiver.url}/in" in row and "To the CRM" in row
    assert "record.created" in row and "Last delivery none yet" in row
    tested = c.post(f"{PAGE}/triggers/crm/test")
    assert tested.status_code == 303
    got = receiver.wait_for(1, "/in")
    assert got[0]["type"] == "trigger.test"
    sent = receiver.received[0]
    Webhook(secret.group(1)).verify(sent.body, sent.headers)
    until(lambda: [d["status"] for d in log(c, "crm")] == ["delivered"])
    detail = c.get(tested.headers["location"])
    assert detail.status_code == 200 and "Test event queued" in detail.text
    shown = text(detail.text)
    assert "Delivered trigger.test" in shown and "1 attempt" in shown and "HTTP 200" in shown
    assert '<pre class="response">ok</pre>' in detail.text
    assert delivery_ids(detail.text) == [d["id"] for d in log(c, "crm")]
    assert "0 failed" in text(c.get(PAGE).text) and "HTTP 200" in text(c.get(PAGE).text)


def test_bad_input_is_shown_beside_its_field_and_nothing_is_created(
    admin: Console, receiver: Receiver
) -> None:
    r = create(
        admin, "crm", "ftp://hooks.example.com/", events=[], filter='{"field": ', collections="Not A Slug"
    )
    assert r.status_code == 422
    for name in ("url", "events", "filter", "collections"):
        assert f'id="err-{name}" role="alert"' in r.text, name
    assert 'value="ftp://hooks.example.com/"' in r.text  # what was typed stays in the form
    r = create(admin, "Bad Id", receiver.url)
    assert r.status_code == 422 and 'id="err-id"' in r.text
    r = create(admin, "x", receiver.url, filter='{"field": "data.status", "op": "almost", "value": 1}')
    assert r.status_code == 422 and "op:" in text(r.text)
    assert admin.core.extensions[Webhooks].triggers.list(WS) == []
    assert create(admin, "crm", receiver.url).status_code == 201
    taken = create(admin, "crm", receiver.url + "/other")
    assert taken.status_code == 422 and "exists already" in taken.text
    assert admin.core.extensions[Webhooks].triggers.get(WS, "crm")["url"] == receiver.url


def test_counts_link_to_the_log_filtered_to_as_many_rows(store_admin: Console, receiver: Receiver) -> None:
    c = store_admin
    clock: FixedClock = c.core.clock  # type: ignore[assignment]
    receiver.reply = lambda _r: (500, {}, HOSTILE)
    create(c, "crm", receiver.url)
    for i in range(3):
        ticket(c, f"ticket {i}")
    receiver.wait_for(3)
    until(lambda: [d["status"] for d in log(c, "crm")] == ["failed"] * 3)
    page = c.get(PAGE).text
    failed_link = f"{PAGE}/triggers/crm?status=failed"
    assert f'<a href="{failed_link}" class="count-link count-failed">3 failed</a>' in page
    assert "100% (3 of 3)" in text(page) and "HTTP 500" in text(page)
    listed = c.get(failed_link).text
    assert len(delivery_ids(listed)) == 3 and listed.count(">Retry</button>") == 3
    # the one retry each gets at its due time: ticket 0 fails again (exhausted), the others go through
    first = log(c, "crm")[-1]["id"]
    receiver.reply = lambda r: (500, {}, HOSTILE) if subject_of(r) == "ticket 0" else (200, {})
    clock.advance(seconds=12)
    until(lambda: sorted(d["status"] for d in log(c, "crm")) == ["delivered", "delivered", "exhausted"])
    page = c.get(PAGE).text
    for status, n in (("failed", 0), ("exhausted", 1), ("pending", 0)):
        assert f"{n} {status}</a>" in page
        assert len(delivery_ids(c.get(f"{PAGE}/triggers/crm?status={status}").text)) == n
    assert "33% (1 of 3)" in text(page)
    assert log(c, "crm", "exhausted")[0]["id"] == first


def test_a_hostile_response_body_and_url_are_shown_as_text(admin: Console, receiver: Receiver) -> None:
    receiver.reply = lambda _r: (500, {}, HOSTILE)
    url = receiver.url + '/in?x="><script>alert(2)</script>'
    assert create(admin, "crm", url, description="<b>bold</b> & <i>co</i>").status_code == 201
    ticket(admin)
    until(lambda: [d["status"] for d in log(admin, "crm")] == ["failed"])
    for page in (admin.get(PAGE).text, admin.get(f"{PAGE}/triggers/crm").text):
        assert "<script>" not in page and "<b>bold</b>" not in page and "<img src=x" not in page
        assert "&lt;script&gt;alert(2)&lt;/script&gt;" in page
    detail = admin.get(f"{PAGE}/triggers/crm").text
    assert "&lt;script&gt;alert(&#34;owned&#34;)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;" in detail


def test_retry_sends_again_and_the_row_updates_in_place(admin: Console, receiver: Receiver) -> None:
    failing = True
    receiver.reply = lambda _r: (503, {}, b"busy") if failing else (200, {})
    create(admin, "crm", receiver.url)
    ticket(admin)
    until(lambda: [d["status"] for d in log(admin, "crm")] == ["failed"])
    (d,) = log(admin, "crm")
    failing = False
    r = admin.post(f"{PAGE}/deliveries/{d['id']}/retry", htmx=True)
    assert r.status_code == 200
    assert r.text.startswith(f'<li class="delivery" id="delivery-{d["id"]}">')
    assert "Queued to be sent again." in r.text and "<html" not in r.text
    assert ">Pending<" in r.text or ">Delivered<" in r.text
    until(lambda: log(admin, "crm")[0]["status"] == "delivered")
    shown = text(admin.get(f"{PAGE}/triggers/crm").text)
    assert "2 attempts" in shown and "HTTP 503" in shown and "HTTP 200" in shown
    assert len(receiver.bodies()) == 2 and receiver.bodies()[0]["id"] == receiver.bodies()[1]["id"]
    # without htmx the form post lands back on the log; a delivery of another workspace is a 404
    plain = admin.post(f"{PAGE}/deliveries/{d['id']}/retry")
    assert plain.status_code == 303 and plain.headers["location"].endswith(f"retried={d['id']}")
    assert admin.post(f"/w/{WS}/settings/integrations/deliveries/nope/retry").status_code == 404


# ---- enable, rotate, delete, replay ---------------------------------------------------------------------
def test_disable_enable_rotate_and_delete(admin: Console, receiver: Receiver) -> None:
    hooks = admin.core.extensions[Webhooks]
    first = re.search(r"(whsec_[^<]+)</code>", create(admin, "crm", receiver.url).text)
    assert first
    r = admin.post(f"{PAGE}/triggers/crm/enabled", {"next": PAGE})
    assert r.status_code == 303 and r.headers["location"] == PAGE
    page = text(admin.get(PAGE).text)
    assert "Disabled" in page and "Disabled: disabled by" in page and "Enable" in page
    assert hooks.triggers.get(WS, "crm")["enabled"] is False
    r = admin.post(f"{PAGE}/triggers/crm/enabled", {"enabled": "on", "next": "https://evil.example/"})
    assert r.headers["location"] == f"{PAGE}/triggers/crm"  # only local paths are followed
    assert hooks.triggers.get(WS, "crm")["enabled"] is True
    rotated = admin.post(f"{PAGE}/triggers/crm/rotate-secret")
    new = re.search(r'<code id="secret-crm">(whsec_[^<]+)</code>', rotated.text)
    assert rotated.status_code == 200 and new and new.group(1) != first.group(1)
    assert "previous one keeps signing for 24 hours" in rotated.text
    refused = admin.post(f"{PAGE}/triggers/crm/delete", {"confirm": "cr"})
    assert refused.status_code == 422 and "Not deleted" in refused.text
    assert admin.post(f"{PAGE}/triggers/nope/delete", {"confirm": "nope"}).status_code == 404
    gone = admin.post(f"{PAGE}/triggers/crm/delete", {"confirm": "crm"})
    assert gone.status_code == 303
    assert "Deleted trigger crm" in admin.get(gone.headers["location"]).text
    assert hooks.triggers.list(WS) == []
    assert admin.get(f"{PAGE}/triggers/crm").status_code == 404


def test_replay_from_a_sequence_queues_the_same_events_again(admin: Console, receiver: Receiver) -> None:
    create(admin, "crm", receiver.url)
    ids = [ticket(admin, f"t{i}") for i in range(3)]
    first = receiver.wait_for(3)
    since = admin.core.records.get(WS, "tickets", ids[1])["version"]
    r = admin.post(f"{PAGE}/triggers/crm/replay", {"since_seq": str(since)})
    assert r.status_code == 200 and f"Replay from seq {since}: 2 events queued." in r.text
    again = receiver.wait_for(5)[3:]
    # deliveries of different records may arrive in any order: pick the replayed ones by record
    replayed = [b for b in first if b["data"]["record"]["id"] in ids[1:]]
    assert sorted(b["id"] for b in again) == sorted(b["id"] for b in replayed)
    bad = admin.post(f"{PAGE}/triggers/crm/replay", {"since_seq": "-1"})
    assert bad.status_code == 422 and 'id="err-since" role="alert"' in bad.text


def test_the_log_pages_by_cursor_and_explains_a_bad_filter(admin: Console, receiver: Receiver) -> None:
    create(admin, "crm", receiver.url)
    for i in range(55):
        ticket(admin, f"t{i}")
    until(lambda: len(log(admin, "crm", "delivered")) == 55)
    first = admin.get(f"{PAGE}/triggers/crm").text
    older = re.search(r'<a href="([^"]+cursor=[^"]+)">Older deliveries</a>', first)
    assert older and len(delivery_ids(first)) == 50
    second = admin.get(older.group(1).replace("&amp;", "&")).text
    assert len(delivery_ids(second)) == 5 and "Newest deliveries" in second
    assert set(delivery_ids(first)) | set(delivery_ids(second)) == {d["id"] for d in log(admin, "crm")}
    bad = admin.get(f"{PAGE}/triggers/crm?status=lost")
    assert bad.status_code == 200 and "status is one of" in bad.text and len(delivery_ids(bad.text)) == 50
    spoiled = admin.get(f"{PAGE}/triggers/crm?cursor=nonsense")
    assert spoiled.status_code == 200 and 'class="form-error"' in spoiled.text


def test_the_api_health_counts_what_the_log_lists(admin: Console, receiver: Receiver) -> None:
    receiver.reply = lambda r: (500, {}) if subject_of(r) == "bad" else (200, {})
    create(admin, "crm", receiver.url)
    for subject in ("bad", "good", "bad"):
        ticket(admin, subject)
    until(lambda: sorted(d["status"] for d in log(admin, "crm")) == ["delivered", "failed", "failed"])
    headers = {"Authorization": f"Bearer {admin.token}"}
    h = admin.client.get(f"/v1/workspaces/{WS}/triggers/crm/health", headers=headers).json()
    for status, n in h["counts"].items():
        assert n == len(log(admin, "crm", status)), status
    assert h["last_100"] == {"settled": 3, "failed": 2, "failure_rate": 2 / 3, "capped": False}
    assert h["last_attempt"]["status"] in (200, 500)
    good = next(d for d in log(admin, "crm") if d["status"] == "delivered")
    assert admin.client.post(f"/v1/workspaces/{WS}/deliveries/{good['id']}/retry", headers=headers).is_success

    def newest_is_last() -> bool:
        attempts = [(a["at"], d["id"]) for d in log(admin, "crm") for a in d["attempts"]]
        h = admin.client.get(f"/v1/workspaces/{WS}/triggers/crm/health", headers=headers).json()
        return (h["last_attempt"]["at"], h["last_attempt"]["delivery_id"]) == max(attempts)

    until(lambda: len(next(d for d in log(admin, "crm") if d["id"] == good["id"])["attempts"]) == 2)
    until(newest_is_last)
    r = admin.client.get(f"/v1/workspaces/{WS}/triggers/nope/health", headers=headers)
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"


def test_a_received_body_is_kept_to_the_first_kib(admin: Console, receiver: Receiver) -> None:
    receiver.reply = lambda _r: (500, {}, b"x" * 5000)
    create(admin, "crm", receiver.url)
    ticket(admin)
    until(lambda: [d["status"] for d in log(admin, "crm")] == ["failed"])
    shown = re.search(r'<pre class="response">(x+)</pre>', admin.get(f"{PAGE}/triggers/crm").text)
    assert shown and len(shown.group(1)) == 1024


def test_enable_disable_is_at_the_version_the_page_showed(admin: Console, receiver: Receiver) -> None:
    """A toggle from a stale page must not undo an edit made meanwhile (nor drop the loop guard setting)."""
    hooks = admin.core.extensions[Webhooks]
    create(admin, "crm", receiver.url)
    shown = re.search(r'name="version" value="(\d+)"', admin.get(PAGE).text)
    assert shown
    current = hooks.triggers.get(WS, "crm")
    edited = {k: current[k] for k in ("url", "events", "collections", "filter", "description")}
    hooks.triggers.put(WS, "crm", edited | {"include_hook_writes": True, "description": "edited"}, SYSTEM)
    stale = admin.post(f"{PAGE}/triggers/crm/enabled", {"next": PAGE, "version": shown.group(1)})
    assert stale.status_code == 409 and "changed by someone else" in stale.text
    after = hooks.triggers.get(WS, "crm")
    assert after["enabled"] is True and after["description"] == "edited"
    fresh = re.search(r'name="version" value="(\d+)"', admin.get(PAGE).text)
    assert fresh and fresh.group(1) != shown.group(1)
    ok = admin.post(f"{PAGE}/triggers/crm/enabled", {"next": PAGE, "version": fresh.group(1)})
    assert ok.status_code == 303
    after = hooks.triggers.get(WS, "crm")
    assert (
        after["enabled"] is False
        and after["include_hook_writes"] is True
        and after["description"] == "edited"
    )
