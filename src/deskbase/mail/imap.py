"""IMAP access for one mailbox (IMAPClient): connect in the mailbox's TLS mode, log in, select its folder, list
UIDs past a watermark, fetch sizes, bodies and headers, flag processed mail `\\Seen`, and wait in IDLE. Also
`check_inbound`, the live check behind `POST …/mailboxes/{id}/test`.

Bodies are fetched with `BODY.PEEK[]` (fetching never marks mail read by itself: a message is flagged only
once the pipeline committed it) and one at a time, so memory holds one message. Every failure comes out as
`ImapFailure` with a message fit for an operator (what failed and the server's words, never a password).
A server certificate is verified against the system's trust store; `SSL_CERT_FILE` adds a private CA.
Connections go through the mail guard (guard.py): the host is resolved once and only an allowed address is
connected to, while TLS (implicit or STARTTLS) verifies the certificate against the host name.
"""

from __future__ import annotations

import contextlib
import imaplib
import ssl
from dataclasses import dataclass
from email import policy
from email.parser import BytesHeaderParser
from typing import Any

from imapclient import IMAPClient, imap4, tls
from imapclient.imapclient import SEEN

from deskbase.events.ssrf import Network
from deskbase.mail import guard
from deskbase.mail.mailboxes import IMAP_DEFAULTS, Mailboxes

TIMEOUT = 30.0  #: seconds to connect, and for each answer (IDLE waits are separate)
CHECK_TIMEOUT = 10.0  #: the same for the live check
HEADERS_WANTED = "BODY.PEEK[HEADER.FIELDS (MESSAGE-ID FROM SUBJECT)]"
HEADERS_GOT = b"BODY[HEADER.FIELDS (MESSAGE-ID FROM SUBJECT)]"  #: how the answer names them


class ImapFailure(Exception):
    """A connection, login, folder or protocol failure, with an operator-readable message."""


@dataclass(frozen=True)
class Server:
    """Where a mailbox's mail is: the IMAP settings with the password opened."""

    host: str
    port: int
    tls: str
    username: str
    password: str | None
    folder: str
    allowed: tuple[Network, ...] = ()  #: private networks it may reach all the same (webhook_allow_networks)

    @property
    def source(self) -> str:
        """What a watermark belongs to: UIDs of another server, account or folder mean other messages."""
        return f"{self.host}:{self.port}/{self.username}/{self.folder}"

    @classmethod
    def of(cls, row: Any, mailboxes: Mailboxes) -> Server:
        cfg = row.inbound
        return cls(
            host=cfg["host"],
            port=int(cfg.get("port") or IMAP_DEFAULTS[0]),
            tls=cfg.get("tls") or IMAP_DEFAULTS[1],
            username=cfg.get("username") or "",
            password=mailboxes.password(row.inbound_password),
            folder=cfg.get("folder") or "INBOX",
            allowed=mailboxes.allowed,
        )


@dataclass(frozen=True)
class Folder:
    name: str
    uidvalidity: int
    uidnext: int | None  #: None when the server does not say
    exists: int


def _words(exc: BaseException) -> str:
    """The server's or the system's words, without Python's bytes repr."""
    text = str(exc.args[0] if exc.args else exc)
    if text.startswith(("b'", 'b"')) and text.endswith(("'", '"')):
        text = text[2:-1]
    if isinstance(exc, OSError) and exc.strerror:
        text = exc.strerror
    return " ".join(text.split())[:500] or type(exc).__name__


class _PlainIMAP(imap4.IMAP4WithTimeout):
    def __init__(self, host: str, port: int, timeout: float | None, allowed: tuple[Network, ...]) -> None:
        self.allowed = allowed  # before connecting, which the base constructor does
        super().__init__(host, port, timeout)

    def _create_socket(self, timeout: float | None = None) -> Any:
        return guard.connect(
            self.host, self.port, timeout if timeout is not None else self._timeout, self.allowed
        )


