"""Inbound mail: messages/s through the raw-MIME route, and peak memory for a 25 MB message through the route
and through IMAP.

Throughput: a real uvicorn server (bench/launcher.py, `deskbase.server.build` as `serve` wires it; the
replicator off, then on) takes `--size` generated messages (2,000) on `POST …/mailboxes/support/inbound`
from `--clients` keep-alive clients (8 threads of this process), after a warm-up of 100 others. The corpus
is realistic and seeded: new questions from 300 customers (some quoting earlier mail), Gmail and Outlook
replies threading to earlier messages, HTML alternatives, windows-1252 and ISO-8859-1 text, small PDF
attachments and inline screenshots, and auto-replies (noise); every Message-ID is new. Baseline in the same
run: single ticket creates (`POST …/records/tickets`) from the same clients against the same server, and
the pipeline in process (`Ingest` called sequentially, no HTTP) for attribution.

Memory: one 25 MB message (a short text and a 18.5 MB attachment, base64) — through the route in process
(the ASGI app handed the body in 64 KiB chunks as uvicorn does; tracemalloc peak of everything the request
allocates, and separately the process's peak RSS growth) and through IMAP (a real dovecot from
tests/mail/dovecot.py; one fetch step of the mailbox's fetcher; the same two figures). Target: peak ≤ 3 times
the message size. Skipped with a note when dovecot-imapd is not installed.

    .venv/bin/python bench/mail_ingest.py [--size N] [--clients C] [--mb 25] [--json] [--keep]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import gc
import os
import random
import subprocess
import sys
import threading
import time
import tracemalloc
from collections import Counter
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import httpx
import orjson
from common import REPO, WORKSPACE, Report, log, parser, scratch, server, size_of, token_of
from gen import EPOCH, create_bodies
from gen import customers as gen_customers

from deskbase.support.demo import CUSTOMER_LINES, SUBJECTS

sys.path.insert(0, str(REPO))  # tests/mail/dovecot.py: the IMAP server the tests use

ADDRESS = "support@bench.example"
INBOUND = f"/v1/workspaces/{WORKSPACE}/mailboxes/support/inbound"
CREATE = f"/v1/workspaces/{WORKSPACE}/records/tickets"
WARMUP = 100
PDF = b"%PDF-1.4\n" + bytes(range(256)) * 8
PNG = bytes.fromhex("89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489")


# ---- the corpus ------------------------------------------------------------------------------------------


def corpus(n: int, seed: int, tag: str) -> list[bytes]:
    """`n` messages as mail clients write them; replies thread to earlier ones of the same corpus."""
    rng = random.Random(seed)
    people = gen_customers(300, seed)
    subjects = [s for group in SUBJECTS.values() for s in group]
    sent: list[tuple[str, str, str]] = []  # (message id, subject, sender) of earlier messages
    out = []
    for i in range(n):
        who = people[rng.randrange(len(people))].data
        sender = f"{who['name']} <{who['email']}>"
        msg = EmailMessage()
        msg["To"] = ADDRESS
        msg["Date"] = format_datetime(EPOCH)
        msg["Message-ID"] = f"<{tag}.{i}.{rng.getrandbits(48):x}@mail.example.com>"
        kind = rng.randrange(100)
        text = "\n\n".join(rng.sample(CUSTOMER_LINES, min(3, len(CUSTOMER_LINES))))
        if kind < 25 and sent:  # a reply: Gmail (In-Reply-To + References) or Outlook (References only)
            parent, subject, sender = sent[rng.randrange(len(sent))]
            msg["Subject"] = f"Re: {subject}"
            if kind < 15:
                msg["In-Reply-To"] = f"<{parent}>"
            msg["References"] = f"<{parent}>"
            text += f"\n\nOn Mon, 2 Mar 2026 at 10:00, Support <{ADDRESS}> wrote:\n> " + "\n> ".join(
                rng.sample(CUSTOMER_LINES, min(4, len(CUSTOMER_LINES)))
            )
        else:
            msg["Subject"] = rng.choice(subjects)
        msg["From"] = sender
        _transport_headers(msg, rng, i)
        if 25 <= kind < 30:
            msg["Auto-Submitted"] = "auto-replied"
        if 30 <= kind < 36:
            msg.set_content(
                text + "\n\nGrüße, café, naïve", charset=rng.choice(["windows-1252", "iso-8859-1"])
            )
        else:
            msg.set_content(text)
        if 36 <= kind < 48:
            paragraphs = "".join(f"<p>{line}</p>" for line in text.split("\n\n"))
            msg.add_alternative(
                f"<html><body>{paragraphs}<p><b>Thanks!</b></p></body></html>", subtype="html"
            )
        if 48 <= kind < 56:
            msg.add_attachment(
                PDF * rng.randrange(5, 80), maintype="application", subtype="pdf", filename="invoice.pdf"
            )
        if 56 <= kind < 60:
            msg.add_attachment(
                PNG + os.urandom(rng.randrange(5_000, 50_000)),
                maintype="image",
                subtype="png",
                filename="shot.png",
            )
        out.append(msg.as_bytes())
        if kind >= 30:
            sent.append((msg["Message-ID"].strip("<>"), msg["Subject"].removeprefix("Re: "), sender))
    return out


def _transport_headers(msg: EmailMessage, rng: random.Random, i: int) -> None:
    """What real mail carries besides its content: Received hops, DKIM and ARC seals, authentication
    results, client headers — about 3-4 KB, most of a short message's size."""
    for hop in range(3):
        msg["Received"] = (
            f"from mx{hop}.mail.example.com (mx{hop}.mail.example.com [203.0.113.{rng.randrange(1, 255)}]) "
            f"by mx.bench.example (Postfix) with ESMTPS id {rng.getrandbits(40):X} for <{ADDRESS}>; "
            "Mon, 2 Mar 2026 09:00:00 +0000 (UTC)"
        )
    seal = base64.b64encode(rng.randbytes(256)).decode()
    msg["DKIM-Signature"] = (
        "v=1; a=rsa-sha256; c=relaxed/relaxed; d=mail.example.com; s=20230601; t=1772442000; "
        f"h=to:subject:message-id:date:from:mime-version:from:to:cc:subject:date:message-id:reply-to; bh={seal[:44]}; "
        f"b={seal}"
    )
    msg["ARC-Seal"] = (
        f"i=1; a=rsa-sha256; t=1772442000; cv=none; d=mail.example.com; s=arc-20240605; b={seal}"
    )
    msg["ARC-Authentication-Results"] = "i=1; mx.mail.example.com; dkim=pass; spf=pass; dmarc=pass"
    msg["Authentication-Results"] = (
        "mx.bench.example; dkim=pass header.d=mail.example.com; spf=pass; dmarc=pass"
    )
    msg["X-Mailer"] = rng.choice(["Microsoft Outlook 16.0", "Apple Mail (2.3774)", "Mozilla Thunderbird"])
    msg["X-Received"] = f"by 2002:a05:6000:{i % 9999:x}::1 with SMTP id {rng.getrandbits(48):x}"


