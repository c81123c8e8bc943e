"""Editing a ticket from the console: the form values of its editable fields, the merge patch of what a form
changed, and the core's JSON-pointer errors mapped back onto form fields (also used by the new-ticket form)."""

from __future__ import annotations

from typing import Any

from deskbase.core.errors import ValidationFailed

#: What the console edits in place. The description is not among them: it is the customer's first message
#: (shown as the conversation's opening), not a text box to rewrite; the API still accepts it.
EDITABLE = ("subject", "status", "priority", "category", "channel", "assignee", "team", "tags")
REQUIRED = ("subject", "status", "priority")


def form_values(data: dict[str, Any]) -> dict[str, Any]:
    """The editable fields as form controls show them (tags comma-separated, missing as empty)."""
    out: dict[str, Any] = {f: data.get(f) or "" for f in EDITABLE}
    out["tags"] = ", ".join(str(t) for t in data.get("tags") or [])
    return out


def parse_tags(raw: str) -> list[str]:
    seen: list[str] = []
    for part in raw.split(","):
        tag = part.strip()
        if tag and tag not in seen:
            seen.append(tag)
    return seen


def field_errors(exc: ValidationFailed, *prefixes: str) -> tuple[dict[str, str], str | None]:
    """Map the core's JSON-pointer errors onto form fields (`<prefix>/<field>/…` -> field, prefixes default
    to `/data`); what names no field becomes the form's general error."""
    errors: dict[str, str] = {}
    general: list[str] = []
    for e in exc.details.get("errors") or []:
        pointer, message = str(e.get("pointer") or ""), str(e.get("message") or "invalid")
        name = ""
        for prefix in prefixes or ("/data",):
            if pointer.startswith(prefix + "/"):
                name = pointer[len(prefix) + 1 :].split("/")[0]
                break
        if name:
            errors.setdefault(name, message)
        else:
            general.append(message)
    if not errors and not general:
        general.append(exc.message)
    return errors, "; ".join(general) or None


def edit_patch(
    current: dict[str, Any], form: dict[str, str]
) -> tuple[dict[str, Any], dict[str, str], dict[str, Any]]:
    """The merge patch for the fields present in the form that changed; form-level errors (an empty
    subject — the schema allows "", agents do not); and the values to show again if anything fails."""
    patch: dict[str, Any] = {}
    errors: dict[str, str] = {}
    shown = form_values(current)
    for name in EDITABLE:
        if name not in form:
            continue
        raw = form[name]
        shown[name] = raw
        value: Any
        if name == "tags":
            value = parse_tags(raw) or None
        else:
            value = raw.strip() or None
        if value is None and name in REQUIRED:
            errors[name] = f"{name.capitalize()} can't be empty."
            continue
        if value != (current.get(name) or None):
            patch[name] = value
    return patch, errors, shown
