"""SQLite's plan for words across a ticket's fields (support/ticket_words.py): gather, intersect, check.

A word's tickets are gathered from its trigram candidates as they are — FTS5 rowids of the ticket fields
(a ticket's rowid is its own), the number, and the tickets linked to its message and customer candidates
(nested `IN`s over the covering link index) — never reading a record's text: a candidate costs an index entry
or two, where reading and rechecking it cost ~7 µs at 100k demo tickets. The gathered sets of the words worth
gathering (`gathered`) are intersected; on what survives, every word is checked exactly with the scan's own
`lower(...) LIKE` (`Gather.check`: the ticket's fields, its number, a live linked message, its customer, in
that order), each text read only when it is a trigram candidate. The supersets may hold other workspaces',
collections' or deleted rows: the check and the outer query's terms drop them, so results stay the scan's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    exists,
    false,
    intersect,
    literal_column,
    or_,
    select,
    union_all,
)

from deskbase.core import search
from deskbase.core import tables as t

if TYPE_CHECKING:
    from deskbase.support.ticket_words import WordSql

#: What gathering a word's tickets costs per trigram candidate, in FTS rowids read (~0.2 µs at 100k demo
#: tickets, profiled before migration 0030 made the link indexes covering): a ticket field's candidate is the
#: ticket's rowid; a message is read for its id, then its link and ticket looked up (~8 µs); a customer leads
#: to its links and their tickets (~12 µs). CHECK: checking one gathered ticket for a word it was not gathered
#: by (~12 µs: its fields, messages and customer). Only the order of magnitude matters: they pick a plan.
COST = {"own": 1, "message": 40, "customer": 60}
CHECK = 60
#: Tickets a customer candidate leads to, for sizing a gathered set (demo: 5).
FANOUT = 5


def gathered(narrow: list[str], counts: dict[str, dict[str, int]]) -> list[str]:
    """The words whose tickets are gathered and intersected: the cheapest, and every other whose gathering
    costs less than checking the cheapest's tickets for it would."""

    def cost(w: str) -> int:
        return sum(COST[k] * n for k, n in counts[w].items())

    first = min(narrow, key=cost)
    size = counts[first]["own"] + counts[first]["message"] + FANOUT * counts[first]["customer"]
    return [first, *(w for w in narrow if w != first and cost(w) <= CHECK * size)]


