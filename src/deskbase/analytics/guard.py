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
import threading
import weakref
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from deskbase.analytics.engine import Engine, Limits
from deskbase.analytics.errors import QueryError, QueryRejected

__all__ = ["NUMBERS_CAP", "CheckedQuery", "FunctionPolicy", "check_query", "function_policy"]

MAX_QUERY_LENGTH = 100_000
NUMBERS_CAP = 1_000_000  # rows numbers() may generate: enough for date spines, not a load generator

_GUARD_LIMITS = Limits(
    max_execution_time=5.0, max_memory_usage=512 * 1024**2, max_result_rows=1, max_rows_to_read=10
)
_CATALOG_LIMITS = Limits(max_execution_time=10.0, max_result_rows=100_000, max_rows_to_read=1_000_000)

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


# ----------------------------------------------------------------------------------------- function policy

DENIED_CATEGORIES = frozenset(
    {
        "Introspection",
        "Dictionary",
        "Embedded Dictionary",
        "AI",
        "Machine Learning",
        "Internal",
        "Time Series",
    }
)

# Functions that touch files, settings, other tables, the host or time itself, or reveal server internals.
DENIED_FUNCTIONS = frozenset(
    {
        # files, other tables, settings
        "file",
        "filesystemAvailable",
        "filesystemCapacity",
        "filesystemUnreserved",
        "joinGet",
        "joinGetOrNull",
        "hasColumnInTable",
        "getMaxTableNameLengthForDatabase",
        "getSetting",
        "getSettingOrDefault",
        "getServerSetting",
        "getMergeTreeSetting",
        "globalVariable",
        # stalling the engine
        "sleep",
        "sleepEachRow",
        # server, session and tenant identity
        "currentDatabase",
        "currentSchemas",
        "hostName",
        "FQDN",
        "displayName",
        "serverUUID",
        "getMacro",
        "getOSKernelVersion",
        "buildId",
        "version",
        "revision",
        "uptime",
        "tcpPort",
        "getServerPort",
        "shardNum",
        "shardCount",
        "zookeeperSessionUptime",
        "showCertificate",
        "hasThreadFuzzer",
        "chdb",
        "currentUser",
        "authenticatedUser",
        "currentRoles",
        "enabledRoles",
        "defaultRoles",
        "currentProfiles",
        "enabledProfiles",
        "defaultProfiles",
        "pgGetUserById",
        "pgTableIsVisible",
        "queryID",
        "initialQueryID",
        "currentQueryID",
        "initialQueryStartTime",
        "connectionId",
        "getClientHTTPHeader",
        "currentRequestURL",
        "currentHandler",
        "transactionID",
        "transactionLatestSnapshot",
        "transactionOldestSnapshot",
        # side effects or internals
        "generateSerialID",
        "fuzzQuery",
        "flameGraph",
        "inIgnoreSet",
        "notInIgnoreSet",
        "globalInIgnoreSet",
        "globalNotInIgnoreSet",
        "nullInIgnoreSet",
        "notNullInIgnoreSet",
        "globalNullInIgnoreSet",
        "globalNotNullInIgnoreSet",
    }
)

# Produced by the parser for ordinary syntax but filed under "Internal" or absent from system.functions.
PARSER_FUNCTIONS = frozenset({"lambda", "exists", "grouping", "untuple", "_CAST", "caseWithExpression"})

IN_FUNCTIONS = frozenset(
    {"in", "notIn", "globalIn", "globalNotIn", "nullIn", "notNullIn", "globalNullIn", "globalNotNullIn"}
)


