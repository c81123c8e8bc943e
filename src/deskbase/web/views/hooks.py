"""Settings → Integrations, inbound hooks: the forms that create, enable or disable, rotate and delete them.

Every route asks `authorize_manage` — the API's own rule — first, and every action is one call to the hooks
store the REST routes call (`PUT`, `rotate-secret`, `DELETE` of /v1/workspaces/{ws}/hooks/{id}).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from deskbase.core.errors import Conflict, InvalidId, NotFound, PreconditionFailed, ValidationFailed
from deskbase.core.ids import check_slug
from deskbase.events.service import authorize_manage
from deskbase.web import hook_rows as hr
from deskbase.web.http import ActorDep, FormDep, local_path, redirect
from deskbase.web.integration_pages import HookCreated
from deskbase.web.integrations import shown_version
from deskbase.web.routing import ConsoleRoute
from deskbase.web.shell import integrations_href
from deskbase.web.views.integrations import MANAGE, hooks_section, page, require_webhooks

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
#: what an enable/disable keeps as it is (the API's PUT replaces the whole hook)


@router.post("/w/{ws}/settings/integrations/hooks", openapi_extra=MANAGE)
def create(ws: str, request: Request, actor: ActorDep, _form: FormDep) -> Response:
    """Create a hook (the API's PUT, refused if the id is taken) and show its ingest URL and secret once."""
    authorize_manage(actor, ws)
    service = require_webhooks(request)
    form = hr.read_form(request.state.form)
    body, faults = hr.hook_body(form)
    try:
        check_slug(form.id, "hook")
        service.hooks.get(ws, form.id)
        form.errors["id"] = f"A hook {form.id!r} exists already; choose another id."
    except InvalidId as exc:
        form.errors["id"] = exc.message
    except NotFound:
        try:
            if faults:
                raise ValidationFailed("invalid hook", faults)
            hook, secret, _ = service.hooks.put(ws, form.id, body, actor)
        except ValidationFailed as exc:
            errors = (exc.details or {}).get("errors") or [{"pointer": "/collection", "message": exc.message}]
            form.errors.update(hr.form_errors(errors))
        else:
            created = HookCreated(form.id, hr.ingest_url(str(request.base_url), hook), secret, rotated=False)
            section = hooks_section(request, actor, ws, created=created, notice=f"Created hook {form.id}.")
            return page(request, actor, ws, hooks=section, status=201)
    return page(request, actor, ws, hooks=hooks_section(request, actor, ws, form=form), status=422)


@router.post("/w/{ws}/settings/integrations/hooks/{hook_id}/enabled", openapi_extra=MANAGE)
def set_enabled(ws: str, hook_id: str, request: Request, actor: ActorDep, form: FormDep) -> Response:
    """Enable or disable: the API's PUT with the hook's settings as they are and `enabled` changed (a
    disabled hook's URL answers 404, as an unknown one does), at the version the page showed."""
    authorize_manage(actor, ws)
    hooks = require_webhooks(request).hooks
    try:
        hooks.set_enabled(ws, hook_id, form.get("enabled") == "on", actor, shown_version(form))
    except PreconditionFailed:
        error = f"Hook {hook_id} was changed by someone else since this page was loaded; nothing was changed."
        return page(request, actor, ws, hooks=hooks_section(request, actor, ws, error=error), status=409)
    return redirect(request, local_path(form.get("next"), hr.hook_href(ws, hook_id)))


@router.post("/w/{ws}/settings/integrations/hooks/{hook_id}/rotate-secret", openapi_extra=MANAGE)
def rotate(ws: str, hook_id: str, request: Request, actor: ActorDep, _form: FormDep) -> Response:
    """A new secret, shown this once; the previous one keeps verifying beside it for a day."""
    authorize_manage(actor, ws)
    try:
        hook, secret = require_webhooks(request).hooks.rotate(ws, hook_id, actor)
    except Conflict as exc:  # verify: none has no secret to rotate
        return page(
            request, actor, ws, hooks=hooks_section(request, actor, ws, error=exc.message), status=409
        )
    created = HookCreated(hook_id, hr.ingest_url(str(request.base_url), hook), secret, rotated=True)
    notice = f"Rotated the secret of hook {hook_id}; the previous one keeps verifying for 24 hours."
    return page(request, actor, ws, hooks=hooks_section(request, actor, ws, created=created, notice=notice))


@router.post("/w/{ws}/settings/integrations/hooks/{hook_id}/delete", openapi_extra=MANAGE)
def delete(ws: str, hook_id: str, request: Request, actor: ActorDep, form: FormDep) -> Response:
    """Delete a hook with its ingest log (its records stay); the form must confirm by repeating its id."""
    authorize_manage(actor, ws)
    hooks = require_webhooks(request).hooks
    if form.get("confirm") != hook_id:
        hooks.get(ws, hook_id)  # a missing hook is a 404, not a confirmation problem
        error = f"Not deleted: confirm by typing the hook's id ({hook_id})."
        return page(request, actor, ws, hooks=hooks_section(request, actor, ws, error=error), status=422)
    hooks.delete(ws, hook_id, actor)
    return redirect(request, f"{integrations_href(ws)}?deleted_hook={hook_id}#hooks")
