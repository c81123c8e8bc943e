"""JSON request bodies: the rules every JSON value we accept follows, checked once before routing.

The rules (docs/api.md, "JSON"): a body is UTF-8 JSON nested at most 1024 levels, without `NaN`/`Infinity`
literals (400 `invalid_json`); numbers are finite and integers fit in signed 64 bits; strings and object keys
are valid Unicode without NUL, `\\u0000` (422 `validation_failed` naming each JSON pointer). Both stores can
hold anything that passes, so SQLite and PostgreSQL accept and refuse the same values.

orjson does most of the work in one fast pass. What it lets through is found cheaply from the raw bytes: an
integer beyond 64 bits needs a run of at least 19 digits, and a NUL needs the escape `\\u0000`; only then is
the body walked again.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from deskbase.api.errors import error_response
from deskbase.core.errors import DeskbaseError, InvalidJson, ValidationFailed

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
MAX_DEPTH = 1024  # orjson's own limit
_LONG_DIGITS = re.compile(rb"\d{19,}")
_NUL_ESCAPE = b"\\u0000"
_MAX_REPORTED = 20


def is_json(content_type: str | None) -> bool:
    """`application/json` or `application/*+json`, as FastAPI decides whether to parse a body."""
    if not content_type:
        return False
    kind = content_type.split(";", 1)[0].strip().lower()
    return kind == "application/json" or (kind.startswith("application/") and kind.endswith("+json"))


def parse(raw: bytes | str, what: str = "request body") -> Any:
    """The JSON value of `raw` if it follows the rules; else InvalidJson (not JSON) or ValidationFailed.
    `what` names the text in messages (a body, or the query parameter it came from)."""
    data = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw
    try:
        value = orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise _diagnose(data, exc, what) from None
    if _NUL_ESCAPE in data:
        _raise_for(_violations(value))
    if _LONG_DIGITS.search(data):
        try:
            exact = json.loads(data)  # orjson turns integers beyond 64 bits into floats
        except RecursionError:  # Python's parser nests less deep than orjson's
            raise InvalidJson(f"{what} is nested too deeply to check its integers") from None
        _raise_for(_violations(exact))
    return value


def _diagnose(data: bytes, exc: orjson.JSONDecodeError, what: str) -> DeskbaseError:
    """orjson refused the body: tell a syntax error (400) from well-formed JSON breaking a rule (422)."""
    if "depth limit" in exc.msg:
        return InvalidJson(f"{what} is nested deeper than {MAX_DEPTH} levels")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as bad:
        return InvalidJson(f"{what} is not UTF-8 (invalid byte at offset {bad.start})")
    try:
        value = json.loads(text, parse_constant=_refuse_constant)
    except _NotJson as literal:
        return InvalidJson(f"{what} is not valid JSON: {literal} is not a JSON number")
    except RecursionError:
        return InvalidJson(f"{what} is nested deeper than {MAX_DEPTH} levels")
    except json.JSONDecodeError:
        return InvalidJson(f"{what} is not valid JSON: {exc}")
    found = _violations(value)
    if found:
        return _failure(found)
    return InvalidJson(f"{what} is not valid JSON: {exc}")


class _NotJson(ValueError):
    pass


def _refuse_constant(name: str) -> Any:
    raise _NotJson(name)


def check(value: Any) -> None:
    """Apply the number and text rules to a value already decoded (arguments of an MCP tool call): 422
    `validation_failed` naming each JSON pointer, as for a body."""
    _raise_for(_violations(value))


def _raise_for(found: list[dict[str, str]]) -> None:
    if found:
        raise _failure(found)


def _failure(found: list[dict[str, str]]) -> ValidationFailed:
    first = found[0]
    return ValidationFailed(f"invalid JSON value at {first['pointer'] or '/'}: {first['message']}", found)


def _violations(value: Any) -> list[dict[str, str]]:
    """Every value breaking the number or text rules, with its JSON pointer (iterative: bodies nest deep)."""
    found: list[dict[str, str]] = []
    stack: list[tuple[str, Any]] = [("", value)]
    while stack and len(found) < _MAX_REPORTED:
        pointer, v = stack.pop()
        if isinstance(v, dict):
            for k, child in v.items():
                problem = _text_problem(k)
                if problem:
                    found.append({"pointer": f"{pointer}/{_token(k)}", "message": f"object key {problem}"})
                stack.append((f"{pointer}/{_token(k)}", child))
        elif isinstance(v, list):
            stack.extend((f"{pointer}/{i}", child) for i, child in enumerate(v))
        elif isinstance(v, str):
            problem = _text_problem(v)
            if problem:
                found.append({"pointer": pointer, "message": f"string {problem}"})
        elif isinstance(v, bool):
            continue
        elif isinstance(v, int):
            if not INT64_MIN <= v <= INT64_MAX:
                found.append({"pointer": pointer, "message": "integer does not fit in 64 bits (signed)"})
        elif isinstance(v, float) and not math.isfinite(v):
            found.append({"pointer": pointer, "message": "number is not finite (too large for a double)"})
    return found


def _text_problem(s: str) -> str | None:
    if "\x00" in s:
        return "contains a NUL character (\\u0000)"
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        return "contains a lone surrogate (not valid Unicode)"
    return None


def _token(key: str) -> str:
    """An RFC 6901 reference token, printable in an error even when the key itself is not valid Unicode."""
    safe = key.encode("utf-8", "backslashreplace").decode("utf-8")
    return safe.replace("~", "~0").replace("/", "~1")


class JsonBody:
    """ASGI middleware: a body sent as JSON is checked against the rules before any route sees it.

    Bodies of other types (forms, files, mail) pass untouched; whether a route accepts their type is the
    route's business. The body is read once here and replayed to the app. Paths under an `exempt` prefix
    speak another protocol in JSON (MCP's JSON-RPC): their adapter applies these rules to the values it
    takes (`check`), so a violation reaches the client in that protocol's own error form.
    """

    def __init__(self, app: ASGIApp, exempt: tuple[str, ...] = ()) -> None:
        self.app = app
        self.exempt = exempt

    def _exempt(self, path: str) -> bool:
        return any(path == p or path.startswith(p + "/") for p in self.exempt)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or not is_json(_header(scope, b"content-type"))
            or self._exempt(scope.get("path", ""))
        ):
            await self.app(scope, receive, send)
            return
        chunks = []
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                await self.app(scope, _replay([], message, receive), send)
                return
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        body = b"".join(chunks)
        if body:
            try:
                parse(body)
            except DeskbaseError as exc:
                await error_response(exc)(scope, receive, send)
                return
        await self.app(scope, _replay([body], None, receive), send)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin-1")  # type: ignore[no-any-return]
    return None


def _replay(bodies: list[bytes], first: Message | None, receive: Receive) -> Receive:
    """A receive channel giving back what was already read, then the client's own (for disconnects)."""
    pending: list[Message] = [first] if first is not None else []
    pending += [{"type": "http.request", "body": b, "more_body": False} for b in bodies]

    async def replay() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replay