@dataclass(frozen=True)
class FunctionPolicy:
    """Which function names a user query may call, resolved the way ClickHouse resolves them."""

    base: frozenset[str]  # functions that are not aliases
    aliases: Mapping[
        str, str
    ]  # alias -> target as system.functions spells it (case or combinators may differ)
    folded: Mapping[str, str]  # lower(name) -> name, for case-insensitive functions and aliases
    allowed: frozenset[str]  # allowed base functions
    aggregates: frozenset[str]  # base aggregate functions
    combinators: tuple[str, ...]  # aggregate combinator suffixes, longest first

    @classmethod
    def from_catalog(
        cls, functions: Iterable[tuple[str, bool, bool, str, str]], combinators: Iterable[str]
    ) -> FunctionPolicy:
        """Build from ``system.functions`` rows (name, is_aggregate, case_insensitive, alias_to, categories)."""
        base: set[str] = set(PARSER_FUNCTIONS)
        allowed: set[str] = set(PARSER_FUNCTIONS)
        aliases: dict[str, str] = {}
        folded: dict[str, str] = {}
        aggregates: set[str] = set()
        for name, is_aggregate, case_insensitive, alias_to, categories in functions:
            if case_insensitive:
                folded[name.lower()] = name
            if alias_to:
                aliases[name] = alias_to
                continue
            base.add(name)
            if is_aggregate:
                aggregates.add(name)
            cats = {c.strip() for c in categories.split(",") if c.strip()}
            if not (cats & DENIED_CATEGORIES or name in DENIED_FUNCTIONS or name.startswith("__")):
                allowed.add(name)
        return cls(
            base=frozenset(base),
            aliases=aliases,
            folded=folded,
            allowed=frozenset(allowed),
            aggregates=frozenset(aggregates),
            combinators=tuple(sorted(set(combinators), key=len, reverse=True)),
        )

    def canonical(self, name: str, _depth: int = 0) -> str | None:
        """The allowed base function a name calls, or None when it is unknown or denied (fail closed)."""
        if _depth > 8:
            return None
        key = name if name in self.base or name in self.aliases else self.folded.get(name.lower())
        if key in self.base:
            return key if key in self.allowed else None
        if key is not None and key in self.aliases:
            return self.canonical(self.aliases[key], _depth + 1)
        # An aggregate with combinators (countIf, sumArrayIf, uniqMerge …) is allowed iff its base is.
        for suffix in self.combinators:
            if name.endswith(suffix) and len(name) > len(suffix):
                found = self.canonical(name[: -len(suffix)], _depth + 1)
                if found is not None and found in self.aggregates:
                    return found
        return None


_policies: weakref.WeakKeyDictionary[Any, FunctionPolicy] = weakref.WeakKeyDictionary()
_policies_lock = threading.Lock()


def function_policy(engine: Engine) -> FunctionPolicy:
    """The engine's function allowlist, read once from ``system.functions`` and cached per engine."""
    with _policies_lock:
        policy = _policies.get(engine)
    if policy is not None:
        return policy
    functions = engine.query_readonly(
        "SELECT name, is_aggregate, case_insensitive, alias_to, categories FROM system.functions",
        {},
        _CATALOG_LIMITS,
    )
    combinators = engine.query_readonly(
        "SELECT name FROM system.aggregate_function_combinators", {}, _CATALOG_LIMITS
    )
    policy = FunctionPolicy.from_catalog(
        ((r[0], bool(r[1]), bool(r[2]), r[3], r[4]) for r in functions.rows),
        (r[0] for r in combinators.rows),
    )
    with _policies_lock:
        _policies[engine] = policy
    return policy


# -------------------------------------------------------------------------------------------------- walker

_NOT_SELECT_KEYWORD = re.compile(r"^\s*(?:(?:--[^\n]*(?:\n|$)|/\*.*?\*/|\()\s*)*([A-Za-z]+)", re.S)
_NO_JSON_SUPPORT = re.compile(r"does not support JSON serialization|not supported by parseQueryToJSON")
_IN_SCOPE_GUARD = re.compile(r"[:.]?\s*In scope SELECT parseQueryToJSON.*$", re.S)

_FORBIDDEN_CLAUSES = {
    "settings": "SETTINGS",
    "settings_ast": "SETTINGS",
    "format_ast": "FORMAT",
    "out_file": "INTO OUTFILE",
    "compression": "INTO OUTFILE",
    "compression_level": "INTO OUTFILE",
}

_UNION_SCALARS = frozenset(
    {
        "type",
        "union_mode",
        "list_of_modes",
        "is_outfile_append",
        "is_outfile_truncate",
        "is_into_outfile_with_stdout",
    }
)
_SELECT_EXPRESSIONS = frozenset(
    {
        "select",
        "prewhere",
        "where",
        "group_by",
        "having",
        "window",
        "qualify",
        "order_by",
        "limit_by_offset",
        "limit_by_length",
        "limit_by",
        "limit_offset",
        "limit_length",
        "interpolate",
    }
)
_SELECT_SCALARS = frozenset(
    {
        "type",
        "distinct",
        "group_by_with_totals",
        "group_by_with_rollup",
        "group_by_with_cube",
        "group_by_with_grouping_sets",
        "group_by_all",
        "order_by_all",
        "limit_with_ties",
        "recursive_with",
    }
)
_OK_FUNCTION_KINDS = frozenset({None, "ORDINARY_FUNCTION", "WINDOW_FUNCTION", "LAMBDA_FUNCTION"})

