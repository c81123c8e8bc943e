"""Dependency aliases declared once: the core facade, the calling actor, request helpers."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import Depends, Header, Request

from deskbase.core.app import Deskbase
from deskbase.core.auth import authorize
from deskbase.core.clock import parse_iso
from deskbase.core.context import Actor
from deskbase.core.errors import BadRequest


def get_core(request: Request) -> Deskbase:
    return request.app.state.core  # type: ignore[no-any-return]


def get_actor(request: Request, authorization: Annotated[str | None, Header()] = None) -> Actor:
    core: Deskbase = request.app.state.core
    raw = None
    if authorization:
        scheme, _, value = authorization.partition(" ")
        raw = value.strip() if scheme.lower() == "bearer" else None
    actor = core.tokens.authenticate(raw)
    request.state.actor = actor
    return actor


CoreDep = Annotated[Deskbase, Depends(get_core)]
ActorDep = Annotated[Actor, Depends(get_actor)]


def if_match(value: str | None) -> int | None:
    """Parse an If-Match header carrying a version (`12`, `"12"` or `W/"12"`)."""
    if value is None or value.strip() == "*":
        return None
    v = value.strip()
    if v.startswith("W/"):
        v = v[2:]
    v = v.strip('"')
    if not v.isdigit():
        raise BadRequest(
            f"If-Match must carry a record version (an integer), not {value!r}", {"if_match": value}
        )
    return int(v)


def when(value: str | datetime | None, field: str = "at") -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    try:
        return parse_iso(value)
    except ValueError as exc:
        raise BadRequest(
            f"{field} must be an ISO-8601 time with an offset, e.g. 2026-01-31T09:00:00Z", {"field": field}
        ) from exc


__all__ = ["ActorDep", "CoreDep", "authorize", "if_match", "when"]
