"""What a URL may carry: every path parameter has an id rule, and no path or query value holds a NUL.

One app-level dependency checks the URL before any route code runs, so text from a URL never reaches SQL,
ClickHouse DDL or a file path unchecked, whichever route (API or console) it was sent to.
"""

from __future__ import annotations

import re

from fastapi import Request

from deskbase.core.errors import BadRequest, InvalidId
from deskbase.core.ids import RECORD_ID_RE, SLUG_RE

_SLUG = (SLUG_RE, "1-63 lowercase letters, digits, '-' or '_', starting with a letter or digit")
_RECORD_ID = (RECORD_ID_RE, "1-128 letters, digits, '-' or '_', starting with a letter or digit")
_NUMBER = (re.compile(r"^[1-9][0-9]{0,15}$"), "a record's number: a positive whole number")
_USER_ID = (re.compile(r"^usr_[0-9a-f]{16}$"), "a user's id: usr_ and 16 hex digits")
_INVITATION_ID = (re.compile(r"^inv_[0-9a-f]{16}$"), "an invitation's id: inv_ and 16 hex digits")
_LINK = (
    re.compile(r"^ds[ir]_[A-Za-z0-9_-]{43}$"),
    "an invitation or password reset link's secret: dsi_ or dsr_ and 43 URL-safe characters",
)
_INGEST_KEY = (
    re.compile(r"^hk_[A-Za-z0-9_-]{1,60}$"),
    "a hook's ingest key: hk_ and up to 60 URL-safe characters",
)

#: Each path parameter name the app's routes use → the rule its value must follow. Names are shared across
#: routes (`name` is a template's or a stored query's name, both slugs); tests check every route's
#: parameters are listed here, and an unlisted one falls back to the record id rule.
PATH_RULES: dict[str, tuple[re.Pattern[str], str]] = {
    "ws": _SLUG,
    "collection": _SLUG,
    "rel_type": _SLUG,
    "name": _SLUG,
    "plural": _SLUG,
    "cid": _SLUG,
    "token_id": _SLUG,
    "report_id": _SLUG,
    "panel_id": _SLUG,
    "rid": _RECORD_ID,
    "ticket_id": _RECORD_ID,
    "rel_id": _RECORD_ID,
    "number": _NUMBER,
    "trigger_id": _SLUG,
    "delivery_id": _RECORD_ID,
    "hook_id": _SLUG,
    "ingest_key": _INGEST_KEY,
    "file_id": _RECORD_ID,
    "mailbox_id": _SLUG,
    "outbox_id": _RECORD_ID,
    "notification_id": _RECORD_ID,
    "user_id": _USER_ID,
    "role": _SLUG,
    "team_id": _SLUG,
    "invitation_id": _INVITATION_ID,
    "token": _LINK,
}


async def check_url(request: Request) -> None:
    """Refuse a path parameter that breaks its id rule (400 `invalid_id`) and a NUL character in any path or
    query value (400 `bad_request`): PostgreSQL cannot store one, so no store may see one."""
    for name, value in request.path_params.items():
        if not isinstance(value, str):
            continue
        pattern, rule = PATH_RULES.get(name, _RECORD_ID)
        if not pattern.match(value):
            raise InvalidId(
                f"invalid path parameter {name!r}: {value!r} must be {rule}",
                {"parameter": name, "value": value},
            )
    for name, value in request.query_params.multi_items():
        if "\x00" in value or "\x00" in name:
            raise BadRequest(
                f"query parameter {name!r} contains a NUL character (\\u0000), which no field may hold",
                {"parameter": name},
            )
