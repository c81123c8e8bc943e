"""Attachments on the ticket page: the files a conversation's messages name, read in one call under
core.files' rule (read access through a referencing record), and the composer's upload limits.

The console serves a file's bytes at `content_href` with the API's own headers (core/file_types.py): an
image type safe to show inline is shown as a thumbnail, anything else is a download.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

from deskbase.core.app import Deskbase
from deskbase.core.context import Actor
from deskbase.core.file_types import is_inline
from deskbase.web.http import may
from deskbase.web.ticket_pages import Attachment

#: how many files one message may carry from the composer
MAX_FILES = 10
FIELD = "attachments"  #: a record's file ids, and the composer's kept uploads
UNITS = ("bytes", "KiB", "MiB", "GiB")


def size_text(n: int) -> str:
    """Bytes for people: 812 bytes, 14.2 KiB, 25 MiB (binary units, as the size settings are documented; one
    decimal under 100)."""
    value = float(n)
    for unit in UNITS:
        if value < 1024 or unit == UNITS[-1]:
            if unit == "bytes":
                return f"{int(value)} byte{'' if int(value) == 1 else 's'}"
            text = f"{value:.1f}" if value < 100 else f"{value:.0f}"
            return f"{text.removesuffix('.0')} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def content_href(workspace_id: str, file_id: str) -> str:
    return f"/w/{quote(workspace_id)}/files/{quote(file_id)}/content"


def attachment(workspace_id: str, meta: dict[str, Any]) -> Attachment:
    return Attachment(
        id=meta["id"],
        name=meta["name"],
        size=size_text(int(meta["size"])),
        content_type=meta["content_type"],
        href=content_href(workspace_id, meta["id"]),
        image=is_inline(meta["content_type"]),
    )


def file_ids(data: dict[str, Any]) -> list[str]:
    value = data.get(FIELD)
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def readable(core: Deskbase, workspace_id: str, actor: Actor, ids: Iterable[str]) -> dict[str, Attachment]:
    """Those of `ids` the actor may read, by id (none without `read:files`)."""
    wanted = set(ids)
    if not wanted or not may(actor, "read:files", workspace_id):
        return {}
    found = core.files.readable(workspace_id, actor, wanted)
    return {fid: attachment(workspace_id, meta) for fid, meta in found.items()}
