"""The CLI's HTTP client: bearer auth, JSON bodies, and API error envelopes turned into one-line `CliError`s."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import quote

import httpx
import orjson

from deskbase import __version__

MAX_POINTERS = 3


class CliError(Exception):
    """A failure the CLI reports as `error: <code>: <message>` on one line and exit status 1."""

    def __init__(self, code: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details or {}

    def line(self) -> str:
        return " ".join(f"error: {self.code}: {self.message}".split())


class Client:
    """One server and token. Paths are given as segments so ids are always URL-quoted."""

    def __init__(
        self, url: str, token: str | None, timeout: float = 60.0, transport: httpx.BaseTransport | None = None
    ) -> None:
        self.url = url.rstrip("/")
        self.token = token
        headers = {"User-Agent": f"deskbase-cli/{__version__}", "Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        # Plain http never does TLS (redirects are not followed), so skip loading the CA bundle: ~50 ms a command.
        verify = not self.url.startswith("http://")
        self._http = httpx.Client(
            base_url=self.url, headers=headers, timeout=timeout, transport=transport, verify=verify
        )

    def close(self) -> None:
        self._http.close()

    def request(
        self,
        method: str,
        *segments: str,
        json: Any = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        raw: bool = False,
    ) -> Any:
        """Send one request; return the decoded JSON body (None for 204, text when `raw`) or raise CliError."""
        path = "/v1/" + "/".join(quote(s, safe="") for s in segments)
        content = None
        if json is not None:
            content = orjson.dumps(json)
            headers = {**(headers or {}), "Content-Type": "application/json"}
        query = {k: v for k, v in (params or {}).items() if v is not None}
        with self._failures():
            resp = self._http.request(method, path, content=content, params=query, headers=headers)
        return self._answer(method, path, resp, raw)

    @contextmanager
    def _failures(self) -> Iterator[None]:
        """Transport failures as one-line CliErrors."""
        try:
            yield
        except httpx.ConnectError as exc:
            raise CliError(
                "unreachable", f"cannot reach deskbase at {self.url}: is `deskbase serve` running?"
            ) from exc
        except httpx.TimeoutException as exc:
            raise CliError("timeout", f"deskbase at {self.url} did not answer in time") from exc
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise CliError("http_error", f"{self.url}: {exc}") from exc

    def _answer(self, method: str, path: str, resp: httpx.Response, raw: bool = False) -> Any:
        if resp.status_code >= 400:
            raise self._error(resp)
        if raw:
            return resp.text
        if resp.status_code == 204 or not resp.content:
            return None
        try:
            return orjson.loads(resp.content)
        except orjson.JSONDecodeError as exc:
            raise CliError(
                "bad_response", f"{method} {path} answered {resp.status_code} with non-JSON"
            ) from exc

    def upload(self, *segments: str, source: Path, content_type: str | None) -> Any:
        """POST a local file as the multipart part `file`, read from disk as it is sent."""
        path = "/v1/" + "/".join(quote(s, safe="") for s in segments)
        with source.open("rb") as fh, self._failures():
            files = {"file": (source.name, fh, content_type or "application/octet-stream")}
            resp = self._http.post(path, files=files)
        return self._answer("POST", path, resp)

    def post_raw(self, *segments: str, content: bytes, content_type: str) -> Any:
        """POST a body that is not JSON (a raw mail message) as it is, with its own content type."""
        path = "/v1/" + "/".join(quote(s, safe="") for s in segments)
        with self._failures():
            resp = self._http.post(path, content=content, headers={"Content-Type": content_type})
        return self._answer("POST", path, resp)

    def download(self, *segments: str, dest: BinaryIO) -> int:
        """GET a body and write it to `dest` chunk by chunk; returns the bytes written."""
        path = "/v1/" + "/".join(quote(s, safe="") for s in segments)
        written = 0
        with self._failures(), self._http.stream("GET", path) as resp:
            if resp.status_code >= 400:
                resp.read()
                raise self._error(resp)
            for chunk in resp.iter_bytes():
                dest.write(chunk)
                written += len(chunk)
        return written

    def get(self, *segments: str, params: dict[str, Any] | None = None) -> Any:
        return self.request("GET", *segments, params=params)

    def put(self, *segments: str, json: Any, params: dict[str, Any] | None = None) -> Any:
        return self.request("PUT", *segments, json=json, params=params)

    def post(self, *segments: str, json: Any = None) -> Any:
        return self.request("POST", *segments, json=json)

    def patch(self, *segments: str, json: Any, headers: dict[str, str] | None = None) -> Any:
        return self.request("PATCH", *segments, json=json, headers=headers)

    def delete(self, *segments: str, headers: dict[str, str] | None = None) -> Any:
        return self.request("DELETE", *segments, headers=headers)

    def _error(self, resp: httpx.Response) -> CliError:
        try:
            err = orjson.loads(resp.content)["error"]
            code, message, details = str(err["code"]), str(err["message"]), err.get("details") or {}
        except (orjson.JSONDecodeError, KeyError, TypeError):
            text = resp.text.strip().splitlines()
            said = text[0][:200] if text else resp.reason_phrase
            return CliError(f"http_{resp.status_code}", f"{said} (is {self.url} a deskbase server?)")
        message = _with_pointers(message, details)
        if resp.status_code == 401 and not self.token:
            message += " (no token configured: pass --token, set DESKBASE_TOKEN or run `deskbase login`)"
        return CliError(code, message, details)


def _with_pointers(message: str, details: dict[str, Any]) -> str:
    """Say *where* validation failed: the server keeps per-field pointers in details, not in the message."""
    errors = details.get("errors") if isinstance(details, dict) else None
    if not isinstance(errors, list):
        return message
    parts = [
        f"{e.get('pointer') or '/'}: {e.get('message')}" for e in errors[:MAX_POINTERS] if isinstance(e, dict)
    ]
    parts = [p for p in parts if p not in message]
    more = len(errors) - MAX_POINTERS
    if more > 0:
        parts.append(f"and {more} more")
    return f"{message} ({'; '.join(parts)})" if parts else message
