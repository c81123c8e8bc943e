"""The caller's own notifications in a workspace: list, mark read, and a live Server-Sent Events stream; and
the caller's notification preferences. Every route needs a scope that reaches the workspace and a token
that belongs to a user (a service token gets 404 `no_user`: it has no notifications)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from deskbase.api.deps import ActorDep, CoreDep, PageLimit
from deskbase.notify.service import Notifications

router = APIRouter(prefix="/v1/workspaces/{ws}/notifications", tags=["notifications"])
me_router = APIRouter(prefix="/v1/users/me", tags=["notifications"])


def _notes(core: Any) -> Notifications:
    return core.extensions[Notifications]  # type: ignore[no-any-return]


@router.get("")
def list_notifications(
    ws: str,
    core: CoreDep,
    actor: ActorDep,
    order: Annotated[str, Query(description="`unread` (unread first, then newest) or `newest`.")] = "unread",
    unread: Annotated[bool, Query(description="Only unread ones.")] = False,
    limit: PageLimit = 50,
    cursor: str | None = None,
) -> dict[str, Any]:
    """The caller's notifications: `{"data", "next_cursor", "unread"}` (`unread`: the count)."""
    return _notes(core).page(actor, ws, order, limit, cursor, unread)


@router.post("/read-all")
def read_all(ws: str, core: CoreDep, actor: ActorDep) -> dict[str, Any]:
    """Mark every unread notification of the caller in the workspace read: `{"marked", "unread"}`."""
    return _notes(core).mark_all(actor, ws)


@router.post("/{notification_id}/read")
def read_one(ws: str, notification_id: str, core: CoreDep, actor: ActorDep) -> dict[str, Any]:
    """Mark one notification read; another user's is a 404 like one that does not exist."""
    return _notes(core).mark_read(actor, ws, notification_id)


@router.get(
    "/stream",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "Server-Sent Events"}},
)
async def stream(
    ws: str,
    request: Request,
    core: CoreDep,
    actor: ActorDep,
    last_event_id: Annotated[str | None, Header(max_length=40)] = None,
    after: Annotated[
        str | None, Query(max_length=40, description="Start after this notification id.")
    ] = None,
) -> StreamingResponse:
    """Live: a `notification` event (id: the notification's id) for each new notification, and an `unread`
    event `{"unread": n}` when the count changes. Reconnect with `Last-Event-ID` (or `?after=`) to get what
    came in between. The stream ends after a while; clients reconnect (EventSource does by itself)."""
    body = await run_in_threadpool(
        _notes(core).stream, actor, ws, last_event_id or after, request.is_disconnected
    )
    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    return StreamingResponse(body, media_type="text/event-stream", headers=headers)


@me_router.get("/notification-preferences")
def get_preferences(core: CoreDep, actor: ActorDep) -> dict[str, Any]:
    """Per kind: whether it shows in the bell (`in_app`, default on) and is mailed (`email`, default off)."""
    return _notes(core).my_preferences(actor)


@me_router.patch("/notification-preferences")
def patch_preferences(body: dict[str, Any], core: CoreDep, actor: ActorDep) -> dict[str, Any]:
    """Change some kinds' channels: `{"mention": {"email": true}}`."""
    return _notes(core).set_preferences(actor, body)