# Expression node type -> (keys holding child nodes, keys holding plain values).
_EXPRESSION_NODES: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "ExpressionList": (frozenset({"children"}), frozenset()),
    "Literal": (frozenset(), frozenset({"value", "alias"})),
    "Asterisk": (frozenset({"transformers"}), frozenset()),
    "QualifiedAsterisk": (frozenset({"qualifier", "transformers"}), frozenset()),
    "ColumnsRegexpMatcher": (frozenset({"transformers"}), frozenset({"pattern"})),
    "ColumnsListMatcher": (frozenset({"column_list", "transformers"}), frozenset()),
    "QualifiedColumnsRegexpMatcher": (frozenset({"qualifier", "transformers"}), frozenset({"pattern"})),
    "QualifiedColumnsListMatcher": (frozenset({"qualifier", "column_list", "transformers"}), frozenset()),
    "ColumnsTransformerList": (frozenset({"children"}), frozenset()),
    "ColumnsExceptTransformer": (frozenset({"children"}), frozenset({"is_strict", "pattern"})),
    "ColumnsReplaceTransformer": (frozenset({"children"}), frozenset({"is_strict"})),
    "ColumnsReplaceTransformerReplacement": (frozenset({"children"}), frozenset({"name"})),
    "OrderByElement": (
        frozenset({"expression", "fill_from", "fill_to", "fill_step", "fill_staleness", "collation"}),
        frozenset({"direction", "nulls_direction", "nulls_direction_was_explicitly_specified", "with_fill"}),
    ),
    "InterpolateElement": (frozenset({"expr"}), frozenset({"column"})),
    "WindowListElement": (frozenset({"definition"}), frozenset({"name"})),
    "WindowDefinition": (
        frozenset({"partition_by", "order_by", "frame_begin_offset", "frame_end_offset"}),
        frozenset(
            {
                "frame_type",
                "frame_begin_type",
                "frame_end_type",
                "frame_begin_preceding",
                "frame_end_preceding",
                "frame_is_default",
                "parent_window_name",
            }
        ),
    ),
}
_FUNCTION_NODES = frozenset({"arguments", "parameters", "window_definition"})
_FUNCTION_SCALARS = frozenset(
    {
        "name",
        "alias",
        "is_operator",
        "kind",
        "is_lambda_function",
        "is_window_function",
        "window_name",
        "nulls_action",
    }
)
_TABLE_EXPRESSION_KEYS = frozenset(
    {"type", "database_and_table_name", "table_function", "subquery", "final", "sample_size", "sample_offset"}
)
_TABLE_JOIN_NODES = frozenset({"on_expression", "using_expression_list"})
_TABLE_JOIN_SCALARS = frozenset({"kind", "strictness", "locality", "is_natural"})


def _reject(message: str, kind: str, name: str) -> QueryRejected:
    return QueryRejected(message, {"kind": kind, "name": name})


