"""The filter and sort DSL (Rekor-compatible) compiled to SQL on the primary store, with keyset cursors.

`{field, op, value}` or `{and|or: [...]}`; ops eq neq gt gte lt lte in not_in like ilike is_null is_not_null
has search. Data fields are `data.<path>` (or a bare path); system fields are id, created_at, updated_at,
external_id, external_source, version, number. Data-field expressions are rendered with literal JSON paths so they
match the `x-index` expression indexes exactly; `search` on an `x-search` field also uses its trigram index
(see `search.py`).
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import ColumnElement, and_, bindparam, cast, exists, false, literal_column, not_, or_
from sqlalchemy import select as sa_select
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Connection
from sqlalchemy.sql import func

from deskbase.core import filterlang, search
from deskbase.core.clock import parse_iso
from deskbase.core.errors import InvalidFilter
from deskbase.core.tables import records

SYSTEM_FIELDS = {"id", "created_at", "updated_at", "external_id", "external_source", "version", "number"}
INT_FIELDS = {"version", "number"}
TIME_FIELDS = {"created_at", "updated_at"}
SEGMENT_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
OPS = filterlang.OPS

Scalar = str | int | float | bool


@dataclass(frozen=True)
class Field:
    """A parsed field reference: a system column or a path inside `data`."""

    system: str | None
    path: tuple[str, ...]

    @property
    def name(self) -> str:
        return self.system or "data." + ".".join(self.path)


def parse_field(raw: Any) -> Field:
    if not isinstance(raw, str) or not raw:
        raise InvalidFilter("filter field must be a non-empty string", {"field": raw})
    if raw in SYSTEM_FIELDS:
        return Field(raw, ())
    parts = raw.split(".")
    if parts[0] == "data":
        parts = parts[1:]
    if not parts or len(parts) > 8 or not all(SEGMENT_RE.match(p) for p in parts):
        raise InvalidFilter(
            f"invalid field {raw!r}: use a system field ({', '.join(sorted(SYSTEM_FIELDS))}) or data.<name>[.<name>…]"
            " with letters, digits and '_'",
            {"field": raw},
        )
    return Field(None, tuple(parts))


class Compiler:
    """Builds SQL expressions for one dialect ('sqlite' or 'postgresql').

    `searchable`: the collection's `x-search` fields. With a connection too, a `search` on one of them is
    planned by its number of trigram candidates (SQLite, see `search.py`): few may drive the query, and
    `search_driver` then tells the caller to keep the other terms out of index selection
    (`search.unindexed`); very many are left to the scan when `early_stop` says the query ends at a page
    walked in index order (a LIMIT without a data-field sort)."""

    def __init__(
        self,
        dialect: str,
        searchable: Iterable[str] = (),
        conn: Connection | None = None,
        early_stop: bool = False,
    ) -> None:
        self.pg = dialect == "postgresql"
        self._n = 0
        self.searchable = frozenset(searchable)
        self.conn = conn
        self.early_stop = early_stop
        self.search_driver = False

    def _param(self, value: Any) -> Any:
        self._n += 1
        return bindparam(f"f{self._n}", value)

    # ---- expressions -------------------------------------------------------------------------------
    def data_value(self, f: Field) -> ColumnElement[Any]:
        """The field as a comparable SQL value (SQLite: native via json_extract; PostgreSQL: jsonb)."""
        if self.pg:
            if len(f.path) == 1:
                return literal_column(f"(records.data -> '{f.path[0]}')", JSONB)
            return literal_column(f"(records.data #> '{{{','.join(f.path)}}}')", JSONB)
        return literal_column(f"json_extract(records.data, '$.{'.'.join(f.path)}')")

    def data_text(self, f: Field) -> ColumnElement[Any]:
        """The field as text; on PostgreSQL this is the `x-index` expression `data ->> 'f'`."""
        if self.pg:
            if len(f.path) == 1:
                return literal_column(f"(records.data ->> '{f.path[0]}')")
            return literal_column(f"(records.data #>> '{{{','.join(f.path)}}}')")
        return self.data_value(f)

    def system(self, f: Field) -> ColumnElement[Any]:
        return records.c[f.system]  # type: ignore[index]

    def _cmp_target(self, f: Field, value: Any) -> tuple[ColumnElement[Any], Any]:
        """Pick the expression/parameter pair that compares `value` correctly and can use an index."""
        if f.system:
            if f.system in TIME_FIELDS:
                return self.system(f), self._param(_as_time(value, f))
            if f.system in INT_FIELDS:
                if not isinstance(value, int) or isinstance(value, bool):
                    raise InvalidFilter(
                        f"{f.system} filters take an integer", {"field": f.name, "value": value}
                    )
                return self.system(f), self._param(value)
            if not isinstance(value, str):
                raise InvalidFilter(f"{f.name} filters take a string", {"field": f.name, "value": value})
            return self.system(f), self._param(value)
        if self.pg and not isinstance(value, str):
            return self.data_value(f), cast(self._param(orjson.dumps(value).decode()), JSONB)
        return self.data_text(f), self._param(value)

    # ---- conditions --------------------------------------------------------------------------------
    def condition(self, node: Any) -> ColumnElement[bool]:
        """The filter as SQL; `filterlang.parse` validates it (shape, ops, values) exactly as the Python back
        end's callers (SLA policies, triggers) see it."""
        try:
            tree = filterlang.parse(node, _checked_field, filterlang.OPS)
        except filterlang.FilterError as exc:
            raise InvalidFilter(
                exc.message, exc.details or ({"pointer": exc.pointer} if exc.pointer else {})
            ) from None
        return self._compile(tree, True)

    def _compile(self, node: filterlang.Node, conjunctive: bool) -> ColumnElement[bool]:
        """`conjunctive`: the node must hold for every result (no `or` above it), so it may drive the query."""
        if isinstance(node, filterlang.Group):
            inner = conjunctive and node.kind == "and"
            joiner = and_ if node.kind == "and" else or_
            return joiner(*(self._compile(i, inner) for i in node.items))
        return self._leaf(node.field, node.op, node.value, conjunctive)

    def _leaf(self, f: Field, op: str, value: Any, conjunctive: bool = False) -> ColumnElement[bool]:
        if op in {"is_null", "is_not_null"}:
            expr = self.system(f) if f.system else self.data_text(f)
            return expr.is_(None) if op == "is_null" else expr.is_not(None)
        if op in {"eq", "neq", "gt", "gte", "lt", "lte"}:
            expr, param = self._cmp_target(f, value)
            return {
                "eq": expr == param,
                "neq": or_(expr != param, expr.is_(None)),
                "gt": expr > param,
                "gte": expr >= param,
                "lt": expr < param,
                "lte": expr <= param,
            }[op]
        if op in {"in", "not_in"}:
            if op == "in" and f.system in {"id", "external_id"} and all(isinstance(v, str) for v in value):
                # a search's id set: one IN list, one expanding parameter (compiled once, not per value)
                self._n += 1
                return self.system(f).in_(bindparam(f"f{self._n}", list(value), expanding=True))
            conds = [self._eq(f, v) for v in value]
            if op == "in":
                return or_(*conds)
            expr = self.system(f) if f.system else self.data_text(f)
            return or_(not_(or_(*conds)), expr.is_(None))
        if op in {"like", "ilike", "search"}:
            expr = self.system(f) if f.system else self.data_text(f)
            if op == "search":
                escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
                scan = func.lower(expr).like(self._param(f"%{escaped.lower()}%"), escape="\\")
                narrowed = self._trigram_candidates(f, value, conjunctive)
                # The scan's predicate stays as the recheck: results are exactly the scan's.
                return scan if narrowed is None else and_(narrowed, scan)
            if op == "ilike":
                return func.lower(expr).like(func.lower(self._param(value)))
            return expr.like(self._param(value))
        # has: an array field contains the value
        if f.system:
            raise InvalidFilter("'has' applies to array fields inside data", {"field": f.name})
        if self.pg:
            return self.data_value(f).op("@>")(cast(self._param(orjson.dumps([value]).decode()), JSONB))
        je = func.json_each(literal_column("records.data"), literal_column(f"'$.{'.'.join(f.path)}'"))
        jt = je.table_valued("value").alias("je")
        return exists(sa_select(1).select_from(jt).where(jt.c.value == self._param(value)))

    def _trigram_candidates(self, f: Field, value: str, conjunctive: bool) -> ColumnElement[bool] | None:
        """SQLite: the FTS5 rows of an x-search field that may match (PostgreSQL's planner picks its trigram
        index for the scan's own expression)."""
        if self.pg or f.system or len(f.path) != 1 or f.path[0] not in self.searchable:
            return None
        if not search.sqlite_trigram():
            return None
        phrase = search.match_phrase(value)
        if phrase is None:
            return None
        field = f.path[0]
        if self.conn is None:
            return search.candidates(field, self._param(phrase), drive=False)
        cap = search.DENSE if self.early_stop else search.SPARSE
        n = search.count_candidates(self.conn, field, phrase, cap)
        if self.early_stop and n > search.DENSE:
            return None
        drive = conjunctive and not self.search_driver and n <= search.SPARSE
        self.search_driver = self.search_driver or drive
        return search.candidates(field, self._param(phrase), drive)

    def _eq(self, f: Field, value: Any) -> ColumnElement[bool]:
        expr, param = self._cmp_target(f, value)
        return expr == param


