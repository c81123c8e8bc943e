"""`deskbase mailboxes …` against a real server: settings round trips, passwords only through stdin, raw
messages handed in from .eml files and stdin, and (with a real SMTP server) the check, the outbox and retry."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from deskbase.core.context import SYSTEM
from deskbase.mail.service import Mail
from tests.cli.cli_harness import Cli, Server, running_server
from tests.mail.conftest import message
from tests.mail.sink import sink
from tests.serverproc import free_port

IMAP = ["--inbound-kind", "imap", "--inbound-host", "imap.acme.test", "--inbound-username", "support"]


@pytest.fixture
def mail_server(tmp_path: Path) -> Iterator[Server]:
    # The sink and the closed test ports are on loopback, which mail may reach only when allowed.
    with running_server(
        tmp_path / "data", webhooks=False, sla_scheduler=False, webhook_allow_networks="127.0.0.0/8"
    ) as s:
        s.core.workspaces.put("acme", "Acme", None, SYSTEM)
        s.core.templates.apply("acme", "support", SYSTEM)
        yield s


@pytest.fixture
def mcli(mail_server: Server, tmp_path: Path) -> Cli:
    return Cli(
        env={
            "DESKBASE_URL": mail_server.url,
            "DESKBASE_TOKEN": mail_server.token,
            "DESKBASE_WORKSPACE": "acme",
            "DESKBASE_CONFIG_DIR": str(tmp_path / "config"),
            "COLUMNS": "1000",
            "NO_COLOR": "1",
        }
    )


def stored_passwords(server: Server, mid: str) -> tuple[str | None, str | None]:
    """What the server decrypts from its store: proves the password went through without being printed."""
    box = server.core.extensions[Mail].mailboxes
    row = box.row("acme", mid)
    return box.password(row.inbound_password), box.password(row.outbound_password)


def test_the_mailbox_lifecycle(mcli: Cli, mail_server: Server) -> None:
    out = mcli("mailboxes", "create", "help", "--address", "Help@Acme.test", "--name", "Help")
    assert out.stdout == "help help@acme.test\n"
    again = mcli("mailboxes", "create", "help", "--address", "help@acme.test", expect=1)
    assert again.stderr.startswith("error: conflict: ") and again.stderr.count("\n") == 1
    shown = mcli.json("mailboxes", "show", "help")
    assert shown["inbound"] == {"kind": "api"} and shown["outbound"] is None and shown["name"] == "Help"
    assert "help@acme.test" in mcli("mailboxes", "list").stdout

    updated = mcli.json(
        "mailboxes", "update", "help", *IMAP, "--inbound-folder", "Support", "--outbound-host", "smtp.acme.test",
        "--outbound-tls", "ssl", "--outbound-port", "465", "--inbound-password-stdin", "--outbound-password-stdin",
        input="imap-secret-1\nsmtp-secret-1\n",
    )  # fmt: skip
    assert updated["inbound"] == {
        "kind": "imap", "host": "imap.acme.test", "port": 993, "tls": "ssl", "username": "support",
        "folder": "Support", "password_set": True,
    }  # fmt: skip
    assert updated["outbound"] == {"host": "smtp.acme.test", "port": 465, "tls": "ssl", "password_set": True}
    assert updated["name"] == "Help" and updated["version"] == 2
    assert stored_passwords(mail_server, "help") == ("imap-secret-1", "smtp-secret-1")
    table = mcli("mailboxes", "show", "help").stdout
    assert "secret" not in table and "smtp.acme.test" in table

    # Settings not named stay, the stored passwords too; then each is forgotten on request.
    kept = mcli.json("mailboxes", "update", "help", "--name", "Help desk", "--auto-acknowledge")
    assert kept["inbound"]["folder"] == "Support" and kept["outbound"]["port"] == 465
    assert kept["auto_acknowledge"] is True and kept["name"] == "Help desk"
    assert stored_passwords(mail_server, "help") == ("imap-secret-1", "smtp-secret-1")
    mcli("mailboxes", "update", "help", "--no-outbound-password")
    assert stored_passwords(mail_server, "help") == ("imap-secret-1", None)
    dropped = mcli.json("mailboxes", "update", "help", "--inbound-kind", "smtp", "--no-outbound")
    assert dropped["inbound"] == {"kind": "smtp"} and dropped["outbound"] is None
    assert stored_passwords(mail_server, "help") == (None, None)

    assert mcli("mailboxes", "delete", "help").stdout == "deleted mailbox help\n"
    assert mcli("mailboxes", "show", "help", expect=1).stderr.startswith("error: not_found: ")


def test_an_imap_mailbox_is_created_with_its_password_from_stdin(mcli: Cli, mail_server: Server) -> None:
    out = mcli(
        "mailboxes", "create", "sales", "--address", "sales@acme.test", *IMAP, "--inbound-password-stdin",
        input="imap pass with spaces\n",
    )  # fmt: skip
    assert out.stdout == "sales sales@acme.test\n" and "imap pass" not in out.stdout + out.stderr
    assert stored_passwords(mail_server, "sales") == ("imap pass with spaces", None)
    assert mcli.json("mailboxes", "show", "sales")["inbound"]["port"] == 993


@pytest.mark.parametrize(
    ("args", "input", "says"),
    [
        (["--inbound-password-stdin", *IMAP], "", "error: bad_input: stdin gave no IMAP password"),
        (
            ["--inbound-host", "imap.acme.test"],
            None,
            "error: bad_input: --inbound-host: only for --inbound-kind",
        ),
        (
            ["--inbound-kind", "imap"],
            None,
            "error: validation_failed: invalid request: /inbound/ImapInbound/host",
        ),
        (["--outbound-port", "70000", "--outbound-host", "h"], None, "error: validation_failed: "),
    ],
    ids=["empty stdin", "imap option on an api mailbox", "imap without host", "port out of range"],
)
def test_bad_settings_fail_in_one_line(mcli: Cli, args: list[str], input: str | None, says: str) -> None:
    err = mcli(
        "mailboxes", "create", "bad", "--address", "bad@acme.test", *args, input=input, expect=1
    ).stderr
    assert err.startswith(says) and err.count("\n") == 1, err
    assert mcli("mailboxes", "show", "bad", expect=1).stderr.startswith("error: not_found: ")


def test_a_password_cannot_be_given_on_the_command_line(mcli: Cli) -> None:
    out = mcli("mailboxes", "create", "x", "--address", "x@acme.test", "--inbound-password", "p", expect=2)
    assert "No such option" in out.stderr


def test_inbound_posts_a_raw_message_and_says_what_it_made(mcli: Cli, tmp_path: Path) -> None:
    mcli("mailboxes", "create", "support", "--address", "support@acme.test")
    first = message(message_id="<first@example.com>")
    eml = tmp_path / "first.eml"
    eml.write_bytes(first.as_bytes())
    made = mcli("mailboxes", "inbound", "support", str(eml)).stdout.split()
    assert made[0] == "created" and made[1] == "ticket" and made[3] == "response"
    ticket_id = made[2]
    ticket = mcli.json("records", "get", "tickets", ticket_id)
    assert ticket["data"]["subject"] == "Printer on fire" and ticket["data"]["channel"] == "email"

    dup = mcli("mailboxes", "inbound", "support", str(eml))
    assert dup.stdout == "duplicate first@example.com\n" and f"ticket {ticket_id}" in dup.stderr

    reply = message("Re: Printer on fire", "Still burning.\n", in_reply_to="<first@example.com>")
    joined = mcli.json("mailboxes", "inbound", "support", "-", input=reply.as_string())
    assert joined["status"] == "appended" and joined["ticket_id"] == ticket_id

    noise = message("Out of office", auto_submitted="auto-replied").as_bytes()
    (tmp_path / "ooo.eml").write_bytes(noise)
    ignored = mcli("mailboxes", "inbound", "support", str(tmp_path / "ooo.eml")).stdout
    assert ignored.startswith("ignored ") and ": " in ignored


def test_inbound_failures_are_one_line(mcli: Cli, tmp_path: Path) -> None:
    eml = tmp_path / "m.eml"
    eml.write_bytes(message().as_bytes())
    unknown = mcli("mailboxes", "inbound", "nobox", str(eml), expect=1).stderr
    assert unknown.startswith("error: not_found: ") and unknown.count("\n") == 1
    missing = mcli("mailboxes", "inbound", "nobox", str(tmp_path / "absent.eml"), expect=1).stderr
    assert missing.startswith("error: bad_input: cannot read ") and missing.count("\n") == 1


def test_test_and_skipped(mcli: Cli, mail_server: Server) -> None:
    mcli("mailboxes", "create", "help", "--address", "help@acme.test")
    assert mcli("mailboxes", "test", "help").stdout == (
        "outbound: not checked — no outbound SMTP server is set for this mailbox\n"
        "inbound: ok — messages come in through POST …/mailboxes/{id}/inbound\n"
    )
    closed = str(free_port())
    unreachable = ["--inbound-kind", "imap", "--inbound-host", "127.0.0.1", "--inbound-port", closed]
    mcli("mailboxes", "update", "help", *unreachable, "--inbound-tls", "none", "--inbound-username", "x")
    failed = mcli("mailboxes", "test", "help", expect=1)
    assert f"\ninbound: FAILED — cannot connect to 127.0.0.1:{closed}: " in failed.stdout
    assert mcli.json("mailboxes", "test", "help", expect=1)["inbound"]["ok"] is False
    assert mcli.json("mailboxes", "skipped", "help") == {"data": [], "next_cursor": None}
    assert mcli("mailboxes", "skipped", "nope", expect=1).stderr.startswith("error: not_found: ")


def test_check_a_mailbox_read_its_outbox_and_retry(mcli: Cli, mail_server: Server, tmp_path: Path) -> None:
    with sink() as s:
        s.answer(lambda _g: "554 5.7.1 not now")
        port = str(s.port)
        mcli("mailboxes", "create", "support", "--address", "support@acme.test", "--outbound-host", "127.0.0.1",
             "--outbound-port", port, "--outbound-tls", "none")  # fmt: skip
        checked = mcli("mailboxes", "test", "support").stdout
        assert checked.startswith(f"outbound: ok — connected to 127.0.0.1:{port} (no TLS)")
        assert "inbound: ok — messages come in through" in checked
        eml = tmp_path / "m.eml"
        eml.write_bytes(message().as_bytes())
        ticket = mcli("mailboxes", "inbound", "support", str(eml)).stdout.split()[2]
        mcli("tickets", "reply", ticket, "--body", "Try turning it off.")
        deadline = time.monotonic() + 20
        while not (rows := mcli.json("mailboxes", "outbox", "support", "--status", "failed")["data"]):
            assert time.monotonic() < deadline, "the reply was not tried"
            time.sleep(0.05)
        (row,) = rows
        assert row["answer"] == "554 5.7.1 not now" and row["log"][0]["code"] == 554
        table = mcli("mailboxes", "outbox", "support").stdout
        assert row["id"] in table and "554 5.7.1 not now" in table and "ada@example.com" in table

        s.answer(lambda _g: "250 2.0.0 Ok")
        out = mcli("mailboxes", "retry", "support", row["id"]).stdout
        assert out == f"queued {row['id']} (reply to ada@example.com)\n"
        while mcli.json("mailboxes", "outbox", "support")["data"][0]["status"] != "sent":
            assert time.monotonic() < deadline + 20, "the retry was not sent"
            time.sleep(0.05)
        assert len(s.received) == 1
        again = mcli("mailboxes", "retry", "support", row["id"], expect=1).stderr
        assert again.startswith("error: conflict: ") and again.count("\n") == 1

    down = mcli("mailboxes", "test", "support", expect=1).stdout
    assert down.startswith("outbound: FAILED — cannot talk to 127.0.0.1:")