class Gather:
    """The statements of the plan, over one caller's `WordSql` (its fields, scope and parameters)."""

    def __init__(self, sql: WordSql) -> None:
        self.sql = sql

    def superset(self, w: str) -> Any:
        """Rowids of at least every ticket holding `w`: its fields' trigram candidates as they are (a ticket
        field's rowid is the ticket's), the number, and the tickets linked to its message and customer
        candidates. Not rechecked, not even for workspace or collection: `driven` keeps only live tickets
        that hold every word, so the cost is an index entry per candidate, not a record read and parsed."""
        parts = [search.rowids(name, self._phrase(w)) for name in self.sql.ticket_fields]
        number = self.sql.number(w)
        if number is not None:
            r = t.records
            parts.append(
                select(literal_column("records.rowid")).where(
                    r.c.workspace_id == self.sql.ws, r.c.collection == "tickets", r.c.number == number
                )
            )
        if self.sql.bodies:
            parts.append(self._tickets_of("has_response", "responses", ["body"], w))
        if self.sql.customer_fields:
            parts.append(self._tickets_of("submitted_by", "customers", self.sql.customer_fields, w))
        if not parts:
            return select(literal_column("NULL")).where(false())
        return union_all(*parts) if len(parts) > 1 else parts[0]

    def _phrase(self, w: str) -> Any:
        return self.sql.param(search.match_phrase(w))

    def _candidates(self, names: list[str], w: str) -> Any:
        sets = [search.rowids(name, self._phrase(w)) for name in names]
        return union_all(*sets) if len(sets) > 1 else sets[0]

    def _tickets_of(self, rel: str, coll: str, names: list[str], w: str) -> Select[Any]:
        """Rowids of the tickets linked by `rel` to `coll` records among `w`'s trigram candidates (their live
        link not required here: `check` requires it). Nested `IN`s, so that the candidates drive: a join lets
        SQLite walk every link of the type instead."""
        self.sql.n += 1
        n = self.sql.n
        m, tk, link = t.records.alias(f"m{n}"), t.records.alias(f"t{n}"), t.relationships
        found = select(m.c.id).where(
            literal_column(f"m{n}.rowid").in_(self._candidates(names, w)),
            search.unindexed(m.c.workspace_id) == self.sql.ws,
            m.c.collection == coll,
        )
        linked = select(link.c.source_id).where(
            link.c.workspace_id == self.sql.ws,
            link.c.target_collection == coll,
            link.c.target_id.in_(found),
            link.c.rel_type == rel,
            link.c.source_collection == "tickets",
        )
        return (
            select(literal_column(f"t{n}.rowid"))
            .select_from(tk)
            .where(tk.c.workspace_id == self.sql.ws, tk.c.collection == "tickets", tk.c.id.in_(linked))
        )

    def check(self, w: str, probe: bool) -> ColumnElement[bool]:
        """`w` is somewhere on the ticket row `records`: its own fields, its number, a live linked message or
        its customer — each the scan's own test, tried in that order and stopping at the first that holds.
        `probe`: a text is read only when it is a trigram candidate (each field's candidates gathered once per
        statement); a common word reads the texts without those sets."""
        found = [
            and_(literal_column("+records.rowid").in_(self._candidates([name], w)), self.sql.holds(name, w))
            if probe
            else self.sql.holds(name, w)
            for name in self.sql.ticket_fields
        ]
        number = self.sql.number(w)
        if number is not None:
            found.append(t.records.c.number == number)
        if self.sql.bodies:
            found.append(self._linked_holding("has_response", "responses", ["body"], w, probe))
        if self.sql.customer_fields:
            found.append(
                self._linked_holding("submitted_by", "customers", self.sql.customer_fields, w, probe)
            )
        return or_(*found) if found else false()

    def _linked_holding(self, rel: str, coll: str, names: list[str], w: str, probe: bool) -> Any:
        self.sql.n += 1
        name = f"m{self.sql.n}"
        m, link = t.records.alias(name), t.relationships.alias(f"l{self.sql.n}")
        conds: list[ColumnElement[bool]] = [
            link.c.workspace_id == self.sql.ws,
            link.c.source_collection == "tickets",
            link.c.source_id == t.records.c.id,
            link.c.rel_type == rel,
            link.c.target_collection == coll,
            link.c.deleted.is_(False),
        ]
        if probe:
            conds.append(literal_column(f"{name}.rowid").in_(self._candidates(names, w)))
        conds += [m.c.deleted.is_(False), or_(*(self.sql.holds(n, w, name) for n in names))]
        joined = link.join(
            m,
            and_(m.c.workspace_id == link.c.workspace_id, m.c.collection == coll, m.c.id == link.c.target_id),
        )
        return exists(select(literal_column("1")).select_from(joined).where(*conds))

    def driven(self, words: list[str], gather: list[str], probes: set[str], limit: int) -> Select[Any]:
        """The newest `limit` live tickets among the intersection of the `gather` words' supersets that hold
        every word (exactly)."""
        r = t.records
        sets = [select(self.superset(w).subquery().c[0]) for w in gather]
        return (
            select(r.c.id)
            .where(
                literal_column("records.rowid").in_(sets[0] if len(sets) == 1 else intersect(*sets)),
                search.unindexed(r.c.workspace_id) == self.sql.ws,
                r.c.collection == "tickets",
                r.c.deleted.is_(False),
                *(self.check(w, w in probes) for w in words),
            )
            .order_by(literal_column("+records.updated_at").desc(), r.c.id.desc())
            .limit(limit)
        )
