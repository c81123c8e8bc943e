"""The inbound pipeline through `POST …/mailboxes/{id}/inbound`: tickets, threading, dedupe, people, files,
charsets and noise, on a corpus of generated messages."""

from __future__ import annotations

import threading
from email.header import Header
from pathlib import Path
from typing import Any

from deskbase.core.clock import FixedClock
from deskbase.mail.service import Mail
from tests.conftest import Api
from tests.mail import corpus
from tests.mail.conftest import mail_api, message, send, wait_for

WS = "/v1/workspaces/acme"
BOX = ("acme", "support")


def record(api: Api, collection: str, rid: str) -> dict[str, Any]:
    r = api.get(f"{WS}/records/{collection}/{rid}")
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def count(api: Api, collection: str) -> int:
    return len(api.get(f"{WS}/records/{collection}", params={"limit": 1000}).json()["data"])


def conversation(api: Api, ticket_id: str) -> list[dict[str, Any]]:
    return api.get(f"{WS}/tickets/{ticket_id}/timeline").json()  # type: ignore[no-any-return]


def messages(api: Api, ticket_id: str) -> list[dict[str, Any]]:
    return [
        i["message"]
        for i in api.get(f"{WS}/tickets/{ticket_id}/timeline").json()["data"]
        if i["type"] == "message"
    ]


def test_a_first_message_makes_a_ticket_a_customer_and_keeps_the_original(mapi: Api) -> None:
    msg = message(Cc="Bob <bob@example.com>, support+9@acme.test")
    r = send(mapi, msg)
    assert r.status_code == 201, r.text
    out = r.json()
    assert out["status"] == "created" and out["message_id"] == msg["Message-ID"].strip("<>")
    ticket = record(mapi, "tickets", out["ticket_id"])
    assert ticket["data"] == {
        "subject": "Printer on fire",
        "status": "open",
        "priority": "medium",
        "channel": "email",
        "mail": {"mailbox": "support", "cc": ["bob@example.com"]},
    }
    assert ticket["number"] == 1
    resp = record(mapi, "responses", out["response_id"])["data"]
    assert resp["body"] == "Hello,\nmy printer is on fire." and resp["type"] == "reply"
    assert resp["author"] == "ada@example.com"
    mail = resp["mail"]
    assert (
        mail["direction"] == "inbound"
        and mail["from"] == "ada@example.com"
        and mail["from_name"] == "Ada Lovelace"
    )
    assert mail["to"] == ["support@acme.test"] and mail["cc"] == ["bob@example.com", "support+9@acme.test"]
    eml = mapi.get(f"{WS}/files/{resp['original']}/content")
    assert eml.status_code == 200 and eml.content == msg.as_bytes()
    customers = mapi.get(f"{WS}/records/customers").json()["data"]
    assert [(c["data"]["name"], c["data"]["email"]) for c in customers] == [
        ("Ada Lovelace", "ada@example.com")
    ]
    link = mapi.get(f"{WS}/records/tickets/{out['ticket_id']}/relationships").json()["data"]
    assert {(lk["rel_type"], lk["target"]["id"]) for lk in link} == {
        ("submitted_by", customers[0]["id"]),
        ("has_response", out["response_id"]),
    }
    history = mapi.get(f"{WS}/records/responses/{out['response_id']}/history").json()["data"]
    assert history[0]["actor"]["id"] == "mailbox:support"
    kinds = [m["kind"] for m in messages(mapi, out["ticket_id"])]
    assert kinds == ["customer"]


def test_replies_thread_by_headers_tag_and_plus_address_never_by_subject(mapi: Api) -> None:
    first = send(mapi, message()).json()
    tid, parent = first["ticket_id"], first["message_id"]
    number = record(mapi, "tickets", tid)["number"]
    gmail = send(mapi, corpus.gmail_reply(parent)).json()
    assert gmail["status"] == "appended" and gmail["ticket_id"] == tid
    folded = record(mapi, "responses", gmail["response_id"])["data"]
    assert folded["body"] == "Thanks, that helped!"
    assert folded["mail"]["folded"] is True and "> Have you tried" in folded["mail"]["full_body"]
    outlook = send(mapi, corpus.outlook_reply(["unknown@else", parent, gmail["message_id"]])).json()
    assert outlook["ticket_id"] == tid
    assert record(mapi, "responses", outlook["response_id"])["data"]["body"] == "It is still smoking."
    apple = send(mapi, corpus.apple_reply(number)).json()
    assert apple["ticket_id"] == tid
    assert record(mapi, "responses", apple["response_id"])["data"]["body"] == "Still broken."
    plus = send(mapi, message("Another thing", "Hi again", to=f"support+{number}@acme.test")).json()
    assert plus["ticket_id"] == tid
    same_subject = send(mapi, message("Printer on fire", "Mine too!", sender="eve@example.org")).json()
    assert same_subject["status"] == "created" and same_subject["ticket_id"] != tid
    unknown_tag = send(mapi, message("Re: something [#999]", "?")).json()
    assert unknown_tag["status"] == "created"
    assert len(messages(mapi, tid)) == 5
    customers = {c["data"]["email"] for c in mapi.get(f"{WS}/records/customers").json()["data"]}
    assert customers == {"ada@example.com", "bob@example.com", "eve@example.org"}


