"""Files: upload (multipart, streamed), read metadata, download the bytes, delete an unreferenced one.

A download is never a page of ours: `X-Content-Type-Options: nosniff`, a sandboxing CSP, the stored type only
when it is passive (else `application/octet-stream`), and `attachment` unless the type is a raster image safe
to show inline (core/file_types.py holds the rules and the headers).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from deskbase.api.deps import ActorDep, CoreDep, requires
from deskbase.api.uploads import receive_file
from deskbase.core.file_types import download_headers

router = APIRouter(prefix="/v1/workspaces/{ws}/files", tags=["files"])
#: The `file` part of the multipart body, for the OpenAPI document (the route parses the stream itself).
UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {"file": {"type": "string", "format": "binary"}},
                }
            }
        },
    }
}


@router.post("", status_code=201, openapi_extra={**requires("write:files"), **UPLOAD_BODY})
async def upload(ws: str, request: Request, core: CoreDep, actor: ActorDep) -> dict[str, Any]:
    """Upload one file as the multipart part `file` (its filename and Content-Type are kept). Files over
    `max_file_bytes` are refused with 413 `file_too_large` and nothing is stored."""
    staged = await run_in_threadpool(core.files.begin, ws, actor)
    try:
        name, content_type = await receive_file(request, staged)
    except BaseException:
        staged.discard()
        raise
    return await run_in_threadpool(core.files.commit, ws, actor, staged, name, content_type)


@router.get("/{file_id}", openapi_extra=requires("read:files"))
def get_file(ws: str, file_id: str, core: CoreDep, actor: ActorDep) -> dict[str, Any]:
    """The file's metadata; readable by whoever may read a record that refers to it (or by its uploader
    until a record does)."""
    return core.files.get(ws, actor, file_id)


@router.get(
    "/{file_id}/content",
    openapi_extra=requires("read:files"),
    response_class=StreamingResponse,
    responses={200: {"content": {"application/octet-stream": {}}, "description": "The file's bytes."}},
)
def download(ws: str, file_id: str, core: CoreDep, actor: ActorDep) -> StreamingResponse:
    """The file's bytes, streamed."""
    meta, chunks = core.files.open(ws, actor, file_id)
    return StreamingResponse(chunks, headers=download_headers(meta))


@router.delete("/{file_id}", status_code=204, openapi_extra=requires("write:files"))
def delete_file(ws: str, file_id: str, core: CoreDep, actor: ActorDep) -> Response:
    """Delete a file no record refers to (its uploader or a workspace admin); 409 while one does."""
    core.files.delete(ws, actor, file_id)
    return Response(status_code=204)
