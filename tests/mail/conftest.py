"""Mail fixtures: the API with workspace `acme` (support template) and mailbox `support`, a real SMTP server
for outbound mail (`smtp`, one per module), a builder of real RFC 5322 messages the way common clients write
them, and a real IMAP server (dovecot) shared by a module."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from deskbase.config import Settings
from deskbase.core.clock import FixedClock
from deskbase.server import build
from tests.conftest import START, Api
from tests.mail.dovecot import Dovecot, missing
from tests.mail.sink import Sink, sink

ADDRESS = "support@acme.test"
#: Mail servers on loopback are refused unless allowed; the tests' servers are there, so they allow it.
LOOPBACK = "127.0.0.0/8"


@contextmanager
def mail_api(
    tmp_path: Path, clock: FixedClock, store_url: str | None = None, setup: bool = True, **settings: Any
) -> Iterator[Api]:
    """The app on `tmp_path`; `setup` makes workspace `acme` and its mailbox `support` (leave it off to
    open the same data directory again, as a restart does)."""
    values: dict[str, Any] = {
        "data_dir": str(tmp_path),
        "replicate": False,
        "sla_scheduler": False,
        "webhooks": False,
        "webhook_allow_networks": LOOPBACK,  # the sink and dovecot are on 127.0.0.1 (mail/guard.py refuses it)
        **settings,
    }
    if store_url:
        values["database_url"] = store_url
    core, app = build(Settings(**values), clock)
    raw, _ = core.tokens.ensure_admin_token(tmp_path)
    with TestClient(app, raise_server_exceptions=False) as client:
        a = Api(client, raw)
        a.core = core  # type: ignore[attr-defined]
        if not setup:
            yield a
            return
        assert a.put("/v1/workspaces/acme", json={"name": "Acme"}).status_code == 201
        assert a.post("/v1/workspaces/acme/templates/support").status_code == 200
        r = a.put("/v1/workspaces/acme/mailboxes/support", json={"address": ADDRESS, "name": "Acme Support"})
        assert r.status_code == 201, r.text
        yield a


@pytest.fixture
def mapi(tmp_path: Path, clock: FixedClock) -> Iterator[Api]:
    with mail_api(tmp_path, clock) as api:
        yield api


@pytest.fixture(scope="module")
def smtp() -> Iterator[Sink]:
    with sink() as s:
        yield s


@pytest.fixture
def oapi(tmp_path: Path, clock: FixedClock, smtp: Sink) -> Iterator[Api]:
    """The mail API with mailbox `support` sending to the sink (retries after 10 s and 20 s)."""
    smtp.reset()
    with mail_api(tmp_path, clock, mail_retry_schedule="10,20") as api:
        r = api.put(
            "/v1/workspaces/acme/mailboxes/support",
            json={"address": ADDRESS, "name": "Acme Support", "outbound": smtp.outbound()},
        )
        assert r.status_code == 200, r.text
        yield api


def message(
    subject: str = "Printer on fire",
    body: str = "Hello,\nmy printer is on fire.\n",
    sender: str = "Ada Lovelace <ada@example.com>",
    to: str = ADDRESS,
    **headers: str,
) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = format_datetime(START)
    msg["Message-ID"] = headers.pop("message_id", None) or make_msgid(domain="example.com")
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content(body)
    return msg


def send(api: Api, raw: bytes | EmailMessage, mailbox: str = "support", **kw: Any) -> Any:
    data = raw.as_bytes() if isinstance(raw, EmailMessage) else raw
    return api.post(
        f"/v1/workspaces/acme/mailboxes/{mailbox}/inbound",
        content=data,
        headers={"Content-Type": "message/rfc822"},
        **kw,
    )


@pytest.fixture(scope="module")
def dovecot() -> Iterator[Dovecot]:
    """One dovecot per test module; each test logs in as its own user (`imap_user`), so none sees another's
    mail. Skipped when dovecot-imapd is not installed."""
    reason = missing()
    if reason:
        pytest.skip(reason)
    server = Dovecot()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def imap_user() -> str:
    return f"u{uuid.uuid4().hex[:12]}"


def wait_for(check: Callable[[], Any], what: str, timeout: float = 20.0) -> Any:
    """Poll `check` until it returns something truthy (which is returned); fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)
