"""Tickets where every word of a search is found in some searchable field of the ticket: its own `x-search`
fields (subject, description), its number, its messages' text (`responses.body`, through `has_response`) or
its customer's `x-search` fields (name, email, company, through `submitted_by`). So "ben invoice" finds Ben
Silva's ticket whose message names the invoice, though no one field holds both words.

Index-backed and bounded whatever the store's size, in a handful of queries:
- SQLite (FTS5 trigram tables): the tickets of the words worth gathering are gathered from their trigram
  candidates without reading any text, intersected, and every word is checked exactly on what survives, the
  newest CAP + 1 returned (support/ticket_gather.py). Exact, never a sample: `complete` says only whether
  more than CAP tickets matched.
- PostgreSQL (or an SQLite without the trigram tokenizer): each word is a set of ticket ids, the union of
  its sources — a ticket field's trigram index (GIN), the number's unique index, and messages and customers
  through their own field's index mapped to tickets through the link index; the database intersects the
  sets (INTERSECT) and returns the newest CAP + 1, exactly as well.
- a common word (SQLite: more than COMMON trigram candidates, counted cheaply first) is not gathered, only
  checked. When every word is common the newest tickets holding the rarest in their own fields are checked
  (`hits`), and the match says it is partial.
- what matched (`why`), for the tickets a caller shows only: one query over their own fields, one over their
  messages, one over their customers, each checking every word at once by key.
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
from deskbase.support.ticket_gather import Gather, gathered

#: The most tickets a match holds: one `id in` filter's worth.
CAP = MAX_IN
#: A word with more trigram candidates than this is common: its tickets are not gathered, only checked on
#: those the other words found (or, when every word is common, on the newest tickets of the rarest). A word
#: searched alone is common sooner: its set would only be sorted for its newest, not narrowed by another.
COMMON = 20_000
COMMON_ALONE = 5_000
#: ticket id -> word -> what holds it ("subject", "message"…)
Hits = dict[str, dict[str, set[str]]]
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


class WordSql:
    """The pieces of the match for one caller and dialect: where a word may be found, and how it is tested."""

    def __init__(self, core: Deskbase, scope: ReadScope, dialect: str) -> None:
        self.ws, self.pg = scope.workspace_id, dialect == "postgresql"
        fields = {
            c["id"]: x_search_fields(c.get("json_schema") or {}) for c in core.collections.list(self.ws)
        }
        self.ticket_fields = fields.get("tickets", [])
        self.bodies = "body" in fields.get(MESSAGES, []) and scope.through("tickets", MESSAGES)
        self.customer_fields = fields.get(CUSTOMERS, []) if scope.through("tickets", CUSTOMERS) else []
        self.trigram = not self.pg and search.sqlite_trigram()
        self.n = 0  #: names taken so far (parameters, aliases), so that each is unique in one statement

    def param(self, value: Any) -> Any:
        self.n += 1
        return bindparam(f"w{self.n}", value)

    @staticmethod
    def number(w: str) -> int | None:
        return _number(w)

    # ---- one word in one field --------------------------------------------------------------------------
    def text(self, name: str, table: str = "records") -> ColumnElement[Any]:
        if self.pg:
            return literal_column(f"({table}.data ->> '{name}')")
        return literal_column(f"json_extract({table}.data, '$.{name}')")

    def holds(self, name: str, w: str, table: str = "records") -> ColumnElement[bool]:
        """The `search` op's own test (`filters.py`): a case-folded substring, exactly as the scan has it."""
        escaped = w.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_").lower()
        return func.lower(self.text(name, table)).like(self.param(f"%{escaped}%"), escape="\\")

    def rows(self, coll: str, name: str, w: str) -> Select[Any]:
        """Ids of the live `coll` records whose field holds `w`. SQLite: the field's trigram rowids drive the
        lookup (the workspace term kept out of index selection, as `records.ids` does for sparse sets)."""
        r = t.records
        phrase = search.match_phrase(w)
        trigram = not self.pg and phrase is not None and search.sqlite_trigram()
        ws = search.unindexed(r.c.workspace_id) if trigram else r.c.workspace_id
        conds = [ws == self.ws, r.c.collection == coll, r.c.deleted.is_(False), self.holds(name, w)]
        if trigram:
            conds.append(search.candidates(name, self.param(phrase), drive=True))
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
    def hits(self, conn: Connection, words: list[str], ids: list[str]) -> tuple[Hits, dict[str, str]]:
        """ticket -> word -> what holds it, for these tickets (at most CAP): one query over their own fields,
        one over their messages, one over their customers, every word tested at once."""
        out: Hits = {tid: {w: set() for w in words} for tid in ids}
        messages: dict[str, str] = {}
        if not ids:
            return out, messages
        r = t.records
        among = r.c.id.in_(bindparam("ids", ids, expanding=True))
        pairs = [(name, w) for name in self.ticket_fields for w in words]
        q = select(r.c.id, r.c.number, *(self.holds(name, w) for name, w in pairs)).where(
            r.c.workspace_id == self.ws, r.c.collection == "tickets", among
        )
        for tid, number, *found in conn.execute(q):
            for (name, w), hit in zip(pairs, found, strict=True):
                if hit:
                    out[tid][w].add(name)
            for w in words:
                if number is not None and _number(w) == number:
                    out[tid][w].add("number")
        if self.bodies:
            for tid, rid, *found in conn.execute(self._via("has_response", MESSAGES, ["body"], words, ids)):
                for w, hit in zip(words, found, strict=True):
                    if hit:
                        out[tid][w].add("message")
                        messages.setdefault(tid, rid)
        if self.customer_fields:
            via = self._via("submitted_by", CUSTOMERS, self.customer_fields, words, ids)
            for tid, _, *found in conn.execute(via):
                for w, hit in zip(words, found, strict=True):
                    if hit:
                        out[tid][w].add("customer")
        return out, messages

    def _via(self, rel: str, coll: str, names: list[str], words: list[str], ids: list[str]) -> Select[Any]:
        """(ticket, record, holds word 1, …) for the `coll` records linked from these tickets that hold a word
        in a field."""
        r, rel_t = t.records, t.relationships
        per_word = [or_(*(self.holds(name, w) for name in names)) for w in words]
        return (
            select(rel_t.c.source_id, r.c.id, *per_word)
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
                or_(*per_word),
            )
            .order_by(rel_t.c.source_id, r.c.updated_at.desc(), r.c.id)
        )

    def counts(self, conn: Connection, w: str, cap: int) -> dict[str, int]:
        """Trigram candidates of `w` per source ("own", "message", "customer"), each counted up to `cap` + 1
        (SQLite; PostgreSQL: none counted, its planner sizes the sets itself)."""
        out = {"own": 0, "message": 0, "customer": 0}
        phrase = search.match_phrase(w)
        if not self.trigram or phrase is None:
            return out
        sources = (
            ("own", self.ticket_fields),
            ("message", ["body"] if self.bodies else []),
            ("customer", self.customer_fields),
        )
        for kind, names in sources:
            for name in names:
                out[kind] += search.count_candidates(conn, name, phrase, cap - out[kind])
                if out[kind] > cap:
                    break
        return out