class _TlsIMAP(tls.IMAP4_TLS):
    def __init__(
        self,
        host: str,
        port: int,
        context: ssl.SSLContext,
        timeout: float | None,
        allowed: tuple[Network, ...],
    ) -> None:
        self.allowed = allowed
        super().__init__(host, port, context, timeout)

    def _create_socket(self, timeout: float | None = None) -> Any:
        sock = guard.connect(
            self.host, self.port, timeout if timeout is not None else self._timeout, self.allowed
        )
        return tls.wrap_socket(sock, self.ssl_context, self.host)  # the certificate names the host


class _GuardedClient(IMAPClient):
    """IMAPClient whose connection goes through the guard (STARTTLS verifies `host`, as it always does)."""

    def __init__(self, host: str, allowed: tuple[Network, ...], **kw: Any) -> None:
        self.allowed = allowed
        super().__init__(host, **kw)

    def _create_IMAP4(self) -> Any:
        timeout = getattr(self._timeout, "connect", None)
        if self.ssl:
            return _TlsIMAP(self.host, self.port, self.ssl_context, timeout, self.allowed)
        return _PlainIMAP(self.host, self.port, timeout, self.allowed)


class Session:
    """One logged-in connection to a mailbox's server (not thread-safe: one fetcher uses it)."""

    def __init__(self, server: Server, client: IMAPClient) -> None:
        self.server = server
        self.client = client
        self.idle_supported = bool(client.has_capability("IDLE"))
        self.idling = False

    @classmethod
    def open(cls, server: Server, timeout: float = TIMEOUT) -> Session:
        where = f"{server.host}:{server.port}"
        try:
            if server.tls == "ssl":
                client = _GuardedClient(
                    server.host,
                    server.allowed,
                    port=server.port,
                    ssl=True,
                    ssl_context=ssl.create_default_context(),
                    timeout=timeout,
                )
            else:
                client = _GuardedClient(
                    server.host, server.allowed, port=server.port, ssl=False, timeout=timeout
                )
        except guard.Refused as exc:
            raise ImapFailure(str(exc)) from exc
        except ssl.SSLError as exc:
            raise ImapFailure(f"TLS with {where} failed: {_words(exc)}") from exc
        except (OSError, imaplib.IMAP4.error) as exc:
            raise ImapFailure(f"cannot connect to {where}: {_words(exc)}") from exc
        # IMAPClient sets imaplib's debug level to 5, so every response line is formatted with repr() for a
        # debug log even when nothing logs it: a fetched 25 MB message cost 2.3 times its size again (and the
        # CPU to escape it). Level 0 formats nothing.
        client._imap.debug = 0
        try:
            if server.tls == "starttls":
                try:
                    client.starttls(ssl.create_default_context())
                except (OSError, imaplib.IMAP4.error) as exc:
                    raise ImapFailure(f"STARTTLS with {where} failed: {_words(exc)}") from exc
            try:
                client.login(server.username, server.password or "")
            except (OSError, imaplib.IMAP4.error) as exc:
                raise ImapFailure(f"login to {where} as {server.username!r} failed: {_words(exc)}") from exc
            return cls(server, client)
        except BaseException:
            _shutdown(client)
            raise

    # ---- the folder ---------------------------------------------------------------------------------
    def select(self) -> Folder:
        """(Re)select the folder; its UIDVALIDITY and UIDNEXT as the server says them now."""
        try:
            info = self.client.select_folder(self.server.folder)
        except imaplib.IMAP4.abort as exc:
            raise ImapFailure(f"the connection to {self.server.host} broke: {_words(exc)}") from exc
        except (OSError, imaplib.IMAP4.error) as exc:
            raise ImapFailure(f"cannot open folder {self.server.folder!r}: {_words(exc)}") from exc
        if b"UIDVALIDITY" not in info:
            raise ImapFailure(f"folder {self.server.folder!r} has no UIDVALIDITY; cannot keep a watermark")
        uidnext = info.get(b"UIDNEXT")
        return Folder(
            self.server.folder,
            int(info[b"UIDVALIDITY"]),
            int(uidnext) if uidnext is not None else None,
            int(info.get(b"EXISTS") or 0),
        )

    def uids_after(self, last: int, uidnext: int | None) -> list[int]:
        """The UIDs above `last`, ascending (`n:*` also names the highest UID when all are lower)."""
        if uidnext is not None and uidnext <= last + 1:
            return []
        found = self._call(self.client.search, ["UID", f"{last + 1}:*"])
        return sorted(int(u) for u in found if int(u) > last)

    def sizes(self, uids: list[int]) -> dict[int, int]:
        """RFC822.SIZE of each UID still there (an expunged one is left out)."""
        got = self._call(self.client.fetch, uids, ["RFC822.SIZE"])
        return {int(uid): int(item[b"RFC822.SIZE"]) for uid, item in got.items() if b"RFC822.SIZE" in item}

    def body(self, uid: int) -> bytes | None:
        """The whole raw message, without marking it read; None when it was expunged meanwhile."""
        got = self._call(self.client.fetch, [uid], ["BODY.PEEK[]"])
        item = got.get(uid)
        data = item.get(b"BODY[]") if item else None
        return bytes(data) if data is not None else None

    def headers(self, uid: int) -> dict[str, str | None]:
        """Message-ID, From and Subject of a message (for the skip log), best effort."""
        empty: dict[str, str | None] = {"message_id": None, "from": None, "subject": None}
        try:
            item = self.client.fetch([uid], [HEADERS_WANTED]).get(uid)
        except (OSError, imaplib.IMAP4.error):
            return empty
        raw = (item or {}).get(HEADERS_GOT)
        if not raw:
            return empty
        try:
            head = BytesHeaderParser(policy=policy.default).parsebytes(bytes(raw))
            return {
                "message_id": _text(head.get("Message-ID")),
                "from": _text(head.get("From")),
                "subject": _text(head.get("Subject")),
            }
        except Exception:  # a malformed header must not stop the skip from being recorded
            return empty

    def mark_seen(self, uids: list[int]) -> None:
        self._call(self.client.add_flags, uids, [SEEN], True)

    # ---- IDLE ---------------------------------------------------------------------------------------
    def idle_start(self) -> None:
        self._call(self.client.idle)
        self.idling = True

    def idle_wait(self, timeout: float) -> bool:
        """Wait in IDLE up to `timeout` seconds; True when the server announced new mail."""
        try:
            responses = self._call(self.client.idle_check, timeout)
        finally:
            sock = self.client.socket()
            if sock is not None:
                sock.settimeout(TIMEOUT)  # idle_check leaves the socket without any timeout
        return any(len(r) > 1 and r[1] in (b"EXISTS", b"RECENT") for r in responses)

    def idle_stop(self) -> None:
        self.idling = False
        self._call(self.client.idle_done)

    def close(self) -> None:
        if self.idling:  # the server reads no command but DONE while idling
            self.idling = False
            with contextlib.suppress(Exception):  # a broken connection: _shutdown drops it
                self.client.idle_done()
        _shutdown(self.client)

    def _call(self, fn: Any, *args: Any) -> Any:
        try:
            return fn(*args)
        except (OSError, imaplib.IMAP4.error) as exc:
            raise ImapFailure(f"{self.server.host}: {_words(exc)}") from exc


def _text(value: Any) -> str | None:
    return None if value is None else " ".join(str(value).split())[:1000] or None


def _shutdown(client: IMAPClient) -> None:
    """Log out politely, or just drop the connection."""
    try:
        client.logout()
    except Exception:  # a broken connection: drop it
        with contextlib.suppress(Exception):  # already gone
            client.shutdown()


def check_inbound(server: Server) -> tuple[bool, str]:
    """Can the mailbox's mail be fetched? Connect, log in and open the folder, then say what was found
    (within CHECK_TIMEOUT for each step: someone is waiting for the answer)."""
    try:
        session = Session.open(server, CHECK_TIMEOUT)
    except ImapFailure as exc:
        return False, str(exc)
    try:
        folder = session.select()
        idle = "IDLE" if session.idle_supported else "no IDLE (polling)"
        return True, (
            f"logged in to {server.host}:{server.port} as {server.username!r}; folder {folder.name!r} holds "
            f"{folder.exists} message{'s' if folder.exists != 1 else ''}; {idle}"
        )
    except ImapFailure as exc:
        return False, str(exc)
    finally:
        session.close()
