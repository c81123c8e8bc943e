"""The SQL guard's AST walker: every node type and key of ClickHouse's ``parseQueryToJSON`` output must be on
the allowlist (deskbase/analytics/sql_grammar.py), so an unknown clause fails closed; table references must
be allowed tables or CTEs in scope.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from deskbase.analytics.errors import QueryRejected
from deskbase.analytics.functions import IN_FUNCTIONS, FunctionPolicy
from deskbase.analytics.sql_grammar import (
    EXPRESSION_NODES,
    FORBIDDEN_CLAUSES,
    FUNCTION_NODES,
    FUNCTION_SCALARS,
    NUMBERS_CAP,
    OK_FUNCTION_KINDS,
    SELECT_EXPRESSIONS,
    SELECT_SCALARS,
    TABLE_EXPRESSION_KEYS,
    TABLE_JOIN_NODES,
    TABLE_JOIN_SCALARS,
    UNION_SCALARS,
)

__all__ = ["NUMBERS_CAP", "Walker", "reject"]


def reject(message: str, kind: str, name: str) -> QueryRejected:
    return QueryRejected(message, {"kind": kind, "name": name})


class Walker:
    """One pass over a parsed query; raises QueryRejected at the first node outside the allowlist."""

    def __init__(self, allowed_tables: frozenset[str], policy: FunctionPolicy) -> None:
        self.allowed = allowed_tables
        self.policy = policy
        self.tables: set[str] = set()
        self.parameters: dict[str, str] = {}

    # -- structure

    def _node(self, node: Any, where: str) -> dict[str, Any]:
        if not isinstance(node, dict) or not isinstance(node.get("type"), str):
            raise reject(f"unsupported syntax in {where}", "syntax", where)
        return node

    def _keys(self, node: dict[str, Any], allowed: Iterable[str]) -> None:
        allowed = set(allowed) | {"type"}
        for key in node:
            if key in FORBIDDEN_CLAUSES:
                clause = FORBIDDEN_CLAUSES[key]
                raise reject(f"{clause} clause is not allowed", "clause", clause)
            if key not in allowed:
                raise reject(f"unsupported clause '{key}' in {node['type']}", "syntax", key)

    def _children(self, node: Any, where: str) -> list[Any]:
        node = self._node(node, where)
        if node["type"] != "ExpressionList":
            raise reject(f"unsupported syntax {node['type']} in {where}", "syntax", node["type"])
        self._keys(node, {"children"})
        children = node.get("children", [])
        if not isinstance(children, list):
            raise reject(f"unsupported syntax in {where}", "syntax", where)
        return children

    # -- queries

    def query(self, node: Any, ctes: frozenset[str]) -> None:
        node = self._node(node, "query")
        kind = node["type"]
        if kind == "SelectWithUnionQuery":
            self._keys(node, UNION_SCALARS | {"list_of_selects"})
            for flag in ("is_outfile_append", "is_outfile_truncate", "is_into_outfile_with_stdout"):
                if node.get(flag):
                    raise reject("INTO OUTFILE clause is not allowed", "clause", "INTO OUTFILE")
            for child in self._children(node.get("list_of_selects"), "UNION"):
                self.query(child, ctes)
        elif kind == "SelectQuery":
            self.select(node, ctes)
        elif kind == "SetQuery":
            raise reject("SETTINGS clause is not allowed", "clause", "SETTINGS")
        else:
            raise reject(f"unsupported query part {kind}", "syntax", kind)

    def select(self, node: dict[str, Any], ctes: frozenset[str]) -> None:
        self._keys(node, SELECT_SCALARS | SELECT_EXPRESSIONS | {"with", "tables"})
        if "select" not in node:
            raise reject("a SELECT list is required", "syntax", "SelectQuery")
        recursive = bool(node.get("recursive_with"))
        if "with" in node:
            ctes = self.with_clause(node["with"], ctes, recursive)
        if "tables" in node:
            for element in self._tables_children(node["tables"]):
                self.table_element(element, ctes)
        for key in SELECT_EXPRESSIONS:
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
                    raise reject("unsupported WITH element", "syntax", "WITH")
                if name in self.allowed:
                    raise reject(
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
            raise reject(f"unsupported syntax {node['type']} in a subquery", "syntax", node["type"])
        self._keys(node, {"children", "alias"})
        children = node.get("children")
        if not isinstance(children, list) or len(children) != 1:
            raise reject("unsupported subquery", "syntax", "Subquery")
        self.query(children[0], ctes)

    # -- FROM

    def _tables_children(self, node: Any) -> list[Any]:
        node = self._node(node, "FROM")
        if node["type"] != "TablesInSelectQuery":
            raise reject(f"unsupported syntax {node['type']} in FROM", "syntax", node["type"])
        self._keys(node, {"children"})
        return list(node.get("children", []))

    def table_element(self, node: Any, ctes: frozenset[str]) -> None:
        node = self._node(node, "FROM")
        if node["type"] != "TablesInSelectQueryElement":
            raise reject(f"unsupported syntax {node['type']} in FROM", "syntax", node["type"])
        self._keys(node, {"table_expression", "table_join", "array_join"})
        if "table_expression" in node:
            self.table_expression(node["table_expression"], ctes)
        if "table_join" in node:
            join = self._node(node["table_join"], "JOIN")
            if join["type"] != "TableJoin":
                raise reject(f"unsupported syntax {join['type']} in JOIN", "syntax", join["type"])
            self._keys(join, TABLE_JOIN_NODES | TABLE_JOIN_SCALARS)
            for key in TABLE_JOIN_NODES:
                if key in join:
                    self.expression(join[key], ctes)
        if "array_join" in node:
            array_join = self._node(node["array_join"], "ARRAY JOIN")
            if array_join["type"] != "ArrayJoin":
                raise reject(f"unsupported syntax {array_join['type']}", "syntax", array_join["type"])
            self._keys(array_join, {"expression_list", "kind"})
            self.expression(array_join.get("expression_list"), ctes)

    def table_expression(self, node: Any, ctes: frozenset[str]) -> None:
        node = self._node(node, "FROM")
        if node["type"] != "TableExpression":
            raise reject(f"unsupported syntax {node['type']} in FROM", "syntax", node["type"])
        self._keys(node, TABLE_EXPRESSION_KEYS)
        for key in ("sample_size", "sample_offset"):
            if key in node:
                sample = self._node(node[key], "SAMPLE")
                if sample["type"] != "SampleRatio":
                    raise reject("unsupported SAMPLE clause", "syntax", "SAMPLE")
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
            raise reject(f"unsupported syntax {node['type']} as a table", "syntax", node["type"])
        self._keys(node, {"name", "name_parts", "alias", "children"})
        if "children" in node:
            self._identifier_parameter(node)
        parts = node.get("name_parts") or [node.get("name")]
        if not all(isinstance(p, str) for p in parts):
            raise reject("unsupported table name", "syntax", "table")
        self.table_reference(".".join(parts), len(parts), ctes)

    def table_reference(self, name: str, parts: int, ctes: frozenset[str]) -> None:
        if parts > 1:
            raise reject(
                f"table '{name}' is not available: use the unqualified table names of this workspace "
                f"({self._allowed_list()})",
                "table",
                name,
            )
        if name in ctes:
            return
        if name not in self.allowed:
            raise reject(
                f"table '{name}' is not available; allowed tables: {self._allowed_list()}", "table", name
            )
        self.tables.add(name)

    def _allowed_list(self) -> str:
        return ", ".join(sorted(self.allowed))

    def table_function(self, node: Any) -> None:
        node = self._node(node, "FROM")
        if node["type"] != "Function":
            raise reject(f"unsupported syntax {node['type']} in FROM", "syntax", node["type"])
        name = str(node.get("name"))
        if name != "numbers":
            raise reject(f"table function '{name}' is not allowed", "table_function", name)
        self._keys(node, {"name", "arguments", "alias", "kind"})
        args = self._children(node.get("arguments", {"type": "ExpressionList"}), "numbers()")
        values = []
        for arg in args:
            arg = self._node(arg, "numbers()")
            value = arg.get("value", {}).get("value") if arg["type"] == "Literal" else None
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise reject(
                    "table function 'numbers' takes literal non-negative integers only",
                    "table_function",
                    "numbers",
                )
            values.append(value)
        if not 1 <= len(values) <= 3:
            raise reject("table function 'numbers' takes 1 to 3 arguments", "table_function", "numbers")
        count = values[0] if len(values) == 1 else values[1]
        if count > NUMBERS_CAP:
            raise reject(
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
            raise reject("SETTINGS clause is not allowed", "clause", "SETTINGS")
        elif kind == "ColumnsApplyTransformer":
            self._keys(node, {"func_name", "parameters", "lambda", "lambda_arg", "column_name_prefix"})
            if "func_name" in node:
                self._check_function_name(str(node["func_name"]))
            for key in ("parameters", "lambda"):
                if key in node:
                    self.expression(node[key], ctes)
        elif kind in EXPRESSION_NODES:
            nodes, scalars = EXPRESSION_NODES[kind]
            self._keys(node, nodes | scalars)
            for key in nodes:
                value = node.get(key)
                if value is None:
                    continue
                for child in value if isinstance(value, list) else [value]:
                    self.expression(child, ctes)
        else:
            raise reject(f"unsupported syntax {kind}", "syntax", kind)

    def function(self, node: dict[str, Any], ctes: frozenset[str]) -> None:
        self._keys(node, FUNCTION_NODES | FUNCTION_SCALARS)
        if node.get("kind") not in OK_FUNCTION_KINDS:
            raise reject(
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
            raise reject(f"function '{name}' is not allowed", "function", name)
        return canonical

    def parameter(self, node: dict[str, Any]) -> None:
        self._keys(node, {"name", "param_type", "alias"})
        name, param_type = str(node.get("name")), str(node.get("param_type"))
        if "identifier" in param_type.lower():
            raise reject(
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
        raise reject("parameterised identifiers are not allowed", "parameter", str(node.get("name")))
