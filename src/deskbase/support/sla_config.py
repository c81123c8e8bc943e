"""SLA configuration: business-hours calendars and an ordered list of policies, both versioned.

Every save is a new version (its change-log `seq`) with an `effective_from` instant: normally the save time;
the support template's defaults (and import-mode callers) may set it in the past so history imported later
is measured by them. Old versions are kept: SLA instances are pinned to the version they ran under, and
evaluation needs the whole timeline to re-base running instances when a version changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import bindparam, func, insert, select
from sqlalchemy.sql.elements import BindParameter

from deskbase.core import tables as t
from deskbase.core.app import Deskbase
from deskbase.core.changelog import Change
from deskbase.core.clock import iso
from deskbase.core.context import Actor
from deskbase.core.db import Tx
from deskbase.core.errors import NotFound, ValidationFailed
from deskbase.core.ids import check_slug
from deskbase.support import tables as ts
from deskbase.support.calendar import Calendar, CalendarError
from deskbase.support.policy import Policy, PolicyError

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
CALENDAR_LABELS = ("name", "description")  # stored beside the calendar's own JSON form
KINDS = ("calendar", "policy")
T = ts.sla_config
c = T.c
DEFAULT_AUTHOR_MATCH = ("email", "id")
_WS: BindParameter[str] = bindparam("ws")
#: The workspace's settings and the mark of its configuration (`config_mark`: versions are change seqs and
#: only ever added, so the count and the highest version name the whole set), in one round trip.
_MARK = select(
    t.workspaces.c.settings,
    select(func.count()).select_from(T).where(c.workspace_id == _WS).scalar_subquery(),
    select(func.max(c.version)).where(c.workspace_id == _WS).scalar_subquery(),
).where(t.workspaces.c.id == _WS)
_ALL = select(T).where(c.workspace_id == _WS).order_by(c.version)


@dataclass(frozen=True)
class ConfigVersion:
    kind: str
    id: str
    version: int
    position: int
    definition: dict[str, Any] | None
    deleted: bool
    effective_from: datetime
    created_at: datetime

    def public(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "version": self.version,
            "position": self.position,
            "deleted": self.deleted,
            "effective_from": iso(self.effective_from),
            "created_at": iso(self.created_at),
            **(self.definition or {}),
        }


def version_from_row(r: Any) -> ConfigVersion:
    return ConfigVersion(
        r.kind,
        r.id,
        int(r.version),
        int(r.position),
        r.definition,
        bool(r.deleted),
        r.effective_from,
        r.created_at,
    )


class SlaConfig:
    """Versioned calendars and policies of each workspace, with small per-workspace caches of parsed objects."""

    def __init__(self, core: Deskbase) -> None:
        self.core = core
        self._calendars: dict[tuple[str, str, int], Calendar] = {}
        self._policies: dict[tuple[str, str, int], Policy] = {}
        self._timelines: dict[tuple[str, str], tuple[tuple[Any, ...], list[ConfigVersion]]] = {}

    # ---- reads ------------------------------------------------------------------------------------
    def for_write(self, tx: Tx, workspace_id: str) -> tuple[list[ConfigVersion], list[str]]:
        """Every configuration version of the workspace, oldest first, and how its messages are told to be
        the customer's (`customer_author_match`), as the write hook needs them on every ticket write. Shared:
        do not modify.

        The versions are read again only when their mark moved: the workspace's `schema_version`, which
        every save here bumps (core/lookups.py), taken from the row the transaction's unit of work already
        read — no query at all; else (no unit read it) one small query for the settings and the versions'
        count and highest seq (only ever added, so these name the whole set)."""
        conn = tx.conn
        ws_row = tx.workspace_rows.get(workspace_id)
        mark: tuple[Any, ...]
        if ws_row is not None:
            settings, mark = ws_row.settings, ("schema", ws_row.schema_version)
        else:
            row = conn.execute(_MARK, {"ws": workspace_id}).first()
            settings, mark = (row[0], ("mark", int(row[1]), row[2])) if row is not None else (None, ("none",))
        key = (
            workspace_id,
            mark[0],
        )  # one entry per kind of mark: writers of both kinds do not evict each other
        hit = self._timelines.get(key)
        if hit is None or hit[0] != mark:
            hit = (mark, [version_from_row(r) for r in conn.execute(_ALL, {"ws": workspace_id})])
            self._timelines[key] = hit
        return hit[1], list((settings or {}).get("customer_author_match") or DEFAULT_AUTHOR_MATCH)

    def versions(self, workspace_id: str, kind: str | None = None) -> list[ConfigVersion]:
        """Every version of every calendar/policy of the workspace, oldest first."""
        q = select(T).where(c.workspace_id == workspace_id)
        if kind:
            q = q.where(c.kind == kind)
        with self.core.db.read() as conn:
            return [version_from_row(r) for r in conn.execute(q.order_by(c.version))]

    def current(self, workspace_id: str, kind: str) -> list[ConfigVersion]:
        latest: dict[str, ConfigVersion] = {}
        for v in self.versions(workspace_id, kind):
            latest[v.id] = v
        return sorted((v for v in latest.values() if not v.deleted), key=lambda v: (v.position, v.id))

    def get(self, workspace_id: str, kind: str, cid: str) -> ConfigVersion:
        for v in reversed(self.versions(workspace_id, kind)):
            if v.id == cid:
                if v.deleted:
                    break
                return v
        raise NotFound(f"{kind} {cid!r} not found", {kind: cid})

    def history(self, workspace_id: str, kind: str, cid: str) -> list[ConfigVersion]:
        out = [v for v in self.versions(workspace_id, kind) if v.id == cid]
        if not out:
            raise NotFound(f"{kind} {cid!r} not found", {kind: cid})
        return out

    def calendar(self, workspace_id: str, v: ConfigVersion) -> Calendar:
        key = (workspace_id, v.id, v.version)
        cal = self._calendars.get(key)
        if cal is None:
            cal = Calendar.from_dict(_calendar_part(v.definition or {}))
            self._calendars[key] = cal
        return cal

    def policy(self, workspace_id: str, v: ConfigVersion) -> Policy:
        key = (workspace_id, v.id, v.version)
        pol = self._policies.get(key)
        if pol is None:
            pol = Policy.from_dict({**(v.definition or {}), "id": v.id, "version": v.version})
            self._policies[key] = pol
        return pol

    # ---- writes -----------------------------------------------------------------------------------
    def put(
        self,
        workspace_id: str,
        kind: str,
        cid: str,
        definition: dict[str, Any],
        actor: Actor,
        position: int | None = None,
        effective_from: datetime | None = None,
        trusted: bool = False,
    ) -> ConfigVersion:
        """Validate and save a new version. `effective_from` in the past needs the import permission (or
        `trusted`, for the template's defaults, which govern the workspace's whole history)."""
        check_slug(cid, kind)
        definition = {k: v for k, v in definition.items() if k not in ("id", "version", "position")}
        self._validate(workspace_id, kind, cid, definition)
        now = self.core.clock.now()
        if effective_from is not None and effective_from < now and not trusted:
            self.core.records.change_time(actor, effective_from, workspace_id)
        with self.core.db.tx() as tx:
            self.core.workspaces.hold(tx, workspace_id, exclusive=True)
            self.core.workspaces.require(tx.conn, workspace_id)
            prev = tx.conn.execute(
                select(T)
                .where(c.workspace_id == workspace_id, c.kind == kind, c.id == cid)
                .order_by(c.version.desc())
                .limit(1)
            ).first()
            if position is None:
                if prev is not None:
                    position = int(prev.position)
                else:
                    top = tx.conn.execute(
                        select(func.max(c.position)).where(c.workspace_id == workspace_id, c.kind == kind)
                    ).scalar()
                    position = int(top) + 1 if top is not None else 0
            change = Change(
                workspace_id,
                f"sla_{kind}",
                None,
                cid,
                "create" if prev is None or prev.deleted else "update",
                {
                    "definition": definition,
                    "position": position,
                    "effective_from": iso(effective_from or now),
                },
                actor.id,
                actor.name,
                now,
                source=actor.source,
            )
            self.core.emit_definition(tx, change)
            tx.conn.execute(
                insert(T).values(
                    workspace_id=workspace_id,
                    kind=kind,
                    id=cid,
                    version=change.seq,
                    position=position,
                    definition=definition,
                    deleted=False,
                    effective_from=effective_from or now,
                    created_at=now,
                )
            )
            if kind == "policy":
                self._make_room(tx, workspace_id, cid, position, actor, effective_from or now, now)
        return self.get(workspace_id, kind, cid)

    def _make_room(
        self,
        tx: Tx,
        workspace_id: str,
        cid: str,
        position: int,
        actor: Actor,
        effective_from: datetime,
        now: datetime,
    ) -> None:
        """Inserting a policy at a taken position moves the ones at and after it down by one — each move is a
        new version, because the order decides which policy a ticket gets."""
        conn = tx.conn
        latest: dict[str, Any] = {}
        for r in conn.execute(
            select(T).where(c.workspace_id == workspace_id, c.kind == "policy").order_by(c.version)
        ):
            latest[r.id] = r
        taken = sorted(
            (r for r in latest.values() if not r.deleted and r.id != cid and r.position >= position),
            key=lambda r: (r.position, r.id),
        )
        if not taken or taken[0].position != position:
            return
        expected = position
        for r in taken:
            if r.position > expected:
                break
            expected = r.position + 1
            change = Change(
                workspace_id,
                "sla_policy",
                None,
                r.id,
                "update",
                {
                    "definition": r.definition,
                    "position": r.position + 1,
                    "effective_from": iso(effective_from),
                },
                actor.id,
                actor.name,
                now,
                source=actor.source,
            )
            self.core.emit_definition(tx, change)
            conn.execute(
                insert(T).values(
                    workspace_id=workspace_id,
                    kind="policy",
                    id=r.id,
                    version=change.seq,
                    position=r.position + 1,
                    definition=r.definition,
                    deleted=False,
                    effective_from=effective_from,
                    created_at=now,
                )
            )

    def delete(self, workspace_id: str, kind: str, cid: str, actor: Actor) -> None:
        current = self.get(workspace_id, kind, cid)
        if kind == "calendar":
            users = [
                p.id
                for p in self.current(workspace_id, "policy")
                if (p.definition or {}).get("calendar_id") == cid
            ]
            if users:
                raise ValidationFailed(
                    f"calendar {cid!r} is used by policies {', '.join(users)}",
                    [{"pointer": "/calendar_id", "message": "in use"}],
                )
        now = self.core.clock.now()
        with self.core.db.tx() as tx:
            self.core.workspaces.hold(tx, workspace_id, exclusive=True)
            change = Change(
                workspace_id,
                f"sla_{kind}",
                None,
                cid,
                "delete",
                None,
                actor.id,
                actor.name,
                now,
                source=actor.source,
            )
            self.core.emit_definition(tx, change)
            tx.conn.execute(
                insert(T).values(
                    workspace_id=workspace_id,
                    kind=kind,
                    id=cid,
                    version=change.seq,
                    position=current.position,
                    definition=None,
                    deleted=True,
                    effective_from=now,
                    created_at=now,
                )
            )

    def _validate(self, workspace_id: str, kind: str, cid: str, definition: dict[str, Any]) -> None:
        try:
            if kind == "calendar":
                Calendar.from_dict(_calendar_part(definition))
                return
            Policy.from_dict({**definition, "id": cid, "version": 1})
        except (CalendarError, PolicyError) as exc:
            field = getattr(exc, "field", "")
            raise ValidationFailed(
                f"invalid {kind}: {exc}", [{"pointer": field or "", "message": str(exc)}]
            ) from exc
        except ValueError as exc:
            raise ValidationFailed(f"invalid {kind}: {exc}", [{"pointer": "", "message": str(exc)}]) from exc
        cal = definition.get("calendar_id")
        if not any(v.id == cal for v in self.current(workspace_id, "calendar")):
            raise ValidationFailed(
                f"calendar {cal!r} does not exist",
                [{"pointer": "/calendar_id", "message": "no such calendar"}],
            )


def _calendar_part(definition: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in definition.items() if k not in CALENDAR_LABELS}


def default_calendar(timezone: str) -> dict[str, Any]:
    """Mon-Fri 09:00-17:00 in the workspace time zone: what the template ships, for users to replace."""
    day = [["09:00", "17:00"]]
    return {
        "timezone": timezone,
        "weekly": {"mon": day, "tue": day, "wed": day, "thu": day, "fri": day, "sat": [], "sun": []},
    }
