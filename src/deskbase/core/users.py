"""Users: the people who sign in. Profile, status and password; who may see whom; cutting a user off.

A user is server-wide (like a token), reached through workspace memberships (members.py). A server admin sees
and manages every user; anyone else sees only the people of the workspaces their scope reaches, and edits only
their own profile. Suspending or deleting a user revokes their tokens, ends their console sessions and stops
the triggers and hooks they configured, in the one transaction that changes the user.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any
from zoneinfo import available_timezones

from sqlalchemy import delete, insert, or_, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from deskbase.core import tables as t
from deskbase.core.auth import sees
from deskbase.core.clock import iso
from deskbase.core.context import Actor
from deskbase.core.db import Tx
from deskbase.core.errors import Conflict, Forbidden, NotFound, PreconditionFailed, ValidationFailed
from deskbase.core.hooks import Revocation
from deskbase.core.passwords import check as check_password
from deskbase.core.people_tables import memberships, password_resets, users
from deskbase.core.sso_tables import user_identities
from deskbase.core.user_access import ACTIVE, AccessCache

if TYPE_CHECKING:
    from deskbase.core.app import Deskbase

STATUSES = (ACTIVE, "suspended")
PROFILE = ("name", "time_zone", "locale", "avatar_colour", "away")
ADMIN_ONLY = ("email", "status", "server_admin")
#: Avatar colours with at least 4.5:1 contrast against white initials.
PALETTE = ("#1f5fa8", "#7a3e9d", "#0f766e", "#b42318", "#8a5a00", "#3f6212", "#9d174d", "#374151")
_EMAIL = re.compile(r"^[^@\s\x00-\x1f\x7f]{1,64}@[^@\s\x00-\x1f\x7f]+\.[^@\s\x00-\x1f\x7f]+$")
_LOCALE = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8}){0,3}$")
_COLOUR = re.compile(r"^#[0-9a-fA-F]{6}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
audit_log = logging.getLogger("deskbase.audit")


@lru_cache(maxsize=1)
def time_zones() -> frozenset[str]:
    return frozenset(available_timezones())


def _bad(pointer: str, message: str) -> ValidationFailed:
    return ValidationFailed(f"{pointer[1:]}: {message}", [{"pointer": pointer, "message": message}])


def normal_email(value: Any, pointer: str = "/email") -> str:
    if not isinstance(value, str) or len(value.strip()) > 254 or not _EMAIL.match(value.strip()):
        raise _bad(pointer, "expected an email address such as maria@example.com")
    return value.strip().lower()


def check_field(name: str, value: Any) -> Any:
    """One profile field, checked (pure: raises ValidationFailed naming the field)."""
    pointer = "/" + name
    if name == "name":
        if not isinstance(value, str) or not value.strip() or len(value) > 200 or _CONTROL.search(value):
            raise _bad(pointer, "1-200 printable characters")
        return value.strip()
    if name == "time_zone":
        if not isinstance(value, str) or value not in time_zones():
            raise _bad(pointer, "an IANA time zone such as Europe/Lisbon or UTC")
        return value
    if name == "locale":
        if not isinstance(value, str) or not _LOCALE.match(value):
            raise _bad(pointer, "a language tag such as en or pt-BR")
        return value
    if name == "avatar_colour":
        if not isinstance(value, str) or not _COLOUR.match(value):
            raise _bad(pointer, "a colour as #rrggbb")
        return value.lower()
    if name == "email":
        return normal_email(value)
    if name == "status":
        if value not in STATUSES:
            raise _bad(pointer, f"one of {', '.join(STATUSES)}")
        return value
    if name in ("server_admin", "away"):
        if not isinstance(value, bool):
            raise _bad(pointer, "true or false")
        return value
    raise _bad(pointer, "not a field of a user")


def colour_for(email: str) -> str:
    return PALETTE[hashlib.sha256(email.encode()).digest()[0] % len(PALETTE)]


def public(row: Any, two_factor: bool | None = None) -> dict[str, Any]:
    """A user as the API shows them; `two_factor` only to those who may see it (SecondFactor.shown)."""
    out = {
        "id": row.id,
        "email": row.email,
        "name": row.name,
        "time_zone": row.time_zone,
        "locale": row.locale,
        "avatar_colour": row.avatar_colour,
        "status": row.status,
        "server_admin": bool(row.server_admin),
        "away": bool(row.away),
        "has_password": row.password_hash is not None,
        "created_at": iso(row.created_at),
        "updated_at": iso(row.updated_at),
        "version": row.version,
    }
    if two_factor is not None:
        out["two_factor"] = {"enabled": two_factor}
    return out


@dataclass(frozen=True)
class NewUser:
    """A user's checked fields and password hash, made before the write transaction (hashing is slow and
    must not hold the store's write lock)."""

    email: str
    values: dict[str, Any]
    password_hash: str | None