def test_a_message_to_a_resolved_or_closed_ticket_reopens_it(mapi: Api) -> None:
    first = send(mapi, message()).json()
    for status in ("resolved", "closed"):
        r = mapi.patch(f"{WS}/records/tickets/{first['ticket_id']}", json={"data": {"status": status}})
        assert r.status_code == 200
        again = send(mapi, corpus.gmail_reply(first["message_id"])).json()
        assert again["reopened"] is True
        assert record(mapi, "tickets", first["ticket_id"])["data"]["status"] == "open"
    metrics = record(mapi, "tickets", first["ticket_id"])["metrics"]
    assert metrics["reopens"] >= 1


def test_the_same_message_is_ingested_once(mapi: Api) -> None:
    msg = message()
    first = send(mapi, msg)
    again = send(mapi, msg)
    assert first.status_code == 201 and again.status_code == 200
    assert again.json()["status"] == "duplicate"
    assert again.json()["ticket_id"] == first.json()["ticket_id"]
    assert again.json()["response_id"] == first.json()["response_id"]
    assert count(mapi, "tickets") == 1 and count(mapi, "responses") == 1
    no_id = corpus.charset("utf-8", "no message id").replace(b"Message-ID", b"X-Nothing")
    assert send(mapi, no_id).json()["status"] == "created"
    assert send(mapi, no_id).json()["status"] == "duplicate"
    # Another mailbox is another inbox: the same message there is its own (dedupe is per mailbox).
    assert mapi.put(f"{WS}/mailboxes/sales", json={"address": "sales@acme.test"}).status_code == 201
    assert send(mapi, msg, mailbox="sales").json()["status"] == "created"


def test_an_existing_customer_is_found_by_address_whatever_its_case(mapi: Api) -> None:
    r = mapi.post(f"{WS}/records/customers", json={"data": {"name": "Ada L.", "email": "ada@example.com"}})
    cid = r.json()["id"]
    out = send(mapi, message(sender="Ada <ADA@Example.COM>")).json()
    links = mapi.get(f"{WS}/records/tickets/{out['ticket_id']}/relationships").json()["data"]
    assert [lk["target"]["id"] for lk in links if lk["rel_type"] == "submitted_by"] == [cid]
    assert count(mapi, "customers") == 1


def test_charsets_are_read_right(mapi: Api) -> None:
    cases = [
        (corpus.charset("windows-1252", "Smart “quotes” \u2013 café", "“Fancy” café".encode("cp1252")),
         "Smart “quotes” \u2013 café", "“Fancy” café"),
        (corpus.charset("iso-8859-1", "It costs 5 € \u2013 café", encoding="cp1252"),
         "It costs 5 € \u2013 café", "Charset test"),
        (corpus.charset("iso-8859-2", "Zażółć gęślą jaźń"), "Zażółć gęślą jaźń", "Charset test"),
        (corpus.charset("iso-2022-jp", "日本語のテキスト", Header("件名", "iso-2022-jp").encode().encode()),
         "日本語のテキスト", "件名"),
        (corpus.charset("utf-8", "x").replace(b"x\r\n", b"broken \xe2\x82 utf-8 but mostly fine\r\n"),
         "broken \ufffd utf-8 but mostly fine", "Charset test"),
    ]  # fmt: skip
    for raw, body, subject in cases:
        out = send(mapi, raw).json()
        assert record(mapi, "responses", out["response_id"])["data"]["body"] == body
        assert record(mapi, "tickets", out["ticket_id"])["data"]["subject"] == subject


def test_html_is_sanitised_and_gives_the_text(mapi: Api) -> None:
    out = send(mapi, corpus.html_only()).json()
    data = record(mapi, "responses", out["response_id"])["data"]
    html = data["mail"]["html"]
    assert "<script" not in html and "alert" not in html and "position" not in html and "display" not in html
    assert '<p style="color:red"><b>Bold</b> words</p>' in html
    assert "tracker.example" not in html and data["mail"]["remote_images"] == 1
    assert data["body"] == "Bold words\nx\nsecond line" or data["body"].startswith("Bold words")


