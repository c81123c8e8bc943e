"""Browser tests' pages: a Playwright tab on Debian's chromium that signs in through the sign-in form, records
console and page errors (a test fails on any) and takes screenshots into test-artifacts/. The `browser`
fixture is in conftest.py."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from tests.web.conftest import WS, Live

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
DESK = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


#: The sandbox of an email's formatted view refusing a script: the frame runs none of its own, so the one refused
#: is Playwright's (it evaluates property checks in the frame, and now and then in a document still loading).
SANDBOX_REFUSAL = re.compile(
    r"^Blocked script execution in '[^']*/messages/[^'/]+/html(\?remote=1)?' because the document's frame is "
    r"sandboxed and the 'allow-scripts' permission is not set\.$"
)


class Tab:
    """A page that records console errors and page errors, signed in through the sign-in form."""

    def __init__(self, browser: Any, live: Live, viewport: dict[str, int], **context: Any) -> None:
        """`context`: more options of the browser context (`color_scheme`, `timezone_id` …)."""
        self.live = live
        self.context = browser.new_context(viewport=viewport, **context)
        self.context.set_default_timeout(10_000)
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda e: self.errors.append(f"page error: {e}"))
        self.tag = f"{viewport['width']}x{viewport['height']}"

    def sign_in(self, token: str | None = None) -> None:
        self.page.goto(self.live.url + "/")
        self.page.wait_for_url(re.compile(r".*/signin.*"))
        self.page.fill("#token", token or self.live.token)
        self.page.keyboard.press("Enter")
        self.page.wait_for_url(re.compile(rf".*/w/{WS}/queue$"))

    def shot(self, name: str, full: bool = False) -> None:
        ARTIFACTS.mkdir(exist_ok=True)
        self.page.screenshot(path=str(ARTIFACTS / f"console-{name}-{self.tag}.png"), full_page=full)

    def _console(self, message: Any) -> None:
        if message.type == "error" and not SANDBOX_REFUSAL.match(message.text):
            self.errors.append(f"console: {message.text}")

    def close(self) -> None:
        self.context.close()
        assert self.errors == [], self.errors
