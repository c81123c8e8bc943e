"""The analytics engine interface: what the replicator and the SQL endpoint need from ClickHouse, the
limits a read-only query runs under, and the watchdog both engines share.

Two implementations: embedded chDB (chdb_engine.py, the default) and a ClickHouse server or cluster through
clickhouse-connect (server.py).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import pyarrow as pa

from deskbase.analytics.ddl import Ddl
from deskbase.analytics.errors import QueryTimeout
from deskbase.analytics.failures import clean_message
from deskbase.analytics.gate import Ticket, run_with_deadline
from deskbase.analytics.params import render_param
from deskbase.analytics.results import Column, Result

__all__ = [
    "Column",
    "Engine",
    "EngineError",
    "Limits",
    "Result",
    "clean_message",
    "render_param",
]

GIB = 1024**3
MIB = 1024**2
#: How long past max_execution_time the watchdog waits for the engine's own timeout before it cancels.
WATCHDOG_GRACE = 0.5


def watched(
    run: Callable[[], Result], limits: Limits, cancel: Callable[[], None], ticket: Ticket | None
) -> Result:
    """Run a read-only query under the watchdog: past its time limit (and a grace) the caller gets QueryTimeout
    and the engine is asked to stop it (both engines, embedded and server, answer the same way)."""
    try:
        return run_with_deadline(run, limits.max_execution_time + WATCHDOG_GRACE, cancel, ticket)
    except TimeoutError:
        raise QueryTimeout(
            f"query stopped after max_execution_time ({limits.max_execution_time:g} s)",
            {"limit": "max_execution_time", "value": limits.max_execution_time, "cancelled_by": "watchdog"},
        ) from None


@dataclass(frozen=True)
class Limits:
    """Resource limits for one read-only query, enforced by the engine rather than trusted to the text."""

    max_execution_time: float = 10.0
    max_memory_usage: int = 2 * GIB
    max_result_rows: int = 10_000
    max_rows_to_read: int = 200_000_000
    max_result_bytes: int = 64 * MIB
    max_threads: int = 2
    #: Smaller blocks than ClickHouse's 65,409 rows let it check time and cancellation more often, and bound
    #: the output held per block (the byte cap is checked per block).
    max_block_size: int = 4096

    def __post_init__(self) -> None:
        for name in (
            "max_execution_time",
            "max_memory_usage",
            "max_result_rows",
            "max_rows_to_read",
            "max_result_bytes",
            "max_threads",
            "max_block_size",
        ):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive")

    def settings(self) -> dict[str, str]:
        """ClickHouse settings enforcing these limits; one row more than the cap is fetched so that the
        caller can report ``truncated`` honestly."""
        row_cap = str(self.max_result_rows + 1)
        return {
            "max_execution_time": repr(float(self.max_execution_time)),
            "timeout_before_checking_execution_speed": "0",
            "max_memory_usage": str(self.max_memory_usage),
            # `limit` stops the outermost query exactly at the cap (subqueries are unaffected), so the
            # result-row limit never throws; the result-byte limit throws (`break` would cut rows silently).
            "limit": row_cap,
            "max_result_rows": row_cap,
            "max_result_bytes": str(self.max_result_bytes),
            "result_overflow_mode": "throw",
            "max_rows_to_read": str(self.max_rows_to_read),
            "max_threads": str(self.max_threads),
            "max_block_size": str(self.max_block_size),
            # nice 19 for the query's threads: record reads and writes get the CPU first.
            "os_thread_priority": "19",
        }


class EngineError(RuntimeError):
    """An administrative statement (DDL, insert) failed; these are bugs or outages, never user errors."""

    def __init__(self, message: str, clickhouse_code: int | None = None, clickhouse_name: str | None = None):
        super().__init__(message)
        self.clickhouse_code = clickhouse_code
        self.clickhouse_name = clickhouse_name


class Engine(Protocol):
    """What the replicator and the SQL endpoint need from an analytics store.

    The server implementation (server.py, clickhouse-connect) maps ``query_readonly`` onto a per-workspace
    read-only user with the same settings, which ``provision`` creates with the workspace's database.
    """

    #: The statements that shape the replica (ON CLUSTER and replicated tables on a cluster).
    ddl: Ddl

    def provision(self, database: str) -> None:
        """Give a new workspace database its own access (a read-only user on a server; nothing embedded)."""
        ...

    def deprovision(self, database: str) -> None:
        """Remove what ``provision`` created, when the workspace's database is dropped."""
        ...

    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> Result:
        """Run an administrative statement with full rights (replicator only, never user text)."""
        ...

    def insert_arrow(self, database: str, table: str, table_data: pa.Table) -> int:
        """Insert an Arrow table by column name; returns the number of rows sent."""
        ...

    def insert_select(self, database: str, table: str, columns: Mapping[str, str], source: pa.Table) -> int:
        """Insert the rows the engine builds from ``source``: ``columns`` maps each target column to an
        expression over ``source``'s columns (``INSERT … SELECT``; on a server, from ``input()``)."""
        ...

    def query_readonly(
        self,
        sql: str,
        params: Mapping[str, Any],
        limits: Limits,
        database: str | None = None,
        ticket: Ticket | None = None,
    ) -> Result:
        """Run a guarded SELECT read-only under ``limits`` in ``database``, answering by the time limit.

        ``ticket`` (a concurrency slot) stays held until the engine has really stopped the query.
        Raises QueryTimeout, PayloadTooLarge (result bytes), QueryRejected (another resource limit) or
        QueryError.
        """
        ...

    def close(self) -> None: ...


# ------------------------------------------------------------------------------------------------ results

# Result rendering shared by admin and read-only connections; set at connect time, not by query text.
OUTPUT_SETTINGS: dict[str, str] = {
    "session_timezone": "UTC",
    "date_time_output_format": "iso",
    "output_format_json_quote_64bit_integers": "0",
    "output_format_json_quote_decimals": "1",
    "output_format_json_quote_denormals": "0",
    "output_format_json_named_tuples_as_objects": "1",
    "output_format_json_validate_utf8": "1",
}
