"""What the inbound hooks section shows, built from the events service's answers: hook rows with their
ingest summary, ingest-log rows, and the "add a hook" form read into the API's hook body.

No rule lives here: validation (the mapping, the collection, the verify mode), permissions and every count
come from the events package; this module only words them for the page and maps the service's field
errors back to the form's fields.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import orjson
from starlette.datastructures import FormData

from deskbase.events import ingest
from deskbase.web.http import url
from deskbase.web.integration_pages import HookForm, HookRow, IngestView, StatusCount
from deskbase.web.shell import integrations_href

FIELDS = ("id", "collection", "mapping", "external_id", "verify", "description")


def hook_href(ws: str, hid: str, **params: Any) -> str:
    return url(f"{integrations_href(ws)}/hooks/{quote(hid)}", **params)


def ingest_url(base_url: str, hook: dict[str, Any]) -> str:
    """The absolute ingest URL, as the API answers it (the server's own base URL + the hook's path)."""
    return base_url.rstrip("/") + hook["ingest_path"]


def record_href(ws: str, collection: str, record_id: str) -> str:
    if collection == "tickets":
        return f"/w/{quote(ws)}/tickets/{quote(record_id)}"
    return f"/w/{quote(ws)}/collections/{quote(collection)}/{quote(record_id)}"


def ingest_view(ws: str, collection: str, e: dict[str, Any]) -> IngestView:
    error = e["error"] if isinstance(e["error"], dict) else None
    details = error.get("details") if error else None
    return IngestView(
        id=e["id"],
        webhook_id=e["webhook_id"],
        received_at=e["received_at"],
        status=e["status"],
        record_id=e["record_id"],
        record_href=record_href(ws, collection, e["record_id"]) if e["record_id"] else None,
        error_code=str(error.get("code")) if error else None,
        error_message=str(error.get("message")) if error else None,
        error_details=orjson.dumps(details, option=orjson.OPT_INDENT_2).decode() if details else None,
    )


def hook_row(
    ws: str, base_url: str, hook: dict[str, Any], s: ingest.Summary, owners: dict[str, str]
) -> HookRow:
    hid = hook["id"]
    return HookRow(
        id=hid,
        href=hook_href(ws, hid),
        actions=f"{integrations_href(ws)}/hooks/{quote(hid)}",
        collection=hook["collection"],
        verify=hook["verify"],
        ingest_url=ingest_url(base_url, hook),
        enabled=hook["enabled"],
        disabled_reason=hook["disabled_reason"],
        version=hook["version"],
        description=hook["description"] or "",
        mapping=orjson.dumps(hook["mapping"]).decode(),
        external_id=hook["external_id"],
        owner=owners.get(hook["owner"], hook["owner"]),
        created_at=hook["created_at"],
        previous_secret_until=hook["previous_secret_valid_until"],
        last=ingest_view(ws, hook["collection"], s.last) if s.last else None,
        refused=StatusCount("failed", s.refused, hook_href(ws, hid, status="failed")),
    )


# ---- the create form ------------------------------------------------------------------------------
def read_form(form: FormData) -> HookForm:
    def text(name: str) -> str:
        value = form.get(name)
        return value.strip() if isinstance(value, str) else ""

    return HookForm(
        id=text("id"),
        collection=text("collection"),
        mapping=text("mapping"),
        external_id=text("external_id"),
        verify=text("verify") or "standard-webhooks",
        description=text("description"),
    )


def hook_body(f: HookForm) -> tuple[dict[str, Any], list[dict[str, str]]]:
    """The API's hook body (HookPut) from the form, and the form's own faults: a mapping that is not a JSON
    object is refused here (as the API's body parser refuses it); every other rule is the store's."""
    faults: list[dict[str, str]] = []
    mapping: Any = {}
    try:
        mapping = orjson.loads(f.mapping or "null")
    except orjson.JSONDecodeError as exc:
        faults.append({"pointer": "/mapping", "message": f"not JSON: {exc.msg}"})
    if not faults and not isinstance(mapping, dict):
        faults.append({"pointer": "/mapping", "message": 'a JSON object: {"field": "/pointer", …}'})
    body = {
        "collection": f.collection,
        "mapping": mapping if isinstance(mapping, dict) else {},
        "external_id": f.external_id or None,
        "verify": f.verify,
        "enabled": True,
        "description": f.description or None,
    }
    return body, faults


def form_errors(errors: list[dict[str, Any]]) -> dict[str, str]:
    """JSON-pointer errors as messages beside the form's fields (the first per field; a mapping error says
    which of its fields it is about)."""
    out: dict[str, str] = {}
    for e in errors:
        parts = str(e.get("pointer") or "").strip("/").split("/")
        name = parts[0] if parts[0] in FIELDS else "mapping"
        detail = "/".join(parts[1:])
        message = str(e.get("message") or "invalid")
        out.setdefault(name, f"{detail}: {message}" if detail and name == "mapping" else message)
    return out
