"""The notifications service: what adapters call (a user's list, unread count, mark read, preferences, the
live stream) and `install`, which wires the store, the fan-out loop and the live hub onto a core.

Notifications belong to a person: a caller without a user (a service token) has none, and asking for them
is a 404 with `details.reason: "no_user"` (as `GET /v1/users/me` is for such a token), not an empty list
that would look like "nothing happened".
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from sqlalchemy import and_, delete

from deskbase.core.app import Deskbase
from deskbase.core.auth import authorize_scope
from deskbase.core.changelog import Change
from deskbase.core.context import Actor
from deskbase.core.db import Tx
from deskbase.core.errors import NotFound, ValidationFailed
from deskbase.notify import live
from deskbase.notify.derive import Candidate
from deskbase.notify.email import EmailSink
from deskbase.notify.fanout import Fanout
from deskbase.notify.kinds import CHANNELS, KINDS, wants
from deskbase.notify.store import Store
from deskbase.notify.tables import notifications

PREFS_KEY = (
    "notifications"  #: where a user's per-kind choices live in their preferences (core/preferences.py)
)


def person(actor: Actor, ws: str) -> str:
    """The user whose notifications the caller reads in `ws`; the caller's scope must reach `ws`."""
    authorize_scope(actor, ws)
    return _user(actor)


def _user(actor: Actor) -> str:
    if actor.user_id is None:
        raise NotFound(
            "notifications belong to a person: this token belongs to no user", {"reason": "no_user"}
        )
    return actor.user_id


class Notifications:
    def __init__(self, core: Deskbase) -> None:
        self.core = core
        self.store = Store(core)
        self.hub = live.Hub()
        self.fanout = Fanout(core, self.preferences)
        self.fanout.listeners.append(self._stored)
        self.fanout.sinks.append(EmailSink(core))
        core.hooks.on_change_in_tx(self._forget_deleted_workspaces)
        core.hooks.on_user_left(self._forget_leaver)

    @staticmethod
    def _forget_deleted_workspaces(tx: Tx, entries: list[Change]) -> None:
        """In the transaction that deletes a workspace, its notifications go too."""
        for ws in {c.workspace_id for c in entries if c.entity == "workspace" and c.op == "delete"}:
            tx.conn.execute(delete(notifications).where(notifications.c.workspace_id == ws))

    @staticmethod
    def _forget_leaver(tx: Tx, user_id: str, ws: str | None) -> None:
        """In the transaction that removes a member (or deletes a user), their notifications there go too:
        a member added again later starts with an empty bell, and a deleted user leaves nothing behind."""
        mine = notifications.c.user_id == user_id
        where = mine if ws is None else and_(mine, notifications.c.workspace_id == ws)
        tx.conn.execute(delete(notifications).where(where))

    def _stored(self, stored: list[tuple[str, Candidate]]) -> None:
        self.hub.publish({c.user_id for _, c in stored})

    # ---- reading and marking --------------------------------------------------------------------------
    def page(
        self, actor: Actor, ws: str, order: str, limit: int, cursor: str | None, unread: bool
    ) -> dict[str, Any]:
        return self.store.page(ws, person(actor, ws), order, limit, cursor, unread)

    def mark_read(self, actor: Actor, ws: str, nid: str) -> dict[str, Any]:
        uid = person(actor, ws)
        out = self.store.mark_read(ws, uid, nid)
        self.hub.publish({uid})  # the user's other tabs update their count
        return out

    def mark_all(self, actor: Actor, ws: str) -> dict[str, Any]:
        uid = person(actor, ws)
        done = self.store.mark_all(ws, uid)
        self.hub.publish({uid})
        return {"marked": done, "unread": self.store.unread(ws, uid)}

    def stream(
        self, actor: Actor, ws: str, after: str | None, disconnected: Callable[[], Awaitable[bool]]
    ) -> AsyncIterator[bytes]:
        """Checked before the response starts (a refusal is a JSON error, not a broken stream)."""
        uid = person(actor, ws)
        self.core.workspaces.get(ws)
        return live.stream(self.store, self.hub, ws, uid, after, disconnected)

    # ---- preferences ----------------------------------------------------------------------------------
    def preferences(self, user_id: str) -> dict[str, dict[str, bool]]:
        stored = self.core.preferences.get(user_id).get(PREFS_KEY)
        return stored if isinstance(stored, dict) else {}

    def preferences_public(self, user_id: str) -> dict[str, Any]:
        """Every kind with its label and whether each channel is on (stored choice, else the default)."""
        prefs = self.preferences(user_id)
        return {
            "kinds": [
                {"kind": k.name, "label": k.label, **{ch: wants(prefs, k.name, ch) for ch in CHANNELS}}
                for k in KINDS.values()
            ]
        }

    def set_preferences(self, actor: Actor, changes: dict[str, Any]) -> dict[str, Any]:
        """Merge `{kind: {"in_app"?: bool, "email"?: bool}}` into the caller's preferences."""
        uid = _user(actor)
        errors = []
        for kind, channels in changes.items():
            if kind not in KINDS:
                errors.append({"pointer": f"/{kind}", "message": f"unknown kind; one of {', '.join(KINDS)}"})
            elif not isinstance(channels, dict) or not channels:
                errors.append(
                    {"pointer": f"/{kind}", "message": 'expected {"in_app"?: bool, "email"?: bool}'}
                )
            else:
                for ch, on in channels.items():
                    if ch not in CHANNELS or not isinstance(on, bool):
                        errors.append(
                            {
                                "pointer": f"/{kind}/{ch}",
                                "message": "a channel (in_app, email) and true or false",
                            }
                        )
        if errors:
            raise ValidationFailed("invalid notification preferences", errors)
        merged = self.preferences(uid)
        for kind, channels in changes.items():
            merged[kind] = {**merged.get(kind, {}), **channels}
        self.core.preferences.update(uid, {PREFS_KEY: merged})
        return self.preferences_public(uid)

    def my_preferences(self, actor: Actor) -> dict[str, Any]:
        return self.preferences_public(_user(actor))


def install(core: Deskbase) -> Notifications:
    notes = Notifications(core)
    core.extensions[Notifications] = notes
    return notes
