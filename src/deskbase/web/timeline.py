"""A ticket's timeline in words: creation, field changes (subject and tag edits spelled out), messages and SLA
events, in time order."""

from __future__ import annotations

from typing import Any

from deskbase.web.ticket_pages import TimelineItem

SLA_EVENT_WORDS = {
    "activate": "started",
    "pause": "paused",
    "resume": "resumed",
    "warn": "due soon",
    "breach": "breached",
    "fulfil": "met",
    "cancel": "cancelled",
    "recompute": "recomputed",
}


def _changes_text(fields: dict[str, Any], created: bool) -> str:
    def show(v: Any) -> str:
        return "—" if v in (None, "") else str(v).replace("_", " ")

    def one(name: str, change: dict[str, Any]) -> str:
        old, new = change.get("from"), change.get("to")
        if name == "subject":
            return f"subject: “{old or ''}” → “{new or ''}”"
        if name == "tags":
            was, now = [str(t) for t in old or []], [str(t) for t in new or []]
            added, removed = [t for t in now if t not in was], [t for t in was if t not in now]
            parts = [f"added {', '.join(added)}"] if added else []
            parts += [f"removed {', '.join(removed)}"] if removed else []
            return "tags: " + ("; ".join(parts) or "reordered")
        return f"{name}: {show(old)} → {show(new)}"

    if created:
        return "Created · " + ", ".join(f"{k} {show(v)}" for k, v in fields.items())
    return "; ".join(one(k, v) for k, v in fields.items())


def timeline_items(raw: list[dict[str, Any]], events: list[dict[str, Any]]) -> list[TimelineItem]:
    """`raw` is `support.tickets.timeline` as the caller's scope reads it (actors only for read:audit)."""
    out: list[TimelineItem] = []
    for item in raw:
        actor = item.get("actor") or {}
        who = actor.get("name") if isinstance(actor, dict) else None
        if item["type"] == "message":
            m = item["message"]
            words = {"customer": "Customer replied", "agent": "Agent replied", "note": "Internal note"}
            author = (m.get("data") or {}).get("author")
            out.append(TimelineItem(item["at"], "message", words.get(m["kind"], "Message"), author))
        elif item["type"] in ("created", "changed"):
            text = _changes_text(item.get("fields") or {}, item["type"] == "created")
            out.append(TimelineItem(item["at"], item["type"], text, who))
        elif item["type"] == "deleted":
            out.append(TimelineItem(item["at"], "deleted", "Deleted", who))
    for e in events:
        metric = str(e.get("metric") or "").replace("_", " ")
        word = SLA_EVENT_WORDS.get(str(e.get("kind")), str(e.get("kind")))
        out.append(TimelineItem(str(e.get("at")), "sla", f"SLA {metric}: {word}", None))
    return sorted(out, key=lambda i: i.at)
