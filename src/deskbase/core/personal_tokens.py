"""A user's personal API tokens: minted by the user, never worth more than the user's roles.

Without grants a personal token follows its user's roles (its stored grants are "everything", intersected
with the roles on every use); with grants it must fit inside what the user may do now, and is still
intersected on every use, so a demotion narrows it at once and a suspension stops it. A personal token minted
from another personal token gets no more than that token (its grants, and its expiry at the latest).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from deskbase.core import tables as t
from deskbase.core.clock import iso
from deskbase.core.context import Actor
from deskbase.core.errors import Forbidden, NotFound, ValidationFailed
from deskbase.core.grants import ANY, normalize, uncovered
from deskbase.core.tokens import public

if TYPE_CHECKING:
    from deskbase.core.app import Deskbase

FOLLOW_ROLES = [{"scope": {"workspaces": [ANY]}, "permissions": [ANY]}]


def _user(actor: Actor) -> str:
    if actor.user_id is None:
        raise NotFound("this token belongs to no user (it is a service token)", {"user": None})
    return actor.user_id


def _as_user(actor: Actor, user_id: str) -> Actor:
    """The user as a console session is: the one who manages every token of theirs."""
    return Actor(id=user_id, name=actor.name, grants=actor.grants, is_admin=actor.is_admin, user_id=user_id)


class PersonalTokens:
    def __init__(self, app: Deskbase) -> None:
        self.app = app

    def mint(
        self, actor: Actor, name: str, grants: Any = None, expires_at: datetime | None = None
    ) -> tuple[str, dict[str, Any]]:
        user_id = _user(actor)
        now = self.app.clock.now()
        if expires_at is not None and expires_at <= now:
            raise ValidationFailed(
                "expires_at must be in the future", [{"pointer": "/expires_at", "message": "in the past"}]
            )
        parent = None
        if actor.id != user_id:  # minted with a personal token: no more than that token
            with self.app.db.read() as conn:
                parent = conn.execute(select(t.tokens).where(t.tokens.c.id == actor.id)).first()
        if grants is None:
            grants = list(parent.grants) if parent is not None else FOLLOW_ROLES
        else:
            grants = normalize(grants)
            missing = uncovered(actor.grants, grants)
            if missing is not None:
                ws, coll, perm = missing
                where = f"workspace {ws!r}" + (f", collection {coll!r}" if coll else "")
                raise Forbidden(
                    f"a personal token cannot exceed what you may do: you lack {perm!r} on {where}",
                    {"permission": perm, "workspace": ws, "collection": coll},
                )
        cap = parent.expires_at if parent is not None else None
        if cap is not None and (expires_at is None or expires_at > cap):
            raise ValidationFailed(
                f"a token cannot outlive the token that mints it (which expires at {iso(cap)})",
                [{"pointer": "/expires_at", "message": f"at most {iso(cap)}"}],
            )
        return self.app.tokens.create(
            name, grants, created_by=actor.id, expires_at=expires_at, user_id=user_id
        )

    def list(self, actor: Actor) -> list[dict[str, Any]]:
        user_id = _user(actor)
        with self.app.db.read() as conn:
            rows = conn.execute(
                select(t.tokens).where(t.tokens.c.user_id == user_id).order_by(t.tokens.c.created_at)
            ).all()
        return [public(r) for r in rows]

    def revoke(self, actor: Actor, token_id: str) -> dict[str, Any]:
        """Any token of yours (and those minted from it)."""
        user_id = _user(actor)
        with self.app.db.read() as conn:
            owner = conn.execute(select(t.tokens.c.user_id).where(t.tokens.c.id == token_id)).scalar()
        if owner != user_id:
            raise NotFound(f"token {token_id!r} not found", {"id": token_id})
        return self.app.tokens.revoke(_as_user(actor, user_id), token_id)
