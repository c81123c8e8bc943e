"""Ticket forms: edit fields in place, reply or add an internal note, link and unlink related tickets.

Every write goes through a core service (records.patch, support.tickets.add_response, relationships.upsert /
delete) after the same `authorize` checks as the API; a rejected input is shown beside its field and
nothing is written.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from deskbase.api.deps import requires
from deskbase.core.app import Deskbase
from deskbase.core.auth import authorize
from deskbase.core.clock import iso
from deskbase.core.context import Actor
from deskbase.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from deskbase.core.scope import ReadScope
from deskbase.support import held, macros, tickets
from deskbase.web import attachments as att
from deskbase.web import ticket as tk
from deskbase.web.composer_form import ComposerForm, ComposerFormDep
from deskbase.web.held_toast import held_toast
from deskbase.web.http import (
    ActorDep,
    FormDep,
    core_of,
    is_htmx,
    local_path,
    may,
    redirect,
    render,
    url,
    with_query,
)
from deskbase.web.queue import options_from_schema
from deskbase.web.routing import ConsoleRoute
from deskbase.web.shell import make_shell, prefs_of
from deskbase.web.ticket_edit import edit_patch, field_errors
from deskbase.web.ticket_pages import Composer, Message, PresencePanel
from deskbase.web.views.ticket import respond

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
REPLY_PANELS = ("conversation", "composer", "meta", "props", "sla", "timeline")


def seen_by_me(request: Request, actor: Actor, ws: str, ticket_id: str) -> None:
    """What I just wrote is not news to me: the queue does not mark the ticket as new (core/agent_state.py)."""
    core = core_of(request)
    core.reads.mark(ws, [ticket_id], actor.id, core.settled_seq(ws))


def _back(ws: str, ticket_id: str) -> str:
    return f"/w/{ws}/tickets/{ticket_id}"


@router.post("/w/{ws}/tickets/{ticket_id}/edit", openapi_extra=requires("write:records"))
def edit(ws: str, ticket_id: str, request: Request, actor: ActorDep, form: FormDep) -> Response:
    """Patch the fields the form carries that changed (a merge patch through core.records.patch). htmx gets
    back the panels that may have changed, but the subject/description form only on error, and never the
    composer: what the agent is typing is not overwritten."""
    authorize(actor, "write:records", ws, "tickets")
    core = core_of(request)
    panel = "head" if form.get("panel") == "head" else "props"
    current = core.records.get(ws, "tickets", ticket_id)["data"]
    patch, errors, shown = edit_patch(current, form)
    general = None
    if not errors and patch:
        try:
            core.records.patch(ws, "tickets", ticket_id, patch, actor)
        except ValidationFailed as exc:
            errors, general = field_errors(exc)
    if errors or general:
        extras = tk.Extras(values=shown, errors=errors, form_error=general, error_panel=panel)
        return respond(request, actor, ws, ticket_id, extras, 422, (panel, "meta"))
    seen_by_me(request, actor, ws, ticket_id)
    if not is_htmx(request):
        return redirect(request, _back(ws, ticket_id))
    saved = "Saved " + ", ".join(sorted(patch)) if patch else "No changes"
    panels = ("meta", "sla", "timeline", "props") if panel == "props" else ("meta", "sla", "timeline")
    return respond(request, actor, ws, ticket_id, tk.Extras(saved=saved), 200, panels)


@router.post(
    "/w/{ws}/tickets/{ticket_id}/reply", openapi_extra=requires("write:records", "write:relationships")
)
def reply(ws: str, ticket_id: str, request: Request, actor: ActorDep, upload: ComposerFormDep) -> Response:
    """A reply or an internal note (support.tickets.add_response: the response and its link in one
    transaction), with the files attached to it, optionally followed by a status change and a move to the
    next ticket. Each attached file is stored as the API's upload stores it (its own write, as
    `POST …/files`) before the response names it; when the message is not sent, the stored files are kept
    in the composer and sent with it on the next try."""
    try:
        return _reply(ws, ticket_id, request, actor, upload)
    finally:
        upload.discard()


def _reply(ws: str, ticket_id: str, request: Request, actor: Actor, upload: ComposerForm) -> Response:
    authorize(actor, "write:records", ws, "responses")
    authorize(actor, "write:relationships", ws)
    core = core_of(request)
    form = upload.fields
    body = (form.get("body") or "").strip()
    kind = form.get("type") or "reply"
    status = (form.get("status") or "").strip()
    then_priority = (form.get("then_priority") or "").strip()
    then_tags = [t.strip() for t in (form.get("then_tags") or "").split(",") if t.strip()][:10]
    current = core.records.get(ws, "tickets", ticket_id)["data"]  # no file is stored for a missing ticket
    stored = [core.files.commit(ws, actor, f.staged, f.name, f.content_type) for f in upload.files]
    file_ids = list(dict.fromkeys([*upload.kept, *(m["id"] for m in stored)]))
    kept = att.readable(core, ws, actor, file_ids)
    composer = Composer(
        body=form.get("body") or "",
        type=kind,
        status=status,
        priority=then_priority,
        add_tags=then_tags,
        macro=form.get("then_macro") or None,
        attachments=[kept[f] for f in file_ids if f in kept],
    )
    options = options_from_schema(core.collections.get(ws, "tickets")["json_schema"])
    statuses = options.get("status", [])
    if upload.too_large:
        names = ", ".join(upload.too_large)
        composer.error = (
            f"Not attached (over the {att.size_text(core.settings.max_file_bytes)} limit): {names}."
        )
    elif upload.too_many:
        composer.error = (
            f"A message carries at most {att.MAX_FILES} files; {upload.too_many} were not attached."
        )
    elif len(file_ids) > att.MAX_FILES:
        composer.error = f"A message carries at most {att.MAX_FILES} files; untick some."
    elif not body:
        composer.error = "Write a message first."
    elif kind not in tickets.RESPONSE_TYPES:
        composer.error = "Choose reply or internal note."
    elif status and status not in statuses:
        composer.error = f"{status!r} is not a status; choose one of {', '.join(statuses)}."
    elif then_priority and then_priority not in (priorities := options.get("priority", [])):
        composer.error = f"{then_priority!r} is not a priority; choose one of {', '.join(priorities)}."
    elif any(len(t) > 50 for t in then_tags):
        composer.error = "A tag is at most 50 characters."
    if (status or then_priority or then_tags) and not composer.error:
        authorize(actor, "write:records", ws, "tickets")
    if composer.error:
        return respond(request, actor, ws, ticket_id, tk.Extras(composer=composer), 422, ("composer",))
    author = prefs_of(core, actor).me
    if "seen" in form and form.get("confirm") != "1":
        newer = arrived_since(core, ReadScope(actor, ws), ticket_id, form.get("seen") or "", author)
        if newer:
            composer.collision = newer
            panels = ("conversation", "composer", "meta", "timeline")
            return respond(request, actor, ws, ticket_id, tk.Extras(composer=composer), 409, panels)
    message: dict[str, Any] = {"body": body, "type": kind, "author": author}
    if file_ids:
        message[att.FIELD] = file_ids
    mentions = [m for m in (form.get("mentions") or "").split(",") if m.strip()]
    if mentions and kind == "internal_note":  # the composer fills it for notes only
        message["mentions"] = [m.strip() for m in mentions][:50]
    hold_for = core.settings.reply_hold_seconds
    if hold_for > 0:
        then = {"status": status, "priority": then_priority, "tags": then_tags}
        try:
            h = held.hold(core, ws, ticket_id, actor, message, {k: v for k, v in then.items() if v}, hold_for)
        except Forbidden as exc:  # a light agent's reply, refused now rather than when the hold ends
            composer.error = exc.message
            return respond(request, actor, ws, ticket_id, tk.Extras(composer=composer), 403, ("composer",))
        core.drafts.discard(ws, ticket_id, actor.id)
        after = local_path(form.get("next"), "")
        if after.startswith(
            f"/w/{ws}/"
        ):  # the next ticket's page, or the queue when none is left, offers Undo
            return redirect(request, with_query(after, held=h.id, held_on=ticket_id))
        if not is_htmx(request):
            return redirect(request, url(_back(ws, ticket_id), held=h.id) + "#conversation")
        x = tk.Extras(composer=Composer(sent=True, type=kind, held=hold_for))
        x.toast = held_toast(core, ws, ticket_id, h, hold_for, htmx=True, here=True)
        return respond(request, actor, ws, ticket_id, x, 200, ("composer",))
    try:
        tickets.add_response(core, ws, ticket_id, message, actor)
    except Forbidden as exc:  # a light agent's reply (support/reply_rules.py): the composer says why
        composer.error = exc.message
        return respond(request, actor, ws, ticket_id, tk.Extras(composer=composer), 403, ("composer",))
    except ValidationFailed as exc:
        composer.error = (
            "; ".join(e.get("message", "invalid") for e in exc.details.get("errors") or []) or exc.message
        )
        return respond(request, actor, ws, ticket_id, tk.Extras(composer=composer), 422, ("composer",))
    core.drafts.discard(ws, ticket_id, actor.id)
    changes: dict[str, Any] = {}
    if status and status != current.get("status"):
        changes["status"] = status
    if then_priority and then_priority != current.get("priority"):
        changes["priority"] = then_priority
    tags = [str(t) for t in current.get("tags") or []]
    if any(t not in tags for t in then_tags):
        changes["tags"] = tags + [t for t in then_tags if t not in tags]
    if changes:  # a status chosen with the message, and what a macro sets on send, in one patch
        core.records.patch(ws, "tickets", ticket_id, changes, actor)
    seen_by_me(request, actor, ws, ticket_id)
    after = local_path(form.get("next"), "")
    if after.startswith(f"/w/{ws}/"):
        return redirect(request, after)
    if not is_htmx(request):
        return redirect(request, _back(ws, ticket_id) + "#conversation")
    sent = Composer(sent=True, type=kind)
    return respond(request, actor, ws, ticket_id, tk.Extras(composer=sent), 200, REPLY_PANELS)


@router.post(
    "/w/{ws}/tickets/{ticket_id}/reply/undo", openapi_extra=requires("write:records", "write:relationships")
)
def undo_send(ws: str, ticket_id: str, request: Request, actor: ActorDep, form: FormDep) -> Response:
    """Undo-send: take the held message back before its time (support/held.py) and put it in the composer
    again, with what was chosen with it; it is also kept as the agent's draft, so it survives a reload."""
    authorize(actor, "write:records", ws, "responses")
    authorize(actor, "write:relationships", ws)
    core = core_of(request)
    core.records.get(ws, "tickets", ticket_id)
    h = held.cancel(core, actor.id, form.get("hold") or "")
    if h is None or h.ticket_id != ticket_id or h.workspace_id != ws:
        gone = Composer(error="Too late to undo: the message has been sent (or was taken back already).")
        if not is_htmx(request):
            return respond(request, actor, ws, ticket_id, tk.Extras(composer=gone), 409)
        return respond(request, actor, ws, ticket_id, tk.Extras(composer=gone), 409, ("composer",))
    body, kind = str(h.message.get("body") or ""), str(h.message.get("type") or "reply")
    core.drafts.save(ws, ticket_id, actor.id, body, kind)
    files = att.readable(core, ws, actor, list(h.message.get(att.FIELD) or []))
    composer = Composer(
        body=body,
        type=kind,
        status=str(h.then.get("status") or ""),
        priority=str(h.then.get("priority") or ""),
        add_tags=[str(x) for x in h.then.get("tags") or []],
        attachments=list(files.values()),
    )
    if not is_htmx(request):
        return redirect(request, _back(ws, ticket_id) + "#composer")
    return respond(request, actor, ws, ticket_id, tk.Extras(composer=composer), 200, ("composer",))


