"""Undo-send's notice (support/held.py holds the message): on the ticket it was written on, on the next ticket
after "Send and next", and on whatever page "Send and next" lands on when no ticket is left (the queue)."""

from __future__ import annotations

from deskbase.core.app import Deskbase
from deskbase.core.errors import NotFound
from deskbase.support import held
from deskbase.web.pages import Toast


def held_toast(
    core: Deskbase, workspace_id: str, ticket_id: str, h: held.Held, seconds: int, htmx: bool, here: bool
) -> Toast:
    """The held message's notice. `here`: shown on its own ticket (which redraws itself once it is sent);
    else on another page, naming the ticket it goes to."""
    word = "note" if h.message.get("type") == "internal_note" else "reply"
    text = f"Your {word} sends in {seconds} s."
    if not here:
        try:
            t = core.records.get(workspace_id, "tickets", ticket_id)
            text = f"Your {word} to #{t.get('number')} sends in {seconds} s." if t.get("number") else text
        except NotFound:
            pass
    href = f"/w/{workspace_id}/tickets/{ticket_id}"
    refresh = href if here else None
    return Toast(text, f"{href}/reply/undo", [("hold", h.id)], seconds, htmx=htmx, refresh=refresh)


def after_send(
    core: Deskbase, actor_id: str, workspace_id: str, hold_id: str, held_on: str, here: str | None = None
) -> Toast | None:
    """The notice a page offers for `?held=<id>&held_on=<ticket>` (the redirect after sending), while the
    message may still be taken back, by its author only. `here`: the ticket the page shows, if any."""
    h = held.pending(core, actor_id, hold_id) if hold_id else None
    if h is None or h.workspace_id != workspace_id or h.ticket_id not in (here, held_on):
        return None
    left = max(1, int(hold_id[:10]) - int(core.clock.now().timestamp()))
    return held_toast(core, workspace_id, h.ticket_id, h, left, htmx=False, here=h.ticket_id == here)
