"""A person's notifications in the console: the list behind the header's bell (unread first), marking one read
(opening it marks it read), marking all read, and the live stream that keeps the bell's count. Every route
calls the notifications service, which checks the person and the workspace as the API's routes do."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Header, Request
from fastapi.responses import Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from deskbase.notify.kinds import CHANNELS, KINDS
from deskbase.notify.service import Notifications
from deskbase.web.http import ActorDep, FormDep, core_of, local_path, redirect, render, url
from deskbase.web.pages import NotificationItem, NotificationsPage
from deskbase.web.routing import ConsoleRoute
from deskbase.web.shell import make_shell

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
PAGE_SIZE = 50


def _notes(request: Request) -> Notifications:
    return core_of(request).extensions[Notifications]


def _item(ws: str, n: dict[str, Any]) -> NotificationItem:
    data = n.get("data") or {}
    ticket = data.get("ticket") or {}
    number = f"#{ticket['number']} " if ticket.get("number") is not None else ""
    by = (n.get("actor") or {}).get("name") or ""
    excerpt = str(data.get("excerpt") or "")
    if n["kind"].startswith("sla_"):
        excerpt = f"{str(data.get('metric') or '').replace('_', ' ')} clock"
    return NotificationItem(
        n["id"], n["title"], f"{number}{ticket.get('subject') or ''}".strip(),
        f"/w/{quote(ws)}/tickets/{quote(str(n['ticket_id']))}", by, excerpt, n["created_at"], n["read"],
    )  # fmt: skip


@router.get("/w/{ws}/notifications")
def notifications(ws: str, request: Request, actor: ActorDep, cursor: str | None = None) -> Response:
    got = _notes(request).page(actor, ws, "unread", PAGE_SIZE, cursor, False)
    href = f"/w/{quote(ws)}/notifications"
    page = NotificationsPage(
        items=[_item(ws, n) for n in got["data"]],
        unread=got["unread"],
        href=href,
        next_href=url(href, cursor=got["next_cursor"]) if got["next_cursor"] else None,
        paged=bool(cursor),
    )
    return render(
        request, "notifications.html", page, make_shell(request, actor, "Notifications", ws, "notifications")
    )


@router.post("/w/{ws}/notifications/read-all")
def read_all(ws: str, request: Request, actor: ActorDep, form: FormDep) -> Response:
    _notes(request).mark_all(actor, ws)
    return redirect(request, f"/w/{quote(ws)}/notifications")


@router.post("/w/{ws}/notifications/{notification_id}/read")
def read_one(ws: str, notification_id: str, request: Request, actor: ActorDep, form: FormDep) -> Response:
    """Mark it read, then go where the form says (its ticket, when opened) or back to the list."""
    _notes(request).mark_read(actor, ws, notification_id)
    back = f"/w/{quote(ws)}/notifications"
    target = local_path(form.get("next"), back)
    return redirect(request, target if target.startswith(f"/w/{quote(ws)}/") else back)


@router.post("/settings/notifications")
def save_choices(request: Request, actor: ActorDep, form: FormDep) -> Response:
    """Settings → Notifications: every kind's two checkboxes (an unticked box is absent from the form)."""
    changes = {k: {ch: form.get(f"{k}.{ch}") == "on" for ch in CHANNELS} for k in KINDS}
    _notes(request).set_preferences(actor, changes)
    back = local_path(form.get("back"))
    return redirect(request, f"/settings?saved=1&back={quote(back)}")


@router.get("/w/{ws}/notifications/stream")
async def stream(
    ws: str, request: Request, actor: ActorDep, last_event_id: str | None = Header(None, max_length=40)
) -> Response:
    """The bell's live feed (Server-Sent Events; see the API's `…/notifications/stream`)."""
    body = await run_in_threadpool(_notes(request).stream, actor, ws, last_event_id, request.is_disconnected)
    return StreamingResponse(body, media_type="text/event-stream", headers={"X-Accel-Buffering": "no"})
