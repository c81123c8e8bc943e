"""Messages between max_file_bytes (25 MiB) and max_mail_bytes (40 MiB) are stored whole, through the API
route and through IMAP: the original .eml may be as big as the message, each attachment must fit
max_file_bytes. A message over max_mail_bytes is refused with its reason recorded and left on the server."""

from __future__ import annotations

import hashlib
import os
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest

from deskbase.core.clock import FixedClock
from tests.conftest import Api
from tests.mail.conftest import mail_api, message, send, wait_for
from tests.mail.dovecot import Dovecot
from tests.mail.test_imap import BOX, SEEN, fetched, imap_box, subjects

WS = "/v1/workspaces/acme"
MiB = 1024 * 1024


@pytest.fixture(scope="module")
def attachments() -> list[bytes]:
    """Random (incompressible) bodies: 22 MiB in all, about 30 MiB once base64-encoded in a message."""
    return [os.urandom(12 * MiB), os.urandom(10 * MiB)]


def big_message(subject: str, bodies: list[bytes]) -> EmailMessage:
    msg = message(subject)
    for n, body in enumerate(bodies):
        msg.add_attachment(body, maintype="application", subtype="octet-stream", filename=f"part{n}.bin")
    return msg


def stored_files(api: Api, response_id: str) -> tuple[dict[str, Any], dict[str, str]]:
    data = api.get(f"{WS}/records/responses/{response_id}").json()["data"]
    names = {api.get(f"{WS}/files/{f}").json()["name"]: f for f in data.get("attachments", [])}
    return data, names


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.mark.slow
def test_a_30_mib_message_through_the_route_is_stored_whole(
    tmp_path: Path, clock: FixedClock, attachments: list[bytes]
) -> None:
    raw = big_message("Thirty", attachments).as_bytes()
    assert 29 * MiB < len(raw) < 31 * MiB
    with mail_api(tmp_path, clock) as api:  # the defaults: max_file_bytes 25 MiB, max_mail_bytes 40 MiB
        r = send(api, raw)
        assert r.status_code == 201, r.text
        data, files = stored_files(api, r.json()["response_id"])
        original = api.get(f"{WS}/files/{data['original']}").json()
        assert original["size"] == len(raw) and original["sha256"] == sha(raw)
        assert sorted(files) == ["part0.bin", "part1.bin"]
        for n, body in enumerate(attachments):
            meta = api.get(f"{WS}/files/{files[f'part{n}.bin']}").json()
            assert meta["size"] == len(body) and meta["sha256"] == sha(body)
        # Each attachment must still fit max_file_bytes, like any upload.
        over = send(api, big_message("One part too big", [os.urandom(26 * MiB)]))
        assert over.status_code == 413 and over.json()["error"]["code"] == "file_too_large"


@pytest.mark.slow
def test_imap_stores_a_30_mib_message_and_leaves_a_bigger_one_unread_with_its_reason(
    tmp_path: Path, clock: FixedClock, dovecot: Dovecot, imap_user: str, attachments: list[bytes]
) -> None:
    thirty = big_message("Thirty", attachments)
    too_big = big_message("Too big", [*attachments, os.urandom(MiB)])
    uids = dovecot.append_all(imap_user, [thirty.as_bytes(), too_big.as_bytes(), message("after").as_bytes()])
    limit = 31 * MiB
    with mail_api(tmp_path, clock, imap_poll_seconds=0.2, max_mail_bytes=limit) as api:
        imap_box(api, dovecot, imap_user)
        h = fetched(api, 2)
        assert h["skipped"] == 1 and h["last_uid"] == uids[-1]
        assert subjects(api) == ["Thirty", "after"]
        skipped = api.get(f"{BOX}/skipped").json()["data"]
        assert [(e["subject"], e["code"]) for e in skipped] == [("Too big", "payload_too_large")]
        assert str(limit) in skipped[0]["reason"] and skipped[0]["size"] > limit
        ticket = next(
            t for t in api.get(f"{WS}/records/tickets").json()["data"] if t["data"]["subject"] == "Thirty"
        )
        timeline = api.get(f"{WS}/tickets/{ticket['id']}/timeline").json()["data"]
        response_id = next(i["message"]["id"] for i in timeline if i["type"] == "message")
        _, files = stored_files(api, response_id)
        assert sha(api.get(f"{WS}/files/{files['part0.bin']}/content").content) == sha(attachments[0])
        flags = wait_for(
            lambda: SEEN in dovecot.flags(imap_user).get(uids[2], ()) and dovecot.flags(imap_user), "flags"
        )
        assert SEEN not in flags[uids[1]]  # left unread for a person
