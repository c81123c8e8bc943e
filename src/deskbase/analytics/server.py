"""A ClickHouse server (or cluster) as the analytics engine, through clickhouse-connect.

Same interface as the embedded ChdbEngine (engine.Engine), so the replicator, the guard and the SQL endpoint
have one code path; what differs is how each operation reaches the engine:

* Administrative statements run as the configured user (``clickhouse_url``) on one shared client (HTTP,
  thread-safe without a session id); their output settings (UTC, ISO dates, …) ride with every request.
* ``insert_select`` sends a few rows inline, as the embedded engine does, and a larger batch as the body of
  ``INSERT … SELECT <expressions> FROM input('<structure>') FORMAT JSONCompactEachRow`` (query in the URL,
  rows in the body), so the server builds the typed rows exactly as chDB does from ``Python(…)``. The chDB
  backend of clickhouse-connect cannot feed ``input()`` (it appends the rows to the query text, and chDB
  then inserts nothing, silently): with ``input_data=False`` a large batch goes inline too, under a raised
  ``max_query_size`` (20,000 change rows: 0.96 s against 0.21 s through ``Python(…)``), which is what the
  in-process tests use.
* A workspace's read-only query runs as that workspace's user (server_access.py) with the limits sent as
  per-query settings, which its profile caps; the guard's own queries (no database) run as the configured
  user with ``readonly=2``. Results stream as ``JSONCompactEachRowWithNamesAndTypes`` and are counted as they
  arrive (results.read_lines), so a result past its byte cap is cut off like the embedded engine's.
* A query past its deadline is killed by the tag at the start of its text (``KILL QUERY … ON CLUSTER`` on a
  cluster), like the embedded engine's, from a client of its own.

``connect`` builds a clickhouse-connect client for a Login; ``http_connector`` is the production one.
Tests pass one that opens the chDB backend of clickhouse-connect in process (no users there: ``passwords``
None skips the per-workspace users, whose statements are tested as text).
"""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit

import pyarrow as pa

from deskbase.analytics.ddl import Ddl
from deskbase.analytics.engine import OUTPUT_SETTINGS, EngineError, Limits, Result, watched
from deskbase.analytics.failures import clean_message, error_parts, sandbox_error
from deskbase.analytics.gate import Ticket
from deskbase.analytics.inline import (
    INLINE_BYTES,
    INLINE_ROWS,
    inline_source,
    input_rows,
    input_structure,
    quote_column,
)
from deskbase.analytics.replica_tables import qi
from deskbase.analytics.results import STREAM_FORMAT, parse_json_compact, read_lines
from deskbase.analytics.server_access import Login, drop_workspace_access, user_of, workspace_access
from deskbase.core.errors import DeskbaseError, Unavailable

__all__ = ["Connect", "ServerEngine", "ServerTarget", "http_connector", "parse_server_url"]

#: Builds a clickhouse-connect client signed in as ``Login`` with these client-level settings.
Connect = Callable[[Login, Mapping[str, str]], Any]

_RESULT_KEYWORDS = frozenset({"SELECT", "WITH", "SHOW", "DESCRIBE", "DESC", "EXISTS", "EXPLAIN"})
_FIRST_WORD = re.compile(r"^\s*(?:/\*.*?\*/\s*)*([A-Za-z]+)", re.S)
#: The administrative client's settings: the output shape, and room for a batch inlined as a literal.
_ADMIN_SETTINGS = {**OUTPUT_SETTINGS, "max_query_size": str(1 << 30)}
#: What the read-only client adds to Limits.settings(): stop the query when the client hangs up (a result
#: over its byte cap, an abandoned request).
_READ_SETTINGS = {"cancel_http_readonly_queries_on_client_close": "1"}


@dataclass(frozen=True)
class ServerTarget:
    """Where the server is and who the administrative user is; the password stays out of repr and logs."""

    interface: str
    host: str
    port: int
    user: str
    password: str = field(default="", repr=False)

    def describe(self) -> str:
        return f"{self.interface}://{self.user}@{self.host}:{self.port}"


