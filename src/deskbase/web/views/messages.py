"""A message's formatted view: its HTML as a document of its own, shown in a sandboxed frame on the ticket page.

Why a frame with its own URL rather than the HTML inline in the page (or `srcdoc`): the email's markup and
styles cannot reach the console's (no layout taken over, no ids or names clashing with the page's); it keeps
the light canvas it was written for; and it gets a Content-Security-Policy of its own, so "load remote
images" can allow other servers' images for this one message (a `srcdoc` frame inherits the page's policy,
which allows none) while the console's pages never do. The frame runs no script (`sandbox` without
`allow-scripts`, and a policy without `script-src`); it keeps its origin so inline images load with the
session, and links open in a new tab without a referrer.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from deskbase.api.deps import requires
from deskbase.core.auth import authorize
from deskbase.core.errors import NotFound
from deskbase.mail import display
from deskbase.web import attachments as att
from deskbase.web import mail_view
from deskbase.web.http import ActorDep, console, core_of
from deskbase.web.mail_pages import MessageFrame
from deskbase.web.routing import ConsoleRoute

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
#: The frame's own policy: styles inline (email is styled that way), images from here (inline `cid:` parts
#: through the file route) and, when asked, from anywhere; nothing else, not even a script of ours.
FRAME_CSP = (
    "default-src 'none'; img-src 'self'{remote}; style-src 'unsafe-inline'; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'self'; sandbox allow-same-origin allow-popups "
    "allow-popups-to-escape-sandbox"
)


@router.get("/w/{ws}/messages/{rid}/html", openapi_extra=requires("read:records"))
def formatted(ws: str, rid: str, request: Request, actor: ActorDep, remote: str = "") -> Response:
    """The message's sanitised HTML; `remote=1` keeps its remote images (read from the stored original, which
    needs `read:files` as its download does). Any other value shows none."""
    with_remote = remote == "1"
    authorize(actor, "read:records", ws, "responses")
    core = core_of(request)
    record = core.records.get(ws, "responses", rid)
    data = record["data"]
    mail = mail_view.mail_of(data) or {}
    source = mail.get("html")
    if record.get("deleted") or not isinstance(source, str) or not source.strip():
        raise NotFound("this message has no formatted view", {"id": rid})
    if with_remote:
        original = data.get("original")
        if not isinstance(original, str):
            raise NotFound("the original of this message is not stored", {"id": rid})
        _, chunks = core.files.open(ws, actor, original)
        source = display.html_of(chunks) or source
    html = display.sanitize(source, remote_images=with_remote)
    found = mail.get("inline")
    inline: dict[str, Any] = found if isinstance(found, dict) else {}
    files = att.readable(core, ws, actor, [v for v in inline.values() if isinstance(v, str)])
    page = MessageFrame(mail_view.inline_images(html, inline, files))
    body = console(request).env.get_template("message_frame.html").render(page=page)
    headers = {
        "Content-Security-Policy": FRAME_CSP.format(remote=" https: http:" if with_remote else ""),
        "X-Frame-Options": "SAMEORIGIN",
        "Referrer-Policy": "no-referrer",
    }
    return HTMLResponse(body, headers=headers)