def _checked_field(raw: Any, _pointer: str) -> Field:
    return parse_field(raw)


def _as_time(value: Any, f: Field) -> datetime:
    if not isinstance(value, str):
        raise InvalidFilter(f"{f.name} filters take an ISO-8601 time", {"field": f.name, "value": value})
    try:
        return parse_iso(value)
    except ValueError as exc:
        raise InvalidFilter(
            f"{f.name}: {value!r} is not an ISO-8601 time with offset", {"field": f.name}
        ) from exc


# ---- sorting and keyset pagination -----------------------------------------------------------------


@dataclass(frozen=True)
class SortKey:
    field: Field
    descending: bool


def index_ordered(keys: list[SortKey]) -> bool:
    """Whether records come in an index's order (id, or one time field), so a LIMIT can stop the walk early."""
    return not keys or (len(keys) == 1 and keys[0].field.system in TIME_FIELDS)


def parse_sort(raw: Any) -> list[SortKey]:
    if raw is None:
        return []
    if not isinstance(raw, list) or len(raw) > 4:
        raise InvalidFilter("sort is a list of at most 4 {field, direction} objects", {"sort": raw})
    keys = []
    for item in raw:
        if not isinstance(item, dict) or set(item) - {"field", "direction"}:
            raise InvalidFilter("each sort entry is {field, direction}", {"sort": item})
        direction = item.get("direction", "asc")
        if direction not in {"asc", "desc"}:
            raise InvalidFilter("sort direction is 'asc' or 'desc'", {"direction": direction})
        f = parse_field(item.get("field"))
        if f.system == "id":
            continue
        keys.append(SortKey(f, direction == "desc"))
    return keys