def parse_server_url(url: str, user: str = "", password: str = "") -> ServerTarget:
    """``http(s)://[user[:password]@]host[:port]``; the separate ``user``/``password`` settings win."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(
            "clickhouse_url must be an http:// or https:// URL with a host, e.g. https://ch.example.com:8443"
        )
    try:
        port = parts.port or (8443 if parts.scheme == "https" else 8123)
    except ValueError:
        raise ValueError("clickhouse_url has an invalid port") from None
    return ServerTarget(
        interface=parts.scheme,
        host=parts.hostname,
        port=port,
        user=user or unquote(parts.username or "") or "default",
        password=password or unquote(parts.password or ""),
    )


def http_connector(
    target: ServerTarget, connect_timeout: float = 10.0, read_timeout: float = 300.0
) -> Connect:
    """Clients of the server over HTTP(S): no session (so one client serves many threads), no retries."""

    def connect(login: Login, settings: Mapping[str, str]) -> Any:
        import clickhouse_connect  # loaded when a server is configured, not by every process

        user, password = (login.user, login.password) if login.user else (target.user, target.password)
        return clickhouse_connect.get_client(
            interface=target.interface,
            host=target.host,
            port=target.port,
            username=user,
            password=password,
            database=login.database or "",
            settings=dict(settings),
            autogenerate_session_id=False,
            connect_timeout=connect_timeout,
            send_receive_timeout=read_timeout,
            query_retries=0,
            # Plain bodies: the read-only stream is counted and decoded as it arrives (results.read_lines).
            compress=False,
        )

    return connect


def input_insert(head: str, structure: str) -> str:
    """The statement of a bulk insert whose rows travel as the request body: ``head`` ends in ``FROM ``."""
    return f"{head}input({structure}) FORMAT JSONCompactEachRow"


def _first_word(sql: str) -> str:
    match = _FIRST_WORD.match(sql)
    return match.group(1).upper() if match else ""


#: clickhouse-connect ends an HTTP error's message with the server's URL.
_FOR_URL = re.compile(r"\s*\(for url [^)]*\)\s*$")


def _engine_text(exc: BaseException) -> str:
    """The server's own message (from ``Code:`` on), without the driver's preamble and suffix naming the URL."""
    text = _FOR_URL.sub("", str(exc).strip())
    at = text.find("Code:")
    return text[at:] if at >= 0 else text


def _unreachable(exc: BaseException) -> bool:
    return getattr(exc, "code", None) is None and "Code:" not in str(exc)


class ServerEngine:
    """The analytics engine on a ClickHouse server or cluster (or, in tests, chDB through clickhouse-connect)."""

    def __init__(
        self,
        connect: Connect,
        *,
        ddl: Ddl | None = None,
        passwords: Callable[[str], str] | None = None,
        limits: Limits | None = None,
        label: str = "ClickHouse server",
        input_data: bool = True,
    ) -> None:
        self.ddl = ddl or Ddl()
        self.label = label
        self._connect = connect
        self._passwords = passwords
        self._limits = limits or Limits()
        self._input_data = input_data
        self._lock = threading.Lock()
        self._readers: dict[str | None, Any] = {}
        self._control: Any = None
        self._closed = False
        try:
            self._admin = connect(Login(), _ADMIN_SETTINGS)
        except Exception as exc:
            raise Unavailable(f"cannot reach the {label}: {_engine_text(exc).splitlines()[0]}") from None

    # ---- administrative statements ------------------------------------------------------------------
    def execute(self, sql: str, params: Mapping[str, Any] | None = None) -> Result:
        self._check_open()
        try:
            if _first_word(sql) in _RESULT_KEYWORDS:
                raw = self._admin.raw_query(
                    sql, parameters=dict(params) if params else None, fmt="JSONCompact"
                )
                return parse_json_compact(raw)
            self._admin.command(sql, parameters=dict(params) if params else None)
        except Exception as exc:
            raise self._admin_error(exc) from None
        return Result(columns=(), rows=[])

    def insert_arrow(self, database: str, table: str, table_data: pa.Table) -> int:
        if table_data.num_rows == 0:
            return 0
        self._check_open()
        try:
            # A dotted name goes as it is: clickhouse-connect would quote the quoted names again.
            self._admin.insert_arrow(f"{qi(database)}.{qi(table)}", table_data)
        except Exception as exc:
            raise self._admin_error(exc) from None
        return table_data.num_rows

    def insert_select(self, database: str, table: str, columns: Mapping[str, str], source: pa.Table) -> int:
        if source.num_rows == 0:
            return 0
        head = (
            f"INSERT INTO {qi(database)}.{qi(table)} ({', '.join(quote_column(c) for c in columns)}) "
            f"SELECT {', '.join(columns.values())} FROM "
        )
        if not self._input_data or source.num_rows <= INLINE_ROWS:
            sql = head + inline_source(source)
            if not self._input_data or len(sql) <= INLINE_BYTES:
                self.execute(sql)
                return source.num_rows
        self._check_open()
        try:
            self._admin.command(input_insert(head, input_structure(source)), data=input_rows(source))
        except Exception as exc:
            raise self._admin_error(exc) from None
        return source.num_rows

    def _admin_error(self, exc: Exception) -> Exception:
        if _unreachable(exc):
            return Unavailable(
                f"the {self.label} is unreachable: {str(exc).splitlines()[0] if str(exc) else exc!r}"
            )
        text = _engine_text(exc)
        code, name = error_parts(text)
        return EngineError(clean_message(text), code or getattr(exc, "code", None), name)

    # ---- workspace users ------------------------------------------------------------------------------
    def provision(self, database: str) -> None:
        """Create (or bring up to date) the workspace's read-only user; nothing without per-workspace users."""
        if self._passwords is None:
            return
        for statement in workspace_access(
            database, self._passwords(user_of(database)), self._limits, self.ddl
        ):
            self.execute(statement)

    def deprovision(self, database: str) -> None:
        with self._lock:
            reader = self._readers.pop(database, None)
        if reader is not None:
            reader.close()
        if self._passwords is None:
            return
        for statement in drop_workspace_access(database, self.ddl):
            self.execute(statement)

    def _reader(self, database: str | None) -> Any:
        """The read-only client of a workspace database (as its user), or of the guard (``None``)."""
        with self._lock:
            client = self._readers.get(database)
        if client is not None:
            return client
        if database is None or self._passwords is None:
            login, settings = Login(database=database), {**OUTPUT_SETTINGS, "readonly": "2"}
        else:
            self.provision(database)  # once per process: the limits or the key may have changed since
            user = user_of(database)
            login, settings = Login(user, self._passwords(user), database), dict(OUTPUT_SETTINGS)
        try:
            client = self._connect(login, settings)
        except Exception as exc:
            raise self._admin_error(exc) from None
        with self._lock:
            if self._closed:
                client.close()
                raise EngineError("engine is closed")
            existing = self._readers.setdefault(database, client)
        if existing is not client:
            client.close()
        return existing

    # ---- sandboxed queries --------------------------------------------------------------------------
    def query_readonly(
        self,
        sql: str,
        params: Mapping[str, Any],
        limits: Limits,
        database: str | None = None,
        ticket: Ticket | None = None,
    ) -> Result:
        self._check_open()
        if database is not None:
            qi(database)
        reader = self._reader(database)
        tag = uuid.uuid4().hex
        text = f"/* q:{tag} */ {sql}"
        settings = {**limits.settings(), **_READ_SETTINGS}

        def run() -> Result:
            try:
                stream = reader.raw_stream(
                    text, parameters=dict(params) if params else None, settings=settings, fmt=STREAM_FORMAT
                )
            except Exception as exc:
                raise self._read_error(exc, limits) from None
            try:
                return read_lines(
                    stream, limits.max_result_bytes, lambda message: sandbox_error(message, limits)
                )
            except DeskbaseError:
                raise
            except Exception as exc:  # the driver or the connection failed mid-stream
                raise self._read_error(exc, limits) from None
            finally:
                stream.close()

        return watched(run, limits, lambda: self.cancel(tag), ticket)

    def _read_error(self, exc: Exception, limits: Limits) -> Exception:
        if _unreachable(exc):
            return Unavailable(f"the {self.label} is unreachable; retry", {"retry_after": 1})
        return sandbox_error(_engine_text(exc), limits)

    def cancel(self, tag: str) -> None:
        """Ask the server to stop the read-only query tagged ``tag``; returns at once (KILL … ASYNC)."""
        if not re.fullmatch(r"[0-9a-f]{32}", tag):
            raise ValueError(f"invalid query tag {tag!r}")
        with self._lock:
            if self._closed:
                return
            if self._control is None:
                self._control = self._connect(Login(), OUTPUT_SETTINGS)
            control = self._control
        control.command(f"KILL QUERY{self.ddl.on_cluster} WHERE startsWith(query, '/* q:{tag} */') ASYNC")

    # ---- lifecycle ----------------------------------------------------------------------------------
    def _check_open(self) -> None:
        if self._closed:
            raise EngineError("engine is closed")

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            clients = [self._admin, self._control, *self._readers.values()]
            self._readers.clear()
            self._control = None
        for client in clients:
            if client is not None:
                client.close()

    def __enter__(self) -> ServerEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
