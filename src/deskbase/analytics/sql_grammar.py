"""The SQL guard's allowlist: which node types, child keys and plain keys of ClickHouse's ``parseQueryToJSON``
output a query may contain. Kept apart from the walker (deskbase/analytics/sql_walker.py) that enforces it:
a ClickHouse upgrade that adds syntax is reviewed here, as data, and anything not listed fails closed.
"""

from __future__ import annotations

NUMBERS_CAP = 1_000_000  # rows numbers() may generate: enough for date spines, not a load generator

FORBIDDEN_CLAUSES = {
    "settings": "SETTINGS",
    "settings_ast": "SETTINGS",
    "format_ast": "FORMAT",
    "out_file": "INTO OUTFILE",
    "compression": "INTO OUTFILE",
    "compression_level": "INTO OUTFILE",
}

UNION_SCALARS = frozenset(
    {
        "type",
        "union_mode",
        "list_of_modes",
        "is_outfile_append",
        "is_outfile_truncate",
        "is_into_outfile_with_stdout",
    }
)
SELECT_EXPRESSIONS = frozenset(
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
SELECT_SCALARS = frozenset(
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
OK_FUNCTION_KINDS = frozenset({None, "ORDINARY_FUNCTION", "WINDOW_FUNCTION", "LAMBDA_FUNCTION"})

# Expression node type -> (keys holding child nodes, keys holding plain values).
EXPRESSION_NODES: dict[str, tuple[frozenset[str], frozenset[str]]] = {
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
FUNCTION_NODES = frozenset({"arguments", "parameters", "window_definition"})
FUNCTION_SCALARS = frozenset(
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
TABLE_EXPRESSION_KEYS = frozenset(
    {"type", "database_and_table_name", "table_function", "subquery", "final", "sample_size", "sample_offset"}
)
TABLE_JOIN_NODES = frozenset({"on_expression", "using_expression_list"})
TABLE_JOIN_SCALARS = frozenset({"kind", "strictness", "locality", "is_natural"})
