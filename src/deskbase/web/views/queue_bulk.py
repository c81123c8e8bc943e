"""The queue's bulk bar: one status, priority or assignee change to the ticked tickets or to all matching ones,
as one atomic batch through the core (confirmed by count over CONFIRM_OVER), and its Undo."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import Response

from deskbase.api.deps import requires
from deskbase.core.app import Deskbase
from deskbase.core.auth import authorize
from deskbase.core.errors import Conflict, NotFound, ValidationFailed
from deskbase.core.scope import ReadScope
from deskbase.web import queue as q
from deskbase.web import undo as undos
from deskbase.web.http import ActorDep, FormDep, core_of, redirect, url
from deskbase.web.queue_pages import BulkForm
from deskbase.web.routing import ConsoleRoute
from deskbase.web.shell import prefs_of
from deskbase.web.views.queue import echoed, form_list, queue_page, view_and_sort

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
#: a bulk change of more tickets than this is confirmed first, naming the count (server-enforced)
CONFIRM_OVER = 50


@router.post("/w/{ws}/queue/bulk", openapi_extra=requires("write:records"))
def bulk(ws: str, request: Request, actor: ActorDep, form: FormDep) -> Response:
    """Change status, priority or assignee of the ticked tickets, or of every ticket the view and filters
    match: one atomic batch of merge patches (at most `max_batch_operations`), all or nothing."""
    authorize(actor, "write:records", ws, "tickets")
    core = core_of(request)
    params = echoed(form)
    options = q.options_from_schema(core.collections.get(ws, "tickets")["json_schema"])
    state = BulkForm(
        status=form.get("bulk_status", ""),
        priority=form.get("bulk_priority", ""),
        assignee=(form.get("bulk_assignee") or "").strip(),
        unassign=form.get("unassign") == "1",
        all=form.get("all") == "1",
        ids=[i for i in form_list(request, "ids") if i][: core.settings.max_batch_operations + 1],
    )
    changes, state.error = bulk_changes(state, options)
    ids = state.ids
    if state.error is None and state.all:
        ids, state.error = matching_ids(
            core, ReadScope(actor, ws), params, options, prefs_of(core, actor).me, q.my_teams(core, ws, actor)
        )
    elif state.error is None and not ids:
        state.error = "Tick the tickets to change first (x ticks the selected row), or choose all matching."
    elif state.error is None and len(ids) > core.settings.max_batch_operations:
        state.error = f"Change at most {core.settings.max_batch_operations:,} tickets at a time."
    if state.error is None and len(ids) > CONFIRM_OVER and form.get("confirm") != str(len(ids)):
        # the count is named and confirmed: a confirmation of 60 does not carry a change that now takes 600
        state.confirm = len(ids)
        return queue_page(request, actor, ws, params, bulk=state, status=409)
    undo_id = None
    if state.error is None:
        previous = before(core, ws, ids, changes)
        ops = [{"type": "patch_record", "collection": "tickets", "id": i, "data": changes} for i in ids]
        try:
            core.batch.run(ws, ops, actor)
            core.reads.mark(ws, ids, actor.id, core.settled_seq(ws))  # my own change: seen
        except (ValidationFailed, NotFound, Conflict) as exc:
            state.error = f"Nothing was changed: {exc.message}"
        else:
            payload = {"set": changes, "previous": previous}
            undo_id = undos.keep(core, actor.id, ws, "bulk", payload) if previous else None
    if state.error is not None:
        return queue_page(request, actor, ws, params, bulk=state, status=422)
    query = {k: v for k, v in params.items() if v}
    return redirect(request, url(f"/w/{quote(ws)}/queue", **query, done=len(ids), undo=undo_id))


def before(core: Deskbase, ws: str, ids: list[str], changes: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The values a bulk change is about to overwrite, for exactly the tickets it changes (ticket id ->
    field -> value, None for unset); tickets that already had the new values are left out."""
    found = core.records.query(ws, "tickets", {"field": "id", "op": "in", "value": ids}, limit=len(ids))[
        "data"
    ]
    out: dict[str, dict[str, Any]] = {}
    for t in found:
        d = t.get("data") or {}
        if any(d.get(k) != v for k, v in changes.items()):
            out[t["id"]] = {k: d.get(k) for k in changes}
    return out


