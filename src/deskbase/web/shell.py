"""The page shell every console page is drawn in: the workspace switcher, the actor's preferences and time
zone, the bell, and the settings links the actor may follow."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from fastapi import Request

from deskbase.core.app import Deskbase
from deskbase.core.auth import permits, sees
from deskbase.core.context import Actor
from deskbase.core.users import time_zones
from deskbase.events.service import may_manage
from deskbase.mail.service import MANAGE as MAIL_MANAGE
from deskbase.notify.service import Notifications
from deskbase.web.http import core_of, csrf_token, may
from deskbase.web.pages import Bell, NavView, Shell, WorkspaceLink


@dataclass
class Prefs:
    shortcuts: bool
    me: str
    #: workspace -> the user's saved queue views, each {"name", "query"} (a normalised query string)
    views: dict[str, list[dict[str, str]]] = field(default_factory=dict)


def prefs_of(core: Deskbase, actor: Actor) -> Prefs:
    """The actor's console preferences. A user is "me" by their email (the assignee value tickets carry);
    a service token by the name set in Settings, or its own name."""
    p = core.preferences.get(actor.id)
    views = p.get("views") if isinstance(p.get("views"), dict) else {}
    me = core.people.access.get(actor.user_id).email if actor.user_id else str(p.get("me") or actor.name)
    return Prefs(shortcuts=p.get("shortcuts", True) is not False, me=me, views=views or {})


def visible_workspaces(core: Deskbase, actor: Actor) -> list[dict[str, Any]]:
    return [w for w in core.workspaces.list() if may(actor, "read:records", w["id"], "tickets")]


#: the browser's IANA time zone, set by console.js: times for a session with no person behind it
TZ_COOKIE = "deskbase_tz"


def make_shell(
    request: Request,
    actor: Actor | None,
    title: str,
    workspace: str | None = None,
    section: str = "",
    nav: list[NavView] | None = None,
    prefs: Prefs | None = None,
) -> Shell:
    core = core_of(request)
    links: list[WorkspaceLink] = []
    tz = "UTC"
    away: bool | None = None
    if actor is not None:
        for w in visible_workspaces(core, actor):
            links.append(WorkspaceLink(w["id"], w["name"], f"/w/{quote(w['id'])}/queue"))
            if w["id"] == workspace:
                tz = str((w.get("settings") or {}).get("timezone") or "UTC")
        if actor.user_id is not None:  # a person reads times in their own time zone
            access = core.people.access.get(actor.user_id)
            tz, away = access.time_zone, access.away
        elif (browser := request.cookies.get(TZ_COOKIE) or "") in time_zones():
            tz = browser  # a token's session: the browser's zone, as console.js reports it
        prefs = prefs or prefs_of(core, actor)
    admin = bool(actor is not None and workspace and permits(actor, "admin", workspace, whole_workspace=True))
    return Shell(
        title=title,
        csrf=csrf_token(request),
        now=core.clock.now(),
        actor=actor,
        workspace=workspace,
        workspaces=links,
        nav=nav or [],
        section=section,
        shortcuts=prefs.shortcuts if prefs else True,
        timezone=tz,
        queue_href=f"/w/{quote(workspace)}/queue" if workspace else "/",
        integrations_href=integrations_href(workspace)
        if actor is not None and workspace and may_manage(actor, workspace)
        else None,
        bell=bell_of(core, actor, workspace),
        mailboxes_href=mailboxes_href(workspace)
        if actor is not None and workspace and may_manage_mail(actor, workspace)
        else None,
        teams_href=f"/w/{quote(workspace)}/settings/teams" if admin and workspace else None,
        people_href=f"/w/{quote(workspace)}/settings/people" if admin and workspace else None,
        away=away,
        here=request.url.path,
    )


def bell_of(core: Deskbase, actor: Actor | None, workspace: str | None) -> Bell | None:
    """A person's bell in a workspace they reach (a service token has no notifications, so no bell)."""
    notes = core.extensions.get(Notifications)
    if actor is None or actor.user_id is None or not workspace or notes is None or not sees(actor, workspace):
        return None
    base = f"/w/{quote(workspace)}/notifications"
    return Bell(notes.store.unread(workspace, actor.user_id), base, f"{base}/stream")


def integrations_href(workspace: str) -> str:
    return f"/w/{quote(workspace)}/settings/integrations"


def mailboxes_href(workspace: str) -> str:
    return f"/w/{quote(workspace)}/settings/mailboxes"


def may_manage_mail(actor: Actor, workspace: str) -> bool:
    """`mail.service.authorize_manage` as a yes/no, for showing or hiding the way to the mailboxes page."""
    return permits(actor, MAIL_MANAGE, workspace, whole_workspace=True)