@router.post("/w/{ws}/tickets/{ticket_id}/macro", openapi_extra=requires("write:records"))
def use_macro(ws: str, ticket_id: str, request: Request, actor: ActorDep, form: FormDep) -> Response:
    """Fill the composer from a macro: its text for this ticket (after what is already written), its
    message type and status, and what it sets on send. Nothing is written until the agent sends."""
    authorize(actor, "write:records", ws, "responses")
    authorize(actor, "read:records", ws, "macros")
    core = core_of(request)
    written = form.get("body") or ""
    ids = [v for k, v in request.state.form.multi_items() if k == att.FIELD and isinstance(v, str)]
    files = att.readable(core, ws, actor, ids)
    kept = [files[f] for f in dict.fromkeys(ids) if f in files]
    composer = Composer(
        body=written, type=form.get("type") or "reply", status=form.get("status") or "", attachments=kept
    )
    try:
        applied = macros.apply(
            core, ReadScope(actor, ws), form.get("macro") or "", ticket_id, prefs_of(core, actor).me
        )
    except NotFound:
        composer.error = "That macro does not exist (any more): choose another."
        return respond(request, actor, ws, ticket_id, tk.Extras(composer=composer), 422, ("composer",))
    composer = Composer(
        body=f"{written.rstrip()}\n\n{applied.body}" if written.strip() else applied.body,
        type=applied.type,
        status=applied.status or composer.status,
        priority=applied.priority,
        add_tags=applied.add_tags,
        macro=applied.name,
        attachments=kept,
    )
    return respond(request, actor, ws, ticket_id, tk.Extras(composer=composer), 200, ("composer",))


