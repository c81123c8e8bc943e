"""What Settings → Integrations shows, built from the events service's answers: trigger rows with their
health, delivery rows with their attempts, and the create form read into the API's trigger body.

No rule lives here: validation, permissions and every count come from the events package; this module
only words them for the page (and maps the service's field errors back to the form's fields).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import orjson
from starlette.datastructures import FormData

from deskbase.core.clock import iso
from deskbase.events import health, matching
from deskbase.web.http import url
from deskbase.web.integration_pages import (
    AttemptView,
    DeliveryRow,
    LastAttemptView,
    RateView,
    StatusCount,
    TriggerForm,
    TriggerRow,
)
from deskbase.web.shell import integrations_href

EVENT_TYPES: list[tuple[str, str]] = [(matching.ALL, "Every event (*)")] + [(t, t) for t in matching.TYPES]
RETRYABLE = ("failed", "exhausted")
#: a failure rate at or above this share is shown as bad; above zero as a warning
BAD_RATE = 0.5


def shown_version(form: Any) -> int | None:
    """The version an enable/disable form was rendered at (its If-Match); None when the form has none."""
    value = str(form.get("version") or "")
    return int(value) if value.isdigit() else None


def trigger_href(ws: str, tid: str, **params: Any) -> str:
    return url(f"{integrations_href(ws)}/triggers/{quote(tid)}", **params)


def rate_view(r: health.Rate, cap_note: bool = False) -> RateView:
    share = r.share
    if share is None:
        return RateView("—", "none", "nothing settled yet")
    level = "ok" if r.failed == 0 else "bad" if share >= BAD_RATE else "warn"
    note = f"newest {health.DAY_CAP:,} read" if cap_note and r.capped else ""
    return RateView(f"{share:.0%} ({r.failed} of {r.settled})", level, note)


def last_view(last: health.LastAttempt | None) -> LastAttemptView | None:
    if last is None:
        return None
    text = f"HTTP {last.status}" if last.status is not None else (last.error or "no answer")
    return LastAttemptView(iso(last.at), last.ok, text)


def trigger_row(ws: str, t: dict[str, Any], h: health.Health, owners: dict[str, str]) -> TriggerRow:
    tid = t["id"]
    return TriggerRow(
        id=tid,
        href=trigger_href(ws, tid),
        actions=f"{integrations_href(ws)}/triggers/{quote(tid)}",
        url=t["url"],
        events=list(t["events"]),
        collections=list(t["collections"]) if t["collections"] is not None else None,
        filter=orjson.dumps(t["filter"]).decode() if t["filter"] is not None else "",
        description=t["description"] or "",
        enabled=t["enabled"],
        version=t["version"],
        disabled_reason=t["disabled_reason"],
        owner=owners.get(t["owner"], t["owner"]),
        created_at=t["created_at"],
        last=last_view(h.last),
        day=rate_view(h.day, cap_note=True),
        recent=rate_view(h.recent),
        counts=[StatusCount(s, h.counts[s], trigger_href(ws, tid, status=s)) for s in health.COUNTED],
    )


def delivery_row(ws: str, d: dict[str, Any]) -> DeliveryRow:
    attempts = [
        AttemptView(
            n=i,
            at=a["at"],
            ok=a["status"] is not None and 200 <= a["status"] < 300,
            status=f"HTTP {a['status']}" if a["status"] is not None else "no answer",
            duration_ms=a["duration_ms"],
            error=a["error"],
            response=a["response"],
        )
        for i, a in enumerate(d["attempts"], start=1)
    ]
    return DeliveryRow(
        id=d["id"],
        event_id=d["event_id"],
        type=d["type"],
        seq=d["seq"],
        status=d["status"],
        origin=d["origin"],
        created_at=d["created_at"],
        next_attempt_at=d["next_attempt_at"],
        delivered_at=d["delivered_at"],
        attempts=attempts,
        retry_href=f"{integrations_href(ws)}/deliveries/{quote(d['id'])}/retry"
        if d["status"] in RETRYABLE
        else None,
    )


# ---- the create form ------------------------------------------------------------------------------
def read_form(form: FormData) -> TriggerForm:
    def text(name: str) -> str:
        value = form.get(name)
        return value.strip() if isinstance(value, str) else ""

    events = [e for e in form.getlist("events") if isinstance(e, str)]
    return TriggerForm(
        id=text("id"),
        url=text("url"),
        events=events,
        collections=text("collections"),
        filter=text("filter"),
        description=text("description"),
    )


def trigger_body(f: TriggerForm) -> tuple[dict[str, Any], list[dict[str, str]]]:
    """The API's trigger body (TriggerPut) from the form, and the form's own faults: a filter that is not a
    JSON object is refused here (as the API's body parser refuses it), and left out of the body."""
    faults: list[dict[str, str]] = []
    condition = None
    if f.filter:
        try:
            condition = orjson.loads(f.filter)
        except orjson.JSONDecodeError as exc:
            faults.append({"pointer": "/filter", "message": f"not JSON: {exc.msg}"})
        else:
            if not isinstance(condition, dict):
                faults.append({"pointer": "/filter", "message": "a JSON object"})
                condition = None
    collections = [c.strip() for c in f.collections.split(",") if c.strip()] or None
    body = {
        "url": f.url,
        "events": f.events,
        "collections": collections,
        "filter": condition,
        "enabled": True,
        "description": f.description or None,
    }
    return body, faults


FIELDS = ("url", "events", "collections", "filter", "description")


def form_errors(errors: list[dict[str, Any]]) -> dict[str, str]:
    """JSON-pointer errors as messages beside the form's fields (the first per field)."""
    out: dict[str, str] = {}
    for e in errors:
        parts = str(e.get("pointer") or "").strip("/").split("/")
        name = parts[0] if parts[0] in FIELDS else "url"
        detail = "/".join(parts[1:])
        message = str(e.get("message") or "invalid")
        out.setdefault(name, f"{detail}: {message}" if detail and name == "filter" else message)
    return out