def test_attachments_and_inline_images_become_files(mapi: Api) -> None:
    out = send(mapi, corpus.inline_image()).json()
    data = record(mapi, "responses", out["response_id"])["data"]
    assert len(data["attachments"]) == 2
    shot = data["mail"]["inline"]["shot@acme"]
    assert shot in data["attachments"]
    assert '<img src="cid:shot@acme">' in data["mail"]["html"]
    meta = mapi.get(f"{WS}/files/{shot}").json()
    assert (meta["name"], meta["content_type"]) == ("shot.png", "image/png")
    assert mapi.get(f"{WS}/files/{shot}/content").content == corpus.PNG
    pdf = next(f for f in data["attachments"] if f != shot)
    assert mapi.get(f"{WS}/files/{pdf}").json()["name"] == "invoice.pdf"


def test_a_message_and_its_attachments_are_made_durable_by_one_flush(mapi: Api) -> None:
    """The original and its two attachments: three new blobs, their directory entries flushed once."""
    sync = mapi.core.files.blobs.sync  # type: ignore[attr-defined]
    before = sync.flushes
    out = send(mapi, corpus.inline_image())
    assert out.status_code == 201, out.text
    assert len(record(mapi, "responses", out.json()["response_id"])["data"]["attachments"]) == 2
    assert sync.flushes - before == 1


def test_winmail_dat_is_opened(mapi: Api) -> None:
    out = send(mapi, corpus.winmail()).json()
    data = record(mapi, "responses", out["response_id"])["data"]
    (fid,) = data["attachments"]
    assert mapi.get(f"{WS}/files/{fid}").json()["name"] == "report.txt"
    assert mapi.get(f"{WS}/files/{fid}/content").content == b"quarterly numbers"


def test_forwards_keep_the_forwarded_text_and_malformed_headers_do_not_fail(mapi: Api) -> None:
    fwd = send(mapi, corpus.forward()).json()
    body = record(mapi, "responses", fwd["response_id"])["data"]["body"]
    assert "The invoice total is wrong." in body
    bad = send(mapi, corpus.MALFORMED)
    assert bad.status_code == 201, bad.text
    data = record(mapi, "responses", bad.json()["response_id"])["data"]
    assert data["author"] == "eve@example.com" and data["mail"]["date"] is None
    assert data["body"] == "Body with café and a stray \ufffd byte."


def test_noise_never_makes_a_ticket(mapi: Api) -> None:
    for raw, reason in (
        (corpus.auto_reply(), "auto-submitted"),
        (corpus.bulk(), "precedence"),
        (corpus.list_mail(), "precedence"),
        (message(sender="MAILER-DAEMON@mx.example.com"), "mailer-daemon"),
        (corpus.bounce("nothing-we-sent@acme.test"), "report"),
    ):
        r = send(mapi, raw)
        assert r.status_code == 200 and r.json()["status"] == "ignored" and r.json()["reason"] == reason
    assert count(mapi, "tickets") == 0 and count(mapi, "customers") == 0


def test_refusals(tmp_path: Path, clock: FixedClock) -> None:
    with mail_api(tmp_path, clock, max_mail_bytes=2000) as api:
        assert send(api, message(), mailbox="nope").status_code == 404
        r = api.post(f"{WS}/mailboxes/support/inbound", content=b"x", headers={"Content-Type": "text/plain"})
        assert r.status_code == 415 and r.json()["error"]["code"] == "unsupported_media_type"
        big = send(api, message(body="x" * 5000))
        assert big.status_code == 413 and big.json()["error"]["code"] == "payload_too_large"
        core = api.core  # type: ignore[attr-defined]
        reader, _ = core.tokens.create(
            "reader", [{"scope": {"workspaces": ["acme"]}, "permissions": ["read:records"]}]
        )
        tickets_only, _ = core.tokens.create(
            "relay",
            [
                {
                    "scope": {"workspaces": ["acme"], "collections": ["tickets"]},
                    "permissions": ["write:records"],
                }
            ],
        )
        assert send(api, message(), token=reader).status_code == 403
        # A relay must reach customers and responses too; those it cannot see look absent.
        assert send(api, message(), token=tickets_only).status_code == 404
        assert count(api, "tickets") == 0


