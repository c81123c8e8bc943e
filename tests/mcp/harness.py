"""MCP test harness: a live deskbase (uvicorn in a thread, as `serve` wires it) with two support workspaces,
tokens of several shapes, and the SDK's own client over real HTTP.

A module of its own (not conftest) so test modules import it unambiguously.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

import anyio
import httpx
import httpx2
import orjson
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp_types import CallToolResult

from deskbase.core.app import Deskbase
from deskbase.core.context import SYSTEM

T = TypeVar("T")
A, B = "acme", "globex"


@dataclass
class Live:
    url: str
    core: Deskbase
    admin: str
    tokens: dict[str, str] = field(default_factory=dict)

    def token(self, name: str, grants: list[dict[str, Any]]) -> str:
        raw, _ = self.core.tokens.create(name, grants)
        self.tokens[name] = raw
        return raw

    def rest(self, method: str, path: str, token: str | None = None, **kw: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token or self.admin}", **kw.pop("headers", {})}
        return httpx.request(method, f"{self.url}/v1{path}", headers=headers, timeout=30, **kw)


def seed(core: Deskbase, ws: str, subjects: list[str]) -> None:
    """A support workspace with tickets submitted by one customer each (through the core, not MCP)."""
    core.workspaces.put(ws, ws.capitalize(), None, SYSTEM)
    core.templates.apply(ws, "support", SYSTEM)
    ops: list[dict[str, Any]] = []
    for i, subject in enumerate(subjects):
        ops += [
            {
                "type": "upsert_record",
                "collection": "customers",
                "ref": f"c{i}",
                "data": {"name": f"Customer {i}", "email": f"c{i}@{ws}.example", "plan": "pro"},
            },
            {
                "type": "upsert_record",
                "collection": "tickets",
                "ref": f"t{i}",
                "data": {"subject": subject, "status": "open", "priority": "high", "category": "bug"},
            },
            {
                "type": "upsert_relationship",
                "rel_type": "submitted_by",
                "source": {"collection": "tickets", "id": f"$ref:t{i}"},
                "target": {"collection": "customers", "id": f"$ref:c{i}"},
            },
        ]
    core.batch.run(ws, ops, SYSTEM)


@asynccontextmanager
async def connect(
    url: str, token: str | None, path: str = "/mcp", mode: str = "auto"
) -> AsyncIterator[Client]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=30) as http,
        Client(streamable_http_client(url + path, http_client=http), mode=mode) as client,
    ):
        yield client


def run(
    live: Live, token: str, fn: Callable[[Client], Awaitable[T]], path: str = "/mcp", mode: str = "auto"
) -> T:
    """Run `fn` with an SDK client connected as `token`; return what it returns."""

    async def main() -> T:
        async with connect(live.url, token, path, mode) as client:
            return await fn(client)

    return anyio.run(main)


def call(live: Live, token: str, name: str, args: dict[str, Any], path: str = "/mcp") -> CallToolResult:
    return run(live, token, lambda c: c.call_tool(name, args), path)


def tool_names(live: Live, token: str, path: str = "/mcp") -> list[str]:
    async def names(c: Client) -> list[str]:
        return [t.name for t in (await c.list_tools()).tools]

    return run(live, token, names, path)


def ok(result: CallToolResult) -> dict[str, Any]:
    """The structured result of a successful call (its text is the same JSON)."""
    assert not result.is_error, result.content
    text = result.content[0].text  # type: ignore[union-attr]
    assert orjson.loads(text) == result.structured_content
    return result.structured_content  # type: ignore[no-any-return]


def error(result: CallToolResult) -> dict[str, Any]:
    """The REST-shaped error body of a failed call: {code, message, details}."""
    assert result.is_error, result.structured_content
    body = orjson.loads(result.content[0].text)  # type: ignore[union-attr]
    assert set(body) == {"error"} and "Traceback" not in result.content[0].text  # type: ignore[union-attr]
    return body["error"]  # type: ignore[no-any-return]
