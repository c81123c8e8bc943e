"""Typed contexts of the search page and the customer page (as web/pages.py, for the templates' checks)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class SearchHit:
    href: str
    title: str
    number: int | None  #: the ticket number (`#1042`), None for unnumbered collections
    detail: str  #: the line under the title: status and customer, an email and company, or an id
    status: str
    snippet: str  #: the matching message text, for tickets found by a message
    matched: str  #: which fields matched, for the reader ("subject", "message", "number"…)


@dataclass(frozen=True)
class SearchGroup:
    collection: str
    name: str
    hits: list[SearchHit]


@dataclass
class SearchPage:
    q: str
    groups: list[SearchGroup] = field(default_factory=list)
    total: int = 0
