"""Talking to a mailbox's SMTP server (smtplib): one session sends many messages over one connection.

TLS as the mailbox says: `ssl` (implicit TLS, port 465), `starttls` (upgrade before anything else is said;
a server that does not offer it is an error, never a silent fallback to plain text) or `none`. Certificates
are verified against the system's trust store, for the host name as typed: connections go through the mail
guard (guard.py), which resolves the host once and connects only to an address it allowed. AUTH when the
mailbox has a user name. Each send keeps the server's own answer (code and text) for the attempt log: MAIL,
RCPT and DATA are issued one by one rather than through `sendmail`, which drops the final answer.

SMTPUTF8 (RFC 6531): a message to or from an address with a non-ASCII local part (outbound.py writes its
headers in UTF-8) is sent with `MAIL FROM:<…> SMTPUTF8` when the server offers the extension. When it does not,
that message fails for good with the reason recorded, before MAIL is said (the connection goes on serving
the mailbox's other messages): no ASCII form of such an address exists, and retrying cannot help.
"""

from __future__ import annotations

import smtplib
import ssl
import time
from dataclasses import dataclass
from typing import Any

from deskbase.events.ssrf import Network
from deskbase.mail import guard
from deskbase.mail.outbound import ascii_domain, needs_smtputf8

ANSWER_KEEP = 1000


@dataclass(frozen=True)
class Server:
    host: str
    port: int
    tls: str  # ssl | starttls | none
    username: str | None
    password: str | None
    helo: str  # the name we greet with: the mailbox's domain
    timeout: float
    allowed: tuple[Network, ...] = ()  #: private networks it may reach all the same (webhook_allow_networks)

    @property
    def label(self) -> str:
        return f"{self.host}:{self.port}"


@dataclass(frozen=True)
class Answer:
    code: int | None  # None: no server answered (connection, TLS or protocol failure)
    text: str
    duration_ms: int
    permanent: bool = False  #: refused before any exchange, for a reason no retry can change


class NeedsSmtputf8(Exception):
    """The message needs SMTPUTF8 and the server does not offer it."""


def _text(value: Any) -> str:
    raw = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
    return " ".join(raw.split())[:ANSWER_KEEP]


def _said(code: int, text: Any) -> str:
    return f"{code} {_text(text)}"


class _GuardedSMTP(smtplib.SMTP):
    """smtplib connecting through the guard (its STARTTLS verifies the name it was given)."""

    def __init__(self, host: str, port: int, allowed: tuple[Network, ...], **kw: Any) -> None:
        self.allowed = allowed  # before connecting, which the base constructor does
        super().__init__(host, port, **kw)

    def _get_socket(self, host: str, port: int, timeout: float) -> Any:
        return guard.connect(host, port, timeout, self.allowed, self.source_address)  # type: ignore[arg-type]


class _GuardedSMTPS(smtplib.SMTP_SSL):
    """The same with implicit TLS, verified against the host name (not the address connected to)."""

    def __init__(self, host: str, port: int, allowed: tuple[Network, ...], **kw: Any) -> None:
        self.allowed = allowed
        super().__init__(host, port, **kw)

    def _get_socket(self, host: str, port: int, timeout: float) -> Any:
        sock = guard.connect(host, port, timeout, self.allowed, self.source_address)  # type: ignore[arg-type]
        return self.context.wrap_socket(sock, server_hostname=self._host)  # type: ignore[attr-defined]


def connect(server: Server) -> smtplib.SMTP:
    """An open, greeted, (upgraded and) authenticated connection; raises smtplib/OS errors (guard.Refused
    for a host mail may not reach)."""
    context = ssl.create_default_context()
    conn: smtplib.SMTP
    if server.tls == "ssl":
        conn = _GuardedSMTPS(
            server.host,
            server.port,
            server.allowed,
            local_hostname=server.helo,
            timeout=server.timeout,
            context=context,
        )
    else:
        conn = _GuardedSMTP(
            server.host, server.port, server.allowed, local_hostname=server.helo, timeout=server.timeout
        )
    try:
        conn.ehlo()
        if server.tls == "starttls":
            conn.starttls(context=context)
            conn.ehlo()
        if server.username:
            conn.login(server.username, server.password or "")
    except BaseException:
        conn.close()
        raise
    return conn


