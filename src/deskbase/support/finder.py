"""One search box over a workspace: tickets (number, id, subject, description, message text), customers (name,
email, company) and every other collection's `x-search` fields, grouped by collection and ranked.

Only indexed lookups: an exact id or number is one primary/unique-index probe; words go to the `search` filter
op on `x-search` fields, one query per field with every word ANDed, so the rarest word's trigram candidates
drive the query (SQLite FTS5; PostgreSQL's GIN trigram index). Words under three characters have no trigram
and are only used to rank. Message text is found through the responses' own `x-search` index and joined back
to its ticket by `has_response` (the relationships' target index). Collections the caller may not read are
never queried; messages need the responses and the link as the conversation does (`ReadScope`).

Rank: 0 an exact number, id or field value (an email pasted whole); 1 every word matched as a word (the last
may be a prefix, as while typing); 2 substring matches. Ties: most recently updated first.
"""

from __future__ import annotations

import re
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, select

from deskbase.core import tables as t
from deskbase.core.app import Deskbase
from deskbase.core.entity_state import record_from_row
from deskbase.core.errors import NotFound
from deskbase.core.schemas import x_search_fields
from deskbase.core.scope import ReadScope
from deskbase.core.search import MIN_CHARS
from deskbase.support.tickets import NUMBER

#: Results per collection (and message matches read before they are joined back to tickets).
PER_KIND = 10
MAX_QUERY = 200
MAX_WORDS = 8
ID_SHAPE = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")
#: Messages are found as their tickets, not as a group of their own.
MESSAGES = "responses"
#: The fields that title a hit, first present wins.
TITLES = ("subject", "name", "title", "email")


@dataclass
class Hit:
    collection: str
    id: str
    number: int | None
    title: str
    rank: int
    updated_at: str
    data: dict[str, Any]
    matched: list[str] = field(default_factory=list)
    snippet: str = ""

    def public(self) -> dict[str, Any]:
        return {
            "collection": self.collection,
            "id": self.id,
            "number": self.number,
            "title": self.title,
            "rank": self.rank,
            "matched": self.matched,
            "snippet": self.snippet,
            "updated_at": self.updated_at,
            "data": self.data,
        }


def words_of(q: str) -> list[str]:
    return [w for w in re.split(r"\s+", q.strip().lower()) if w][:MAX_WORDS]


def rank_text(value: str, q: str, words: list[str]) -> int | None:
    """0 exact, 1 word matches (the last word a prefix), 2 substrings, None no match of every word."""
    low = value.lower()
    if low == q.strip().lower():
        return 0
    if not words or not all(w in low for w in words):
        return None
    *head, last = words
    whole = all(re.search(rf"(?<!\w){re.escape(w)}(?!\w)", low) for w in head)
    return 1 if whole and re.search(rf"(?<!\w){re.escape(last)}", low) else 2


