"""The dashboard's live strip ("Right now"), from the primary store: the queue navigation's own indexed counts
plus "waiting on us" by status and the tickets breaching within the hour, each linked to the queue that
shows the same count."""

from __future__ import annotations

from urllib.parse import quote

from deskbase.core.app import Deskbase
from deskbase.web.dashboard_pages import LiveStrip, StripItem, StripPart
from deskbase.web.http import url
from deskbase.web.queue import sla_queue

#: "Breaching within 60 min" is At risk looking this many minutes ahead (its link opens that queue)
DUE_WITHIN = "60"


def strip_counts(core: Deskbase, ws: str) -> dict[str, int | None]:
    """What the strip needs beyond the navigation's counts: "waiting on us" by status (open, in progress:
    two indexed counts, taken together so the parts always add up) and the tickets breaching within the hour,
    counted by the At risk queue itself with `within` 60 minutes (the queue the number links to)."""
    reader = sla_queue(core)
    due = (
        reader(ws, "at_risk", {"within": DUE_WITHIN, "filter": None, "me": ""}, 1, None).get("count")
        if reader is not None
        else None
    )
    return {
        **{
            f"status_{status}": core.records.count(
                ws, "tickets", {"field": "data.status", "op": "eq", "value": status}
            )
            for status in ("open", "in_progress")
        },
        "due_60": due,
    }


def live_strip(ws: str, nav: dict[str, int | None], extra: dict[str, int | None], href: str) -> LiveStrip:
    """`nav`: the queue navigation's counts (web/queue.py `view_counts`), so each number is the count the
    linked queue shows; `extra`: `strip_counts`."""
    q = f"/w/{quote(ws)}/queue"
    n_open, n_progress = extra.get("status_open"), extra.get("status_in_progress")
    ours = None if n_open is None or n_progress is None else n_open + n_progress
    parts = []
    if n_open is not None and n_progress is not None:
        parts = [
            StripPart("open", n_open, url(q, view="open", status="open")),
            StripPart("in progress", n_progress, url(q, view="open", status="in_progress")),
        ]
    return LiveStrip(
        items=[
            StripItem("open", "Open", nav.get("open"), url(q, view="open"), "open, in progress or waiting"),
            StripItem(
                "unassigned",
                "Unassigned",
                nav.get("unassigned"),
                url(q, view="unassigned"),
                "no assignee yet",
            ),
            StripItem(
                "ours",
                "Waiting on us",
                ours,
                url(q, view="open", status="open,in_progress"),
                "open or in progress",
                parts=parts,
            ),
            StripItem(
                "due_60",
                "Breaching within 60 min",
                extra.get("due_60"),
                url(q, view="at_risk", within=DUE_WITHIN),
                "a clock running, not paused, not yet breached, due within the hour",
            ),
            StripItem(
                "breached", "Breached", nav.get("breached"), url(q, view="breached"), "a clock breached"
            ),
        ],
        href=href,
    )
