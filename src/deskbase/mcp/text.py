"""A ticket as text (Markdown) for a model to read: the ticket resource and the draft-a-reply prompt."""

from __future__ import annotations

from typing import Any

KIND_WORDS = {"customer": "Customer", "agent": "Agent", "note": "Internal note (agents only)"}


def _duration(seconds: int) -> str:
    """One or two units ("1h 20m", "3d 4h", "12m"); negative when overdue."""
    sign = "-" if seconds < 0 else ""
    s = abs(int(seconds))
    d, rem = divmod(s, 86400)
    h, rem = divmod(rem, 3600)
    m = rem // 60
    if d:
        body = f"{d}d {h}h" if h else f"{d}d"
    elif h:
        body = f"{h}h {m}m" if m else f"{h}h"
    else:
        body = f"{m}m" if m else f"{s}s"
    return sign + body


def clock_line(c: dict[str, Any]) -> str:
    metric = str(c.get("metric", "")).replace("_", " ")
    state = str(c.get("state", ""))
    line = f"- {metric}: {state}"
    if c.get("target_at"):
        line += f", due {c['target_at']}"
    if state in ("active", "warning", "paused", "breached_active"):
        key = "remaining_business_seconds" if c.get("business") else "remaining_calendar_seconds"
        if c.get(key) is not None:
            word = "business time" if c.get("business") else "time"
            line += f" ({_duration(c[key])} {word} left)"
    return line


def ticket_text(detail: dict[str, Any]) -> str:
    """`shapes.ticket_detail`'s answer as Markdown: fields, customer, SLA clocks, conversation, related."""
    t = detail["ticket"]
    d = t.get("data") or {}
    head = f"#{t['number']} " if t.get("number") else ""
    lines = [f"# {head}{d.get('subject') or '(no subject)'}", ""]
    facts = [f"{k}: {d[k]}" for k in ("status", "priority", "assignee", "category", "channel") if d.get(k)]
    if d.get("tags"):
        facts.append("tags: " + ", ".join(str(x) for x in d["tags"]))
    lines += [
        " · ".join(facts),
        f"id: {t['id']} · version: {t.get('version')} · updated: {t.get('updated_at')}",
    ]
    c = detail.get("customer")
    if c:
        extra = ", ".join(f"{k} {c[k]}" for k in ("plan", "company") if c.get(k))
        lines.append(f"customer: {c.get('name')} <{c.get('email')}>" + (f" ({extra})" if extra else ""))
    if detail.get("sla"):
        lines += ["", "## SLA clocks", *(clock_line(x) for x in detail["sla"])]
    if d.get("description"):
        lines += ["", "## Description", str(d["description"])]
    total = detail.get("messages_total", 0)
    shown = detail.get("conversation") or []
    lines += [
        "",
        f"## Conversation ({total} messages" + (f", last {len(shown)} shown)" if total > len(shown) else ")"),
    ]
    for m in shown:
        who = KIND_WORDS.get(m["kind"], m["kind"])
        lines += ["", f"### {who} — {m.get('author') or 'unknown'}, {m['at']}", m.get("body") or ""]
        if m.get("body_cut"):
            lines.append(f"[… cut: the message has {m['body_cut']} characters]")
    if detail.get("related"):
        lines += ["", "## Related tickets"]
        lines += [f"- #{r.get('number')} {r.get('subject')} ({r.get('status')})" for r in detail["related"]]
    return "\n".join(lines) + "\n"
