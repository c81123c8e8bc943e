"""How a stored file is named and served: filename cleaning, content types, and the inline/attachment rule.

Deny by default, as data: a file is shown inline only when its type is one of a few raster image types that no
browser runs as a document, and it keeps its stored type on the wire only when that type is passive. Anything
else (HTML, SVG, XML, scripts, unknown types) is served as `application/octet-stream` in an attachment, with
`nosniff`, so an upload can never become a page of ours.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any
from urllib.parse import quote

OCTET_STREAM = "application/octet-stream"
MAX_NAME = 255
#: Shown inline (`<img src>` in the console): raster images only. SVG is a document that runs scripts.
INLINE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
#: Served with their own type (always as an attachment unless inline above); every other type is served as
#: application/octet-stream. None of these is rendered as a document that could run script.
PASSIVE_TYPES = frozenset(
    {
        *INLINE_TYPES,
        "image/bmp",
        "image/tiff",
        "image/avif",
        "image/heic",
        "text/plain",
        "text/csv",
        "application/pdf",
        "application/json",
        "application/zip",
        "application/gzip",
        "application/x-tar",
        "application/x-7z-compressed",
        "application/msword",
        "application/rtf",
        "message/rfc822",
        OCTET_STREAM,
    }
)
#: Families served with their own type as attachments: media, office documents, fonts are not among them.
PASSIVE_PREFIXES = (
    "audio/",
    "video/",
    "application/vnd.openxmlformats-officedocument.",
    "application/vnd.oasis.opendocument.",
    "application/vnd.ms-",
)
_MEDIA_TYPE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]{0,126}/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}$")
_UNSAFE_NAME = re.compile(r"[\x00-\x1f\x7f/\\]")


def clean_content_type(declared: str | None) -> str:
    """The bare media type a client declared (lowercase, parameters dropped), or octet-stream when it is
    missing or malformed. What is stored is what was declared: it is never sniffed from the bytes."""
    if not declared:
        return OCTET_STREAM
    kind = declared.split(";", 1)[0].strip().lower()
    return kind if _MEDIA_TYPE.match(kind) else OCTET_STREAM


def clean_name(name: str | None) -> str:
    """A file name safe to store and show: the last path component, no control characters, NFC, at most
    255 characters, never empty or a dot name."""
    text = unicodedata.normalize("NFC", name or "")
    text = re.split(r"[/\\]", text)[-1]
    text = _UNSAFE_NAME.sub("_", text).strip().lstrip(".")
    text = text[:MAX_NAME].strip()
    return text or "file"


def served_type(content_type: str) -> str:
    """The Content-Type a download is sent with: the stored type when passive, else octet-stream."""
    if content_type in PASSIVE_TYPES or content_type.startswith(PASSIVE_PREFIXES):
        return content_type
    return OCTET_STREAM


def is_inline(content_type: str) -> bool:
    return content_type in INLINE_TYPES


def disposition(name: str, content_type: str) -> str:
    """RFC 6266 Content-Disposition: `inline` for the safe image types, else `attachment`; an ASCII
    `filename` fallback for old clients and the exact name as RFC 8187 `filename*`."""
    kind = "inline" if is_inline(content_type) else "attachment"
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    ascii_name = re.sub(r"[^A-Za-z0-9 !#$&+,.=@^_`{}~()\[\]-]", "_", ascii_name).strip() or "file"
    return f"{kind}; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name, safe='')}"


#: Browsers get nothing to run from a download: no scripts, no plugins, no frames, even if a type slipped through.
DOWNLOAD_CSP = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox"


def download_headers(meta: dict[str, Any]) -> dict[str, str]:
    """The headers a file's bytes are served with (API and console alike), from its metadata
    (`core.files.public`): never a page of ours, never sniffed, revalidated by its content hash."""
    return {
        # Set as is: a web framework would add a charset to text types, a guess about bytes never decoded.
        "Content-Type": served_type(meta["content_type"]),
        "Content-Disposition": disposition(meta["name"], meta["content_type"]),
        "Content-Length": str(meta["size"]),
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": DOWNLOAD_CSP,
        "Cache-Control": "private, max-age=0, must-revalidate",
        "ETag": f'"{meta["sha256"]}"',
    }
