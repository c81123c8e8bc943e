"""Layout and accessibility in chromium (issue 17, items 7 and 8): axe finds no serious or critical
violation on the queue, a ticket, the dashboard and settings at desk and phone widths; the dashboard fits a
phone, its panels keep their place as they stream in (CLS < 0.1); the collection browser's table is not
shut in a small scroll box."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.web import axe
from tests.web.browser import DESK, PHONE, Tab
from tests.web.conftest import WS, Live
from tests.web.test_browser import lead_dashboard

#: the layout shift a page may have while it loads ("good" in Web Vitals)
CLS_LIMIT = 0.1
#: records the page's layout shifts from the start (buffered), as web-vitals does
CLS_OBSERVER = """() => { window.__cls = 0; new PerformanceObserver((list) => {
  for (const e of list.getEntries()) if (!e.hadRecentInput) window.__cls += e.value;
}).observe({ type: "layout-shift", buffered: true }); }"""


@pytest.fixture(params=["desk", "phone"])
def tab(request: pytest.FixtureRequest, browser: Any, live_server: Live) -> Iterator[Tab]:
    t = Tab(browser, live_server, DESK if request.param == "desk" else PHONE)
    t.sign_in()
    yield t
    t.close()


def serious(page: Any) -> list[str]:
    return [v for v in axe.violations(page) if "(serious)" in v or "(critical)" in v]


def test_axe_finds_nothing_serious_on_the_console_pages(tab: Tab) -> None:
    if not axe.AXE.exists():
        pytest.skip(axe.MISSING)
    page, base = tab.page, f"{tab.live.url}/w/{WS}"
    found: dict[str, list[str]] = {}
    page.goto(f"{base}/queue?view=all")
    page.locator("tr.row").first.wait_for()
    found["queue"] = serious(page)
    page.locator("tr.row a").first.click()
    page.wait_for_url(re.compile(r".*/tickets/[^/]+$"))
    page.locator("#presence-list").wait_for(state="attached")
    found["ticket"] = serious(page)
    page.goto(f"{base}/dashboard")
    lead_dashboard(page)
    page.locator("#report-agent_workload .bar-value").first.wait_for()
    found["dashboard"] = serious(page)
    page.goto(f"{tab.live.url}/settings")
    found["settings"] = serious(page)
    tab.shot("axe-dashboard", full=True)
    assert {k: v for k, v in found.items() if v} == {}


def test_the_dashboard_fits_and_keeps_still_while_panels_stream_in(tab: Tab) -> None:
    page = tab.page
    page.add_init_script(f"({CLS_OBSERVER})()")
    page.goto(f"{tab.live.url}/w/{WS}/dashboard")
    lead_dashboard(page)
    page.locator("#report-agent_workload .bar-value").first.wait_for()
    page.locator("#attainment .bars, #attainment p").first.wait_for()
    page.wait_for_timeout(300)
    cls = page.evaluate("window.__cls")
    print(f"dashboard CLS at {tab.tag}: {cls:.4f}")
    assert cls < CLS_LIMIT
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], f"the dashboard is {width} px wide"
    tab.shot("dashboard", full=True)


def test_the_collection_browser_table_is_not_a_small_scroll_box(tab: Tab) -> None:
    page = tab.page
    page.goto(f"{tab.live.url}/w/{WS}/collections/tickets")
    page.locator("table").first.wait_for()
    box = page.evaluate(
        """() => { const s = document.querySelector('table').closest('.table-scroll');
        return s ? s.clientHeight : null; }"""
    )
    rows = page.locator("table tbody tr").count()
    assert box is None or box > 240 or rows < 6, box
    narrowest = page.evaluate(
        "() => Math.min(...[...document.querySelectorAll('table td')].map((td) => td.getBoundingClientRect().width))"
    )
    assert narrowest > 24, "a column is squeezed to a character or two"
    tab.shot("collection", full=True)
