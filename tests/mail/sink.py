"""A real SMTP server for the outbound tests: aiosmtpd on a free port of 127.0.0.1 that keeps every message it
accepts, answers DATA as the test says (`answer`: 250 by default, or a 4xx/5xx), and can require STARTTLS
(or speak implicit TLS) and AUTH, with a self-signed certificate the client is made to trust."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.serverproc import free_port

USER, PASSWORD = "support", "s3cret"


@dataclass
class Got:
    sender: str
    rcpt: list[str]
    raw: bytes
    options: tuple[str, ...] = ()  #: MAIL FROM parameters (SMTPUTF8, BODY=…)

    @property
    def msg(self) -> EmailMessage:
        return BytesParser(policy=policy.default).parsebytes(self.raw)  # type: ignore[return-value]

    @property
    def message_id(self) -> str:
        return str(self.msg["Message-ID"]).strip("<>")


class Handler:
    def __init__(self) -> None:
        self.received: list[Got] = []
        self.tried: list[Got] = []  # every DATA, accepted or not
        self.answer: Callable[[Got], str] = lambda _g: "250 2.0.0 Ok: queued"
        self.lock = threading.RLock()  # an answer function may read what the sink holds

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        got = Got(
            envelope.mail_from,
            list(envelope.rcpt_tos),
            bytes(envelope.original_content or b""),
            tuple(envelope.mail_options),
        )
        with self.lock:
            self.tried.append(got)
            said = self.answer(got)
            if said.startswith("2"):
                self.received.append(got)
        return said


@dataclass
class Sink:
    handler: Handler
    port: int
    host: str = "127.0.0.1"

    @property
    def received(self) -> list[Got]:
        with self.handler.lock:
            return list(self.handler.received)

    @property
    def tried(self) -> list[Got]:
        with self.handler.lock:
            return list(self.handler.tried)

    def answer(self, fn: Callable[[Got], str]) -> None:
        self.handler.answer = fn

    def reset(self) -> None:
        with self.handler.lock:
            self.handler.received.clear()
            self.handler.tried.clear()
        self.handler.answer = lambda _g: "250 2.0.0 Ok: queued"

    def wait_for(self, n: int, timeout: float = 20) -> list[Got]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.received) >= n:
                return self.received
            time.sleep(0.02)
        raise AssertionError(f"the sink got {len(self.received)} messages, not {n}")

    def outbound(self, tls: str = "none", password: str | None = None) -> dict[str, Any]:
        """The mailbox `outbound` settings that reach this sink."""
        out: dict[str, Any] = {"host": self.host, "port": self.port, "tls": tls}
        if password is not None:
            out |= {"username": USER, "password": password}
        return out


def certificate(directory: Path, ip: bool = True) -> tuple[Path, Path]:
    """A self-signed certificate for localhost and (unless `ip` is false) 127.0.0.1 (cert file, key file)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=7))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost")]
                + ([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))] if ip else [])
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = (
        directory / f"sink{'' if ip else '-name'}.crt",
        directory / f"sink{'' if ip else '-name'}.key",
    )
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_file, key_file


def _authenticator(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
    ok = (
        isinstance(data, LoginPassword) and data.login == USER.encode() and data.password == PASSWORD.encode()
    )
    return AuthResult(success=ok, handled=False)


@contextmanager
def sink(
    tls: str = "none", auth: bool = False, cert: tuple[Path, Path] | None = None, smtputf8: bool = False
) -> Iterator[Sink]:
    """`tls`: none, starttls (required before MAIL) or ssl (implicit TLS); `auth`: require AUTH PLAIN/LOGIN,
    with STARTTLS only (aiosmtpd warns of AUTH without it, and cannot tell implicit TLS apart); `smtputf8`:
    offer SMTPUTF8 (RFC 6531; off, aiosmtpd refuses non-ASCII addresses)."""
    assert not auth or tls == "starttls"
    handler = Handler()
    port = free_port()
    kwargs: dict[str, Any] = {}
    if tls != "none":
        assert cert is not None
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(str(cert[0]), str(cert[1]))
        kwargs |= {"ssl_context": ctx} if tls == "ssl" else {"tls_context": ctx, "require_starttls": True}
    if auth:
        kwargs |= {"authenticator": _authenticator, "auth_required": True}
    controller = Controller(handler, hostname="127.0.0.1", port=port, enable_SMTPUTF8=smtputf8, **kwargs)
    controller.start()
    try:
        yield Sink(handler, port)
    finally:
        controller.stop()