@router.post("/w/{ws}/queue/bulk/undo", openapi_extra=requires("write:records"))
def bulk_undo(ws: str, request: Request, actor: ActorDep, form: FormDep) -> Response:
    """Put back the values a bulk change overwrote, on the tickets that still hold what it set (one atomic
    batch through the core); a ticket someone changed again since is left as it is, and counted."""
    authorize(actor, "write:records", ws, "tickets")
    core = core_of(request)
    params = echoed(form)
    entry = undos.take(core, actor.id, form.get("undo") or "")
    state = BulkForm()
    if entry is None or entry.kind != "bulk" or entry.workspace_id != ws:
        state.undo_error = "That change can no longer be undone (it was undone already, or it is too old)."
        return queue_page(request, actor, ws, params, bulk=state, status=410)
    done: dict[str, Any] = entry.payload.get("set") or {}
    previous: dict[str, dict[str, Any]] = entry.payload.get("previous") or {}
    ids = sorted(previous)
    current = core.records.query(
        ws, "tickets", {"field": "id", "op": "in", "value": ids}, limit=max(len(ids), 1)
    )["data"]
    back = [t["id"] for t in current if all((t.get("data") or {}).get(k) == v for k, v in done.items())]
    ops = [{"type": "patch_record", "collection": "tickets", "id": i, "data": previous[i]} for i in back]
    if ops:
        try:
            core.batch.run(ws, ops, actor)
            core.reads.mark(ws, back, actor.id, core.settled_seq(ws))
        except (ValidationFailed, NotFound, Conflict) as exc:
            state.undo_error = f"Nothing was put back: {exc.message}"
            return queue_page(request, actor, ws, params, bulk=state, status=422)
    query = {k: v for k, v in params.items() if v}
    return redirect(
        request, url(f"/w/{quote(ws)}/queue", **query, restored=len(back), kept=len(ids) - len(back))
    )


def bulk_changes(state: BulkForm, options: dict[str, list[str]]) -> tuple[dict[str, Any], str | None]:
    """The merge patch a bulk action applies, or why it can't be applied."""
    changes: dict[str, Any] = {}
    for name, value in (("status", state.status), ("priority", state.priority)):
        if value and value not in options.get(name, [value]):
            return {}, f"{value!r} is not a {name}; choose one of {', '.join(options[name])}."
        if value:
            changes[name] = value
    if state.unassign:
        changes["assignee"] = None
    elif state.assignee:
        if len(state.assignee) > 200:
            return {}, "An assignee is at most 200 characters."
        changes["assignee"] = state.assignee
    if not changes:
        return {}, "Choose a change first: a status, a priority or an assignee."
    return changes, None


def matching_ids(
    core: Deskbase,
    scope: ReadScope,
    params: dict[str, str],
    options: dict[str, list[str]],
    me: str,
    teams: tuple[str, ...] = (),
) -> tuple[list[str], str | None]:
    """Every ticket the view and filters match, if there are few enough for one atomic batch."""
    view, _ = view_and_sort(params)
    filters, errors = q.parse_filters(params, options)
    if errors:
        return [], "The filters are not valid; fix them before changing all matching tickets."
    most = core.settings.max_batch_operations
    ws = scope.workspace_id
    page = q.load(core, ws, view, filters, "updated", None, me, scope, limit=most, counted=False, teams=teams)
    if page.notice and q.PARTIAL in page.notice:
        return [], "The search words match too many tickets to change them all: add a word to narrow it."
    if page.next_cursor:
        return [], (
            f"More than {most:,} tickets match. Bulk changes apply to at most {most:,} at a time (all or "
            "nothing): narrow the filters, or change them in turns."
        )
    if not page.tickets:
        return [], "No tickets match the view and filters."
    return [t["id"] for t in page.tickets], None
