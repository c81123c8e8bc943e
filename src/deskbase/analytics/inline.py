"""A few rows inlined into a statement as a table function, for inserts too small for the Arrow path; and
the structure and body of a larger batch sent to a server's ``input()``.

Why: chDB's ``Python(<arrow table>)`` costs ~4.4 ms an insert whatever its size, the same rows inline
~3.3 ms, and a read right after a write pays a handful of such inserts (chdb_engine.py has the measurements).
"""

from __future__ import annotations

import orjson
import pyarrow as pa

#: At most this many rows go inline, and only while the statement stays well below ClickHouse's
#: max_query_size (256 KiB), which inline data counts towards.
INLINE_ROWS = 200
INLINE_BYTES = 192 * 1024
_CH_TYPES = {pa.string(): "String", pa.int64(): "Int64", pa.uint64(): "UInt64", pa.bool_(): "Bool"}


def inline_source(source: pa.Table) -> str:
    """``format(JSONCompactColumns, '<structure>', '<columns as JSON>')`` holding ``source``'s rows."""
    payload = orjson.dumps([col.to_pylist() for col in source.columns]).decode()
    return f"format(JSONCompactColumns, {input_structure(source)}, {_literal(payload)})"


def input_structure(source: pa.Table) -> str:
    """``input()``'s structure argument (a quoted literal) for ``source``'s columns, every one Nullable."""
    return _literal(", ".join(f"{quote_column(f.name)} Nullable({_CH_TYPES[f.type]})" for f in source.schema))


def input_rows(source: pa.Table) -> bytes:
    """``source``'s rows as ``JSONCompactEachRow``: the body ``input()`` reads on a server."""
    return b"\n".join(
        orjson.dumps(row) for row in zip(*(col.to_pylist() for col in source.columns), strict=True)
    )


def quote_column(name: str) -> str:
    """A backtick-quoted column name, escaped."""
    return "`" + name.replace("\\", "\\\\").replace("`", "\\`") + "`"


def _literal(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"