def big_message(size: int) -> bytes:
    msg = EmailMessage()
    msg["From"] = "Ada Lovelace <ada@example.com>"
    msg["To"] = ADDRESS
    msg["Subject"] = "The full export you asked for"
    msg["Message-ID"] = f"<big.{time.time_ns()}@mail.example.com>"
    msg.set_content("Hello,\n\nthe export is attached.\n\nAda\n")
    msg.add_attachment(
        os.urandom(int(size * 0.74)), maintype="application", subtype="zip", filename="export.zip"
    )
    return msg.as_bytes()


# ---- throughput over HTTP --------------------------------------------------------------------------------


def post_all(
    port: int, token: str, path: str, ctype: str, bodies: list[bytes], clients: int
) -> dict[str, Any]:
    """Post every body once from `clients` keep-alive clients; wall time, statuses, latencies."""
    lock = threading.Lock()
    nxt = iter(range(len(bodies)))
    statuses: Counter[int] = Counter()
    latencies: list[float] = []

    def worker() -> None:
        headers = {"Authorization": f"Bearer {token}", "Content-Type": ctype}
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=120) as c:
            while True:
                with lock:
                    i = next(nxt, None)
                if i is None:
                    return
                t0 = time.perf_counter()
                status = c.post(path, content=bodies[i]).status_code
                took = time.perf_counter() - t0
                with lock:
                    statuses[status] += 1
                    latencies.append(took * 1000)

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - t0
    latencies.sort()
    return {
        "n": len(bodies),
        "per_s": len(bodies) / seconds,
        "p50_ms": latencies[len(latencies) // 2],
        "p99_ms": latencies[int(len(latencies) * 0.99)],
        "statuses": dict(statuses),
    }


def setup_mailbox(port: int, token: str) -> None:
    r = httpx.put(
        f"http://127.0.0.1:{port}/v1/workspaces/{WORKSPACE}/mailboxes/support",
        json={"address": ADDRESS, "name": "Bench support"},
        headers={"Authorization": f"Bearer {token}"},
    )
    if r.status_code not in (200, 201):
        raise SystemExit(f"could not create the mailbox: {r.status_code} {r.text}")


def http_rows(
    root: Path, messages: list[bytes], warm: list[bytes], clients: int
) -> list[tuple[str, dict[str, Any]]]:
    rows = []
    creates = [orjson.dumps(b) for b in create_bodies(len(messages))]
    for replicate in (False, True):
        data_dir = root / f"http-{'on' if replicate else 'off'}"
        options = ("--setup", "--replicate") if replicate else ("--setup",)
        label = f"replicator {'on' if replicate else 'off'}"
        with server("deskbase", *options, data_dir=data_dir) as port:
            token = token_of(data_dir)
            setup_mailbox(port, token)
            log(f"{label}: warm-up, then {len(messages)} messages with {clients} clients")
            post_all(port, token, INBOUND, "message/rfc822", warm, clients)
            rows.append(
                (
                    f"inbound route, {label}",
                    post_all(port, token, INBOUND, "message/rfc822", messages, clients),
                )
            )
            log(f"{label}: {len(creates)} ticket creates (baseline)")
            rows.append(
                (
                    f"ticket create (baseline), {label}",
                    post_all(port, token, CREATE, "application/json", creates, clients),
                )
            )
    return rows


# ---- in process ------------------------------------------------------------------------------------------


def open_mail(data_dir: Path, **settings: Any) -> tuple[Any, Any, Any]:
    """The app as `serve` builds it (no background loops started), with the mailbox; (core, app, mail)."""
    from deskbase.config import Settings
    from deskbase.core.context import SYSTEM
    from deskbase.mail.service import Mail
    from deskbase.server import build

    values = {
        "replicate": False,
        "sla_scheduler": False,
        "webhooks": False,
        "imap_fetch": False,
        "webhook_allow_networks": "127.0.0.0/8",  # dovecot is on loopback
        **settings,
    }
    core, app = build(Settings(data_dir=str(data_dir), **values))
    core.workspaces.put(WORKSPACE, "Bench", None, SYSTEM)
    core.templates.apply(WORKSPACE, "support", SYSTEM)
    mail = core.extensions[Mail]
    mail.mailboxes.put(WORKSPACE, "support", {"address": ADDRESS}, SYSTEM)
    return core, app, mail


def in_process_rate(root: Path, messages: list[bytes]) -> dict[str, Any]:
    core, _, mail = open_mail(root / "in-process")
    t0 = time.perf_counter()
    outcomes = Counter(mail.ingest(WORKSPACE, "support", raw).status for raw in messages)
    seconds = time.perf_counter() - t0
    core.close()
    return {"n": len(messages), "per_s": len(messages) / seconds, "outcomes": dict(outcomes)}


def counts(root: Path, messages: list[bytes], warm: int) -> list[list[Any]]:
    """Per message of `Mail.ingest` in process, after `warm` warm-up messages: the figures that do not depend
    on the machine's load (Python calls, statements, commits, fsyncs), and CPU ms (which does)."""
    import cProfile
    import pstats

    from sqlalchemy import event
    from write_cpu import Statements

    core, _, mail = open_mail(root / "counts")
    for raw in messages[:warm]:
        mail.ingest(WORKSPACE, "support", raw)
    stmts = Statements(core.db.engine)
    through_sqlalchemy = [0]
    event.listen(
        core.db.engine,
        "before_cursor_execute",
        lambda *a: through_sqlalchemy.__setitem__(0, through_sqlalchemy[0] + 1),
    )
    commits = [0]
    event.listen(core.db.engine, "commit", lambda *a: commits.__setitem__(0, commits[0] + 1))
    fsyncs = [0]
    real_fsync = os.fsync

    def counted_fsync(fd: int) -> None:
        fsyncs[0] += 1
        real_fsync(fd)

    os.fsync = counted_fsync
    wal = core.db.wal_sync
    if wal is not None:
        wal._fsync = counted_fsync
    rest = messages[warm:]
    half = len(rest) // 2
    prof = cProfile.Profile()
    before = stmts.n
    sync = getattr(core.files.blobs, "sync", None)  # group commit for blobs: directory flushes
    flushes = sync.flushes if sync is not None else 0
    prof.enable()
    for raw in rest[:half]:
        mail.ingest(WORKSPACE, "support", raw)
    prof.disable()
    n = len(rest[:half])
    row_counts = [
        pstats.Stats(prof).total_calls / n,  # type: ignore[attr-defined]
        (stmts.n - before) / n,
        through_sqlalchemy[0] / n,
        commits[0] / n,
        fsyncs[0] / n,
        ((sync.flushes if sync is not None else 0) - flushes) / n,
    ]
    t0 = os.times()
    for raw in rest[half:]:
        mail.ingest(WORKSPACE, "support", raw)
    t1 = os.times()
    cpu = ((t1.user - t0.user) + (t1.system - t0.system)) / len(rest[half:]) * 1000
    os.fsync = real_fsync
    core.close()
    return [[*row_counts, cpu, os.getloadavg()[0]]]


def _rss_kib(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def probe(args: Any) -> None:
    """In a fresh process (so neither figure inherits the other's heap): one big message through the route
    or one IMAP fetch step, measured by tracemalloc or by the peak RSS growth; prints {"peak": bytes}."""
    core, app, mail = open_mail(Path(args.probe_dir))
    if args.probe == "route":
        token, _ = core.tokens.ensure_admin_token(Path(args.probe_dir))
        raw = big_message(int(args.mb * 1_000_000))

        def run() -> None:
            status = asyncio.run(_asgi_post(app, INBOUND, token, raw))
            if status != 201:
                raise SystemExit(f"the big message was answered {status}")

    else:
        from tests.mail.dovecot import PASSWORD

        from deskbase.core.context import SYSTEM
        from deskbase.mail.fetcher import Fetcher

        inbound = {"kind": "imap", "host": "127.0.0.1", "port": args.imap_port, "tls": "none"}
        inbound |= {"username": args.imap_user, "password": PASSWORD}
        mail.mailboxes.put(WORKSPACE, "big", {"address": "big@bench.example", "inbound": inbound}, SYSTEM)
        fetcher = Fetcher(core, mail.mailboxes, mail.ingest, WORKSPACE, "big", 60.0)

        def run() -> None:
            fetcher.step()
            fetcher.stop()
            if not _fetched_all(core, "big", 1):
                raise SystemExit("the big message was not fetched")

    gc.collect()
    if args.mode == "traced":
        tracemalloc.start()
        run()
        peak = tracemalloc.get_traced_memory()[1]
    else:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # reset the peak RSS (VmHWM) to the current RSS
        before = _rss_kib("VmRSS")
        run()
        peak = (_rss_kib("VmHWM") - before) * 1024
    core.close()
    print(orjson.dumps({"peak": peak}).decode())


def _probe(root: Path, kind: str, mode: str, mb: float, *imap: str) -> int | None:
    """Run `probe` in its own process; None when the kernel cannot reset the peak RSS."""
    if mode == "rss" and not os.access("/proc/self/clear_refs", os.W_OK):
        return None
    directory = root / f"probe-{kind}-{mode}"
    cmd = [sys.executable, __file__, "--probe", kind, "--mode", mode, "--probe-dir", str(directory)]
    cmd += ["--mb", str(mb), *imap]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    if out.returncode != 0:
        raise SystemExit(f"the {kind} {mode} probe failed:\n{out.stderr[-3000:]}")
    return int(orjson.loads(out.stdout.strip().splitlines()[-1])["peak"])


def memory_rows(root: Path, mb: float, imap_size: int, report: Report) -> list[list[Any]]:
    size = len(big_message(int(mb * 1_000_000)))
    log(f"memory: a {mb:g} MB message through the route")
    traced, rss = _probe(root, "route", "traced", mb), _probe(root, "route", "rss", mb)
    assert traced is not None
    rows = [["route", size, traced / size, None if rss is None else rss / size]]
    report.check("route: traced peak / message size", traced / size, "<=", 3)
    from tests.mail.dovecot import Dovecot, missing

    why = missing()
    if why:
        report.note(f"IMAP skipped: {why}")
        return rows
    dovecot = Dovecot()
    dovecot.start()
    try:
        log(f"memory: a {mb:g} MB message through IMAP")
        for user in ("big-traced", "big-rss"):
            dovecot.append(user, big_message(int(mb * 1_000_000)))
        port = ["--imap-port", str(dovecot.port), "--imap-user"]
        traced = _probe(root, "imap", "traced", mb, *port, "big-traced")
        rss = _probe(root, "imap", "rss", mb, *port, "big-rss")
        assert traced is not None
        rows.append(["IMAP", size, traced / size, None if rss is None else rss / size])
        report.check("IMAP: traced peak / message size", traced / size, "<=", 3)
        log(f"IMAP: {imap_size} messages into one mailbox")
        rate = imap_rate(root, dovecot, imap_size)
        report.table("IMAP fetch (one mailbox, in process)", ["messages", "per s"], [[imap_size, rate]])
        log("IMAP: IDLE wake-ups, one message at a time")
        median, worst, n = idle_latency(root, dovecot, 20)
        report.table(
            "IMAP IDLE: one message appended → stored (fetcher loop, imap_poll_seconds=300)",
            ["messages", "median ms", "max ms"],
            [[n, median, worst]],
        )
    finally:
        dovecot.stop()
    return rows


def imap_rate(root: Path, dovecot: Any, n: int) -> float:
    """Messages/s of one mailbox fetched from dovecot (its fetcher's steps, in this process)."""
    from tests.mail.dovecot import PASSWORD

    from deskbase.core.context import SYSTEM
    from deskbase.mail.fetcher import Fetcher

    core, _, mail = open_mail(root / "imap-rate")
    dovecot.append_all("many", corpus(n, 7, "imap"))
    inbound = {"kind": "imap", "host": "127.0.0.1", "port": dovecot.port, "tls": "none"}
    inbound |= {"username": "many", "password": PASSWORD}
    mail.mailboxes.put(WORKSPACE, "many", {"address": "many@bench.example", "inbound": inbound}, SYSTEM)
    fetcher = Fetcher(core, mail.mailboxes, mail.ingest, WORKSPACE, "many", 60.0)
    t0 = time.perf_counter()
    while not _fetched_all(core, "many", n):
        fetcher.step()
    seconds = time.perf_counter() - t0
    fetcher.stop()
    core.close()
    return n / seconds


def idle_latency(root: Path, dovecot: Any, n: int) -> tuple[float, float, int]:
    """From an APPEND to dovecot until the message is stored, for `n` messages one at a time, with the
    mailbox's fetcher loop running as `serve` runs it and polls 300 s apart: only IDLE can wake it in time."""
    from tests.mail.dovecot import PASSWORD

    from deskbase.core.context import SYSTEM

    core, _, mail = open_mail(root / "imap-idle", imap_poll_seconds=300)
    inbound = {"kind": "imap", "host": "127.0.0.1", "port": dovecot.port, "tls": "none"}
    inbound |= {"username": "idler", "password": PASSWORD}
    mail.mailboxes.put(WORKSPACE, "idle", {"address": "idle@bench.example", "inbound": inbound}, SYSTEM)
    mail.fetchers.start()
    try:
        deadline = time.monotonic() + 60
        while not _idling(core, "idle"):
            if time.monotonic() > deadline:
                raise SystemExit("the IMAP fetcher never reached IDLE")
            time.sleep(0.05)
        took = []
        for i, raw in enumerate(corpus(n, 11, "idle"), 1):
            time.sleep(0.3)
            t0 = time.monotonic()
            dovecot.append("idler", raw)
            while not _fetched_all(core, "idle", i):
                if time.monotonic() - t0 > 60:
                    raise SystemExit("a message appended in IDLE was not stored within 60 s")
                time.sleep(0.005)
            took.append((time.monotonic() - t0) * 1000)
    finally:
        mail.fetchers.stop()
        core.close()
    took.sort()
    return took[len(took) // 2], took[-1], n


def _idling(core: Any, mid: str) -> bool:
    from deskbase.mail import inbound_state

    with core.db.read() as conn:
        return bool((inbound_state.health(conn, WORKSPACE, mid) or {}).get("idle"))


async def _asgi_post(app: Any, path: str, token: str, raw: bytes) -> int:
    """POST `raw` to the ASGI app as uvicorn hands a body over: in 64 KiB chunks."""
    view = memoryview(raw)
    chunks = [(i, min(i + 65536, len(raw))) for i in range(0, len(raw), 65536)]
    status = 0

    async def receive() -> dict[str, Any]:
        if chunks:
            a, b = chunks.pop(0)
            return {"type": "http.request", "body": bytes(view[a:b]), "more_body": bool(chunks)}
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"127.0.0.1"),
            (b"authorization", f"Bearer {token}".encode()),
            (b"content-type", b"message/rfc822"),
            (b"content-length", str(len(raw)).encode()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8765),
    }
    await app(scope, receive, send)
    return status


def _fetched_all(core: Any, mid: str, n: int) -> bool:
    from deskbase.mail import inbound_state

    with core.db.read() as conn:
        return inbound_state.read(conn, WORKSPACE, mid).last_uid >= n


# ---- main ------------------------------------------------------------------------------------------------


def main() -> None:
    p = parser(
        "inbound mail: messages/s through the raw-MIME route, peak memory of a big message", 2000, 10_000
    )
    p.add_argument("--clients", type=int, default=8)
    p.add_argument("--mb", type=float, default=25.0, help="size of the big message in MB (default 25)")
    p.add_argument("--imap-size", type=int, default=300, help="messages fetched over IMAP for its rate")
    p.add_argument("--probe", choices=["route", "imap"], help=argparse.SUPPRESS)
    p.add_argument("--mode", choices=["traced", "rss"], help=argparse.SUPPRESS)
    p.add_argument("--probe-dir", help=argparse.SUPPRESS)
    p.add_argument("--imap-port", type=int, help=argparse.SUPPRESS)
    p.add_argument(
        "--counts",
        action="store_true",
        help="only the per-message counts in process (calls, statements, commits, fsyncs, CPU ms)",
    )
    p.add_argument("--no-memory", action="store_true", help="skip the big-message memory probes and IMAP")
    p.add_argument("--imap-user", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.probe:
        probe(args)
        return
    n = size_of(args)
    report = Report("mail_ingest", {"messages": n, "clients": args.clients, "big_mb": args.mb})
    log(f"generating {n + WARMUP} messages")
    messages, warm = corpus(n, 1, "m"), corpus(WARMUP, 2, "w")
    sizes = sorted(len(m) for m in messages)
    report.note(
        f"corpus: median message {sizes[len(sizes) // 2]:,} bytes, p90 {sizes[int(len(sizes) * 0.9)]:,}, "
        f"largest {sizes[-1]:,}"
    )
    if args.counts:
        with scratch("mail", args.keep) as root:
            report.table(
                f"per message in process ({n} messages after {WARMUP}; calls and statements over the first half, "
                "CPU over the second)",
                [
                    "Python calls",
                    "SQLite statements",
                    "through SQLAlchemy",
                    "commits",
                    "fsyncs",
                    "blob flushes",
                    "CPU ms",
                    "load 1m",
                ],
                counts(root, corpus(n + WARMUP, 3, "c"), WARMUP),
            )
        report.emit(args.json)
        return
    with scratch("mail", args.keep) as root:
        rows = http_rows(root, messages, warm, args.clients)
        log("in process: the pipeline alone")
        inproc = in_process_rate(root, corpus(n, 3, "p"))
        table = [[label, r["per_s"], r["p50_ms"], r["p99_ms"], str(r["statuses"])] for label, r in rows]
        table.append(
            [
                "pipeline in process (sequential, no HTTP)",
                inproc["per_s"],
                None,
                None,
                str(inproc["outcomes"]),
            ]
        )
        report.table("throughput", ["path", "per s", "p50 ms", "p99 ms", "answers"], table)
        by = dict(rows)
        for state in ("off", "on"):
            mail_rate = by[f"inbound route, replicator {state}"]["per_s"]
            report.check(f"inbound messages/s, replicator {state}", mail_rate, ">=", 200)
            ratio = mail_rate / by[f"ticket create (baseline), replicator {state}"]["per_s"]
            report.table(
                f"ratio, replicator {state}", ["figure", "value"], [["inbound / ticket create", ratio]]
            )
        if not args.no_memory:
            mem_rows = memory_rows(root, args.mb, args.imap_size, report)
            report.table(
                "peak memory of one big message",
                ["path", "bytes", "traced peak / size", "RSS growth / size"],
                mem_rows,
            )
    report.emit(args.json)


if __name__ == "__main__":
    main()
