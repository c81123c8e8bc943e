"""If-Match for settings rows (triggers, hooks): the console and API replace a row only at the version the
caller read, so two admins editing at once cannot silently undo each other."""

from __future__ import annotations

from typing import Any

from deskbase.core.errors import PreconditionFailed


def check_version(what: str, old: Any, expected: int | None) -> None:
    """The If-Match rule for settings rows (triggers, hooks): a missing row has no version to match."""
    if expected is None:
        return
    current = None if old is None else int(old.version)
    if current != expected:
        raise PreconditionFailed(
            f"{what} is at version {current}, not {expected}",
            {"current_version": current, "expected_version": expected},
        )