def not_found(user_id: str) -> NotFound:
    return NotFound(f"user {user_id!r} not found", {"user": user_id})


class Users:
    def __init__(self, app: Deskbase) -> None:
        self.app = app
        self.access = AccessCache(app.db)

    def forget(self, user_id: str | None = None) -> None:
        """Drop cached access (after a change of roles or memberships made here)."""
        self.access.forget(user_id)

    def actor(self, user_id: str) -> Actor:
        """The user as a console session acts: their own id and name, their roles' grants (Unauthorized
        once suspended or deleted)."""
        a = self.access.get(user_id)
        return Actor(id=user_id, name=a.name, grants=a.grants, is_admin=a.server_admin, user_id=user_id)

    # ---- who sees whom ------------------------------------------------------------------------------
    def visible_workspaces(self, actor: Actor) -> list[str]:
        return [w["id"] for w in self.app.workspaces.list() if sees(actor, w["id"])]

    def may_see(self, conn: Connection, actor: Actor, user_id: str) -> bool:
        """Yourself, anyone for a server admin, else the members of a workspace your scope reaches."""
        if actor.is_admin or actor.user_id == user_id:
            return True
        shared = self.visible_workspaces(actor)
        return bool(
            shared
            and conn.execute(
                select(memberships.c.user_id).where(
                    memberships.c.user_id == user_id, memberships.c.workspace_id.in_(shared)
                )
            ).first()
        )

    # ---- reads --------------------------------------------------------------------------------------
    def row(self, conn: Connection, user_id: str) -> Any:
        row = conn.execute(select(users).where(users.c.id == user_id)).first()
        if row is None:
            raise not_found(user_id)
        return row

    def by_email(self, conn: Connection, email: str) -> Any:
        return conn.execute(select(users).where(users.c.email == email.strip().lower())).first()

    def get(self, actor: Actor, user_id: str) -> dict[str, Any]:
        with self.app.db.read() as conn:
            if not self.may_see(conn, actor, user_id):
                raise not_found(user_id)
            return public(
                self.row(conn, user_id), self.app.factors.shown(conn, actor, [user_id]).get(user_id)
            )

    def me(self, actor: Actor) -> dict[str, Any]:
        """The calling user with their memberships (a service token has no user: 404)."""
        if actor.user_id is None:
            raise NotFound("this token belongs to no user (it is a service token)", {"user": None})
        with self.app.db.read() as conn:
            row = self.row(conn, actor.user_id)
            on = self.app.factors.shown(conn, actor, [actor.user_id]).get(actor.user_id)
            ms = conn.execute(
                select(memberships.c.workspace_id, memberships.c.role)
                .where(memberships.c.user_id == actor.user_id)
                .order_by(memberships.c.workspace_id)
            ).all()
        return {**public(row, on), "memberships": [{"workspace": m.workspace_id, "role": m.role} for m in ms]}

    def list(
        self, actor: Actor, limit: int = 100, cursor: str | None = None, email: str | None = None
    ) -> dict[str, Any]:
        """Users ordered by email; `cursor` is the last email of the previous page."""
        query = select(users).order_by(users.c.email).limit(limit + 1)
        if cursor:
            query = query.where(users.c.email > cursor)
        if email is not None:
            query = query.where(users.c.email == email.strip().lower())
        if not actor.is_admin:
            shared = self.visible_workspaces(actor)
            members = select(memberships.c.user_id).where(memberships.c.workspace_id.in_(shared))
            query = query.where(or_(users.c.id.in_(members), users.c.id == (actor.user_id or "")))
        with self.app.db.read() as conn:
            rows = conn.execute(query).all()
            more = len(rows) > limit
            rows = rows[:limit]
            shown = self.app.factors.shown(conn, actor, [r.id for r in rows])
        return {
            "data": [public(r, shown.get(r.id)) for r in rows],
            "next_cursor": rows[-1].email if more and rows else None,
        }

    # ---- writes -------------------------------------------------------------------------------------
    def create(self, actor: Actor, fields: dict[str, Any], password: str | None = None) -> dict[str, Any]:
        """A new active user (server admins; invitations create users through `insert`)."""
        if not actor.is_admin:
            raise Forbidden("creating users needs a server admin", {"permission": "admin"})
        new = self.prepare(fields, password)
        with self.app.db.tx() as tx:
            row = self.insert(tx, new)
        audit_log.info("user %s created by %s", row.id, actor.id)
        return public(row, False)  # a server admin sees it, and a new user has none

    def prepare(self, fields: dict[str, Any], password: str | None = None) -> NewUser:
        email = normal_email(fields.get("email"))
        values: dict[str, Any] = {
            "name": check_field("name", fields.get("name") or email.split("@", 1)[0]),
            "time_zone": check_field("time_zone", fields.get("time_zone") or "UTC"),
            "locale": check_field("locale", fields.get("locale") or "en"),
            "avatar_colour": check_field("avatar_colour", fields.get("avatar_colour") or colour_for(email)),
            "server_admin": check_field("server_admin", bool(fields.get("server_admin", False))),
        }
        hashed = None if password is None else self.hash_password(password, email, values["name"])
        return NewUser(email, values, hashed)

    def hash_password(self, password: str, email: str, name: str) -> str:
        """Check a new password against the rules and hash it (outside any transaction)."""
        return self.app.signin.hasher.hash(check_password(password, email, name))

    def insert(self, tx: Tx, new: NewUser) -> Any:
        if self.by_email(tx.conn, new.email) is not None:
            raise Conflict(f"a user with email {new.email!r} exists", {"email": new.email})
        uid = "usr_" + secrets.token_hex(8)
        now = self.app.clock.now()
        try:
            tx.conn.execute(
                insert(users).values(
                    id=uid,
                    email=new.email,
                    status=ACTIVE,
                    password_hash=new.password_hash,
                    version=1,
                    created_at=now,
                    updated_at=now,
                    **new.values,
                )
            )
        except IntegrityError as exc:  # a concurrent create of the same email
            raise Conflict(f"a user with email {new.email!r} exists", {"email": new.email}) from exc
        return self.row(tx.conn, uid)

    def patch(
        self, actor: Actor, user_id: str, changes: dict[str, Any], version: int | None = None
    ) -> dict[str, Any]:
        """Users edit their own profile; a server admin edits anyone's, including email, status and
        server_admin. Suspending cuts the user off at once."""
        unknown = sorted(set(changes) - set(PROFILE) - set(ADMIN_ONLY))
        if unknown:
            raise _bad("/" + unknown[0], "not a field of a user")
        values = {k: check_field(k, v) for k, v in changes.items()}
        with self.app.db.tx() as tx:
            if not self.may_see(tx.conn, actor, user_id):
                raise not_found(user_id)
            if not actor.is_admin and (actor.user_id != user_id or set(values) & set(ADMIN_ONLY)):
                raise Forbidden(
                    "only a server admin changes another user, or anyone's email, status or server_admin",
                    {"permission": "admin"},
                )
            row = self.row(tx.conn, user_id)
            if version is not None and version != row.version:
                raise PreconditionFailed(
                    f"user {user_id!r} is at version {row.version}, not {version}",
                    {"current_version": row.version},
                )
            if "email" in values and values["email"] != row.email and self.by_email(tx.conn, values["email"]):
                raise Conflict(f"a user with email {values['email']!r} exists", {"email": values["email"]})
            if values:
                tx.conn.execute(
                    update(users)
                    .where(users.c.id == user_id)
                    .values(**values, version=row.version + 1, updated_at=self.app.clock.now())
                )
            if "email" in values and values["email"] != row.email:
                for fn in self.app.hooks.email_changed:
                    fn(tx, user_id, row.email, values["email"])
            if values.get("status") == "suspended" and row.status != "suspended":
                self.cut_off(tx, [user_id], f"its owner {row.email} was suspended")
            out = self.row(tx.conn, user_id)
            shown = self.app.factors.shown(tx.conn, actor, [user_id]).get(user_id)
        self.forget(user_id)
        if {"status", "server_admin", "email"} & set(values):
            audit_log.info("user %s changed by %s: %s", user_id, actor.id, sorted(values))
        return public(out, shown)

    def delete(self, actor: Actor, user_id: str) -> None:
        if not actor.is_admin:
            raise Forbidden("deleting users needs a server admin", {"permission": "admin"})
        with self.app.db.tx() as tx:
            row = self.row(tx.conn, user_id)
            self.cut_off(tx, [user_id], f"its owner {row.email} was deleted")
            for fn in self.app.hooks.left:
                fn(tx, user_id, None)
            tx.conn.execute(delete(memberships).where(memberships.c.user_id == user_id))
            self.app.teams.drop_user(tx, user_id)
            tx.conn.execute(delete(password_resets).where(password_resets.c.user_id == user_id))
            self.app.factors.drop_user(tx, user_id)
            tx.conn.execute(delete(user_identities).where(user_identities.c.user_id == user_id))
            tx.conn.execute(delete(users).where(users.c.id == user_id))
        self.forget(user_id)
        audit_log.info("user %s deleted by %s", user_id, actor.id)

    def cut_off(self, tx: Tx, user_ids: Iterable[str], reason: str) -> set[str]:
        """Inside `tx`: revoke the users' tokens, end their console sessions (password and token ones) and
        stop what they configured (the token-revocation hooks, given the token ids and the user ids, since
        a console session configures as its user), recording `reason` on it. Returns the revoked token ids."""
        ids = sorted(user_ids)
        tokens = {
            r.id for r in tx.conn.execute(select(t.tokens.c.id).where(t.tokens.c.user_id.in_(ids))).all()
        }
        now = self.app.clock.now()
        tx.conn.execute(
            update(t.tokens)
            .where(t.tokens.c.user_id.in_(ids), t.tokens.c.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        cs = t.console_sessions
        tx.conn.execute(delete(cs).where(or_(cs.c.user_id.in_(ids), cs.c.token_id.in_(sorted(tokens)))))
        gone = Revocation(frozenset(tokens | set(ids)), reason)
        for fn in self.app.hooks.revoked:
            fn(tx, gone)
        tx.after_commit(self.app.tokens.forget)
        return tokens

    def set_password_hash(self, tx: Tx, user_id: str, hashed: str) -> None:
        """Store a new password (hashed by `hash_password`); every console session of the user ends."""
        row = self.row(tx.conn, user_id)
        tx.conn.execute(
            update(users)
            .where(users.c.id == user_id)
            .values(password_hash=hashed, version=row.version + 1, updated_at=self.app.clock.now())
        )
        tx.conn.execute(delete(t.console_sessions).where(t.console_sessions.c.user_id == user_id))