def snippet(value: str, words: list[str], width: int = 120) -> str:
    low = value.lower()
    at = min((low.find(w) for w in words if w in low), default=0)
    start = max(0, at - width // 3)
    text = " ".join(value[start : start + width].split())
    return ("…" if start else "") + text + ("…" if start + width < len(value) else "")


class Finder:
    def __init__(self, core: Deskbase) -> None:
        self.core = core

    def find(self, scope: ReadScope, q: str, per_kind: int = PER_KIND) -> dict[str, list[Hit]]:
        """Hits by collection (only collections with hits, each ranked), for what `scope` may read."""
        q = q.strip()[:MAX_QUERY]
        words = words_of(q)
        if not words:
            return {}
        ws = scope.workspace_id
        hits: dict[str, dict[str, Hit]] = {}
        for coll in self.core.collections.list(ws):
            cid = coll["id"]
            if cid == MESSAGES or not scope.records(cid):
                continue
            found = hits.setdefault(cid, {})
            self._exact(ws, coll, q, found)
            for name in x_search_fields(coll.get("json_schema") or {}):
                self._field(ws, cid, name, q, words, found, per_kind)
        if "tickets" in hits and scope.through("tickets", "responses"):
            self._messages(ws, q, words, hits["tickets"], per_kind)
        out: dict[str, list[Hit]] = {}
        for cid, found in hits.items():
            ranked = sorted(found.values(), key=lambda h: h.updated_at, reverse=True)
            ranked.sort(key=lambda h: h.rank)
            if ranked:
                out[cid] = ranked[:per_kind]
        return out

    # ---- lookups -------------------------------------------------------------------------------------
    def _add(self, found: dict[str, Hit], rec: dict[str, Any], rank: int, why: str, text: str = "") -> None:
        hit = found.get(rec["id"])
        if hit is None:
            data = rec.get("data") or {}
            title = next(
                (str(data[k]) for k in TITLES if isinstance(data.get(k), str) and data[k]), rec["id"]
            )
            hit = found[rec["id"]] = Hit(
                rec["collection"],
                rec["id"],
                rec.get("number"),
                title,
                rank,
                rec.get("updated_at") or "",
                data,
            )
        hit.rank = min(hit.rank, rank)
        if why not in hit.matched:
            hit.matched.append(why)
        if text and not hit.snippet:
            hit.snippet = text

    def _exact(self, ws: str, coll: dict[str, Any], q: str, found: dict[str, Hit]) -> None:
        cid = coll["id"]
        m = NUMBER.match(q)
        if m and (coll.get("json_schema") or {}).get("x-numbered"):
            with suppress(NotFound):
                self._add(found, self.core.records.by_number(ws, cid, int(m.group(2))), 0, "number")
        if ID_SHAPE.match(q):
            with suppress(NotFound):
                self._add(found, self.core.records.get(ws, cid, q), 0, "id")

    def _field(
        self, ws: str, cid: str, name: str, q: str, words: list[str], found: dict[str, Hit], per_kind: int
    ) -> None:
        indexed = [w for w in words if len(w) >= MIN_CHARS]
        if not indexed:
            return
        cond = {"and": [{"field": f"data.{name}", "op": "search", "value": w} for w in indexed]}
        page = self.core.records.query(
            ws, cid, cond, [{"field": "updated_at", "direction": "desc"}], limit=per_kind * 3
        )
        for rec in page["data"]:
            value = (rec.get("data") or {}).get(name)
            rank = rank_text(value, q, words) if isinstance(value, str) else None
            if rank is not None:
                self._add(found, rec, rank, name)

    def _messages(self, ws: str, q: str, words: list[str], found: dict[str, Hit], per_kind: int) -> None:
        """Tickets whose messages match, through the responses' `body` index and `has_response`."""
        try:
            coll = self.core.collections.get(ws, "responses")
        except NotFound:
            return
        if "body" not in x_search_fields(coll.get("json_schema") or {}):
            return  # no index on message text here (a workspace from before it): never a scan
        bodies: dict[str, Hit] = {}
        self._field(ws, "responses", "body", q, words, bodies, per_kind)
        if not bodies:
            return
        r, rec = t.relationships, t.records
        on = and_(
            rec.c.workspace_id == r.c.workspace_id,
            rec.c.collection == r.c.source_collection,
            rec.c.id == r.c.source_id,
        )
        with self.core.db.read() as conn:
            rows = conn.execute(
                select(r.c.target_id.label("via"), rec)
                .join(rec, on)
                .where(
                    r.c.workspace_id == ws,
                    r.c.target_collection == "responses",
                    r.c.target_id.in_(list(bodies)),
                    r.c.rel_type == "has_response",
                    r.c.source_collection == "tickets",
                    r.c.deleted.is_(False),
                    rec.c.deleted.is_(False),
                )
            ).all()
        for row in rows:
            body = bodies[row.via]
            ticket = record_from_row(row).public()
            text = str(body.data.get("body") or "")
            self._add(found, ticket, max(body.rank, 1), "message", snippet(text, words))
