"""Errors raised by the SQL sandbox: the core's error types, so every adapter maps them the same way.

QueryRejected (400) — the guard or a resource limit refused the query; the message names the table, function
or clause. QueryError (400) — ClickHouse could not run it (internal paths stripped). QueryTimeout (504).
PayloadTooLarge (413) — the result is larger than sql_max_result_bytes.
"""

from __future__ import annotations

from deskbase.core.errors import PayloadTooLarge, QueryError, QueryRejected, QueryTimeout

__all__ = ["PayloadTooLarge", "QueryError", "QueryRejected", "QueryTimeout"]
