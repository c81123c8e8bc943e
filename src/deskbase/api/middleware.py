"""ASGI middleware: request body cap (413 before the body is buffered)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from markupsafe import escape
from starlette.responses import HTMLResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from deskbase.api.errors import envelope

#: File uploads: their own cap (the file limit plus room for the multipart framing); the route enforces the
#: exact file limit as the part streams in.
UPLOAD_PATH = re.compile(r"^/v1/workspaces/[^/]+/files/?$")
MULTIPART_SLACK = 64 * 1024
#: Raw messages handed to a mailbox: the mail limit (the pipeline enforces it exactly).
MAIL_PATH = re.compile(r"^/v1/workspaces/[^/]+/mailboxes/[^/]+/inbound/?$")


@dataclass(frozen=True)
class BodyRule:
    """A limit of its own for the requests it matches, registered by an extension before the app serves
    (the console's composer streams files to disk, so it may take more than a JSON body; its forms are
    answered with a page, not the JSON envelope). The first matching rule wins over the default."""

    method: str
    path: re.Pattern[str]
    limit: int
    page: bool = False  #: answer a refused body with a small HTML page (a browser posted a form)


class BodyLimit:
    def __init__(
        self,
        app: ASGIApp,
        max_bytes: int,
        upload_bytes: int | None = None,
        mail_bytes: int | None = None,
        rules: list[BodyRule] | None = None,
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.upload_bytes = upload_bytes
        self.mail_bytes = mail_bytes
        self.rules = rules if rules is not None else []  # the app's list: extensions add to it

    def _rule(self, scope: Scope) -> BodyRule | None:
        method, path = scope.get("method"), scope["path"]
        return next((r for r in self.rules if r.method == method and r.path.match(path)), None)

    def _limit(self, scope: Scope) -> tuple[int, str]:
        rule = self._rule(scope)
        if rule is not None:
            return rule.limit, "payload_too_large"
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
        rule = self._rule(scope)
        if rule is not None and rule.page:
            await too_large_page(limit)(scope, receive, send)
            return
        resp = envelope(413, code, f"request body exceeds {limit} bytes", {"limit": limit})
        await resp(scope, receive, send)


def too_large_page(limit: int) -> HTMLResponse:
    """A self-contained page (no scripts, no assets) for a form post over its limit."""
    size = f"{limit / (1024 * 1024):.0f} MiB" if limit >= 1024 * 1024 else f"{limit} bytes"
    text = escape(f"What you sent is larger than {size}, so nothing was saved.")
    html = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Too large · deskbase</title></head>'
        f"<body><main><h1>Too large</h1><p>{text}</p><p>Go back, then shorten the text or attach smaller "
        "files.</p></main></body></html>"
    )
    headers = {"Cache-Control": "no-store", "Content-Security-Policy": "default-src 'none'"}
    return HTMLResponse(html, status_code=413, headers=headers)


class _TooLarge(Exception):
    pass
