"""Outbound mail: replies per second from the commit of the reply to the SMTP server's 250, beside raw smtplib.

deskbase in process (`deskbase.server.build`: the real core, support domain and mail loop; no HTTP server; the
tickets come in through the inbound pipeline, `Mail.ingest`, so replies thread as in production), sending to
an aiosmtpd server in its own process (`python -m aiosmtpd -c aiosmtpd.handlers.Sink`: accepts and drops).

Phases (each on a fresh store):
1. *throughput*: `--size` replies (1,000), one per ticket, written with the mail loop stopped, then the loop
   started: replies per second until every one is `sent` (queueing — change log → MIME → outbox — and
   sending, each outcome committed on its own), and how long queueing alone took.
2. *one thread*: 100 replies on one ticket (they leave one at a time, in order).
3. *attribution*: phase 1 again with `sqlite_synchronous=NORMAL`: what the fsync of each outcome's commit costs.
4. *baseline*: the same number of messages of the same size through smtplib over one connection to the same
   server (no store at all): the ceiling, and the ratio deskbase reaches of it in the same run.

    .venv/bin/python bench/mail_send.py [--size N] [--json]
"""

from __future__ import annotations

import smtplib
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from common import WORKSPACE, Report, free_port, log, parser, scratch, setup_workspace, size_of

from deskbase.config import Settings
from deskbase.core.clock import SystemClock
from deskbase.core.context import SYSTEM
from deskbase.mail import outbound
from deskbase.mail.outbound import Draft
from deskbase.mail.service import Mail
from deskbase.server import build
from deskbase.support.tickets import add_response

BODY = "Hello,\n\nthank you for writing. Have you tried turning it off and on again?\n\n" * 8


