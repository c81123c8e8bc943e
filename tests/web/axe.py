"""axe-core (npm, see package.json) run inside a Playwright page: the accessibility rules a page must pass.

The script is evaluated through the DevTools protocol, so the page's Content-Security-Policy stays on (a
console error from it would still fail the browser tests)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
MISSING = f"needs axe-core at {AXE} (npm ci; .ci/run installs it)"

_RUN = """async (within) => {
  const context = within ? { include: within.split(",").map((s) => [s.trim()]) } : document;
  const result = await axe.run(context, { resultTypes: ["violations"] });
  return result.violations.map((v) =>
    `${v.id} (${v.impact}): ${v.help} at ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
}"""


def violations(page: Any, within: str = "") -> list[str]:
    """Every axe violation on the page as it is now — or only inside the elements the comma-separated CSS
    selectors `within` name — one line each (empty: clean)."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text())
    return list(page.evaluate(_RUN, within))
