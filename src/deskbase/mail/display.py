"""A message's HTML as the console shows it: sanitised again on the way out, with remote images kept only when
the agent asked for them (read from the stored original, since the stored HTML has their sources removed).

The rules are htmlsafe.py's allowlists; the one difference is that `img` may keep an http(s) source. HTML
is sanitised on every display, not only at ingest: a response's `mail.html` is a record field any writer of
responses can set, so what reaches a page never depends on who wrote it.
"""

from __future__ import annotations

from collections.abc import Iterable
from email import policy
from email.feedparser import BytesFeedParser
from typing import Any

import nh3

from deskbase.mail import htmlsafe
from deskbase.mail.parse import decode_bytes

REMOTE_SCHEMES = ("http://", "https://")


def _keep_images(remote: bool) -> Any:
    def keep(tag: str, attr: str, value: str) -> str | None:
        if tag == "img" and attr == "src":
            src = value.strip().lower()
            if src.startswith("cid:") or (remote and src.startswith(REMOTE_SCHEMES)):
                return value
            return None
        return value

    return keep


def sanitize(source: str, remote_images: bool = False) -> str:
    """`source` made safe by htmlsafe's rules; `remote_images` keeps http(s) image sources."""
    return str(
        nh3.clean(
            source,
            tags=set(htmlsafe.TAGS),
            clean_content_tags=set(htmlsafe.DROP_WITH_CONTENT),
            attributes={k: set(v) for k, v in htmlsafe.ATTRIBUTES.items()},
            attribute_filter=_keep_images(remote_images),
            url_schemes=set(htmlsafe.SCHEMES),
            strip_comments=True,
            link_rel="noopener noreferrer",
            filter_style_properties=set(htmlsafe.STYLES),
        )
    )


def html_of(chunks: Iterable[bytes]) -> str | None:
    """The HTML body of a raw message (its bytes as stored, chunk by chunk), decoded as the parser decodes
    it (parse.py), not yet sanitised; None when it has none (an HTML body that only a winmail.dat carried
    is not looked for)."""
    feed = BytesFeedParser(policy=policy.default)
    for chunk in chunks:
        feed.feed(chunk)
    msg: Any = feed.close()
    try:
        part = msg.get_body(preferencelist=("html",))
    except Exception:  # a malformed structure the parser kept as it came: no HTML to show
        return None
    if part is None:
        return None
    payload = part.get_payload(decode=True)
    return decode_bytes(payload if isinstance(payload, bytes) else b"", part.get_content_charset())