@contextmanager
def smtp_sink() -> Iterator[int]:
    port = free_port()
    cmd = [sys.executable, "-m", "aiosmtpd", "-n", "-c", "aiosmtpd.handlers.Sink", "-l", f"127.0.0.1:{port}"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with smtplib.SMTP("127.0.0.1", port, local_hostname="bench", timeout=2) as s:
                    s.noop()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@contextmanager
def deskbase(root: Path, name: str, port: int, synchronous: str = "FULL") -> Iterator[Any]:
    settings = Settings(
        data_dir=str(root / name),
        replicate=False,
        webhooks=False,
        log_level="warning",
        sqlite_synchronous=synchronous,
        webhook_allow_networks="127.0.0.0/8",  # the sink is on loopback
    )
    core, _app = build(settings)
    setup_workspace(core, WORKSPACE)
    mail = core.extensions[Mail]
    body = {
        "address": "support@bench.test",
        "name": "Bench",
        "outbound": {"host": "127.0.0.1", "port": port, "tls": "none"},
    }
    mail.mailboxes.put(WORKSPACE, "support", body, SYSTEM)
    try:
        yield core
    finally:
        mail.stop()
        core.close()


def inbound(n: int) -> bytes:
    return (
        f"From: Customer {n} <c{n}@example.com>\r\nTo: support@bench.test\r\nSubject: Problem {n}\r\n"
        f"Message-ID: <in{n}@example.com>\r\nDate: Mon, 2 Mar 2026 09:00:00 +0000\r\n\r\nIt is broken.\r\n"
    ).encode()


def tickets(core: Any, n: int) -> list[str]:
    mail = core.extensions[Mail]
    return [str(mail.ingest(WORKSPACE, "support", inbound(i)).ticket_id) for i in range(n)]


def count(core: Any, status: str) -> int:
    with core.db.read() as conn:
        sql = f"SELECT count(*) FROM mail_outbox WHERE status = '{status}'"
        return int(conn.exec_driver_sql(sql).scalar() or 0)


def drain(core: Any, n: int, timeout: float = 600) -> tuple[float, float]:
    """Start the mail loop; seconds until all `n` are queued, and until all are sent."""
    t0 = time.perf_counter()
    core.extensions[Mail].start()
    queued_at = None
    deadline = t0 + timeout
    while time.perf_counter() < deadline:
        if queued_at is None and count(core, "queued") + count(core, "sent") >= n:
            queued_at = time.perf_counter() - t0
        if count(core, "sent") >= n:
            return queued_at or 0.0, time.perf_counter() - t0
        time.sleep(0.02)
    raise RuntimeError(f"only {count(core, 'sent')} of {n} replies were sent in {timeout:.0f} s")


def throughput(
    root: Path, port: int, n: int, one_thread: bool, synchronous: str = "FULL"
) -> tuple[float, float]:
    name = f"{'thread' if one_thread else 'throughput'}-{synchronous}"
    with deskbase(root, name, port, synchronous) as core:
        ids = tickets(core, 1 if one_thread else n)
        for i in range(n):
            add_response(
                core, WORKSPACE, ids[0 if one_thread else i], {"body": BODY, "type": "reply"}, SYSTEM
            )
        queued, sent = drain(core, n)
        return queued, sent


def message_size() -> int:
    """The size of one reply as queued: the same draft the mail loop builds (text and HTML parts)."""
    draft = Draft(
        sender=("Bench", "support@bench.test"),
        to=[("Customer 0", "c0@example.com")],
        cc=[],
        subject="Re: Problem 0 [#1]",
        message_id=outbound.new_message_id("support@bench.test"),
        date=SystemClock().now(),
        text=BODY,
        html=outbound.html_of(BODY, None),
        in_reply_to="in0@example.com",
        references=["in0@example.com"],
    )
    return len(outbound.build(draft))


def baseline(port: int, n: int, size: int) -> float:
    """Messages per second through smtplib alone, one connection, messages of the same size."""
    body = "x" * 76 + "\r\n"
    message = "From: support@bench.test\r\nTo: c@example.com\r\nSubject: baseline\r\n\r\n" + body * max(
        1, size // 78
    )
    t0 = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", port, local_hostname="bench.test", timeout=30) as s:
        for _ in range(n):
            s.sendmail("support@bench.test", ["c@example.com"], message)
    return n / (time.perf_counter() - t0)


def main() -> None:
    p = parser("outbound mail: replies per second queued → sent against a local SMTP server", 1_000, 10_000)
    args = p.parse_args()
    n = size_of(args)
    report = Report("mail_send", {"replies": n})
    with scratch("mail_send", args.keep) as root, smtp_sink() as port:
        log(f"throughput: {n:,} replies on {n:,} tickets, then the mail loop started")
        queued, sent = throughput(root, port, n, one_thread=False)
        log("one thread: 100 replies on one ticket")
        t_queued, t_sent = throughput(root, port, 100, one_thread=True)
        log("attribution: the first case with sqlite_synchronous=NORMAL (no fsync per commit)")
        n_queued, n_sent = throughput(root, port, n, one_thread=False, synchronous="NORMAL")
        size = message_size()
        log(f"baseline: {n:,} messages of {size:,} bytes through smtplib on one connection")
        raw = baseline(port, n, size)
    rate = n / sent
    report.table(
        "replies queued → sent (one mailbox, a local aiosmtpd server)",
        ["case", "replies", "message bytes", "all queued after s", "all sent after s", "replies/s"],
        [
            ["one reply per ticket", n, size, queued, sent, rate],
            ["100 replies on one ticket (in order)", 100, size, t_queued, t_sent, 100 / t_sent],
            ["one reply per ticket, synchronous=NORMAL", n, size, n_queued, n_sent, n / n_sent],
        ],
    )
    report.table(
        "beside raw smtplib in the same run",
        ["smtplib messages/s", "deskbase replies/s", "ratio"],
        [[raw, rate, rate / raw]],
    )
    report.note(
        "each outcome commits on its own (no transaction spans a send; a crash repeats at most the message "
        "in flight), so with synchronous=FULL every message waits for one fsync: the NORMAL row shows that share"
    )
    report.note("no DESIGN §9 target for outbound mail yet; the ratio says what the store costs per message")
    report.emit(args.json)


if __name__ == "__main__":
    main()
