"""Console form bodies, read with a size limit: the text of a form may be at most `MAX_TEXT` bytes, as the
composer's text fields may (composer_form.py), and a post over it is refused with a 413 page before more of
it is read.

Starlette's `request.form()` reads an urlencoded body whole, however large, and spools multipart parts of up
to 1 MiB each; here an urlencoded body is read chunk by chunk up to the limit, and a multipart one goes
through deskbase/multipart.py (text parts kept up to the limit; file parts skipped unread: only the
composer takes files).
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from python_multipart.multipart import parse_options_header
from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request

from deskbase import multipart
from deskbase.core.blobs import Staged
from deskbase.core.errors import BadRequest, PayloadTooLarge

#: the text of one console form, all fields together (a record holds at most 1 MiB; the composer's limit)
MAX_TEXT = 2 * 1024 * 1024
#: more fields than any console form has (the queue's bulk bar ticks at most a page of rows)
MAX_FIELDS = 1000
URLENCODED = b"application/x-www-form-urlencoded"


def too_large() -> PayloadTooLarge:
    return PayloadTooLarge(
        f"The form is larger than {MAX_TEXT // (1024 * 1024)} MiB, so nothing was saved. Go back and shorten it.",
        {"limit": MAX_TEXT},
    )


def _no_files() -> Staged:
    raise AssertionError("a console form other than the composer takes no files")


async def read_form(request: Request) -> FormData:
    """The request's form fields (repeats kept, in order); a body of another type is an empty form, as
    Starlette's parser answers it."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_TEXT + 64 * 1024:
        raise too_large()  # framing aside, the text alone is over the limit: refuse before reading
    if multipart.is_multipart(request):
        try:
            got = await multipart.receive(
                request, _no_files, frozenset(), max_files=0, keep_text=True, max_text=MAX_TEXT
            )
        except PayloadTooLarge:
            raise too_large() from None
        return _form(got.fields)
    kind, _ = parse_options_header(request.headers.get("content-type"))
    if kind != URLENCODED:
        return FormData()
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_TEXT:
            raise too_large()
    try:
        pairs = parse_qsl(
            body.decode("utf-8", "replace"),
            keep_blank_values=True,
            max_num_fields=MAX_FIELDS,
            encoding="utf-8",
            errors="replace",
        )
    except ValueError as exc:  # more fields than MAX_FIELDS
        raise BadRequest(f"the form has more than {MAX_FIELDS} fields", {"limit": MAX_FIELDS}) from exc
    return _form(pairs)


def _form(pairs: list[tuple[str, str]]) -> FormData:
    items: list[tuple[str, str | UploadFile]] = list(pairs)
    return FormData(items)
