"""Tickets where every word of a search is found in some searchable field of the ticket: its own `x-search`
fields (subject, description), its number, its messages' text (`responses.body`, through `has_response`) or
its customer's `x-search` fields (name, email, company, through `submitted_by`). So "ben invoice" finds Ben
Silva's ticket whose message names the invoice, though no one field holds both words.

Index-backed and bounded whatever the store's size, in two queries plus one per linked collection:
- the match: one SQL statement. Each word is a set of ticket ids, the union of its sources — a ticket field's
  trigram index (SQLite FTS5 rowids driving the lookup, PostgreSQL's GIN index), the number's unique index,
  and for messages and customers their own field's trigram index mapped to tickets through the relationship
  target index (so a name that many tickets share costs its few customers, then one indexed join). The
  database intersects the sets (INTERSECT), looks the survivors up by key and returns the newest CAP + 1:
  exact, never a sample, and `complete` says only whether more than CAP tickets matched.
- what matched (`why`), for those tickets only: one query over their own fields, one over their messages,
  one over their customers, each checking every word at once by key (no per-ticket or per-word loop).
Every trigram candidate is rechecked with the scan's own `lower(...) LIKE`, so results are the scan's. Words
under three characters have no trigram: they never narrow (callers may still rank by them). What the caller
may not read is never searched (`ReadScope`): messages need the responses and their links, as the
conversation does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    bindparam,
    false,
    func,
    intersect,
    literal_column,
    or_,
    select,
    union_all,
)
from sqlalchemy.engine import Connection

from deskbase.core import search
from deskbase.core import tables as t
from deskbase.core.app import Deskbase
from deskbase.core.filterlang import MAX_IN
from deskbase.core.schemas import x_search_fields
from deskbase.core.scope import ReadScope
from deskbase.core.search import MIN_CHARS

#: The most tickets a match holds: one `id in` filter's worth.
CAP = MAX_IN
MESSAGES, CUSTOMERS = "responses", "customers"
#: The order `Match.why` is reported in (a ticket's other `x-search` fields after these, by name).
REASONS = ("number", "subject", "description", "message", "customer")
#: Ticket numbers are looked up only when a word could be one (the column is a 64-bit integer).
MAX_NUMBER_DIGITS = 15


def reason_order(reason: str) -> tuple[int, str]:
    return (REASONS.index(reason) if reason in REASONS else len(REASONS), reason)


@dataclass
class Match:
    ids: list[str]  #: the matching tickets, newest first (at most CAP)
    complete: bool  #: False: more than CAP tickets match; these are the most recently updated of them
    why: dict[str, set[str]] = field(
        default_factory=dict
    )  #: ticket id -> what matched ("subject", "message"…)
    messages: dict[str, str] = field(default_factory=dict)  #: ticket id -> a matching message's id


def narrowing(words: list[str]) -> list[str]:
    """The words an index can find (three characters or more), each once."""
    return list(dict.fromkeys(w for w in words if len(w) >= MIN_CHARS))


def _number(w: str) -> int | None:
    return int(w) if w.isascii() and w.isdigit() and len(w) <= MAX_NUMBER_DIGITS else None


class _Sql:
    """The pieces of the match for one caller and dialect: where a word may be found, and how it is tested."""

    def __init__(self, core: Deskbase, scope: ReadScope, dialect: str) -> None:
        self.ws, self.pg = scope.workspace_id, dialect == "postgresql"
        fields = {
            c["id"]: x_search_fields(c.get("json_schema") or {}) for c in core.collections.list(self.ws)
        }
        self.ticket_fields = fields.get("tickets", [])
        self.bodies = "body" in fields.get(MESSAGES, []) and scope.through("tickets", MESSAGES)
        self.customer_fields = fields.get(CUSTOMERS, []) if scope.through("tickets", CUSTOMERS) else []
        self._n = 0

    def _param(self, value: Any) -> Any:
        self._n += 1
        return bindparam(f"w{self._n}", value)

    # ---- one word in one field --------------------------------------------------------------------------
    def text(self, name: str) -> ColumnElement[Any]:
        if self.pg:
            return literal_column(f"(records.data ->> '{name}')")
        return literal_column(f"json_extract(records.data, '$.{name}')")

    def holds(self, name: str, w: str) -> ColumnElement[bool]:
        """The `search` op's own test (`filters.py`): a case-folded substring, exactly as the scan has it."""
        escaped = w.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_").lower()
        return func.lower(self.text(name)).like(self._param(f"%{escaped}%"), escape="\\")

    def rows(self, coll: str, name: str, w: str) -> Select[Any]:
        """Ids of the live `coll` records whose field holds `w`. SQLite: the field's trigram rowids drive the
        lookup (the workspace term kept out of index selection, as `records.ids` does for sparse sets)."""
        r = t.records
        phrase = search.match_phrase(w)
        trigram = not self.pg and phrase is not None and search.sqlite_trigram()
        ws = search.unindexed(r.c.workspace_id) if trigram else r.c.workspace_id
        conds = [ws == self.ws, r.c.collection == coll, r.c.deleted.is_(False), self.holds(name, w)]
        if trigram:
            conds.append(search.candidates(name, self._param(phrase), drive=True))
        return select(r.c.id).where(*conds)

    def linked(self, rel: str, coll: str, targets: Select[Any]) -> Select[Any]:
        """Tickets linked by `rel` to any of these `coll` records (the relationship target index)."""
        r = t.relationships
        return select(r.c.source_id).where(
            r.c.workspace_id == self.ws,
            r.c.target_collection == coll,
            r.c.target_id.in_(targets),
            r.c.rel_type == rel,
            r.c.source_collection == "tickets",
            r.c.deleted.is_(False),
        )

    def word(self, w: str) -> Any:
        """Every ticket holding `w` somewhere: the union of its sources."""
        parts: list[Select[Any]] = [self.rows("tickets", name, w) for name in self.ticket_fields]
        number = _number(w)
        if number is not None:
            r = t.records
            parts.append(
                select(r.c.id).where(
                    r.c.workspace_id == self.ws, r.c.collection == "tickets", r.c.number == number
                )
            )
        if self.bodies:
            parts.append(self.linked("has_response", MESSAGES, self.rows(MESSAGES, "body", w)))
        if self.customer_fields:
            people = union_all(*(self.rows(CUSTOMERS, name, w) for name in self.customer_fields))
            parts.append(self.linked("submitted_by", CUSTOMERS, select(people.subquery().c[0])))
        if not parts:
            return select(literal_column("NULL")).where(false())
        return union_all(*parts) if len(parts) > 1 else parts[0]

    def match(self, words: list[str], limit: int) -> Select[Any]:
        """The newest `limit` live tickets holding every word."""
        r = t.records
        each = [select(self.word(w).subquery().c[0].label("id")) for w in words]
        found = (each[0] if len(each) == 1 else intersect(*each)).subquery()
        # SQLite: ordered by an expression, so the found ids are looked up by key (a join from the matches)
        # rather than probed while walking the updated-at index over every ticket
        newest = r.c.updated_at if self.pg else literal_column("+records.updated_at")
        return (
            select(r.c.id)
            .select_from(
                found.join(
                    r, and_(r.c.workspace_id == self.ws, r.c.collection == "tickets", r.c.id == found.c.id)
                )
            )
            .where(r.c.deleted.is_(False))
            .order_by(newest.desc(), r.c.id.desc())
            .limit(limit)
        )

    # ---- what matched, for the found tickets -------------------------------------------------------------
    def why(self, conn: Connection, words: list[str], ids: list[str]) -> tuple[dict[str, set[str]], dict]:
        why: dict[str, set[str]] = {tid: set() for tid in ids}
        messages: dict[str, str] = {}
        if not ids:
            return why, messages
        r = t.records
        among = r.c.id.in_(bindparam("ids", ids, expanding=True))
        tests = [or_(*(self.holds(name, w) for w in words)) for name in self.ticket_fields]
        q = select(r.c.id, r.c.number, *tests).where(
            r.c.workspace_id == self.ws, r.c.collection == "tickets", among
        )
        numbers = {n for n in map(_number, words) if n is not None}
        for tid, number, *hits in conn.execute(q):
            why[tid].update(name for name, hit in zip(self.ticket_fields, hits, strict=True) if hit)
            if number in numbers:
                why[tid].add("number")
        if self.bodies:
            for tid, rid in conn.execute(self._via("has_response", MESSAGES, ["body"], words, ids)):
                why[tid].add("message")
                messages.setdefault(tid, rid)
        if self.customer_fields:
            for tid, _ in conn.execute(
                self._via("submitted_by", CUSTOMERS, self.customer_fields, words, ids)
            ):
                why[tid].add("customer")
        return why, messages

    def _via(self, rel: str, coll: str, names: list[str], words: list[str], ids: list[str]) -> Select[Any]:
        """(ticket, record) for the `coll` records linked from these tickets that hold a word in a field."""
        r, rel_t = t.records, t.relationships
        holding = or_(*(self.holds(name, w) for name in names for w in words))
        return (
            select(rel_t.c.source_id, r.c.id)
            .join(
                r,
                and_(
                    r.c.workspace_id == rel_t.c.workspace_id,
                    r.c.collection == coll,
                    r.c.id == rel_t.c.target_id,
                ),
            )
            .where(
                rel_t.c.workspace_id == self.ws,
                rel_t.c.source_collection == "tickets",
                rel_t.c.source_id.in_(bindparam("ids", ids, expanding=True)),
                rel_t.c.rel_type == rel,
                rel_t.c.target_collection == coll,
                rel_t.c.deleted.is_(False),
                r.c.deleted.is_(False),
                holding,
            )
            .order_by(rel_t.c.source_id, r.c.updated_at.desc(), r.c.id)
        )


def match_tickets(core: Deskbase, scope: ReadScope, words: list[str]) -> Match | None:
    """The tickets holding every word somewhere; None when no word can narrow (all under three characters)
    or the caller may not read tickets."""
    todo = narrowing(words)
    if not todo or not scope.records("tickets"):
        return None
    with core.db.read() as conn:
        sql = _Sql(core, scope, conn.dialect.name)
        ids = [row[0] for row in conn.execute(sql.match(todo, CAP + 1))]
        why, messages = sql.why(conn, todo, ids[:CAP])
    return Match(ids[:CAP], len(ids) <= CAP, why, messages)