def arrived_since(core: Deskbase, scope: ReadScope, ticket_id: str, seen: str, me: str) -> list[Message]:
    """Messages by someone else after `seen` (the last message id the composer's page showed; "" for none):
    a reply written without them could repeat or contradict them."""
    conv = tickets.conversation(core, scope, ticket_id)
    ids = [m["id"] for m in conv]
    after = conv[ids.index(seen) + 1 :] if seen in ids else ([] if seen else conv)
    return [
        tk.message(scope.workspace_id, m)
        for m in after
        if str((m.get("data") or {}).get("author") or "") != me
    ]


@router.post("/w/{ws}/tickets/{ticket_id}/presence", openapi_extra=requires("read:records"))
def presence(ws: str, ticket_id: str, request: Request, actor: ActorDep, form: FormDep) -> Response:
    """The page's heartbeat: I have this ticket open (viewing, or replying); answers who else has. It also
    carries the composer's text, kept as the agent's draft."""
    authorize(actor, "read:records", ws, "tickets")
    core = core_of(request)
    core.records.get(ws, "tickets", ticket_id)
    me = prefs_of(core, actor).me
    others = core.presence.beat(ws, ticket_id, actor.id, me, form.get("state") or "viewing")
    saved = None
    if "body" in form and may(actor, "write:records", ws, "responses"):
        core.drafts.save(ws, ticket_id, actor.id, form["body"], form.get("type") or "reply")
        saved = iso(core.clock.now()) if form["body"].strip() else None
    shell = make_shell(request, actor, "Presence", ws, "ticket")
    return render(request, "ticket/_presence_list.html", PresencePanel(others, saved), shell)


