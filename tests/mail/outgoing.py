"""Helpers of the outbound tests: pointing a mailbox at the SMTP sink, replying, and waiting for delivery states
(the mail loop runs in the background; retries are due by the test's clock)."""

from __future__ import annotations

import time
from collections.abc import Callable
from email.message import EmailMessage
from typing import Any

from deskbase.mail.service import Mail
from tests.conftest import Api
from tests.mail.conftest import ADDRESS, message, send
from tests.mail.sink import Sink

WS = "/v1/workspaces/acme"


def outbound(api: Api, s: Sink, mailbox: str = "support", **over: Any) -> None:
    body = {"address": ADDRESS, "name": "Acme Support", "outbound": s.outbound(), **over}
    r = api.put(f"{WS}/mailboxes/{mailbox}", json=body)
    assert r.status_code in (200, 201), r.text


def until(check: Callable[[], Any], timeout: float = 20) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError("condition not reached")


def reply(api: Api, tid: str, body: str = "Have you tried turning it off?", **kw: Any) -> str:
    r = api.post(f"{WS}/tickets/{tid}/responses", json={"body": body, "type": "reply", **kw})
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


def data(api: Api, collection: str, rid: str) -> dict[str, Any]:
    return api.get(f"{WS}/records/{collection}/{rid}").json()["data"]  # type: ignore[no-any-return]


def delivery(api: Api, rid: str) -> dict[str, Any]:
    return (data(api, "responses", rid).get("mail") or {}).get("delivery") or {}


def settled(api: Api, rid: str, state: str) -> dict[str, Any]:
    return until(lambda: (d := delivery(api, rid)).get("state") == state and d)  # type: ignore[no-any-return]


def outbox(api: Api, mailbox: str = "support", **params: Any) -> list[dict[str, Any]]:
    r = api.get(f"{WS}/mailboxes/{mailbox}/outbox", params={"limit": 1000, **params})
    assert r.status_code == 200, r.text
    return r.json()["data"]  # type: ignore[no-any-return]


def later(api: Api, seconds: float) -> None:
    """Move the clock on and wake the mail loop (retries are due by the clock)."""
    api.core.clock.advance(seconds=seconds)  # type: ignore[attr-defined]
    api.core.extensions[Mail].sender.wake()  # type: ignore[attr-defined]


def ticket_from_mail(api: Api, **headers: str) -> dict[str, Any]:
    r = send(api, message(**headers))
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def parts(msg: EmailMessage) -> tuple[str, str, list[tuple[str, str, bytes]]]:
    text = msg.get_body(("plain",))
    html = msg.get_body(("html",))
    assert text is not None and html is not None
    files = [(str(a.get_filename()), a.get_content_type(), a.get_content()) for a in msg.iter_attachments()]
    # Text travels in canonical form (CRLF line ends, RFC 2046); compare it as the reader sees it.
    return text.get_content().replace("\r\n", "\n"), html.get_content().replace("\r\n", "\n"), files


def plain(msg: EmailMessage) -> str:
    return parts(msg)[0].strip()
