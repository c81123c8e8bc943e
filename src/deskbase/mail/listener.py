"""The built-in SMTP (or LMTP) listener (aiosmtpd): the organisation's MTA relays customer mail to it.

- RCPT is accepted only for the address of a mailbox whose inbound kind is `smtp`, or a subaddress of it
  (`support+1042@…`, `support+anything@…`); any other recipient gets `550 5.1.1`. An address configured in
  several workspaces delivers to each of them.
- SIZE is advertised as `max_mail_bytes`; a bigger message is refused with `552` (announced in MAIL FROM or
  found while reading DATA), before anything is stored.
- After DATA the message goes through the inbound pipeline once per mailbox it is for, and the answer is
  `250` only once every one of those ingests committed; a transient failure (the store, the disk) answers
  `451 4.3.0` so the MTA retries (what did commit is recognised by Message-ID then), and a message the
  pipeline refuses for good answers `554 5.6.0` with the reason. In LMTP each recipient gets its own answer.

It runs in the server process (one event loop thread); in a scale-out deployment run it in exactly one
process (set `smtp_port` there only), or one per MTA route — dedupe makes a second delivery harmless.
There is no TLS or AUTH: bind it to loopback or a private network your MTA reaches.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.lmtp import LMTP
from aiosmtpd.smtp import SMTP, Envelope, Session
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from deskbase.core.app import Deskbase
from deskbase.core.errors import DeskbaseError, PayloadTooLarge, Unavailable
from deskbase.mail.ingest import Ingest
from deskbase.mail.tables import mailboxes

log = logging.getLogger(__name__)
TRANSIENT = (SQLAlchemyError, OSError, Unavailable)
TRY_LATER = "451 4.3.0 temporary failure, try again later"
NO_SUCH = "550 5.1.1 no such mailbox here"


@dataclass(frozen=True)
class Target:
    workspace_id: str
    mailbox_id: str


def base_address(address: str) -> str:
    """`Support+1042@Acme.Example` → `support@acme.example`: the mailbox address a subaddress belongs to."""
    local, at, domain = address.strip().lower().rpartition("@")
    if not at or not local or not domain:
        return ""
    return f"{local.partition('+')[0]}@{domain}"


class Handler:
    """aiosmtpd handler hooks: RCPT (who may receive) and DATA (ingest, then answer)."""

    def __init__(self, core: Deskbase, ingest: Ingest, lmtp: bool) -> None:
        self.core = core
        self.ingest = ingest
        self.lmtp = lmtp

    def targets(self, address: str) -> list[Target]:
        """The `smtp` mailboxes an envelope recipient is for (the address index; a few rows at most)."""
        base = base_address(address)
        if not base:
            return []
        m = mailboxes
        with self.core.db.read() as conn:
            rows = conn.execute(
                select(m.c.workspace_id, m.c.id, m.c.inbound).where(m.c.address == base)
            ).all()
        return [Target(r.workspace_id, r.id) for r in rows if (r.inbound or {}).get("kind") == "smtp"]

    async def _blocking(self, fn: Callable[..., Any], *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(None, fn, *args)

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        try:
            found = await self._blocking(self.targets, address)
        except TRANSIENT:
            log.exception("SMTP listener: could not look up %s", address)
            return TRY_LATER
        if not found:
            return NO_SUCH
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        if not isinstance(raw, bytes):
            raw = bytes(raw)
        answers: dict[Target, str] = {}
        per_rcpt: list[str] = []
        for rcpt in envelope.rcpt_tos:
            try:
                targets: list[Target] = await self._blocking(self.targets, rcpt)
            except TRANSIENT:
                log.exception("SMTP listener: could not look up %s", rcpt)
                per_rcpt.append(TRY_LATER)
                continue
            replies = []
            for target in targets:
                if target not in answers:
                    answers[target] = await self._deliver(target, raw)
                replies.append(answers[target])
            per_rcpt.append(_worst(replies) if replies else NO_SUCH)  # removed since RCPT
        if self.lmtp:
            return "\r\n".join(per_rcpt)
        return _worst(per_rcpt, prefer_success=True)

    async def _deliver(self, target: Target, raw: bytes) -> str:
        """Ingest for one mailbox; the SMTP answer for it."""
        try:
            out = await self._blocking(self.ingest, target.workspace_id, target.mailbox_id, raw)
        except PayloadTooLarge as exc:
            return f"552 5.3.4 {_line(exc.message)}"
        except DeskbaseError as exc:
            if exc.status >= 500 or exc.status in (403, 404, 409):
                log.warning("SMTP listener: %s/%s: %s", target.workspace_id, target.mailbox_id, exc.message)
                return TRY_LATER
            return f"554 5.6.0 {_line(exc.message)}"
        except Exception:
            log.exception("SMTP listener: ingest into %s/%s failed", target.workspace_id, target.mailbox_id)
            return TRY_LATER
        log.info(
            "SMTP listener: %s/%s: %s %s", target.workspace_id, target.mailbox_id, out.status, out.message_id
        )
        return f"250 2.0.0 {out.status} {_line(out.message_id)}"


def _line(text: str) -> str:
    return " ".join(text.split())[:400]


def _worst(replies: list[str], prefer_success: bool = False) -> str:
    """One answer for several deliveries: a transient failure wins (the sender retries everything, and what
    committed dedupes); else any success (with `prefer_success`: SMTP has one answer for all recipients,
    and one was served); else the permanent failure."""
    transient = [r for r in replies if r.startswith("4")]
    if transient:
        return transient[0]
    ok = [r for r in replies if r.startswith("2")]
    if ok and (prefer_success or len(ok) == len(replies)):
        return ok[0]
    return next(r for r in replies if not r.startswith("2"))


class _Controller(Controller):
    def __init__(self, handler: Handler, lmtp: bool, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self._lmtp = lmtp

    def factory(self) -> SMTP:
        return (
            LMTP(self.handler, **self.SMTP_kwargs) if self._lmtp else SMTP(self.handler, **self.SMTP_kwargs)
        )


class Listener:
    """Start and stop the listener (its own event loop thread)."""

    def __init__(self, core: Deskbase, ingest: Ingest, host: str, port: int, lmtp: bool) -> None:
        self.host = host
        self.port = port
        self.lmtp = lmtp
        self.handler = Handler(core, ingest, lmtp)
        self._controller: _Controller | None = None
        self._max_bytes = ingest.max_bytes

    def start(self) -> None:
        if self._controller is not None:
            return
        controller = _Controller(
            self.handler,
            self.lmtp,
            hostname=self.host,
            port=self.port,
            server_hostname="deskbase",
            ident="deskbase",
            data_size_limit=self._max_bytes,
            # The pipeline takes the bytes as they came: 8BITMIME and SMTPUTF8 mail is decoded there.
            decode_data=False,
            enable_SMTPUTF8=True,
        )
        try:
            controller.start()
        except Exception as exc:
            raise Unavailable(
                f"the SMTP listener cannot listen on {self.host}:{self.port}: {exc}",
                {"smtp_host": self.host, "smtp_port": self.port},
            ) from exc
        self._controller = controller
        kind = "LMTP" if self.lmtp else "SMTP"
        log.info("%s listener on %s:%s", kind, self.host, self.port)

    def stop(self) -> None:
        controller, self._controller = self._controller, None
        if controller is not None:
            controller.stop()
