"""Settings → Integrations: a workspace's outbound triggers with their health, and the forms that create,
enable or disable, test, rotate and delete them; beside them the inbound hooks (their forms: views/hooks.py).

Each section of the page comes from its own function (`triggers_section`, `hooks_section`) and its own
partial. Every route asks `authorize_manage` — the API's own rule — first, and every action
is one call to the events service the REST routes call.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from deskbase.api.deps import requires
from deskbase.core.context import Actor
from deskbase.core.errors import InvalidId, NotFound, PreconditionFailed, Unavailable, ValidationFailed
from deskbase.core.ids import SLUG_RE, check_slug
from deskbase.events.service import Webhooks, authorize_manage
from deskbase.web import hook_rows as hr
from deskbase.web import integrations as ig
from deskbase.web.http import ActorDep, FormDep, core_of, local_path, redirect, render
from deskbase.web.integration_pages import (
    HookCreated,
    HookForm,
    HooksSection,
    IntegrationsPage,
    NewSecret,
    TriggerForm,
    TriggersSection,
)
from deskbase.web.routing import ConsoleRoute
from deskbase.web.shell import integrations_href, make_shell

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
MANAGE = requires("admin")


def webhooks_of(request: Request) -> Webhooks | None:
    return core_of(request).extensions.get(Webhooks)


def require_webhooks(request: Request) -> Webhooks:
    hooks = webhooks_of(request)
    if hooks is None:
        raise Unavailable("webhooks are not installed on this server")
    return hooks


def owner_names(request: Request, actor: Actor) -> dict[str, str]:
    """Token names this viewer may see (the token API's rule); other owners are shown by id."""
    return {t["id"]: t["name"] for t in core_of(request).tokens.list(actor)}


def triggers_section(
    request: Request,
    actor: Actor,
    ws: str,
    form: TriggerForm | None = None,
    secret: NewSecret | None = None,
    notice: str | None = None,
    error: str | None = None,
) -> TriggersSection:
    hooks = webhooks_of(request)
    base = integrations_href(ws)
    section = TriggersSection(
        rows=[],
        form=form or TriggerForm(events=[]),
        event_types=ig.EVENT_TYPES,
        create_href=f"{base}/triggers",
        available=hooks is not None,
        secret=secret,
        notice=notice,
        error=error,
    )
    if hooks is not None:
        owners = owner_names(request, actor)
        section.rows = [ig.trigger_row(ws, t, h, owners) for t, h in hooks.overview(ws)]
    return section


def hooks_section(
    request: Request,
    actor: Actor,
    ws: str,
    form: HookForm | None = None,
    created: HookCreated | None = None,
    notice: str | None = None,
    error: str | None = None,
) -> HooksSection:
    service = webhooks_of(request)
    section = HooksSection(
        rows=[],
        form=form or HookForm(),
        collections=[],
        create_href=f"{integrations_href(ws)}/hooks",
        available=service is not None,
        created=created,
        notice=notice,
        error=error,
    )
    if service is not None:
        owners = owner_names(request, actor)
        base = str(request.base_url)
        section.collections = [c["id"] for c in core_of(request).collections.list(ws)]
        section.rows = [hr.hook_row(ws, base, h, s, owners) for h, s in service.hook_overview(ws)]
    return section


def page(
    request: Request,
    actor: Actor,
    ws: str,
    triggers: TriggersSection | None = None,
    hooks: HooksSection | None = None,
    status: int = 200,
) -> Response:
    """The whole page: the section an action answers with, and every other section as it is."""
    sections = IntegrationsPage(
        ws,
        triggers or triggers_section(request, actor, ws),
        hooks or hooks_section(request, actor, ws),
    )
    shell = make_shell(request, actor, "Integrations", ws, "integrations")
    return render(request, "integrations.html", sections, shell, status=status)


@router.get("/w/{ws}/settings/integrations", openapi_extra=MANAGE)
def integrations(
    ws: str, request: Request, actor: ActorDep, deleted: str = "", deleted_hook: str = ""
) -> Response:
    authorize_manage(actor, ws)
    triggers = hooks = None
    if SLUG_RE.match(deleted):  # only an id is echoed back into the page
        triggers = triggers_section(
            request, actor, ws, notice=f"Deleted trigger {deleted} with its delivery log."
        )
    if SLUG_RE.match(deleted_hook):
        notice = f"Deleted hook {deleted_hook} with its ingest log; the records it wrote stay."
        hooks = hooks_section(request, actor, ws, notice=notice)
    return page(request, actor, ws, triggers, hooks)


@router.post("/w/{ws}/settings/integrations/triggers", openapi_extra=MANAGE)
def create(ws: str, request: Request, actor: ActorDep, _form: FormDep) -> Response:
    """Create a trigger (the API's PUT, refused if the id is taken) and show its secret this once."""
    authorize_manage(actor, ws)
    hooks = require_webhooks(request)
    form = ig.read_form(request.state.form)
    body, faults = ig.trigger_body(form)
    try:
        check_slug(form.id, "trigger")
        hooks.triggers.get(ws, form.id)
        form.errors["id"] = f"A trigger {form.id!r} exists already; choose another id."
    except InvalidId as exc:
        form.errors["id"] = exc.message
    except NotFound:
        try:
            if faults:
                raise ValidationFailed("invalid trigger", faults + hooks.triggers.problems(body))
            _, secret = hooks.triggers.put(ws, form.id, body, actor)
        except ValidationFailed as exc:
            form.errors.update(
                ig.form_errors((exc.details or {}).get("errors") or [{"message": exc.message}])
            )
        else:
            assert secret is not None  # a new trigger always gets one
            shown = NewSecret(form.id, secret, rotated=False)
            section = triggers_section(request, actor, ws, secret=shown, notice=f"Created trigger {form.id}.")
            return page(request, actor, ws, section, status=201)
    return page(request, actor, ws, triggers_section(request, actor, ws, form=form), status=422)


def _back(form: dict[str, str], ws: str, tid: str) -> str:
    """Back to where the form was (the list or the trigger's page): only a local path."""
    return local_path(form.get("next"), ig.trigger_href(ws, tid))


@router.post("/w/{ws}/settings/integrations/triggers/{trigger_id}/enabled", openapi_extra=MANAGE)
def set_enabled(ws: str, trigger_id: str, request: Request, actor: ActorDep, form: FormDep) -> Response:
    """Enable or disable: the API's PUT with the trigger's settings as they are and `enabled` changed, at the
    version the page showed (someone's edit in between is not undone: the page comes back with a notice)."""
    authorize_manage(actor, ws)
    hooks = require_webhooks(request)
    try:
        hooks.triggers.set_enabled(ws, trigger_id, form.get("enabled") == "on", actor, ig.shown_version(form))
    except PreconditionFailed:
        error = f"Trigger {trigger_id} was changed by someone else since this page was loaded; nothing was changed."
        return page(request, actor, ws, triggers_section(request, actor, ws, error=error), status=409)
    return redirect(request, _back(form, ws, trigger_id))


@router.post("/w/{ws}/settings/integrations/triggers/{trigger_id}/test", openapi_extra=MANAGE)
def send_test(ws: str, trigger_id: str, request: Request, actor: ActorDep, _form: FormDep) -> Response:
    """Queue a `trigger.test` event and show it at the top of the trigger's log."""
    authorize_manage(actor, ws)
    delivery = require_webhooks(request).test(ws, trigger_id, actor)
    return redirect(request, ig.trigger_href(ws, trigger_id, tested=delivery["id"]))


@router.post("/w/{ws}/settings/integrations/triggers/{trigger_id}/rotate-secret", openapi_extra=MANAGE)
def rotate(ws: str, trigger_id: str, request: Request, actor: ActorDep, _form: FormDep) -> Response:
    """A new signing secret, shown this once; the previous one keeps signing beside it for a day."""
    authorize_manage(actor, ws)
    _, secret = require_webhooks(request).triggers.rotate(ws, trigger_id, actor)
    shown = NewSecret(trigger_id, secret, rotated=True)
    notice = f"Rotated the secret of {trigger_id}; the previous one keeps signing for 24 hours."
    return page(request, actor, ws, triggers_section(request, actor, ws, secret=shown, notice=notice))


@router.post("/w/{ws}/settings/integrations/triggers/{trigger_id}/delete", openapi_extra=MANAGE)
def delete(ws: str, trigger_id: str, request: Request, actor: ActorDep, form: FormDep) -> Response:
    """Delete a trigger with its queue and log; the form must confirm by repeating the trigger's id."""
    authorize_manage(actor, ws)
    hooks = require_webhooks(request)
    if form.get("confirm") != trigger_id:
        hooks.triggers.get(ws, trigger_id)  # a missing trigger is a 404, not a confirmation problem
        error = f"Not deleted: confirm by typing the trigger's id ({trigger_id})."
        return page(request, actor, ws, triggers_section(request, actor, ws, error=error), status=422)
    hooks.triggers.delete(ws, trigger_id, actor)
    return redirect(request, f"{integrations_href(ws)}?deleted={trigger_id}")
