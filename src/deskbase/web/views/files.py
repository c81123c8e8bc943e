"""A file's bytes for the console (thumbnails and downloads of attachments), for a signed-in session.

The API's download route needs a bearer token; the console signs in with sessions, so it serves files here
through the same core call (`core.files.open`: `read:files` and read access through a record that refers to
the file, else the 404 a missing file gets) and the same headers (core/file_types.py).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from deskbase.api.deps import requires
from deskbase.core.file_types import download_headers
from deskbase.web.http import ActorDep, core_of
from deskbase.web.routing import ConsoleRoute

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)


@router.get("/w/{ws}/files/{file_id}/content", openapi_extra=requires("read:files"))
def content(ws: str, file_id: str, request: Request, actor: ActorDep) -> StreamingResponse:
    meta, chunks = core_of(request).files.open(ws, actor, file_id)
    return StreamingResponse(chunks, headers=download_headers(meta))
