"""The composer's form as a route receives it: its text fields, the ids of files it already uploaded (kept
after a message that was not sent), and the files attached now, streamed into staged uploads.

A composer that may attach files posts `multipart/form-data`; that body is read with deskbase/multipart.py
(files are never held whole in memory; one over `max_file_bytes` is dropped and named, and the form's text
survives), and its text fields pass the same NUL and CSRF checks as every console form before anything is
stored. A urlencoded post (no files) is read as every other form.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request

from deskbase import multipart
from deskbase.web import attachments as att
from deskbase.web.form_body import MAX_TEXT
from deskbase.web.http import ActorDep, checked_form, core_of, verified

UPLOAD_FIELD = "files"  #: the composer's file input


@dataclass
class ComposerForm:
    fields: dict[str, str]  #: text fields, CSRF-checked (the last value of each)
    kept: list[str]  #: file ids uploaded with an earlier try of this message, still ticked
    files: list[multipart.FilePart] = field(default_factory=list)  #: staged, not stored yet
    too_large: list[str] = field(default_factory=list)  #: names of files over the size limit (dropped)
    too_many: int = 0  #: files past MAX_FILES (dropped)

    def discard(self) -> None:
        """Drop what was staged and not stored (idempotent: a stored file's staged copy is gone already)."""
        for f in self.files:
            f.staged.discard()


async def read_composer(request: Request, actor: ActorDep) -> ComposerForm:
    if not multipart.is_multipart(request):
        fields = await checked_form(request)
        kept = [v for k, v in request.state.form.multi_items() if k == att.FIELD and isinstance(v, str)]
        return ComposerForm(fields, kept)
    ws = request.path_params["ws"]
    core = core_of(request)
    got = await multipart.receive(
        request,
        lambda: core.files.begin(ws, actor),
        frozenset({UPLOAD_FIELD}),
        max_files=att.MAX_FILES,
        keep_text=True,
        max_text=MAX_TEXT,
        skip_empty=True,
        skip_oversize=True,
    )
    try:
        fields = await verified(request, got.fields)
    except BaseException:
        got.discard()
        raise
    kept = [v for k, v in got.fields if k == att.FIELD]
    return ComposerForm(fields, kept, got.files, got.too_large, got.ignored_files)


ComposerFormDep = Annotated[ComposerForm, Depends(read_composer)]