def encode_cursor(values: list[Any]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(values)).decode().rstrip("=")


def decode_cursor(cursor: str, n: int) -> list[Any]:
    try:
        values = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, orjson.JSONDecodeError) as exc:
        raise InvalidFilter("invalid cursor", {"cursor": cursor}) from exc
    if not isinstance(values, list) or len(values) != n:
        raise InvalidFilter("cursor does not belong to this sort order", {"cursor": cursor})
    return values


class Sorter:
    """ORDER BY plus the keyset predicate that resumes after a cursor. NULL data values sort last."""

    def __init__(self, compiler: Compiler, keys: list[SortKey], id_descending: bool = False) -> None:
        self.c = compiler
        self.keys = keys
        self.id_desc = id_descending if not keys else keys[0].descending

    def _expr(self, k: SortKey) -> ColumnElement[Any]:
        return self.c.system(k.field) if k.field.system else self.c.data_value(k.field)

    def order_by(self) -> list[Any]:
        out: list[Any] = []
        for k in self.keys:
            e = self._expr(k)
            if not k.field.system:
                out.append(e.is_(None).asc())
            out.append(e.desc() if k.descending else e.asc())
        out.append(records.c.id.desc() if self.id_desc else records.c.id.asc())
        return out

    def row_values(self, row: Any) -> list[Any]:
        """Cursor values of a result row, read from the row's data in Python (no extra columns)."""
        vals: list[Any] = []
        v: Any
        for k in self.keys:
            if k.field.system:
                v = getattr(row, k.field.system)
                vals.append(v.isoformat() if isinstance(v, datetime) else v)
            else:
                v = row.data
                for p in k.field.path:
                    v = v.get(p) if isinstance(v, dict) else None
                vals.append(v if not isinstance(v, (dict, list)) else None)
        vals.append(row.id)
        return vals

    def after(self, cursor: str) -> ColumnElement[bool]:
        values = decode_cursor(cursor, len(self.keys) + 1)
        last_id = values[-1]
        if not isinstance(last_id, str):
            raise InvalidFilter("invalid cursor", {"cursor": cursor})
        id_cmp = (
            records.c.id < self.c._param(last_id) if self.id_desc else records.c.id > self.c._param(last_id)
        )
        clause: ColumnElement[bool] = id_cmp
        for k, v in reversed(list(zip(self.keys, values[:-1], strict=True))):
            e = self._expr(k)
            if k.field.system in TIME_FIELDS and v is not None:
                v = datetime.fromisoformat(v)
            if v is None:
                # We are inside the NULL tail: only NULLs remain, ordered by the rest of the key.
                clause = and_(e.is_(None), clause) if not k.field.system else clause
                continue
            p = self._value_param(k, v)
            beyond = e < p if k.descending else e > p
            tail = e.is_(None) if not k.field.system else false()
            clause = or_(beyond, and_(e == p, clause), tail)
        return clause

    def _value_param(self, k: SortKey, v: Any) -> Any:
        if self.c.pg and not k.field.system:
            return cast(self.c._param(orjson.dumps(v).decode()), JSONB)
        return self.c._param(v)