def test_on_both_stores(tmp_path: Path, clock: FixedClock, store_url: str) -> None:
    with mail_api(tmp_path, clock, store_url) as api:
        first = send(api, message()).json()
        assert send(api, corpus.gmail_reply(first["message_id"])).json()["ticket_id"] == first["ticket_id"]
        assert send(api, corpus.inline_image()).status_code == 201
        assert send(api, corpus.charset("utf-8", "nul \x00 byte")).status_code == 201
        assert send(api, message(message_id=f"<{'x' * 400}@long>")).status_code == 201
        assert send(api, message(message_id=f"<{'x' * 400}@long>")).json()["status"] == "duplicate"
        noise = corpus.auto_reply()
        assert send(api, noise).json()["status"] == "ignored"
        assert send(api, noise).json()["status"] == "duplicate"
        again = send(api, message(sender="ADA LOVELACE <Ada@Example.com>")).json()  # the same customer
        assert again["status"] == "created"
        customers = api.get(f"{WS}/records/customers", params={"limit": 10}).json()["data"]
        assert [c["data"]["email"] for c in customers].count("ada@example.com") == 1


def test_a_message_racing_in_by_two_paths_is_stored_once_and_leaves_no_orphan_blobs(
    tmp_path: Path, clock: FixedClock
) -> None:
    """Both copies pass the early duplicate check and store their files' bytes; the loser of the write
    lock finds the winner's Message-ID and must not leave its own bytes (the relayed copy differs by a
    Received header) in the blob store with no file naming them."""
    with mail_api(tmp_path, clock) as api:
        core = api.core  # type: ignore[attr-defined]
        mail = core.extensions[Mail]
        msg = corpus.inline_image()
        direct = msg.as_bytes()
        relayed = b"Received: from relay.example by mx.acme.test; Mon, 2 Mar 2026 09:00:01 +0000\n" + direct
        blobs = tmp_path / "files"

        def stored() -> set[str]:
            return {p.name for p in blobs.glob("??/??/*")}

        results: dict[int, Any] = {}
        with core.db.tx():  # hold the write lock: both ingests stage and store their bytes, then wait
            threads = [
                threading.Thread(
                    target=lambda n, raw: results.update({n: mail.ingest(*BOX, raw)}), args=(n, raw)
                )
                for n, raw in enumerate((direct, relayed))
            ]
            for th in threads:
                th.start()
            wait_for(lambda: len(stored()) == 4, "both copies' bytes stored (2 originals, 2 shared parts)")
        for th in threads:
            th.join(timeout=30)
        assert sorted(r.status for r in results.values()) == ["created", "duplicate"]
        assert count(api, "tickets") == 1 and count(api, "responses") == 1
        with core.db.read() as conn:
            live = {r[0] for r in conn.exec_driver_sql("SELECT sha256 FROM files WHERE deleted = 0")}
        assert stored() == live and len(live) == 3


def test_big_attachments_are_stored_exactly_whatever_their_encoding(mapi: Api) -> None:
    """Bodies over the spool threshold skip the text parse and are decoded from the raw bytes: the stored
    files are byte for byte what was attached, in CRLF and LF messages, and a sender's forged spool mark
    changes nothing."""
    blob = bytes(range(256)) * 2400  # 600 KiB, every byte value
    csv = b"id,name\r\n" + b"".join(b"%d,caf\xc3\xa9 %d\r\n" % (i, i) for i in range(30_000))
    for linesep in ("\n", "\r\n"):
        msg = corpus.inline_image()
        msg.add_attachment(blob, maintype="application", subtype="octet-stream", filename="blob.bin")
        msg.add_attachment(csv, maintype="text", subtype="csv", filename="big.csv")
        qp = message("qp part")
        qp.set_content(blob, maintype="application", subtype="x-qp", cte="quoted-printable")
        qp.replace_header("Content-Type", 'application/x-qp; name="qp.bin"')
        qp["Content-Disposition"] = 'attachment; filename="qp.bin"'
        qp["X-Deskbase-Spool"] = "0123456789abcdef-0"
        msg.attach(qp)
        raw = msg.as_bytes(policy=msg.policy.clone(linesep=linesep))
        assert len(raw) > 2 * len(blob)
        out = send(mapi, raw)
        assert out.status_code == 201, out.text
        data = record(mapi, "responses", out.json()["response_id"])["data"]
        files = {mapi.get(f"{WS}/files/{f}").json()["name"]: f for f in data["attachments"]}
        assert sorted(files) == ["big.csv", "blob.bin", "invoice.pdf", "qp.bin", "shot.png"]
        assert mapi.get(f"{WS}/files/{files['blob.bin']}/content").content == blob
        assert mapi.get(f"{WS}/files/{files['qp.bin']}/content").content == blob
        assert mapi.get(f"{WS}/files/{files['big.csv']}/content").content == csv
        assert data["mail"]["inline"] == {"shot@acme": files["shot.png"]}
        assert data["body"] == "See the screenshot."
        assert mapi.get(f"{WS}/files/{data['original']}/content").content == raw
