"""ASGI middleware: request body cap (413 before the body is buffered)."""

from __future__ import annotations

import re

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from deskbase.api.errors import envelope

#: File uploads: their own cap (the file limit plus room for the multipart framing); the route enforces the
#: exact file limit as the part streams in.
UPLOAD_PATH = re.compile(r"^/v1/workspaces/[^/]+/files/?$")
MULTIPART_SLACK = 64 * 1024
#: Raw messages handed to a mailbox: the mail limit (the pipeline enforces it exactly).
MAIL_PATH = re.compile(r"^/v1/workspaces/[^/]+/mailboxes/[^/]+/inbound/?$")


class BodyLimit:
    def __init__(
        self, app: ASGIApp, max_bytes: int, upload_bytes: int | None = None, mail_bytes: int | None = None
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.upload_bytes = upload_bytes
        self.mail_bytes = mail_bytes

    def _limit(self, scope: Scope) -> tuple[int, str]:
        if (
            self.upload_bytes is not None
            and scope.get("method") == "POST"
            and UPLOAD_PATH.match(scope["path"])
        ):
            return self.upload_bytes + MULTIPART_SLACK, "file_too_large"
        if self.mail_bytes is not None and scope.get("method") == "POST" and MAIL_PATH.match(scope["path"]):
            return self.mail_bytes, "payload_too_large"
        return self.max_bytes, "payload_too_large"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit, code = self._limit(scope)
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = 0
                if declared > limit:
                    await self._reject(scope, receive, send, limit, code)
                    return
        seen = 0
        started = False

        async def limited() -> Message:
            nonlocal seen
            msg = await receive()
            if msg["type"] == "http.request":
                seen += len(msg.get("body", b""))
                if seen > limit:
                    raise _TooLarge
            return msg

        async def tracking_send(msg: Message) -> None:
            nonlocal started
            if msg["type"] == "http.response.start":
                started = True
            await send(msg)

        try:
            await self.app(scope, limited, tracking_send)
        except _TooLarge:
            if not started:
                await self._reject(scope, receive, send, limit, code)

    async def _reject(self, scope: Scope, receive: Receive, send: Send, limit: int, code: str) -> None:
        resp = envelope(413, code, f"request body exceeds {limit} bytes", {"limit": limit})
        await resp(scope, receive, send)


class _TooLarge(Exception):
    pass