def check(server: Server) -> tuple[bool, str]:
    """Connect, greet, upgrade and authenticate as a send would, then say goodbye: ok or what went wrong."""
    started = time.monotonic()
    try:
        conn = connect(server)
    except Exception as exc:
        return False, _failure(server, exc)
    try:
        conn.quit()
    except (smtplib.SMTPException, OSError):
        conn.close()
    how = {"ssl": "TLS", "starttls": "STARTTLS", "none": "no TLS"}[server.tls]
    auth = f", authenticated as {server.username}" if server.username else ""
    return True, f"connected to {server.label} ({how}{auth}) in {_ms(started)} ms"


def _failure(server: Server, exc: BaseException) -> str:
    if isinstance(exc, guard.Refused):
        return str(exc)
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"{server.label} answered {_said(exc.smtp_code, exc.smtp_error)}"
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return f"{server.label}: {exc}"
    if isinstance(exc, ssl.SSLError | ssl.CertificateError):
        return f"TLS with {server.label} failed: {_text(exc)}"
    if isinstance(exc, TimeoutError):
        return f"{server.label} did not answer within {server.timeout:g} s"
    return f"cannot talk to {server.label}: {type(exc).__name__}: {_text(exc)}"


class Session:
    """One connection, opened on the first send and again after any failure; not thread-safe (a lane owns it)."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self._conn: smtplib.SMTP | None = None

    def send(self, sender: str, recipients: list[str], message: str) -> Answer:
        started = time.monotonic()
        try:
            if self._conn is None:
                self._conn = connect(self.server)
            code, text = self._transaction(self._conn, sender, recipients, message)
            return Answer(code, text, _ms(started))
        except NeedsSmtputf8 as exc:  # nothing was said: the connection serves the next message
            return Answer(None, f"not sent: {self.server.label} {exc}", _ms(started), permanent=True)
        except smtplib.SMTPResponseException as exc:  # refused while greeting or authenticating, or DATA
            self.close()
            return Answer(exc.smtp_code, _said(exc.smtp_code, exc.smtp_error), _ms(started))
        except (smtplib.SMTPException, OSError, ValueError) as exc:
            self.close()
            return Answer(None, _failure(self.server, exc), _ms(started))

    @staticmethod
    def _transaction(conn: smtplib.SMTP, sender: str, recipients: list[str], message: str) -> tuple[int, str]:
        sender, recipients = ascii_domain(sender), [ascii_domain(r) for r in recipients]
        utf8 = needs_smtputf8(sender, *recipients) or not message.isascii()
        options: list[str] = []
        if utf8:
            if not conn.has_extn("smtputf8"):
                raise NeedsSmtputf8(
                    "does not offer SMTPUTF8, which sending to or from "
                    + ", ".join(a for a in [sender, *recipients] if not a.isascii())
                    + " needs (an address with a non-ASCII local part has no ASCII form)"
                )
            options = ["SMTPUTF8", *(["BODY=8BITMIME"] if conn.has_extn("8bitmime") else [])]
        try:
            return Session._exchange(conn, sender, recipients, message.encode() if utf8 else message, options)
        finally:
            conn.command_encoding = "ascii"  # smtplib switched it to UTF-8 for this message's commands

    @staticmethod
    def _exchange(
        conn: smtplib.SMTP, sender: str, recipients: list[str], message: str | bytes, options: list[str]
    ) -> tuple[int, str]:
        code, text = conn.mail(sender, options)
        if code != 250:
            conn.rset()
            return code, _said(code, text)
        refused: list[tuple[str, int, str]] = []
        for rcpt in recipients:
            code, text = conn.rcpt(rcpt)
            if code not in (250, 251):
                refused.append((rcpt, code, _said(code, text)))
        if len(refused) == len(recipients):
            conn.rset()
            # Every recipient refused: temporary if any refusal was (the retry may reach them all).
            rcpt, code, said = min(refused, key=lambda r: r[1] // 100 != 4)
            return code, f"{rcpt}: {said}"
        code, text = conn.data(message)
        said = _said(code, text)
        if refused:
            said += "; refused: " + "; ".join(f"{r}: {s}" for r, _, s in refused)
        return code, said[:ANSWER_KEEP]

    def close(self) -> None:
        if self._conn is None:
            return
        conn, self._conn = self._conn, None
        try:
            conn.quit()
        except (smtplib.SMTPException, OSError):
            conn.close()


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
