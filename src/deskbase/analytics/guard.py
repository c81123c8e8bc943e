"""The SQL guard: parse user SQL with ClickHouse's own parser, walk the AST with an allowlist, regenerate it.

``readonly=1`` alone does not isolate tenants (DESIGN §4), so before anything runs:

1. ``parseQueryToJSON`` parses the text (it refuses multi-statements and keeps ``{name:Type}`` parameters);
   the same query returns ``formatQueryFromJSON`` of that AST and the parse of *that* text.
2. Both ASTs are walked. Every node type and every key is on an allowlist; anything unknown is refused, so
   a new ClickHouse clause fails closed. Table references must be unqualified allowed tables or CTE names in
   scope; the right side of IN is a table reference; the only table function is ``numbers`` under a cap;
   functions come from ``system.functions`` minus dangerous categories and names; SETTINGS, FORMAT and
   INTO OUTFILE are refused wherever they appear; ``Identifier`` parameters are refused.
3. Only the regenerated text is executed, never the user's: comments, ``implicit_select`` forms such as
   ``WATCH x`` (parsed as ``SELECT WATCH AS x``) and any parser/formatter asymmetry cannot smuggle anything,
   because the AST of the executed text is the one that was checked.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from deskbase.analytics.engine import Engine, Limits
from deskbase.analytics.errors import QueryError
from deskbase.analytics.functions import DENIED_FUNCTIONS, FunctionPolicy, function_policy
from deskbase.analytics.sql_walker import NUMBERS_CAP, Walker, reject

__all__ = [
    "DENIED_FUNCTIONS",
    "NUMBERS_CAP",
    "CheckedQuery",
    "FunctionPolicy",
    "check_query",
    "function_policy",
]

MAX_QUERY_LENGTH = 100_000

_GUARD_LIMITS = Limits(
    max_execution_time=5.0, max_memory_usage=512 * 1024**2, max_result_rows=1, max_rows_to_read=10
)

_PARSE_SQL = "SELECT parseQueryToJSON({q:String})"
_PARSE_FORMAT_SQL = (
    "SELECT parseQueryToJSON({q:String}) AS ast, formatQueryFromJSON(ast) AS regenerated, "
    "parseQueryToJSON(regenerated) AS reparsed"
)


@dataclass(frozen=True)
class CheckedQuery:
    """A query that passed the guard: ``sql`` is the regenerated text, the only text ever executed."""

    sql: str
    parameters: Mapping[str, str]  # name -> ClickHouse type of every {name:Type} placeholder
    tables: frozenset[str]  # allowed tables the query reads
    database: str | None = None


_NOT_SELECT_KEYWORD = re.compile(r"^\s*(?:(?:--[^\n]*(?:\n|$)|/\*.*?\*/|\()\s*)*([A-Za-z]+)", re.S)
_NO_JSON_SUPPORT = re.compile(r"does not support JSON serialization|not supported by parseQueryToJSON")
_IN_SCOPE_GUARD = re.compile(r"[:.]?\s*In scope SELECT parseQueryToJSON.*$", re.S)

# --------------------------------------------------------------------------------------------------- entry


def _statement_keyword(query: str) -> str:
    match = _NOT_SELECT_KEYWORD.match(query)
    return match.group(1).upper() if match else "this statement"


def _parse_failure(query: str, exc: QueryError) -> Exception:
    """Turn a failed parse into a refusal (multi-statement, non-SELECT) or a clean syntax error."""
    message = _IN_SCOPE_GUARD.sub("", exc.message).strip()
    if "Multi-statements are not allowed" in message:
        return reject("multiple statements are not allowed; send one SELECT", "clause", "multi-statement")
    if _NO_JSON_SUPPORT.search(message) or "INSERT with inline data" in message:
        keyword = _statement_keyword(query)
        return reject(f"only SELECT queries are allowed, not {keyword}", "statement", keyword)
    return QueryError(message, exc.details)


def _load(text: str) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:  # orjson refuses nesting deeper than 1024 levels
        raise reject("query is nested too deeply", "syntax", "depth") from None


def _walk(ast: Any, query: str, allowed: frozenset[str], policy: FunctionPolicy) -> Walker:
    if not isinstance(ast, dict) or ast.get("type") != "SelectWithUnionQuery":
        keyword = _statement_keyword(query)
        raise reject(f"only SELECT queries are allowed, not {keyword}", "statement", keyword)
    walker = Walker(allowed, policy)
    try:
        walker.query(ast, frozenset())
    except RecursionError:
        raise reject("query is nested too deeply", "syntax", "depth") from None
    return walker


def check_query(
    engine: Engine, query: str, allowed_tables: set[str] | frozenset[str], *, database: str | None = None
) -> CheckedQuery:
    """Check ``query`` against the allowlist and return the regenerated SQL to execute (in ``database``)."""
    if not query.strip():
        raise QueryError("empty query", {})
    if len(query) > MAX_QUERY_LENGTH:
        raise reject(f"query is longer than {MAX_QUERY_LENGTH} characters", "syntax", "length")
    policy = function_policy(engine)
    allowed = frozenset(allowed_tables)
    try:
        row = engine.query_readonly(_PARSE_FORMAT_SQL, {"q": query}, _GUARD_LIMITS).rows[0]
    except QueryError as exc:
        # Parse alone to tell a refusal (multi-statement, non-SELECT, forbidden part) from a query that is
        # valid but cannot be regenerated: the latter is still never run.
        try:
            parsed = engine.query_readonly(_PARSE_SQL, {"q": query}, _GUARD_LIMITS).rows[0][0]
        except QueryError as parse_exc:
            raise _parse_failure(query, parse_exc) from None
        _walk(_load(parsed), query, allowed, policy)
        raise QueryError(_IN_SCOPE_GUARD.sub("", exc.message).strip(), exc.details) from None
    ast_text, regenerated, reparsed_text = row
    walker = _walk(_load(ast_text), query, allowed, policy)
    if reparsed_text != ast_text:
        # The text we run parses differently from what the user wrote: check what actually runs.
        walker = _walk(_load(reparsed_text), query, allowed, policy)
    return CheckedQuery(
        sql=regenerated,
        parameters=dict(walker.parameters),
        tables=frozenset(walker.tables),
        database=database,
    )
