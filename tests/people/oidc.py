"""A real OpenID provider (node-oidc-provider, tests/people/oidc_provider.mjs) and a real deskbase server for
the single sign-on tests, and a cookie-keeping HTTP client that walks the sign-in the way a browser does.

The provider's issuer is http://localhost:<port> and deskbase serves on http://127.0.0.1:<port>: two sites,
as in production, so the cookies' SameSite rules are the real ones."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import httpx
import pytest

from deskbase.core.app import Deskbase
from tests.serverproc import free_port

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).with_name("oidc_provider.mjs")
PACKAGE = ROOT / "node_modules" / "oidc-provider" / "package.json"
CLIENT_ID = "deskbase-tests"
CLIENT_SECRET = "a-client-secret-of-the-tests"
IDP_NAME = "Test IdP"


def skip_without_node() -> None:
    if shutil.which("node") is None:
        pytest.skip(
            "needs Node.js (`node`) to run the OpenID provider oidc-provider (apt-get install nodejs)"
        )
    if not PACKAGE.exists():
        pytest.skip("needs the npm package oidc-provider: run `npm ci` in the repository (package.json)")


@contextmanager
def provider(tmp: Path, redirect_uri: str | list[str], accounts: dict[str, dict[str, Any]]) -> Iterator[str]:
    """oidc-provider on a free port with one confidential client (each deskbase's callback and, for signing
    out there, its sign-in page) and these accounts; yields its issuer."""
    skip_without_node()
    port = free_port()
    config = tmp / "oidc-provider.json"
    uris = [redirect_uri] if isinstance(redirect_uri, str) else redirect_uri
    client = {
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "redirect_uris": uris,
        "post_logout_redirect_uris": [u.removesuffix("/sso/callback") for u in uris],
    }
    config.write_text(json.dumps({"client": client, "accounts": accounts}))
    proc = subprocess.Popen(
        ["node", str(SCRIPT), str(port), str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()  # "ready", or nothing when the process died
        if "ready" not in line:
            proc.wait(timeout=10)
            raise RuntimeError(f"oidc-provider did not start: {proc.stderr.read() if proc.stderr else ''}")
        yield f"http://localhost:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


@contextmanager
def serving_on(app: Any, port: int) -> Iterator[str]:
    """A real uvicorn server for `app` in a thread on 127.0.0.1:`port` (the port the provider knows)."""
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("deskbase's live server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@dataclass
class Sso:
    url: str  #: deskbase's base URL
    issuer: str
    core: Deskbase
    app: Any

    @property
    def callback(self) -> str:
        return self.url + "/signin/sso/callback"

    def browser(self) -> Browser:
        return Browser(self)


_FORM = re.compile(
    r'<form[^>]*action="([^"]+)"[^>]*method="post">\s*<input type="hidden" name="prompt" value="(\w+)"'
)


class Browser:
    """One browser: its own cookies at deskbase and at the provider (a new one has no provider session)."""

    def __init__(self, sso: Sso) -> None:
        self.sso = sso
        self.client = httpx.Client(timeout=30)

    def close(self) -> None:
        self.client.close()

    def start(self, next_path: str = "/", provider: str | None = None, issuer: str | None = None) -> str:
        """Click "Sign in with …" (the first provider's button, or `provider`'s, whose issuer is `issuer`):
        the provider URL deskbase sends the browser to."""
        params = {"next": next_path, **({"provider": provider} if provider else {})}
        r = self.client.get(self.sso.url + "/signin/sso", params=params)
        assert r.status_code == 303, r.text
        location = r.headers["location"]
        assert location.startswith(issuer or self.sso.issuer), location
        return location

    def at_provider(self, url: str, login: str, abort: bool = False) -> str:
        """Sign in at the provider as `login` (or cancel there): the callback URL it sends the browser to."""
        method, data = "GET", None
        for _ in range(20):
            r = self.client.request(method, url, data=data)
            if r.is_redirect:
                url = urljoin(url, r.headers["location"])
                if url.startswith(self.sso.callback):
                    return url
                method, data = "GET", None
                continue
            assert r.status_code == 200, r.text
            form = _FORM.search(r.text)
            assert form, r.text
            if abort:
                url, method = urljoin(url, form.group(1).rstrip("/") + "/abort"), "GET"
                continue
            url, method = urljoin(url, form.group(1)), "POST"
            data = {"prompt": form.group(2), "login": login, "password": "any password"}
        raise AssertionError("the provider never sent the browser back")

    def back(self, callback_url: str) -> httpx.Response:
        return self.client.get(callback_url)

    def sign_in(
        self, login: str, next_path: str = "/", provider: str | None = None, issuer: str | None = None
    ) -> httpx.Response:
        """The whole sign-in; the callback's answer."""
        return self.back(self.at_provider(self.start(next_path, provider, issuer), login))

    def get(self, path: str) -> httpx.Response:
        return self.client.get(self.sso.url + path)
