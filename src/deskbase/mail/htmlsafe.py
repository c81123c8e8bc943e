"""HTML from mail, made safe to show (nh3) and readable as text: allowlists as data, deny by default.

Kept: formatting, lists, tables, links (with rel=noopener), inline `cid:` images (the message's own parts).
Dropped: scripts, styles blocks, forms, frames, event handlers, every CSS property not listed, and remote
images (their `src` goes: loading one tells the sender the mail was read; the original .eml still has them).
"""

from __future__ import annotations

import html
import re
from typing import Any

import nh3

TAGS = frozenset(
    {
        "a", "abbr", "b", "blockquote", "br", "caption", "center", "code", "col", "colgroup", "dd", "del",
        "div", "dl", "dt", "em", "font", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "ins", "kbd",
        "li", "ol", "p", "pre", "q", "s", "small", "span", "strike", "strong", "sub", "sup", "table",
        "tbody", "td", "tfoot", "th", "thead", "tr", "tt", "u", "ul",
    }
)  # fmt: skip
ATTRIBUTES = {
    "*": {"style", "title", "dir", "lang", "align"},
    "a": {"href", "name"},
    "img": {"src", "alt", "width", "height"},
    "td": {"colspan", "rowspan", "valign", "width"},
    "th": {"colspan", "rowspan", "valign", "width"},
    "table": {"width", "cellpadding", "cellspacing", "border"},
    "font": {"color", "face", "size"},
    "col": {"span", "width"},
    "colgroup": {"span", "width"},
    "ol": {"start", "type"},
    "blockquote": {"cite", "type"},
}
#: CSS properties that format text without taking over the page (no position, display, sizes of boxes).
STYLES = frozenset(
    {
        "color", "background-color", "font-weight", "font-style", "font-family", "font-size",
        "text-decoration", "text-align", "vertical-align", "white-space", "border", "border-left",
        "border-collapse", "margin-left", "padding", "padding-left", "list-style-type",
    }
)  # fmt: skip
SCHEMES = frozenset({"http", "https", "mailto", "cid"})
DROP_WITH_CONTENT = frozenset({"script", "style", "title", "head"})


def _attribute(remote: list[str]) -> Any:
    def keep(tag: str, attr: str, value: str) -> str | None:
        if tag == "img" and attr == "src" and not value.lower().startswith("cid:"):
            remote.append(value)
            return None
        return value

    return keep


def sanitize(source: str) -> tuple[str, int]:
    """The safe HTML and how many remote images it referred to (now without a source)."""
    remote: list[str] = []
    clean = nh3.clean(
        source,
        tags=set(TAGS),
        clean_content_tags=set(DROP_WITH_CONTENT),
        attributes={k: set(v) for k, v in ATTRIBUTES.items()},
        attribute_filter=_attribute(remote),
        url_schemes=set(SCHEMES),
        strip_comments=True,
        link_rel="noopener noreferrer",
        filter_style_properties=set(STYLES),
    )
    return clean, len(remote)


_BLOCK = re.compile(r"<\s*(br|/p|/div|/tr|/li|/h[1-6]|/blockquote|/table)\b[^>]*>", re.I)
_TAG = re.compile(r"<[^>]+>")
_BLANKS = re.compile(r"\n\s*\n\s*\n+")


def to_text(source: str) -> str:
    """Readable text of an HTML-only message (for the response body, search and SLA): block ends become line
    breaks, tags go, entities are decoded."""
    safe = nh3.clean(
        source,
        tags={"br", "p", "div", "tr", "li", "h1", "h2", "h3", "blockquote", "table"},
        clean_content_tags=set(DROP_WITH_CONTENT),
        attributes={},
    )
    text = html.unescape(_TAG.sub("", _BLOCK.sub("\n", safe)))
    lines = [line.rstrip() for line in text.replace("\xa0", " ").splitlines()]
    return _BLANKS.sub("\n\n", "\n".join(lines)).strip()