def match_tickets(
    core: Deskbase, scope: ReadScope, words: list[str], limit: int = CAP, explain: bool = True
) -> Match | None:
    """The newest `limit` (at most CAP) tickets holding every word somewhere; None when no word can narrow
    (all under three characters) or the caller may not read tickets. `explain=False`: the ids alone (`why`
    and `messages` left empty where the match did not need them)."""
    todo = narrowing(words)
    if not todo or not scope.records("tickets"):
        return None
    limit = min(limit, CAP)
    with core.db.read() as conn:
        sql = WordSql(core, scope, conn.dialect.name)
        common = COMMON if len(todo) > 1 else COMMON_ALONE
        counts = {w: sql.counts(conn, w, common) for w in todo}
        narrow = [w for w in todo if sum(counts[w].values()) <= common]
        phrases = all(search.match_phrase(w) is not None for w in todo)
        hits: Hits = {}
        messages: dict[str, str] = {}
        if sql.trigram and phrases and any(not sum(counts[w].values()) and _number(w) is None for w in todo):
            return Match([], True)  # a word with no trigram candidate anywhere is in no ticket
        if narrow and sql.trigram and phrases:  # the cheapest word's tickets, every word checked on them
            plan = Gather(sql).driven(todo, gathered(narrow, counts), set(narrow), limit + 1)
            ids = [row[0] for row in conn.execute(plan)]
            complete = len(ids) <= limit
        elif len(narrow) == len(todo):  # every set built and intersected by the database: exact
            ids = [row[0] for row in conn.execute(sql.match(todo, limit + 1))]
            complete = len(ids) <= limit
        else:  # every word common: the newest tickets holding the rarest in their own fields, checked
            first = min(todo, key=lambda w: sum(counts[w].values()))
            own = {"or": [{"field": f"data.{n}", "op": "search", "value": first} for n in sql.ticket_fields]}
            found = core.records.ids(scope.workspace_id, "tickets", own, CAP) if sql.ticket_fields else []
            hits, messages = sql.hits(conn, todo, found)
            ids = [tid for tid in found if all(hits[tid].values())]
            complete = False
        if explain and not hits:
            hits, messages = sql.hits(conn, todo, ids[:limit])
    why = {tid: set().union(*hits[tid].values()) for tid in ids[:limit]} if explain else {}
    return Match(ids[:limit], complete, why, {tid: m for tid, m in messages.items() if tid in why})
