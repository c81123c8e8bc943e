"""One search box over a workspace: tickets (number, id, subject, description, message text), customers (name,
email, company) and every other collection's `x-search` fields, grouped by collection and ranked.

Only indexed lookups: an exact id or number is one primary/unique-index probe; words go to the `search` filter
op on `x-search` fields, one query per field with every word ANDed, so the rarest word's trigram candidates
drive the query (SQLite FTS5; PostgreSQL's GIN trigram index). A ticket matches when every word is found in
some field of it, its messages or its customer included (support/ticket_words.py: per-word candidate sets,
intersected, bounded). Words under three characters have no trigram and are only used to rank. Collections
the caller may not read are never queried; messages need the responses and the link as the conversation does.

Rank: 0 an exact number, id or field value (an email pasted whole); 1 every word matched as a word (the last
may be a prefix, as while typing); 2 substring matches. Within a rank a ticket with one field holding every
word comes before one whose words are spread over several; then the most recently updated first.
"""

from __future__ import annotations

import re
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any

from deskbase.core.app import Deskbase
from deskbase.core.errors import NotFound
from deskbase.core.schemas import x_search_fields
from deskbase.core.scope import ReadScope
from deskbase.core.search import MIN_CHARS
from deskbase.support.ticket_words import MESSAGES, match_tickets, reason_order
from deskbase.support.tickets import NUMBER, customers_by_ticket, text_condition

#: Results per collection (and message matches read before they are joined back to tickets).
PER_KIND = 10
MAX_QUERY = 200
MAX_WORDS = 8
ID_SHAPE = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")
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
    across: bool = False  #: the words were found in several fields, none holding them all (ranks after)

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


#: A condition no ticket meets.
NO_TICKET = {"and": [{"field": "data.team", "op": "is_null"}, {"field": "data.team", "op": "is_not_null"}]}


def ticket_condition(core: Deskbase, scope: ReadScope, text: str) -> tuple[dict[str, Any], bool]:
    """What a ticket search box means, as a filter condition, and whether it is complete (False: the words
    match more tickets than one search reads, and the condition holds the newest of them). `#1042` is that
    ticket; otherwise every word must be in some field of the ticket, its messages and customer included;
    text with no word an index can find searches the subject. The console's queue and MCP's `search_tickets`
    both ask this."""
    match = (
        None if text.strip().startswith("#") else match_tickets(core, scope, words_of(text), explain=False)
    )
    if match is None:
        return text_condition(text), True
    if not match.ids:
        return NO_TICKET, True
    return {"field": "id", "op": "in", "value": match.ids}, match.complete


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
            if cid == "tickets":
                self._tickets(scope, q, words, found, per_kind)
                continue
            for name in x_search_fields(coll.get("json_schema") or {}):
                self._field(ws, cid, name, q, words, found, per_kind)
        out: dict[str, list[Hit]] = {}
        for cid, found in hits.items():
            ranked = sorted(found.values(), key=lambda h: h.updated_at, reverse=True)
            ranked.sort(key=lambda h: (h.rank, h.across))
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

    def _tickets(
        self, scope: ReadScope, q: str, words: list[str], found: dict[str, Hit], per_kind: int
    ) -> None:
        """Tickets holding every word in some field (ticket_words.py), the newest read and then ranked: by the
        best single field holding every word, else by all their matched text together (`across`)."""
        match = match_tickets(self.core, scope, words, limit=per_kind * 3)
        if match is None or not match.ids:
            return
        ws = scope.workspace_id
        # read by key and put back in the match's order (newest first): sorted by the database, 30 ids
        # cost a walk of the updated-at index over every ticket (25-40 ms at 100k)
        order = {tid: i for i, tid in enumerate(match.ids)}
        cond = {"field": "id", "op": "in", "value": match.ids}
        page = self.core.records.query(ws, "tickets", cond, limit=len(match.ids))["data"]
        recs = sorted(page, key=lambda r: order[r["id"]])
        shown = {r["id"]: match.messages[r["id"]] for r in recs if r["id"] in match.messages}
        bodies = self._texts(ws, MESSAGES, list(shown.values()), ("body",))
        people = customers_by_ticket(
            self.core, scope, [r["id"] for r in recs if "customer" in match.why[r["id"]]]
        )
        for rec in recs:
            data = rec.get("data") or {}
            body = bodies.get(shown.get(rec["id"], ""), "")
            person = (people.get(rec["id"]) or {}).get("data") or {}
            own = [str(data[k]) for k in ("subject", "description") if data.get(k)]
            linked = ([body] if body else []) + [
                str(person[k]) for k in ("name", "email", "company") if person.get(k)
            ]
            texts = own + linked
            # only the ticket's own text is an exact match (rank 0); its customer's email is the customer's
            ranks = [r for r in (rank_text(v, q, words) for v in own) if r is not None]
            ranks += [max(r, 1) for r in (rank_text(v, q, words) for v in linked) if r is not None]
            joined = rank_text("\n".join(texts), q, words)
            rank = min(ranks) if ranks else (2 if joined is None else max(joined, 1))
            why = sorted(match.why[rec["id"]], key=reason_order)
            for reason in why:
                self._add(
                    found, rec, rank, reason, snippet(body, words) if body and reason == "message" else ""
                )
            if not ranks:
                found[rec["id"]].across = True

    def _texts(self, ws: str, cid: str, ids: list[str], names: tuple[str, ...]) -> dict[str, str]:
        """id -> the first of `names` each record holds (one query)."""
        if not ids:
            return {}
        recs = self.core.records.query(ws, cid, {"field": "id", "op": "in", "value": ids}, limit=len(ids))[
            "data"
        ]
        return {
            r["id"]: next((str(r["data"][n]) for n in names if (r.get("data") or {}).get(n)), "")
            for r in recs
        }
