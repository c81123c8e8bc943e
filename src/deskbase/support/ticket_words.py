"""Tickets where every word of a search is found in some searchable field of the ticket: its own `x-search`
fields (subject, description), its number, its messages' text (`responses.body`, through `has_response`) or
its customer's `x-search` fields (name, email, company, through `submitted_by`). So "ben invoice" finds Ben
Silva's ticket whose message names the invoice, though no one field holds both words.

Index-backed and bounded whatever the store's size. Each word's candidates are read field by field from its
trigram index (at most CAP ids each, newest first) and mapped to tickets through the relationship indexes.
The words whose candidates were all read are intersected; a word with more candidates than that is checked
only on the survivors, by queries restricted to their ids. When every word is that common, the survivors come
from the newest candidates of the first word and the match says it is not complete. Words under three
characters have no trigram: they never narrow (callers may still rank by them). What the caller may not read
is never searched (`ReadScope`): messages need the responses and their links, as the conversation does.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select

from deskbase.core import tables as t
from deskbase.core.app import Deskbase
from deskbase.core.errors import NotFound
from deskbase.core.filterlang import MAX_IN
from deskbase.core.schemas import x_search_fields
from deskbase.core.scope import ReadScope
from deskbase.core.search import MIN_CHARS

#: Candidates read per word and field, and the most tickets a match holds: one `id in` filter's worth.
CAP = MAX_IN
MESSAGES, CUSTOMERS = "responses", "customers"
#: The order `Match.why` is reported in (a ticket's other `x-search` fields after these, by name).
REASONS = ("number", "subject", "description", "message", "customer")


def reason_order(reason: str) -> tuple[int, str]:
    return (REASONS.index(reason) if reason in REASONS else len(REASONS), reason)


@dataclass
class Match:
    ids: list[str]  #: the matching tickets (at most CAP)
    complete: bool  #: False: some word had more candidates than were read; these are the newest of them
    why: dict[str, set[str]] = field(
        default_factory=dict
    )  #: ticket id -> what matched ("subject", "message"…)
    messages: dict[str, str] = field(default_factory=dict)  #: ticket id -> a matching message's id


def narrowing(words: list[str]) -> list[str]:
    """The words an index can find (three characters or more), each once."""
    return list(dict.fromkeys(w for w in words if len(w) >= MIN_CHARS))


def _chunks(ids: list[str]) -> Iterator[list[str]]:
    for i in range(0, len(ids), CAP):
        yield ids[i : i + CAP]


def _search(name: str, word: str) -> dict[str, Any]:
    return {"field": f"data.{name}", "op": "search", "value": word}


class _Sources:
    """Where one word may be found, for one caller: the fields it may read."""

    def __init__(self, core: Deskbase, scope: ReadScope) -> None:
        self.core, self.ws = core, scope.workspace_id
        self.fields = {
            c["id"]: x_search_fields(c.get("json_schema") or {}) for c in core.collections.list(self.ws)
        }
        self.ticket_fields = self.fields.get("tickets", [])
        self.bodies = "body" in self.fields.get(MESSAGES, []) and scope.through("tickets", MESSAGES)
        self.customer_fields = self.fields.get(CUSTOMERS, []) if scope.through("tickets", CUSTOMERS) else []
        self.messages: dict[str, str] = {}

    def word(self, w: str) -> tuple[dict[str, set[str]], bool]:
        """Tickets where `w` is found, with what matched, and whether every candidate was read."""
        out: dict[str, set[str]] = {}
        complete = True
        for name in self.ticket_fields:
            ids = self.core.records.ids(self.ws, "tickets", _search(name, w), CAP + 1)
            complete = complete and len(ids) <= CAP
            for tid in ids[:CAP]:
                out.setdefault(tid, set()).add(name)
        self._number(w, out, None)
        if self.bodies:
            rids = self.core.records.ids(self.ws, MESSAGES, _search("body", w), CAP + 1)
            complete = complete and len(rids) <= CAP
            self._via_messages(self._targets("has_response", MESSAGES, rids[:CAP]), out)
        cids: list[str] = []
        for name in self.customer_fields:
            found = self.core.records.ids(self.ws, CUSTOMERS, _search(name, w), CAP + 1)
            complete = complete and len(found) <= CAP
            cids += found[:CAP]
        pairs = self._targets("submitted_by", CUSTOMERS, list(dict.fromkeys(cids)), CAP + 1)
        complete = complete and len(pairs) <= CAP
        for tid, _ in pairs[:CAP]:
            out.setdefault(tid, set()).add("customer")
        return out, complete

    def within(self, w: str, ids: list[str]) -> dict[str, set[str]]:
        """Which of `ids` hold `w` somewhere: each lookup restricted to them (a common word's check)."""
        out: dict[str, set[str]] = {}
        for part in _chunks(ids):
            among = {"field": "id", "op": "in", "value": part}
            for name in self.ticket_fields:
                cond = {"and": [among, _search(name, w)]}
                for tid in self.core.records.ids(self.ws, "tickets", cond, CAP, newest=False):
                    out.setdefault(tid, set()).add(name)
            self._number(w, out, set(part))
            if self.bodies:
                pairs = self._sources("has_response", MESSAGES, part)
                self._via_messages(self._holding(MESSAGES, pairs, [w]), out)
            if self.customer_fields:
                pairs = self._sources("submitted_by", CUSTOMERS, part)
                for tid, _ in self._holding(CUSTOMERS, pairs, [w]):
                    out.setdefault(tid, set()).add("customer")
        return out

    # ---- pieces ---------------------------------------------------------------------------------------------
    def _number(self, w: str, out: dict[str, set[str]], among: set[str] | None) -> None:
        if w.isdigit() and len(w) <= 15:
            with suppress(NotFound):
                tid = self.core.records.by_number(self.ws, "tickets", int(w))["id"]
                if among is None or tid in among:
                    out.setdefault(tid, set()).add("number")

    def _via_messages(self, pairs: list[tuple[str, str]], out: dict[str, set[str]]) -> None:
        for tid, rid in pairs:
            out.setdefault(tid, set()).add("message")
            self.messages.setdefault(tid, rid)

    def _holding(self, coll: str, pairs: list[tuple[str, str]], words: list[str]) -> list[tuple[str, str]]:
        """The (ticket, record) pairs whose record of `coll` holds the words in one of its searched fields."""
        names = ["body"] if coll == MESSAGES else self.customer_fields
        targets = list(dict.fromkeys(r for _, r in pairs))
        holding: set[str] = set()
        for part in _chunks(targets):
            among = {"field": "id", "op": "in", "value": part}
            for name in names:
                cond = {"and": [among, *(_search(name, w) for w in words)]}
                holding.update(self.core.records.ids(self.ws, coll, cond, CAP, newest=False))
        return [(tid, r) for tid, r in pairs if r in holding]

    def _targets(
        self, rel: str, coll: str, ids: list[str], limit: int | None = None
    ) -> list[tuple[str, str]]:
        """(ticket, record) for the links `rel` from tickets to these records (the target index)."""
        if not ids:
            return []
        r = t.relationships
        q = select(r.c.source_id, r.c.target_id).where(
            r.c.workspace_id == self.ws,
            r.c.target_collection == coll,
            r.c.target_id.in_(ids),
            r.c.rel_type == rel,
            r.c.source_collection == "tickets",
            r.c.deleted.is_(False),
        )
        with self.core.db.read() as conn:
            return [(a, b) for a, b in conn.execute(q if limit is None else q.limit(limit))]

    def _sources(self, rel: str, coll: str, tickets: list[str]) -> list[tuple[str, str]]:
        """(ticket, record) for the links `rel` from these tickets (the source index)."""
        r = t.relationships
        q = select(r.c.source_id, r.c.target_id).where(
            r.c.workspace_id == self.ws,
            r.c.source_collection == "tickets",
            r.c.source_id.in_(tickets),
            r.c.rel_type == rel,
            r.c.target_collection == coll,
            r.c.deleted.is_(False),
        )
        with self.core.db.read() as conn:
            return [(a, b) for a, b in conn.execute(q)]


def match_tickets(core: Deskbase, scope: ReadScope, words: list[str]) -> Match | None:
    """The tickets holding every word somewhere; None when no word can narrow (all under three characters)
    or the caller may not read tickets."""
    todo = narrowing(words)
    if not todo or not scope.records("tickets"):
        return None
    src = _Sources(core, scope)
    sets = [(w, *src.word(w)) for w in todo]
    whole = [hits for _, hits, complete in sets if complete]
    common = [w for w, _, complete in sets if not complete]
    complete = bool(whole)
    if whole:
        ids = set(whole[0]).intersection(*whole[1:])
        found = [hits for _, hits, _ in sets]
    else:  # every word is common: the candidates read of the one with fewest, checked for the others
        first = min(sets, key=lambda s: len(s[1]))
        ids = set(first[1])
        found = [first[1]]
        common = [w for w in common if w != first[0]]
    for w in common:
        if not ids:
            break
        hits = src.within(w, sorted(ids))
        ids &= set(hits)
        found.append(hits)
    ordered = sorted(ids)
    why = {tid: set().union(*(hits.get(tid, set()) for hits in found)) for tid in ordered[:CAP]}
    return Match(
        ordered[:CAP],
        complete and len(ordered) <= CAP,
        why,
        {tid: rid for tid, rid in src.messages.items() if tid in why},
    )