class _Walker:
    """One pass over a parsed query; raises QueryRejected at the first node outside the allowlist."""

    def __init__(self, allowed_tables: frozenset[str], policy: FunctionPolicy) -> None:
        self.allowed = allowed_tables
        self.policy = policy
        self.tables: set[str] = set()
        self.parameters: dict[str, str] = {}

    # -- structure

    def _node(self, node: Any, where: str) -> dict[str, Any]:
        if not isinstance(node, dict) or not isinstance(node.get("type"), str):
            raise _reject(f"unsupported syntax in {where}", "syntax", where)
        return node

    def _keys(self, node: dict[str, Any], allowed: Iterable[str]) -> None:
        allowed = set(allowed) | {"type"}
        for key in node:
            if key in _FORBIDDEN_CLAUSES:
                clause = _FORBIDDEN_CLAUSES[key]
                raise _reject(f"{clause} clause is not allowed", "clause", clause)
            if key not in allowed:
                raise _reject(f"unsupported clause '{key}' in {node['type']}", "syntax", key)

    def _children(self, node: Any, where: str) -> list[Any]:
        node = self._node(node, where)
        if node["type"] != "ExpressionList":
            raise _reject(f"unsupported syntax {node['type']} in {where}", "syntax", node["type"])
        self._keys(node, {"children"})
        children = node.get("children", [])
        if not isinstance(children, list):
            raise _reject(f"unsupported syntax in {where}", "syntax", where)
        return children

    # -- queries

    def query(self, node: Any, ctes: frozenset[str]) -> None:
        node = self._node(node, "query")
        kind = node["type"]
        if kind == "SelectWithUnionQuery":
            self._keys(node, _UNION_SCALARS | {"list_of_selects"})
            for flag in ("is_outfile_append", "is_outfile_truncate", "is_into_outfile_with_stdout"):
                if node.get(flag):
                    raise _reject("INTO OUTFILE clause is not allowed", "clause", "INTO OUTFILE")
            for child in self._children(node.get("list_of_selects"), "UNION"):
                self.query(child, ctes)
        elif kind == "SelectQuery":
            self.select(node, ctes)
        elif kind == "SetQuery":
            raise _reject("SETTINGS clause is not allowed", "clause", "SETTINGS")
        else:
            raise _reject(f"unsupported query part {kind}", "syntax", kind)

    def select(self, node: dict[str, Any], ctes: frozenset[str]) -> None:
        self._keys(node, _SELECT_SCALARS | _SELECT_EXPRESSIONS | {"with", "tables"})
        if "select" not in node:
            raise _reject("a SELECT list is required", "syntax", "SelectQuery")
        recursive = bool(node.get("recursive_with"))
        if "with" in node:
            ctes = self.with_clause(node["with"], ctes, recursive)
        if "tables" in node:
            for element in self._tables_children(node["tables"]):
                self.table_element(element, ctes)
        for key in _SELECT_EXPRESSIONS:
            if key in node:
                self.expression(node[key], ctes)

    def with_clause(self, node: Any, ctes: frozenset[str], recursive: bool) -> frozenset[str]:
        defined = set(ctes)
        for element in self._children(node, "WITH"):
            element = self._node(element, "WITH")
            if element["type"] == "WithElement":
                self._keys(element, {"name", "subquery", "is_materialized"})
                name = element.get("name")
                if not isinstance(name, str):
                    raise _reject("unsupported WITH element", "syntax", "WITH")
                if name in self.allowed:
                    raise _reject(
                        f"CTE '{name}' shadows the table '{name}'; give it another name", "table", name
                    )
                # A CTE sees the ones defined before it (and itself only under WITH RECURSIVE): never more
                # than ClickHouse, so a name we treat as a CTE can never resolve to a real table instead.
                scope = frozenset(defined | {name}) if recursive else frozenset(defined)
                self.subquery(element.get("subquery"), scope)
                defined.add(name)
            else:
                self.expression(element, frozenset(defined))
        return frozenset(defined)

    def subquery(self, node: Any, ctes: frozenset[str]) -> None:
        node = self._node(node, "subquery")
        if node["type"] != "Subquery":
            raise _reject(f"unsupported syntax {node['type']} in a subquery", "syntax", node["type"])
        self._keys(node, {"children", "alias"})
        children = node.get("children")
        if not isinstance(children, list) or len(children) != 1:
            raise _reject("unsupported subquery", "syntax", "Subquery")
        self.query(children[0], ctes)

    # -- FROM

    def _tables_children(self, node: Any) -> list[Any]:
        node = self._node(node, "FROM")
        if node["type"] != "TablesInSelectQuery":
            raise _reject(f"unsupported syntax {node['type']} in FROM", "syntax", node["type"])
        self._keys(node, {"children"})
        return list(node.get("children", []))

    def table_element(self, node: Any, ctes: frozenset[str]) -> None:
        node = self._node(node, "FROM")
        if node["type"] != "TablesInSelectQueryElement":
            raise _reject(f"unsupported syntax {node['type']} in FROM", "syntax", node["type"])
        self._keys(node, {"table_expression", "table_join", "array_join"})
        if "table_expression" in node:
            self.table_expression(node["table_expression"], ctes)
        if "table_join" in node:
            join = self._node(node["table_join"], "JOIN")
            if join["type"] != "TableJoin":
                raise _reject(f"unsupported syntax {join['type']} in JOIN", "syntax", join["type"])
            self._keys(join, _TABLE_JOIN_NODES | _TABLE_JOIN_SCALARS)
            for key in _TABLE_JOIN_NODES:
                if key in join:
                    self.expression(join[key], ctes)
        if "array_join" in node:
            array_join = self._node(node["array_join"], "ARRAY JOIN")
            if array_join["type"] != "ArrayJoin":
                raise _reject(f"unsupported syntax {array_join['type']}", "syntax", array_join["type"])
            self._keys(array_join, {"expression_list", "kind"})
            self.expression(array_join.get("expression_list"), ctes)

    def table_expression(self, node: Any, ctes: frozenset[str]) -> None:
        node = self._node(node, "FROM")
        if node["type"] != "TableExpression":
            raise _reject(f"unsupported syntax {node['type']} in FROM", "syntax", node["type"])
        self._keys(node, _TABLE_EXPRESSION_KEYS)
        for key in ("sample_size", "sample_offset"):
            if key in node:
                sample = self._node(node[key], "SAMPLE")
                if sample["type"] != "SampleRatio":
                    raise _reject("unsupported SAMPLE clause", "syntax", "SAMPLE")
                self._keys(sample, {"numerator", "denominator"})
        if "database_and_table_name" in node:
            self.table_identifier(node["database_and_table_name"], ctes)
        if "table_function" in node:
            self.table_function(node["table_function"])
        if "subquery" in node:
            self.subquery(node["subquery"], ctes)

    def table_identifier(self, node: Any, ctes: frozenset[str]) -> None:
        node = self._node(node, "FROM")
        if node["type"] not in ("TableIdentifier", "Identifier"):
            raise _reject(f"unsupported syntax {node['type']} as a table", "syntax", node["type"])
        self._keys(node, {"name", "name_parts", "alias", "children"})
        if "children" in node:
            self._identifier_parameter(node)
        parts = node.get("name_parts") or [node.get("name")]
        if not all(isinstance(p, str) for p in parts):
            raise _reject("unsupported table name", "syntax", "table")
        self.table_reference(".".join(parts), len(parts), ctes)

    def table_reference(self, name: str, parts: int, ctes: frozenset[str]) -> None:
        if parts > 1:
            raise _reject(
                f"table '{name}' is not available: use the unqualified table names of this workspace "
                f"({self._allowed_list()})",
                "table",
                name,
            )
        if name in ctes:
            return
        if name not in self.allowed:
            raise _reject(
                f"table '{name}' is not available; allowed tables: {self._allowed_list()}", "table", name
            )
        self.tables.add(name)

    def _allowed_list(self) -> str:
        return ", ".join(sorted(self.allowed))

    def table_function(self, node: Any) -> None:
        node = self._node(node, "FROM")
        if node["type"] != "Function":
            raise _reject(f"unsupported syntax {node['type']} in FROM", "syntax", node["type"])
        name = str(node.get("name"))
        if name != "numbers":
            raise _reject(f"table function '{name}' is not allowed", "table_function", name)
        self._keys(node, {"name", "arguments", "alias", "kind"})
        args = self._children(node.get("arguments", {"type": "ExpressionList"}), "numbers()")
        values = []
        for arg in args:
            arg = self._node(arg, "numbers()")
            value = arg.get("value", {}).get("value") if arg["type"] == "Literal" else None
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise _reject(
                    "table function 'numbers' takes literal non-negative integers only",
                    "table_function",
                    "numbers",
                )
            values.append(value)
        if not 1 <= len(values) <= 3:
            raise _reject("table function 'numbers' takes 1 to 3 arguments", "table_function", "numbers")
        count = values[0] if len(values) == 1 else values[1]
        if count > NUMBERS_CAP:
            raise _reject(
                f"table function 'numbers' is limited to {NUMBERS_CAP} rows", "table_function", "numbers"
            )

    # -- expressions

    def expression(self, node: Any, ctes: frozenset[str]) -> None:
        node = self._node(node, "expression")
        kind = node["type"]
        if kind == "Function":
            self.function(node, ctes)
        elif kind == "Identifier":
            self._keys(node, {"name", "name_parts", "alias", "children"})
            if "children" in node:
                self._identifier_parameter(node)
        elif kind == "QueryParameter":
            self.parameter(node)
        elif kind == "Subquery":
            self.subquery(node, ctes)
        elif kind == "SetQuery":
            raise _reject("SETTINGS clause is not allowed", "clause", "SETTINGS")
        elif kind == "ColumnsApplyTransformer":
            self._keys(node, {"func_name", "parameters", "lambda", "lambda_arg", "column_name_prefix"})
            if "func_name" in node:
                self._check_function_name(str(node["func_name"]))
            for key in ("parameters", "lambda"):
                if key in node:
                    self.expression(node[key], ctes)
        elif kind in _EXPRESSION_NODES:
            nodes, scalars = _EXPRESSION_NODES[kind]
            self._keys(node, nodes | scalars)
            for key in nodes:
                value = node.get(key)
                if value is None:
                    continue
                for child in value if isinstance(value, list) else [value]:
                    self.expression(child, ctes)
        else:
            raise _reject(f"unsupported syntax {kind}", "syntax", kind)

    def function(self, node: dict[str, Any], ctes: frozenset[str]) -> None:
        self._keys(node, _FUNCTION_NODES | _FUNCTION_SCALARS)
        if node.get("kind") not in _OK_FUNCTION_KINDS:
            raise _reject(
                f"function '{node.get('name')}' is not allowed here", "function", str(node.get("name"))
            )
        canonical = self._check_function_name(str(node.get("name")))
        args = self._children(node["arguments"], canonical) if "arguments" in node else []
        if canonical in IN_FUNCTIONS and len(args) == 2:
            self.expression(args[0], ctes)
            self.in_right_side(args[1], ctes)
        else:
            for arg in args:
                self.expression(arg, ctes)
        for key in ("parameters", "window_definition"):
            if key in node:
                self.expression(node[key], ctes)

    def in_right_side(self, node: Any, ctes: frozenset[str]) -> None:
        """``x IN t`` reads table ``t``: an identifier on the right of IN is a table reference."""
        node = self._node(node, "IN")
        if node["type"] == "Identifier":
            self._keys(node, {"name", "name_parts", "alias", "children"})
            if "children" in node:
                self._identifier_parameter(node)
            parts = node.get("name_parts") or [node.get("name")]
            self.table_reference(".".join(str(p) for p in parts), len(parts), ctes)
        else:
            self.expression(node, ctes)

    def _check_function_name(self, name: str) -> str:
        canonical = self.policy.canonical(name)
        if canonical is None:
            raise _reject(f"function '{name}' is not allowed", "function", name)
        return canonical

    def parameter(self, node: dict[str, Any]) -> None:
        self._keys(node, {"name", "param_type", "alias"})
        name, param_type = str(node.get("name")), str(node.get("param_type"))
        if "identifier" in param_type.lower():
            raise _reject(
                f"query parameter {{{name}:{param_type}}} is not allowed: parameters carry values, "
                "not table or column names",
                "parameter",
                name,
            )
        self.parameters.setdefault(name, param_type)

    def _identifier_parameter(self, node: dict[str, Any]) -> None:
        for child in node.get("children") or []:
            if isinstance(child, dict) and child.get("type") == "QueryParameter":
                self.parameter(child)
        raise _reject("parameterised identifiers are not allowed", "parameter", str(node.get("name")))