@router.post("/w/{ws}/tickets/{ticket_id}/presence/leave", openapi_extra=requires("read:records"))
def leave(ws: str, ticket_id: str, request: Request, actor: ActorDep, form: FormDep) -> Response:
    """Sent by the page as it goes away (sendBeacon), so others stop seeing me at once, not after the TTL."""
    authorize(actor, "read:records", ws, "tickets")
    core_of(request).presence.leave(ws, ticket_id, actor.id)
    return Response(status_code=204)


@router.post("/w/{ws}/tickets/{ticket_id}/related", openapi_extra=requires("write:relationships"))
def link(ws: str, ticket_id: str, request: Request, actor: ActorDep, form: FormDep) -> Response:
    authorize(actor, "write:relationships", ws, "tickets")
    core = core_of(request)
    core.records.get(ws, "tickets", ticket_id)
    other = (form.get("ticket") or "").strip()
    error = None
    if not other:
        error = "Enter or pick the ticket to link."
    elif other == ticket_id:
        error = "A ticket can't be related to itself."
    elif any(r.ticket.id == other for r in tk.related(core, ws, actor, ticket_id, named=False)):
        error = "These tickets are already linked."
    if error is None:
        ends = [{"collection": "tickets", "id": ticket_id}, {"collection": "tickets", "id": other}]
        if form.get("direction") == "incoming":  # an undone unlink links the two the way they were
            ends.reverse()
        body = {"rel_type": "related_to", "source": ends[0], "target": ends[1]}
        try:
            core.relationships.upsert(ws, body, actor)
        except (ValidationFailed, Conflict) as exc:
            error = (
                f"Can't link {other!r}: no such ticket." if isinstance(exc, ValidationFailed) else exc.message
            )
    if error:
        return respond(request, actor, ws, ticket_id, tk.Extras(related_error=error), 422, ("related",))
    if not is_htmx(request):
        return redirect(request, _back(ws, ticket_id) + "#related")
    return respond(request, actor, ws, ticket_id, None, 200, ("related",))


@router.post(
    "/w/{ws}/tickets/{ticket_id}/related/{rel_id}/unlink", openapi_extra=requires("write:relationships")
)
def unlink(
    ws: str, ticket_id: str, rel_id: str, request: Request, actor: ActorDep, form: FormDep
) -> Response:
    authorize(actor, "write:relationships", ws, "tickets")
    core = core_of(request)
    rel = core.relationships.get(ws, rel_id, actor)
    ends = {rel["source"]["id"], rel["target"]["id"]}
    if rel["rel_type"] != "related_to" or ticket_id not in ends or rel.get("deleted"):
        raise NotFound(f"relationship {rel_id!r} not found", {"id": rel_id})
    core.relationships.delete(ws, rel_id, actor)
    incoming = rel["target"]["id"] == ticket_id
    other = rel["source"]["id"] if incoming else rel["target"]["id"]
    if not is_htmx(request):
        back = url(_back(ws, ticket_id), unlinked=other, incoming="1" if incoming else None)
        return redirect(request, back + "#related")
    toast = tk.unlinked_toast(core, ws, ticket_id, other, incoming, True)
    return respond(request, actor, ws, ticket_id, tk.Extras(toast=toast), 200, ("related",))