# --------------------------------------------------------------------------------------------------- entry


def _statement_keyword(query: str) -> str:
    match = _NOT_SELECT_KEYWORD.match(query)
    return match.group(1).upper() if match else "this statement"


def _parse_failure(query: str, exc: QueryError) -> Exception:
    """Turn a failed parse into a refusal (multi-statement, non-SELECT) or a clean syntax error."""
    message = _IN_SCOPE_GUARD.sub("", exc.message).strip()
    if "Multi-statements are not allowed" in message:
        return _reject("multiple statements are not allowed; send one SELECT", "clause", "multi-statement")
    if _NO_JSON_SUPPORT.search(message) or "INSERT with inline data" in message:
        keyword = _statement_keyword(query)
        return _reject(f"only SELECT queries are allowed, not {keyword}", "statement", keyword)
    return QueryError(message, exc.details)


def _load(text: str) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:  # orjson refuses nesting deeper than 1024 levels
        raise _reject("query is nested too deeply", "syntax", "depth") from None


def _walk(ast: Any, query: str, allowed: frozenset[str], policy: FunctionPolicy) -> _Walker:
    if not isinstance(ast, dict) or ast.get("type") != "SelectWithUnionQuery":
        keyword = _statement_keyword(query)
        raise _reject(f"only SELECT queries are allowed, not {keyword}", "statement", keyword)
    walker = _Walker(allowed, policy)
    try:
        walker.query(ast, frozenset())
    except RecursionError:
        raise _reject("query is nested too deeply", "syntax", "depth") from None
    return walker


def check_query(
    engine: Engine, query: str, allowed_tables: set[str] | frozenset[str], *, database: str | None = None
) -> CheckedQuery:
    """Check ``query`` against the allowlist and return the regenerated SQL to execute (in ``database``)."""
    if not query.strip():
        raise QueryError("empty query", {})
    if len(query) > MAX_QUERY_LENGTH:
        raise _reject(f"query is longer than {MAX_QUERY_LENGTH} characters", "syntax", "length")
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
